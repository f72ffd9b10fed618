//! `fs.vendorfs`: a vendor's filesystem driver. Its filesystem is a size-capped tmpfs mounted
//! under the source name `vendorfs`, so it runs anywhere; a real vendor driver would call its
//! own tools the same way (`ctx.command`). Its keywords are its own: `mnt`, `size`, `mode`.

use std::path::PathBuf;
use svcmgr_plugin_api::sdk::mountinfo;
use svcmgr_plugin_api::{
    export_plugin, ActionReport, Context, Ctx, DriverDecl, Error, Kw, Plugin, ResourceImpl,
    ResourceSpec, Result, StatusReport,
};

/// The library's version is the crate's: `cargo build` of a 2.0.0 crate makes a 2.0.0 driver.
const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The mount's source name, how the driver recognises its own mounts.
const SOURCE: &str = "vendorfs";

export_plugin!(plugin);

/// The library: one driver.
pub fn plugin() -> Plugin {
    Plugin::new("vendorfs", VERSION).driver(
        DriverDecl::new("fs.vendorfs", VERSION, new_vendorfs)
            .help("A vendor filesystem: a size-capped tmpfs at the mount point.")
            .keyword(Kw::string("mnt").required().help("The mount point."))
            .keyword(
                Kw::string("size")
                    .default("16m")
                    .help("The filesystem's size (tmpfs size= syntax: 16m, 1g)."),
            )
            .keyword(
                Kw::string("mode")
                    .default("0755")
                    .help("The mode of the filesystem's root folder, in octal."),
            ),
    )
}

struct VendorFs {
    mnt: PathBuf,
    size: String,
    mode: String,
}

fn new_vendorfs(spec: &ResourceSpec) -> Result<Box<dyn ResourceImpl>> {
    let mnt = PathBuf::from(spec.str("mnt").unwrap_or_default());
    if !mnt.is_absolute() {
        return Err(Error::config_kw(
            "mnt",
            format!("'{}' is not absolute", mnt.display()),
        ));
    }
    let size = spec.str("size").unwrap_or_default().to_string();
    let digits = size.trim_end_matches(['k', 'm', 'g', '%']);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::config_kw("size", format!("'{size}' is not a size")));
    }
    let mode = spec.str("mode").unwrap_or_default().to_string();
    if u32::from_str_radix(&mode, 8).map_or(true, |m| m > 0o7777) {
        return Err(Error::config_kw("mode", format!("'{mode}' is not an octal mode")));
    }
    Ok(Box::new(VendorFs { mnt, size, mode }))
}

impl VendorFs {
    /// Whether our filesystem is mounted at the mount point.
    fn mounted(&self) -> Result<bool> {
        let mounts = mountinfo::read().context("read the mount table")?;
        Ok(mountinfo::mounts_at(&mounts, &self.mnt)
            .iter()
            .any(|m| m.fs_type == "tmpfs" && m.source == SOURCE))
    }

    fn mnt(&self) -> &str {
        self.mnt.to_str().unwrap_or_default()
    }
}

impl ResourceImpl for VendorFs {
    fn label(&self) -> String {
        format!("{SOURCE} {}@{}", self.size, self.mnt.display())
    }

    fn sort_key(&self) -> Option<String> {
        Some(self.mnt.display().to_string())
    }

    fn status(&self, _ctx: &Ctx) -> Result<StatusReport> {
        let report = match self.mounted()? {
            true => StatusReport::up(),
            false => StatusReport::down("not mounted"),
        };
        // Which build answered: the host records the version it chose, this says the code.
        Ok(report.with_fact("vendorfs_build", VERSION))
    }

    fn start(&self, ctx: &Ctx) -> Result<ActionReport> {
        if self.mounted()? {
            ctx.info(&format!("{SOURCE} is already mounted at {}", self.mnt()));
            return Ok(ActionReport::unchanged());
        }
        ctx.create_dir_all(&self.mnt)?;
        let options = format!("size={},mode={}", self.size, self.mode);
        ctx.command(&["mount", "-t", "tmpfs", "-o", &options, SOURCE, self.mnt()])
            .check()?;
        Ok(ActionReport::changed())
    }

    fn stop(&self, ctx: &Ctx) -> Result<ActionReport> {
        if !self.mounted()? {
            return Ok(ActionReport::unchanged());
        }
        ctx.command(&["umount", self.mnt()]).check()?;
        Ok(ActionReport::changed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use svcmgr_plugin_api::testing;

    #[test]
    fn keywords_are_checked_before_anything_runs() {
        let bad = |kw: &str, value: &str| {
            testing::resource(plugin, "fs.vendorfs", "fs#1")
                .keyword("mnt", "/srv/v")
                .keyword(kw, value)
                .build()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(bad("size", "12Q").contains("size: '12Q' is not a size"));
        assert!(bad("mode", "999").contains("mode: '999' is not an octal mode"));
        assert!(bad("mnt", "rel").contains("mnt: 'rel' is not absolute"));
    }

    #[test]
    fn label_and_sort_key() {
        let res = testing::resource(plugin, "fs.vendorfs", "fs#1")
            .keyword("mnt", "/srv/v")
            .build()
            .unwrap();
        assert_eq!(res.label(), "vendorfs 16m@/srv/v");
        assert_eq!(res.sort_key().as_deref(), Some("/srv/v"));
    }
}
