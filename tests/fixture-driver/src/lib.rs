//! A test-only driver (not installed, not a product driver): resources that may declare a
//! link to another rid, record every call with timestamps, sleep, fail or panic on demand,
//! hang or kill the process (`hang`, `crash`), and show the deadline each call gets
//! (`show_deadline`). It serves one id per sequencer group so tests can build services of any
//! shape.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use svcmgr_plugin_api::{
    export_plugin, ActionReport, Context, Ctx, DriverDecl, Error, Kw, Plugin, ResourceImpl,
    ResourceSpec, Result, Status, StatusReport,
};

export_plugin!(plugin);

fn plugin() -> Plugin {
    ["ip", "disk", "fs", "container", "app"]
        .iter()
        .map(|group| {
            DriverDecl::new(&format!("{group}.fixture"), env!("CARGO_PKG_VERSION"), new)
                .help("Test fixture resource.")
                .keyword(Kw::string("link").help("Rid this resource is linked to."))
                .keyword(Kw::string("record").help("File every call is appended to."))
                .keyword(Kw::duration("sleep").help("Time a start takes."))
                .keyword(Kw::list("fail").help("Verbs that fail."))
                .keyword(Kw::list("fail_after").help("Verbs that change the state, then fail."))
                .keyword(Kw::list("panic").help("Verbs that panic."))
                .keyword(Kw::string("mnt").help("Sort key, like a mount point."))
                .keyword(Kw::list("hang").help(
                    "Verbs that never return, whatever their deadline (create, status, start, \
                     stop, call).",
                ))
                .keyword(Kw::list("crash").help(
                    "<verb>:<how> pairs: the verb (create, status, start, stop, call) kills the \
                     process, by abort, segv (an invalid write) or exit.",
                ))
                .keyword(
                    Kw::bool("show_deadline")
                        .help("Say the timeout each call gets (a log line, a status line)."),
                )
        })
        .fold(
            Plugin::new("fixture", env!("CARGO_PKG_VERSION")),
            Plugin::driver,
        )
}

struct Fixture {
    rid: String,
    link: Option<String>,
    record: Option<PathBuf>,
    sleep: Duration,
    fail: Vec<String>,
    fail_after: Vec<String>,
    panic: Vec<String>,
    mnt: Option<String>,
    state: PathBuf,
    hang: Vec<String>,
    crash: Vec<String>,
    show_deadline: bool,
}

fn new(spec: &ResourceSpec) -> Result<Box<dyn ResourceImpl>> {
    let (hang, crash) = (spec.words("hang"), spec.words("crash"));
    blow_up(&hang, &crash, "create");
    Ok(Box::new(Fixture {
        rid: spec.rid.clone(),
        link: spec.str("link").map(String::from),
        record: spec.str("record").map(PathBuf::from),
        sleep: spec.duration("sleep").unwrap_or_default(),
        fail: spec.words("fail"),
        fail_after: spec.words("fail_after"),
        panic: spec.words("panic"),
        mnt: spec.str("mnt").map(String::from),
        state: PathBuf::from(&spec.context.var_dir).join(format!("{}.up", spec.rid)),
        hang,
        crash,
        show_deadline: spec.bool("show_deadline"),
    }))
}

/// Hang or kill the process when told to on `verb`.
fn blow_up(hang: &[String], crash: &[String], verb: &str) {
    if hang.iter().any(|v| v == verb) {
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    let how = crash
        .iter()
        .find_map(|c| c.strip_prefix(verb)?.strip_prefix(':'));
    match how {
        Some("abort") => std::process::abort(),
        // SAFETY: none: the point is to fault, as a buggy driver would.
        Some("segv") => unsafe { std::ptr::write_volatile(8 as *mut u8, 0) },
        Some(_) => std::process::exit(3),
        None => {}
    }
}

/// `timeout <d>`, or `no timeout`.
fn deadline_of(ctx: &Ctx) -> String {
    ctx.timeout().map_or("no timeout".into(), |t| {
        format!("timeout {}", svcmgr_plugin_api::types::format_duration(t))
    })
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}

impl Fixture {
    fn up(&self) -> bool {
        self.state.exists()
    }

    /// Run a state change, recording `<rid> <verb> <start ms> <end ms> <ok|fail>`.
    fn act(&self, ctx: &Ctx, verb: &str, want_up: bool) -> Result<ActionReport> {
        blow_up(&self.hang, &self.crash, verb);
        if self.show_deadline {
            ctx.info(&deadline_of(ctx));
        }
        if self.up() == want_up {
            ctx.info(&format!(
                "{} already {}",
                self.rid,
                if want_up { "up" } else { "down" }
            ));
            return Ok(ActionReport::unchanged());
        }
        let begin = now_ms();
        let mut cut_short = false;
        if want_up && !self.sleep.is_zero() {
            // Sleep in slices so a deadline ends the call early, as a real driver should.
            let end = std::time::Instant::now() + self.sleep;
            while std::time::Instant::now() < end && !ctx.timed_out() {
                std::thread::sleep(Duration::from_millis(10));
            }
            cut_short = std::time::Instant::now() < end;
        }
        if self.panic.iter().any(|v| v == verb) {
            panic!("fixture {} told to panic on {verb}", self.rid);
        }
        let failed = cut_short || self.fail.iter().any(|v| v == verb);
        if !failed {
            if want_up {
                ctx.create_dir_all(self.state.parent().expect("var dir"))?;
                ctx.write_file(&self.state, "")?;
            } else {
                ctx.remove_file(&self.state)?;
            }
        }
        if let Some(path) = &self.record {
            let line = format!(
                "{} {verb} {begin} {} {}\n",
                self.rid,
                now_ms(),
                if failed { "fail" } else { "ok" }
            );
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| f.write_all(line.as_bytes()))
                .with_context(|| format!("append to {}", path.display()))?;
        }
        ctx.info(&format!("fixture {verb}"));
        if cut_short {
            // The work was not done: a timeout, whichever side noticed the deadline first.
            return Err(Error::timeout(format!(
                "fixture {} stopped at the call's deadline",
                self.rid
            )));
        }
        if failed {
            return Err(Error::other(format!(
                "fixture {} told to fail on {verb}",
                self.rid
            )));
        }
        if self.fail_after.iter().any(|v| v == verb) {
            let e = Error::other(format!("fixture {} failed after its {verb}", self.rid));
            return Err(e.changed());
        }
        Ok(ActionReport::changed())
    }
}

impl ResourceImpl for Fixture {
    fn label(&self) -> String {
        format!("fixture {}", self.rid)
    }
    fn links(&self) -> Vec<String> {
        self.link.iter().cloned().collect()
    }
    fn sort_key(&self) -> Option<String> {
        self.mnt.clone()
    }
    /// A variable of its own in its commands' environment (the host's triggers included).
    fn env(&self) -> Vec<(String, String)> {
        vec![("OPENSVC_FIXTURE_RID".into(), self.rid.clone())]
    }
    fn status(&self, ctx: &Ctx) -> Result<StatusReport> {
        if self.panic.iter().any(|v| v == "status") {
            panic!("fixture {} told to panic on status", self.rid);
        }
        blow_up(&self.hang, &self.crash, "status");
        let report = StatusReport::new(if self.up() { Status::Up } else { Status::Down });
        Ok(match self.show_deadline {
            true => report.with_info(deadline_of(ctx)),
            false => report,
        })
    }
    fn start(&self, ctx: &Ctx) -> Result<ActionReport> {
        self.act(ctx, "start", true)
    }
    fn stop(&self, ctx: &Ctx) -> Result<ActionReport> {
        self.act(ctx, "stop", false)
    }
    fn call(
        &self,
        verb: &str,
        _payload: &serde_json::Value,
        _ctx: &Ctx,
    ) -> Result<serde_json::Value> {
        blow_up(&self.hang, &self.crash, "call");
        match verb {
            "name" => Ok(serde_json::json!({ "name": self.rid })),
            other => Err(Error::unsupported(format!(
                "verb '{other}' is not supported"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::plugin;
    use std::time::Duration;
    use svcmgr_plugin_api::testing;
    use svcmgr_plugin_api::{ErrorKind, Status};

    #[test]
    fn verbs_fail_panic_and_meet_deadlines_on_demand() {
        let res = testing::resource(plugin, "fs.fixture", "fs#1")
            .keyword("fail_after", "start")
            .keyword("mnt", "/srv")
            .build()
            .unwrap();
        assert_eq!(res.sort_key().as_deref(), Some("/srv"));
        let e = res.start().unwrap_err();
        assert!(e.is_changed(), "fail_after reports the change: {e}");
        assert_eq!(res.status().unwrap().status, Status::Up);

        let mut res = testing::resource(plugin, "app.fixture", "app#1")
            .keyword("sleep", "5s")
            .keyword("panic", "stop")
            .keyword("link", "fs#1")
            .build()
            .unwrap();
        assert_eq!(res.links(), ["fs#1"]);
        res.set_timeout(Some(Duration::from_millis(100)));
        assert_eq!(res.start().unwrap_err().kind(), ErrorKind::Timeout);
        res.set_timeout(None);
        assert_eq!(
            res.call("name", serde_json::Value::Null).unwrap()["name"],
            "app#1"
        );
        assert_eq!(res.status().unwrap().status, Status::Down);
    }
}
