//! The `app` drivers: `app.forking` (the start command runs to completion) and `app.simple`
//! (the start command is the long-running process, detached, its pid kept in the var dir).
//!
//! `start`, `stop`, `check` and `info` each hold a command, or (OpenSVC's convention) a
//! word about the `script` keyword: `true` runs `<script> start` (`status` for check), a
//! sequence number does too and orders the apps of a set on start, `false`/`no`/`0` or
//! nothing runs nothing.

use std::path::PathBuf;
use std::time::{Duration, Instant};
use svcmgr_plugin_api::{
    export_plugin, ActionReport, Ctx, DriverDecl, Error, Kw, Plugin, ResourceImpl, ResourceSpec,
    Result, StatusReport,
};

export_plugin!(plugin);

/// The library description: both drivers share keywords and most behaviour.
pub fn plugin() -> Plugin {
    Plugin {
        name: "app",
        version: env!("CARGO_PKG_VERSION"),
        drivers: vec![
            with_keywords(DriverDecl::new(
                "app.forking",
                env!("CARGO_PKG_VERSION"),
                new_forking,
            ))
            .help("An application whose start command returns once the application runs.")
            .default_for_group(),
            with_keywords(DriverDecl::new(
                "app.simple",
                env!("CARGO_PKG_VERSION"),
                new_simple,
            ))
            .help("An application whose start command is the long-running process itself."),
        ],
    }
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
            "Command printing facts about the application (the 'info' call), or true \
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

struct App {
    kind: Kind,
    /// The commands of each action; empty: nothing to run.
    start: Vec<String>,
    stop: Vec<String>,
    check: Vec<String>,
    info: Vec<String>,
    /// The sequence number `start` gave, ordering the apps of a set.
    seq: Option<u64>,
    cwd: Option<String>,
    environment: Vec<(String, String)>,
    user: Option<(u32, u32)>,
    check_timeout: Duration,
    /// `<var>/<rid>/`: the pid file of a simple app and its output log.
    state_dir: PathBuf,
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
                _ => Err(Error::config(format!(
                    "{}: environment entry '{pair}' is not KEY=value",
                    spec.rid
                ))),
            })
            .collect::<Result<Vec<_>>>()?;
        let user = match spec.str("user") {
            Some(name) => {
                let u = nix::unistd::User::from_name(name)
                    .map_err(|e| Error::config(format!("{}: user '{name}': {e}", spec.rid)))?
                    .ok_or_else(|| {
                        Error::config(format!("{}: user '{name}' does not exist", spec.rid))
                    })?;
                Some((u.uid.as_raw(), u.gid.as_raw()))
            }
            None => None,
        };
        let script = script(spec);
        let action = |kw: &str, arg: &str| command_of(spec, kw, arg, script.as_deref());
        let (start, seq) = action("start", "start")?;
        if kind == Kind::Simple && start.is_empty() {
            return Err(Error::config(format!(
                "{}: app.simple needs a start command",
                spec.rid
            )));
        }
        Ok(App {
            kind,
            start,
            stop: action("stop", "stop")?.0,
            check: action("check", "status")?.0,
            info: action("info", "info")?.0,
            seq,
            cwd: spec.str("cwd").map(String::from),
            environment,
            user,
            check_timeout: spec
                .duration("check_timeout")
                .unwrap_or(Duration::from_secs(60)),
            state_dir: PathBuf::from(&spec.context.var_dir).join(&spec.rid),
        })
    }

    fn cmd<'a>(&self, ctx: &'a Ctx, argv: &[String]) -> svcmgr_plugin_api::sdk::Cmd<'a> {
        let mut cmd = ctx.command(argv).stderr_as_warnings();
        for (k, v) in &self.environment {
            cmd = cmd.env(k, v);
        }
        if let Some(dir) = &self.cwd {
            cmd = cmd.cwd(dir);
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

    /// The pid of a running simple app, if its pid file names a live process.
    fn running_pid(&self) -> Option<i32> {
        let pid: i32 = std::fs::read_to_string(self.pid_file())
            .ok()?
            .trim()
            .parse()
            .ok()?;
        // SAFETY: kill with signal 0 only probes for existence.
        (pid > 0 && unsafe { libc_kill(pid, 0) } == 0).then_some(pid)
    }

    fn is_up(&self, ctx: &Ctx) -> Result<Option<bool>> {
        match (self.check_up(ctx)?, self.kind) {
            (Some(up), _) => Ok(Some(up)),
            (None, Kind::Simple) => Ok(Some(self.running_pid().is_some())),
            (None, Kind::Forking) => Ok(None),
        }
    }

    fn run_checked(&self, ctx: &Ctx, argv: &[String]) -> Result<()> {
        let out = self.cmd(ctx, argv).run()?;
        if out.success() {
            Ok(())
        } else {
            Err(Error::other(format!(
                "{} exited with code {}",
                argv.join(" "),
                out.code
            )))
        }
    }

    fn stop_simple(&self, ctx: &Ctx) -> Result<()> {
        let Some(pid) = self.running_pid() else {
            return Ok(());
        };
        ctx.info(&format!("kill -TERM {pid}"));
        // The app runs in its own session: signal its whole process group.
        unsafe { libc_kill(-pid, 15) };
        let deadline = ctx
            .deadline()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(10));
        while Instant::now() < deadline {
            if unsafe { libc_kill(pid, 0) } != 0 {
                let _ = std::fs::remove_file(self.pid_file());
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        ctx.warn(&format!("kill -KILL {pid}"));
        unsafe { libc_kill(-pid, 9) };
        let _ = std::fs::remove_file(self.pid_file());
        Ok(())
    }
}

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
    match word.to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "on" => Wanted::Script(None),
        "false" | "f" | "no" | "n" | "off" => Wanted::Nothing,
        _ => Wanted::Command(words),
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
        (Wanted::Script(_), None) => Err(Error::config(format!(
            "{kw} = {} runs the script, but the 'script' keyword is not set",
            spec.words(kw).join(" ")
        ))),
    }
}

/// Signals through nix would need its `signal` feature's enum; plain kill(2) is enough here.
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
        match self.start.is_empty() {
            true => kind.to_string(),
            false => format!("{kind} {}", self.start.join(" ")),
        }
    }

    fn status(&self, ctx: &Ctx) -> Result<StatusReport> {
        Ok(match self.is_up(ctx)? {
            Some(true) => StatusReport::up(),
            Some(false) => StatusReport::down(),
            None => StatusReport::na(),
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
            Kind::Forking => self.run_checked(ctx, &self.start)?,
            Kind::Simple => {
                std::fs::create_dir_all(&self.state_dir)?;
                let pid = self
                    .cmd(ctx, &self.start)
                    .spawn_detached(Some(&self.state_dir.join("output.log")))?;
                std::fs::write(self.pid_file(), format!("{pid}\n"))?;
            }
        }
        Ok(ActionReport::changed())
    }

    fn stop(&self, ctx: &Ctx) -> Result<ActionReport> {
        if self.is_up(ctx)? == Some(false) {
            ctx.info(&format!("{} is already down", self.label()));
            return Ok(ActionReport::unchanged());
        }
        if !self.stop.is_empty() {
            self.run_checked(ctx, &self.stop)?;
        }
        if self.kind == Kind::Simple {
            self.stop_simple(ctx)?;
        }
        Ok(ActionReport {
            changed: !self.stop.is_empty() || self.kind == Kind::Simple,
        })
    }

    /// `info`: the info command's output lines.
    fn call(
        &self,
        verb: &str,
        _payload: &serde_json::Value,
        ctx: &Ctx,
    ) -> Result<serde_json::Value> {
        match verb {
            "info" if !self.info.is_empty() => {
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
    use super::*;

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
