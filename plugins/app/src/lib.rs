//! The `app` drivers: `app.forking` (the start command runs to completion) and `app.simple`
//! (the start command is the long-running process, detached, its pid kept in the var dir).
//!
//! `start`, `stop`, `check` and `info` each hold a command, or (OpenSVC's convention) a
//! word about the `script` keyword: `true` runs `<script> start` (`status` for check), a
//! sequence number does too and orders the apps of a set on start, `false`/`no`/`0` or
//! nothing runs nothing.

mod pidfile;

use pidfile::PidFile;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use svcmgr_plugin_api::{
    export_plugin, ActionReport, Cmd, Ctx, DriverDecl, Error, Kw, Plugin, ResourceImpl,
    ResourceSpec, Result, Status, StatusReport,
};

export_plugin!(plugin);

/// The library description: both drivers share keywords and most behaviour.
pub fn plugin() -> Plugin {
    Plugin::new("app", env!("CARGO_PKG_VERSION"))
        .driver(
            with_keywords(DriverDecl::new(
                "app.forking",
                env!("CARGO_PKG_VERSION"),
                new_forking,
            ))
            .help("An application whose start command returns once the application runs.")
            .default_for_group(),
        )
        .driver(
            with_keywords(DriverDecl::new(
                "app.simple",
                env!("CARGO_PKG_VERSION"),
                new_simple,
            ))
            .help("An application whose start command is the long-running process itself."),
        )
}

fn with_keywords(decl: DriverDecl) -> DriverDecl {
    decl.capability("provision")
        .keyword(Kw::shlex("script").help(
            "The application's script, run as '<script> start|stop|status|info' by the action \
             keywords set to true or a number; a relative path is looked up in \
             <root>/etc/opensvc/<svc>.d/.",
        ))
        .keyword(Kw::shlex("start").help(
            "Command starting the application (split like a shell; not run by one), or true \
             ('<script> start'), or a sequence number (the same, and apps with numbers start \
             first, in their order), or false.",
        ))
        .keyword(
            Kw::shlex("stop")
                .help("Command stopping the application, or true ('<script> stop'), or false."),
        )
        .keyword(Kw::shlex("check").help(
            "Command whose exit code tells the status (0 is up, anything else down), or true \
             ('<script> status'), or false.",
        ))
        .keyword(Kw::shlex("info").help(
            "Command printing facts about the application (the 'resinfo' call), or true \
             ('<script> info'), or false.",
        ))
        .keyword(Kw::string("cwd").help("Working directory of the commands."))
        .keyword(
            Kw::shlex("environment").help("KEY=value pairs added to the commands' environment."),
        )
        .keyword(Kw::string("user").help("Run the commands as this user."))
        .keyword(
            Kw::duration("check_timeout")
                .help("Time limit of the check command.")
                .default("60s"),
        )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Forking,
    Simple,
}

// Boxed slices, not vectors: a service may hold thousands of apps, each kept until the exit.
struct App {
    kind: Kind,
    /// The commands of each action; empty: nothing to run.
    start: Box<[String]>,
    stop: Box<[String]>,
    check: Box<[String]>,
    info: Box<[String]>,
    /// The sequence number `start` gave, ordering the apps of a set.
    seq: Option<u64>,
    cwd: Option<Box<str>>,
    environment: Box<[(String, String)]>,
    user: Option<(u32, u32)>,
    check_timeout: Duration,
    /// `<var>/<rid>/`: the pid file of a simple app and its output log.
    state_dir: Box<Path>,
}

fn new_forking(spec: &ResourceSpec) -> Result<Box<dyn ResourceImpl>> {
    App::new(spec, Kind::Forking).map(|a| Box::new(a) as Box<dyn ResourceImpl>)
}

fn new_simple(spec: &ResourceSpec) -> Result<Box<dyn ResourceImpl>> {
    App::new(spec, Kind::Simple).map(|a| Box::new(a) as Box<dyn ResourceImpl>)
}

impl App {
    fn new(spec: &ResourceSpec, kind: Kind) -> Result<Self> {
        let environment = spec
            .words("environment")
            .into_iter()
            .map(|pair| match pair.split_once('=') {
                Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
                _ => Err(Error::config_kw(
                    "environment",
                    format!("entry '{pair}' is not KEY=value"),
                )),
            })
            .collect::<Result<Box<[_]>>>()?;
        let user = match spec.str("user") {
            Some(name) => {
                let u = nix::unistd::User::from_name(name)
                    .map_err(|e| Error::config_kw("user", format!("'{name}': {e}")))?
                    .ok_or_else(|| Error::config_kw("user", format!("'{name}' does not exist")))?;
                Some((u.uid.as_raw(), u.gid.as_raw()))
            }
            None => None,
        };
        let script = script(spec);
        let action = |kw: &str, arg: &str| command_of(spec, kw, arg, script.as_deref());
        let (start, seq) = action("start", "start")?;
        if kind == Kind::Simple && start.is_empty() {
            return Err(Error::config_kw(
                "start",
                "app.simple needs a start command",
            ));
        }
        Ok(App {
            kind,
            start: start.into(),
            stop: action("stop", "stop")?.0.into(),
            check: action("check", "status")?.0.into(),
            info: action("info", "info")?.0.into(),
            seq,
            cwd: spec.str("cwd").map(Box::from),
            environment,
            user,
            check_timeout: spec
                .duration("check_timeout")
                .unwrap_or(Duration::from_secs(60)),
            state_dir: Path::new(&spec.context.var_dir)
                .join(&spec.rid)
                .into_boxed_path(),
        })
    }

    fn cmd<'a>(&self, ctx: &'a Ctx, argv: &[String]) -> Cmd<'a> {
        let mut cmd = ctx.command(argv).stderr_as_warnings();
        for (k, v) in &self.environment {
            cmd = cmd.env(k, v);
        }
        if let Some(dir) = &self.cwd {
            cmd = cmd.cwd(&**dir);
        }
        if let Some((uid, gid)) = self.user {
            cmd = cmd.user(uid, gid);
        }
        cmd
    }

    /// Run the check command quietly: Some(true) if up, None without a check command.
    fn check_up(&self, ctx: &Ctx) -> Result<Option<bool>> {
        if self.check.is_empty() {
            return Ok(None);
        }
        let out = self
            .cmd(ctx, &self.check)
            .quiet()
            .timeout(self.check_timeout)
            .run()?;
        Ok(Some(out.success()))
    }

    fn pid_file(&self) -> PathBuf {
        self.state_dir.join("pid")
    }

    /// The simple app's process, if its pid file names one that runs and is the one started;
    /// `Err` with the stale record otherwise (None: no record at all).
    fn tracked(&self) -> std::result::Result<PidFile, Option<PidFile>> {
        match PidFile::read(&self.pid_file()) {
            Some(p) if p.is_running() => Ok(p),
            stale => Err(stale),
        }
    }

    fn is_up(&self, ctx: &Ctx) -> Result<Option<bool>> {
        match (self.check_up(ctx)?, self.kind) {
            (Some(up), _) => Ok(Some(up)),
            (None, Kind::Simple) => Ok(Some(self.tracked().is_ok())),
            (None, Kind::Forking) => Ok(None),
        }
    }

    /// Start the simple app's process. Its pid file is written (atomically) before the
    /// program runs, so no app runs untracked whenever svcmgr dies; one that exits at once
    /// failed to start.
    fn start_simple(&self, ctx: &Ctx) -> Result<()> {
        ctx.create_dir_all(&self.state_dir)?;
        let log = self.state_dir.join("output.log");
        let started = self
            .cmd(ctx, &self.start)
            .spawn_recorded(Some(&log), |pid| {
                let id = PidFile::of(pid as i32, &self.start).ok_or_else(|| {
                    Error::other(format!("process {pid} ended before it ran the app"))
                })?;
                ctx.write_file_atomic(self.pid_file(), id.to_json())
            })
            .inspect_err(|_| {
                // A record written for a program that could not run names nothing.
                let _ = ctx.remove_file(self.pid_file());
            })?;
        if let Some(code) = started.exit_within(SETTLE) {
            ctx.remove_file(self.pid_file())?;
            return Err(Error::other(format!(
                "{} exited at once with code {code}",
                self.start.join(" ")
            )));
        }
        Ok(())
    }

    fn stop_simple(&self, ctx: &Ctx) -> Result<()> {
        let p = match self.tracked() {
            Ok(p) => p,
            Err(stale) => {
                self.forget(ctx, stale)?;
                return Ok(());
            }
        };
        let pid = p.pid;
        ctx.info(&format!("kill -TERM {pid}"));
        // The app runs in its own session: signal its whole process group.
        // SAFETY: kill(2) has no memory effects; -pid names the group of the process whose
        // identity was just checked.
        unsafe { libc_kill(-pid, 15) };
        let deadline = ctx.deadline_or(STOP_GRACE);
        while Instant::now() < deadline {
            if !p.is_running() {
                ctx.remove_file(self.pid_file())?;
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        ctx.warn(&format!("kill -KILL {pid}"));
        // SAFETY: as above, kill(2) on the app's own process group.
        unsafe { libc_kill(-pid, 9) };
        ctx.remove_file(self.pid_file())?;
        Ok(())
    }

    /// Remove a pid file naming no process of the app (its process ended, or its pid now
    /// belongs to another process, which is left alone).
    fn forget(&self, ctx: &Ctx, stale: Option<PidFile>) -> Result<()> {
        if let Some(p) = stale {
            ctx.info(&format!(
                "forget the stale pid file: {} is gone",
                p.describe()
            ));
            ctx.remove_file(self.pid_file())?;
        }
        Ok(())
    }
}

/// How long a simple app must live after its start to count as started: one that exits
/// sooner (a bad option, a missing file) failed.
const SETTLE: Duration = Duration::from_millis(100);

/// How long a simple app has to end on TERM before it gets KILL, unless `stop_timeout` (or
/// `timeout`) says otherwise.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// What an action keyword's value asks for.
#[derive(Debug, PartialEq)]
enum Wanted {
    /// Nothing (unset, empty, `false`, `no`, `0`, …).
    Nothing,
    /// `<script> <arg>`, with the sequence number the value was, if it was one.
    Script(Option<u64>),
    Command(Vec<String>),
}

fn wanted(words: Vec<String>) -> Wanted {
    let [word] = words.as_slice() else {
        return match words.is_empty() {
            true => Wanted::Nothing,
            false => Wanted::Command(words),
        };
    };
    if word.bytes().all(|b| b.is_ascii_digit()) {
        return match word.parse::<u64>() {
            Ok(0) => Wanted::Nothing,
            Ok(n) => Wanted::Script(Some(n)),
            Err(_) => Wanted::Command(words),
        };
    }
    // Compared in place, not lowercased into a copy: most values are one-word commands.
    let is = |words: [&str; 5]| words.iter().any(|w| word.eq_ignore_ascii_case(w));
    if is(["true", "t", "yes", "y", "on"]) {
        Wanted::Script(None)
    } else if is(["false", "f", "no", "n", "off"]) {
        Wanted::Nothing
    } else {
        Wanted::Command(words)
    }
}

/// The `script` keyword's words, a relative script path made absolute in the service's
/// script folder.
fn script(spec: &ResourceSpec) -> Option<Vec<String>> {
    let mut words = spec.words("script");
    let first = words.first_mut()?;
    let dir = &spec.context.scripts_dir;
    if !first.starts_with('/') && !dir.is_empty() {
        *first = PathBuf::from(dir)
            .join(&*first)
            .to_string_lossy()
            .into_owned();
    }
    Some(words)
}

/// The command of action keyword `kw` (empty: none), and its sequence number.
fn command_of(
    spec: &ResourceSpec,
    kw: &str,
    arg: &str,
    script: Option<&[String]>,
) -> Result<(Vec<String>, Option<u64>)> {
    match (wanted(spec.words(kw)), script) {
        (Wanted::Nothing, _) => Ok((Vec::new(), None)),
        (Wanted::Command(argv), _) => Ok((argv, None)),
        (Wanted::Script(seq), Some(script)) => {
            let mut argv = script.to_vec();
            argv.push(arg.to_string());
            Ok((argv, seq))
        }
        (Wanted::Script(_), None) => Err(Error::config_kw(
            kw,
            format!(
                "'{}' runs the script, but the 'script' keyword is not set",
                spec.words(kw).join(" ")
            ),
        )),
    }
}

/// Signals through nix would need its `signal` feature's enum; plain kill(2) is enough here.
///
/// # Safety
/// kill(2) touches no memory of this process; the caller makes sure `pid` (or the group `-pid`)
/// is the app's, as read from its pid file.
unsafe fn libc_kill(pid: i32, sig: i32) -> i32 {
    nix::libc::kill(pid, sig)
}

impl ResourceImpl for App {
    fn sort_key(&self) -> Option<String> {
        self.seq.map(|n| n.to_string())
    }

    fn label(&self) -> String {
        let kind = match self.kind {
            Kind::Forking => "forking",
            Kind::Simple => "simple",
        };
        // Built in place, not formatted from a joined copy: every service build asks each
        // resource for its label.
        let words: usize = self.start.iter().map(|w| w.len() + 1).sum();
        let mut label = String::with_capacity(kind.len() + words);
        label.push_str(kind);
        for word in &self.start {
            label.push(' ');
            label.push_str(word);
        }
        label
    }

    fn status(&self, ctx: &Ctx) -> Result<StatusReport> {
        let report = match self.is_up(ctx)? {
            Some(true) => StatusReport::up(),
            Some(false) => StatusReport::new(Status::Down),
            None => StatusReport::na(),
        };
        Ok(match (self.kind, self.tracked()) {
            (Kind::Simple, Err(Some(stale))) => {
                report.with_info(format!("stale pid file: {} is gone", stale.describe()))
            }
            _ => report,
        })
    }

    fn start(&self, ctx: &Ctx) -> Result<ActionReport> {
        if self.is_up(ctx)? == Some(true) {
            ctx.info(&format!("{} is already up", self.label()));
            return Ok(ActionReport::unchanged());
        }
        if self.start.is_empty() {
            return Ok(ActionReport::unchanged());
        }
        match self.kind {
            Kind::Forking => {
                self.cmd(ctx, &self.start).check()?;
            }
            Kind::Simple => self.start_simple(ctx)?,
        }
        Ok(ActionReport::changed())
    }

    fn stop(&self, ctx: &Ctx) -> Result<ActionReport> {
        if self.is_up(ctx)? == Some(false) {
            ctx.info(&format!("{} is already down", self.label()));
            if let (Kind::Simple, Err(stale)) = (self.kind, self.tracked()) {
                self.forget(ctx, stale)?;
            }
            return Ok(ActionReport::unchanged());
        }
        if !self.stop.is_empty() {
            self.cmd(ctx, &self.stop).check()?;
        }
        if self.kind == Kind::Simple {
            self.stop_simple(ctx)?;
        }
        Ok(ActionReport::from_changed(
            !self.stop.is_empty() || self.kind == Kind::Simple,
        ))
    }

    /// `resinfo` (OpenSVC's `print resinfo`): the info command's output lines.
    fn call(
        &self,
        verb: &str,
        _payload: &serde_json::Value,
        ctx: &Ctx,
    ) -> Result<serde_json::Value> {
        match verb {
            "resinfo" if !self.info.is_empty() => {
                let out = self.cmd(ctx, &self.info).quiet().run()?;
                Ok(
                    serde_json::json!({ "code": out.code, "lines": out.stdout.lines().collect::<Vec<_>>() }),
                )
            }
            other => Err(Error::unsupported(format!(
                "verb '{other}' is not supported"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    //! Through the SDK's `testing` harness: real commands, no host.
    use super::pidfile::PidFile;
    use super::plugin;
    use std::time::Duration;
    use svcmgr_plugin_api::testing::{self, Builder};
    use svcmgr_plugin_api::{ErrorKind, Status};

    fn forking() -> Builder {
        testing::resource(plugin, "app.forking", "app#1")
    }

    #[test]
    fn forking_app_follows_its_check_command() {
        let flag = std::env::temp_dir().join(format!("app-unit-{}", std::process::id()));
        let flag = flag.to_string_lossy().into_owned();
        let res = forking()
            .keyword("start", &format!("touch {flag}"))
            .keyword("stop", &format!("rm -f {flag}"))
            .keyword("check", &format!("test -e {flag}"))
            .build()
            .unwrap();
        assert_eq!(res.label(), format!("forking touch {flag}"));
        assert_eq!(res.status().unwrap().status, Status::Down);
        assert!(res.start().unwrap().changed);
        assert_eq!(res.status().unwrap().status, Status::Up);
        assert!(!res.start().unwrap().changed, "already up");
        let logs: Vec<String> = res.take_logs().into_iter().map(|l| l.message).collect();
        assert_eq!(logs[0], format!("touch {flag}"));
        assert!(logs.last().unwrap().ends_with("is already up"), "{logs:?}");
        assert!(res.stop().unwrap().changed);
        assert_eq!(res.status().unwrap().status, Status::Down);
    }

    #[test]
    fn a_failing_command_names_itself_and_a_slow_one_meets_the_deadline() {
        let mut res = forking()
            .keyword("start", "sh -c 'exit 3'")
            .keyword("stop", "sleep 2")
            .build()
            .unwrap();
        let e = res.start().unwrap_err();
        assert_eq!(e.to_string(), "sh -c exit 3 failed with exit code 3");
        res.set_timeout(Some(Duration::from_millis(200)));
        assert_eq!(res.stop().unwrap_err().kind(), ErrorKind::Timeout);
        assert_eq!(res.status().unwrap().status, Status::NA, "no check command");
    }

    #[test]
    fn simple_app_is_up_while_its_process_lives() {
        let res = testing::resource(plugin, "app.simple", "app#2")
            .keyword("start", "sleep 30")
            .build()
            .unwrap();
        assert_eq!(res.status().unwrap().status, Status::Down);
        assert!(res.start().unwrap().changed);
        let pid_file = res.var_dir().join("app#2/pid");
        let recorded = PidFile::read(&pid_file).expect("a pid file with the identity");
        assert_eq!(recorded.command, ["sleep", "30"]);
        assert!(recorded.is_running());
        // This test process is the app's parent, as a host that starts and stops it in one
        // run is: the stop must see it end, not wait for its deadline and KILL.
        assert_eq!(res.status().unwrap().status, Status::Up);
        res.take_logs();
        assert!(res.stop().unwrap().changed);
        let logs: Vec<String> = res.take_logs().into_iter().map(|l| l.message).collect();
        assert!(logs.iter().all(|l| !l.contains("KILL")), "{logs:?}");
        assert_eq!(res.status().unwrap().status, Status::Down);
        assert!(!pid_file.exists());
    }

    #[test]
    fn a_simple_app_that_exits_at_once_failed_to_start() {
        let res = testing::resource(plugin, "app.simple", "app#3")
            .keyword("start", "sh -c 'exit 4'")
            .build()
            .unwrap();
        let e = res.start().unwrap_err();
        assert_eq!(e.message(), "sh -c exit 4 exited at once with code 4");
        assert!(!e.is_changed());
        assert!(!res.var_dir().join("app#3/pid").exists());
        let missing = testing::resource(plugin, "app.simple", "app#4")
            .keyword("start", "/nonexistent/program")
            .build()
            .unwrap();
        assert!(missing.start().is_err());
        assert!(!missing.var_dir().join("app#4/pid").exists());
    }

    #[test]
    fn a_pid_file_naming_another_process_is_down_and_that_process_left_alone() {
        let res = testing::resource(plugin, "app.simple", "app#5")
            .keyword("start", "sleep 30")
            .build()
            .unwrap();
        // A live process (this test) under the pid, but not the one started.
        let me = std::process::id() as i32;
        let mut stale = PidFile::of(me, &["sleep".into(), "30".into()]).unwrap();
        stale.start_time += 1;
        let pid_file = res.var_dir().join("app#5/pid");
        std::fs::create_dir_all(pid_file.parent().unwrap()).unwrap();
        std::fs::write(&pid_file, stale.to_json()).unwrap();
        let report = res.status().unwrap();
        assert_eq!(report.status, Status::Down);
        assert!(
            report.log[0].message.contains("stale pid file"),
            "{report:?}"
        );
        // The stop signals nobody (this test would die of it) and forgets the file.
        assert!(!res.stop().unwrap().changed);
        assert!(!pid_file.exists());
    }

    #[test]
    fn bad_keywords_name_the_keyword_not_the_rid() {
        let e = |b: Builder| b.build().err().unwrap();
        let err = e(forking().keyword("environment", "NOEQUALS"));
        assert_eq!(err.kind(), ErrorKind::Config);
        assert_eq!(
            err.message(),
            "environment: entry 'NOEQUALS' is not KEY=value"
        );
        let err = e(forking().keyword("user", "no-such-user-here"));
        assert_eq!(err.message(), "user: 'no-such-user-here' does not exist");
        let err = e(testing::resource(plugin, "app.simple", "app#1"));
        assert_eq!(err.message(), "start: app.simple needs a start command");
        let err = e(forking().keyword("start", "true"));
        assert_eq!(
            err.message(),
            "start: 'true' runs the script, but the 'script' keyword is not set"
        );
    }

    #[test]
    fn script_actions_and_sequence_numbers() {
        let build = |check: &str| {
            forking()
                .keyword("script", "/bin/echo app")
                .keyword("start", "20")
                .keyword("stop", "no")
                .keyword("check", check)
                .build()
                .unwrap()
        };
        // check = true runs '<script> status', which echo answers with 0.
        assert_eq!(build("true").status().unwrap().status, Status::Up);
        let res = build("false");
        assert_eq!(res.label(), "forking /bin/echo app start");
        assert_eq!(res.status().unwrap().status, Status::NA, "no check");
        assert!(res.start().unwrap().changed);
        assert!(!res.stop().unwrap().changed, "a disabled stop does nothing");
        let logs: Vec<String> = res.take_logs().into_iter().map(|l| l.message).collect();
        assert_eq!(logs[..3], ["/bin/echo app start", "output:", "app start"]);
    }

    use super::{wanted, Wanted};

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn action_values() {
        for yes in ["true", "True", "T", "yes", "on"] {
            assert_eq!(wanted(w(yes)), Wanted::Script(None), "{yes}");
        }
        for no in ["", "0", "00", "f", "F", "false", "FALSE", "no", "off"] {
            assert_eq!(wanted(w(no)), Wanted::Nothing, "{no}");
        }
        assert_eq!(wanted(w("10")), Wanted::Script(Some(10)));
        assert_eq!(wanted(w("/bin/true")), Wanted::Command(w("/bin/true")));
        assert_eq!(wanted(w("echo true")), Wanted::Command(w("echo true")));
    }
}
