//! A test-only driver (not installed, not a product driver): resources that may declare a
//! link to another rid, record every call with timestamps, sleep, fail, panic or abort on
//! demand, misbehave in the ways the conformance kit must catch (`misbehave`), hang or kill
//! the process in any verb, creation included (`hang`, `crash`), and show the deadline each
//! call gets (`show_deadline`). It serves one id per sequencer group so tests can build
//! services of any shape, and `app.nohelp`, whose manifest has a keyword without help text.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use svcmgr_plugin_api::{
    export_plugin, ActionReport, Context, Ctx, Devs, DriverDecl, Error, Kw, Plugin, ResourceImpl,
    ResourceSpec, Result, Status, StatusReport,
};

export_plugin!(plugin);

/// What `misbehave` may ask for: each breaks one promise the conformance kit checks.
const MISBEHAVIOURS: &[&str] = &[
    // stop answers changed and does nothing
    "stop-noop",
    // start sleeps its whole `sleep`, whatever its deadline
    "start-ignores-deadline",
    // status writes to the var dir
    "status-writes",
    // the label is empty
    "no-label",
    // a negative size panics instead of being refused
    "size-panics",
];

fn plugin() -> Plugin {
    let nohelp = declaration("app.nohelp").keyword(Kw::string("undocumented"));
    ["ip", "disk", "fs", "container", "app"]
        .iter()
        .map(|group| declaration(&format!("{group}.fixture")))
        .chain([nohelp])
        .fold(
            Plugin::new("fixture", env!("CARGO_PKG_VERSION")),
            Plugin::driver,
        )
}

fn declaration(id: &str) -> DriverDecl {
    DriverDecl::new(id, env!("CARGO_PKG_VERSION"), new)
        .help("Test fixture resource.")
        .capability("query:name")
        .keyword(Kw::string("link").help("Rid this resource is linked to."))
        .keyword(Kw::string("record").help("File every call is appended to."))
        .keyword(Kw::duration("sleep").help("Time a start takes."))
        .keyword(Kw::duration("stop_sleep").help("Time a stop takes."))
        .keyword(Kw::list("fail").help("Verbs that fail."))
        .keyword(Kw::list("fail_after").help("Verbs that change the state, then fail."))
        .keyword(Kw::list("panic").help("Verbs that panic (start, stop, status, call)."))
        .keyword(
            Kw::list("abort").help("Verbs that abort the process (start, stop, status, call)."),
        )
        .keyword(Kw::string("mnt").help("Sort key, like a mount point."))
        .keyword(Kw::list("exposed_devs").help("Devices the resource exposes."))
        .keyword(Kw::list("sub_devs").help("Devices the resource uses."))
        .keyword(Kw::int("size").help("A size, refused when negative."))
        .keyword(
            Kw::list("misbehave")
                .help("Promises to break, for the conformance kit's tests (see MISBEHAVIOURS)."),
        )
        .keyword(Kw::list("hang").help(
            "Verbs that never return, whatever their deadline (create, status, start, stop, \
             call).",
        ))
        .keyword(Kw::list("crash").help(
            "<verb>:<how> pairs: the verb (create, status, start, stop, call) kills the process, \
             by abort, segv (an invalid write) or exit.",
        ))
        .keyword(
            Kw::bool("show_deadline")
                .help("Say the timeout each call gets (a log line, a status line)."),
        )
}

struct Fixture {
    rid: String,
    link: Option<String>,
    record: Option<PathBuf>,
    sleep: Duration,
    stop_sleep: Duration,
    fail: Vec<String>,
    fail_after: Vec<String>,
    panic: Vec<String>,
    abort: Vec<String>,
    mnt: Option<String>,
    misbehave: Vec<String>,
    devs: Devs,
    var_dir: PathBuf,
    state: PathBuf,
    hang: Vec<String>,
    crash: Vec<String>,
    show_deadline: bool,
}

fn new(spec: &ResourceSpec) -> Result<Box<dyn ResourceImpl>> {
    let (hang, crash) = (spec.words("hang"), spec.words("crash"));
    hang_or_crash(&hang, &crash, "create");
    let misbehave = spec.words("misbehave");
    if let Some(m) = misbehave
        .iter()
        .find(|m| !MISBEHAVIOURS.contains(&m.as_str()))
    {
        return Err(Error::config_kw(
            "misbehave",
            format!("'{m}' is not one of {}", MISBEHAVIOURS.join(", ")),
        ));
    }
    if spec.int("size").is_some_and(|n| n < 0) {
        if misbehave.iter().any(|m| m == "size-panics") {
            panic!("negative size");
        }
        return Err(Error::config_kw("size", "must not be negative"));
    }
    let var_dir = PathBuf::from(&spec.context.var_dir);
    Ok(Box::new(Fixture {
        rid: spec.rid.clone(),
        link: spec.str("link").map(String::from),
        record: spec.str("record").map(PathBuf::from),
        sleep: spec.duration("sleep").unwrap_or_default(),
        stop_sleep: spec.duration("stop_sleep").unwrap_or_default(),
        fail: spec.words("fail"),
        fail_after: spec.words("fail_after"),
        panic: spec.words("panic"),
        abort: spec.words("abort"),
        mnt: spec.str("mnt").map(String::from),
        misbehave,
        devs: Devs::default()
            .with_exposed(spec.words("exposed_devs"))
            .with_sub(spec.words("sub_devs")),
        state: var_dir.join(format!("{}.up", spec.rid)),
        var_dir,
        hang,
        crash,
        show_deadline: spec.bool("show_deadline"),
    }))
}

/// Hang or kill the process when told to on `verb`.
fn hang_or_crash(hang: &[String], crash: &[String], verb: &str) {
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

    fn misbehaves(&self, how: &str) -> bool {
        self.misbehave.iter().any(|m| m == how)
    }

    /// Hang, crash, panic or abort, when told to on `verb`.
    fn blow_up(&self, verb: &str) {
        hang_or_crash(&self.hang, &self.crash, verb);
        if self.abort.iter().any(|v| v == verb) {
            std::process::abort();
        }
        if self.panic.iter().any(|v| v == verb) {
            panic!("fixture {} told to panic on {verb}", self.rid);
        }
    }

    /// Run a state change, recording `<rid> <verb> <start ms> <end ms> <ok|fail>`.
    fn act(&self, ctx: &Ctx, verb: &str, want_up: bool) -> Result<ActionReport> {
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
        let sleep = if want_up { self.sleep } else { self.stop_sleep };
        if !sleep.is_zero() {
            // Sleep in slices so a deadline ends the call early, as a real driver should.
            let heeds_deadline = !(want_up && self.misbehaves("start-ignores-deadline"));
            let end = std::time::Instant::now() + sleep;
            while std::time::Instant::now() < end && !(heeds_deadline && ctx.timed_out()) {
                std::thread::sleep(Duration::from_millis(10));
            }
            cut_short = std::time::Instant::now() < end;
        }
        self.blow_up(verb);
        let failed = cut_short || self.fail.iter().any(|v| v == verb);
        let noop = !want_up && self.misbehaves("stop-noop");
        if !failed && !noop {
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
        match self.misbehaves("no-label") {
            true => String::new(),
            false => format!("fixture {}", self.rid),
        }
    }
    fn links(&self) -> Vec<String> {
        self.link.iter().cloned().collect()
    }
    fn sort_key(&self) -> Option<String> {
        self.mnt.clone()
    }
    fn devs(&self, _ctx: &Ctx) -> Result<Devs> {
        Ok(self.devs.clone())
    }
    /// A variable of its own in its commands' environment (the host's triggers included).
    fn env(&self) -> Vec<(String, String)> {
        vec![("OPENSVC_FIXTURE_RID".into(), self.rid.clone())]
    }
    fn status(&self, ctx: &Ctx) -> Result<StatusReport> {
        self.blow_up("status");
        if self.misbehaves("status-writes") {
            ctx.create_dir_all(&self.var_dir)?;
            let count = self.var_dir.join(format!("{}.status-count", self.rid));
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&count)
                .and_then(|mut f| f.write_all(b"status\n"))
                .with_context(|| format!("append to {}", count.display()))?;
        }
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
        self.blow_up("call");
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

    #[test]
    fn misbehaviours_on_demand() {
        let res = testing::resource(plugin, "app.fixture", "app#1")
            .keyword("misbehave", "stop-noop status-writes no-label")
            .build()
            .unwrap();
        assert_eq!(res.label(), "");
        res.start().unwrap();
        assert!(res.stop().unwrap().changed, "claims a change");
        assert_eq!(res.status().unwrap().status, Status::Up, "and stays up");
        let count = std::fs::read_to_string(res.var_dir().join("app#1.status-count")).unwrap();
        assert_eq!(count.lines().count(), 1);

        let build = |kw: &[(&str, &str)]| {
            let b = kw.iter().fold(
                testing::resource(plugin, "app.fixture", "app#1"),
                |b, (k, v)| b.keyword(k, v),
            );
            b.build().err().unwrap()
        };
        // (`size-panics` is shown through the host by tests/tests/kit.rs: the testing
        // harness creates resources outside the SDK's panic guard.)
        assert_eq!(
            build(&[("size", "-1")]).message(),
            "size: must not be negative"
        );
        assert!(build(&[("misbehave", "sulk")])
            .message()
            .starts_with("misbehave: 'sulk' is not one of stop-noop,"));
    }
}
