//! `app.marker`: a file holding a given text. Up when the file holds it, warn when it holds
//! something else, down when it is absent.

use std::path::PathBuf;
use svcmgr_plugin_api::{
    export_plugin, ActionReport, Ctx, DriverDecl, Error, Kw, Plugin, ResourceImpl, ResourceSpec,
    Result, StatusReport,
};

export_plugin!(plugin);

/// The library: one driver.
pub fn plugin() -> Plugin {
    Plugin::new("marker", env!("CARGO_PKG_VERSION")).driver(
        DriverDecl::new("app.marker", env!("CARGO_PKG_VERSION"), new_marker)
            .help("A file holding a given text.")
            .keyword(Kw::string("path").required().help("The marker file."))
            .keyword(
                Kw::string("text")
                    .default("up")
                    .help("What the file holds."),
            ),
    )
}

struct Marker {
    path: PathBuf,
    text: String,
}

fn new_marker(spec: &ResourceSpec) -> Result<Box<dyn ResourceImpl>> {
    let path = PathBuf::from(spec.str("path").unwrap_or_default());
    if !path.is_absolute() {
        return Err(Error::config_kw(
            "path",
            format!("'{}' is not absolute", path.display()),
        ));
    }
    let text = spec.str("text").unwrap_or_default().to_string();
    Ok(Box::new(Marker { path, text }))
}

impl ResourceImpl for Marker {
    fn label(&self) -> String {
        format!("marker {}", self.path.display())
    }

    fn status(&self, ctx: &Ctx) -> Result<StatusReport> {
        if !self.path.exists() {
            return Ok(StatusReport::down("no marker file"));
        }
        let found = ctx.read_file(&self.path)?;
        Ok(if found == self.text {
            StatusReport::up()
        } else {
            StatusReport::warn(format!("the marker holds '{found}', not '{}'", self.text))
        })
    }

    fn start(&self, ctx: &Ctx) -> Result<ActionReport> {
        if self.path.exists() && ctx.read_file(&self.path)? == self.text {
            ctx.info("marker already set");
            return Ok(ActionReport::unchanged());
        }
        ctx.info(&format!("write {}", self.path.display()));
        ctx.write_file(&self.path, &self.text)?;
        Ok(ActionReport::changed())
    }

    fn stop(&self, ctx: &Ctx) -> Result<ActionReport> {
        let removed = ctx.remove_file(&self.path)?;
        if !removed {
            ctx.info("marker already removed");
        }
        Ok(ActionReport::from_changed(removed))
    }
}

#[cfg(test)]
mod tests {
    use super::plugin;
    use svcmgr_plugin_api::testing;
    use svcmgr_plugin_api::{ErrorKind, Status};

    #[test]
    fn up_warn_down() {
        let dir = std::env::temp_dir().join(format!("marker-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m");
        let res = testing::resource(plugin, "app.marker", "app#1")
            .keyword("path", path.to_str().unwrap())
            .build()
            .unwrap();
        assert_eq!(res.status().unwrap().status, Status::Down);
        assert!(res.start().unwrap().changed);
        assert!(!res.start().unwrap().changed);
        assert_eq!(res.status().unwrap().status, Status::Up);
        std::fs::write(&path, "other").unwrap();
        let report = res.status().unwrap();
        assert_eq!(report.status, Status::Warn);
        assert_eq!(report.log[0].message, "the marker holds 'other', not 'up'");
        assert!(res.stop().unwrap().changed);
        assert!(!res.stop().unwrap().changed);
        let logs: Vec<String> = res.logs().into_iter().map(|l| l.message).collect();
        assert_eq!(
            logs,
            [
                format!("write {}", path.display()),
                "marker already set".into(),
                "marker already removed".into()
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_relative_path_is_a_config_error_naming_the_keyword() {
        let e = testing::resource(plugin, "app.marker", "app#1")
            .keyword("path", "rel/m")
            .build()
            .err()
            .unwrap();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert_eq!(e.to_string(), "path: 'rel/m' is not absolute");
    }
}
