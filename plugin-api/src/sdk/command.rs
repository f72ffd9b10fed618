//! Running commands from a driver: the argv line, `output:` and every output line are logged
//! through the host under the resource's rid; the call's deadline kills the process group.

use super::{Context, Ctx, Error, Result};
use crate::types::Level;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

/// What a finished command produced.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Output {
    /// Exit code, or 128 + signal number when killed by a signal.
    pub code: i32,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

impl Output {
    /// Exit code 0.
    pub fn success(&self) -> bool {
        self.code == 0
    }
}

/// A command builder bound to a call context ([`Ctx::command`]).
pub struct Cmd<'a> {
    ctx: &'a Ctx,
    argv: Vec<String>,
    env: Vec<(String, String)>,
    cwd: Option<PathBuf>,
    uid_gid: Option<(u32, u32)>,
    quiet: bool,
    /// The lowest level of stderr lines (warning after [`Cmd::stderr_as_warnings`]).
    stderr_floor: Level,
    deadline: Option<Instant>,
    line_level: fn(&str) -> Level,
}

impl<'a> Cmd<'a> {
    pub(crate) fn new(ctx: &'a Ctx, argv: Vec<String>) -> Self {
        let deadline = ctx.deadline();
        Cmd {
            ctx,
            argv,
            env: Vec::new(),
            cwd: None,
            uid_gid: None,
            quiet: false,
            stderr_floor: Level::Debug,
            deadline,
            line_level: |_| Level::Info,
        }
    }
    /// Add an environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }
    /// Run in this folder.
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }
    /// Run as this uid/gid.
    pub fn user(mut self, uid: u32, gid: u32) -> Self {
        self.uid_gid = Some((uid, gid));
        self
    }
    /// Kill the command after `limit` (or at the call's deadline, whichever comes first).
    pub fn timeout(mut self, limit: std::time::Duration) -> Self {
        let own = Instant::now() + limit;
        self.deadline = Some(self.deadline.map_or(own, |d| d.min(own)));
        self
    }
    /// Choose each output line's log level (default: info), for commands that mark their
    /// lines (`WARNING: …`).
    pub fn line_level(mut self, classify: fn(&str) -> Level) -> Self {
        self.line_level = classify;
        self
    }
    /// Do not log the command line nor its output (status probes).
    pub fn quiet(mut self) -> Self {
        self.quiet = true;
        self
    }
    /// Log the lines the command writes on stderr as warnings (an application's own
    /// complaints), not as info.
    pub fn stderr_as_warnings(mut self) -> Self {
        self.stderr_floor = Level::Warn;
        self
    }

    fn build(&self) -> Result<Command> {
        let (prog, args) = self
            .argv
            .split_first()
            .ok_or_else(|| Error::config("empty command line"))?;
        let path = self.env.iter().rev().find(|(k, _)| k == "PATH");
        let mut cmd = Command::new(program_path(prog, path.map(|(_, v)| v.as_str())));
        cmd.args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        if let Some((uid, gid)) = self.uid_gid {
            cmd.uid(uid).gid(gid);
        }
        Ok(cmd)
    }

    /// Run to completion, logging as it goes. A non-zero exit is not an error here: see
    /// [`Cmd::check`].
    pub fn run(self) -> Result<Output> {
        let line = self.argv.join(" ");
        if !self.quiet {
            self.ctx.info(&line);
        }
        // Own process group, so a deadline kills the whole tree the command started.
        let mut child = self
            .build()?
            .process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::other(format!("{line}: {e}")))?;
        let pid = child.id() as i32;
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let (quiet, level_of) = (self.quiet, self.line_level);
        let (stdout_text, stderr_text, waited) = std::thread::scope(|scope| {
            let out =
                scope.spawn(|| pump(stdout, self.ctx, quiet, level_of, Level::Debug, "output:"));
            let err = scope.spawn(|| {
                pump(
                    stderr,
                    self.ctx,
                    quiet,
                    level_of,
                    self.stderr_floor,
                    "stderr:",
                )
            });
            let waited = wait_until(&mut child, pid, self.deadline);
            (
                out.join().unwrap_or_default(),
                err.join().unwrap_or_default(),
                waited,
            )
        });
        Ok(Output {
            code: waited?,
            stdout: stdout_text,
            stderr: stderr_text,
        })
    }

    /// Run, and turn a non-zero exit into an error naming the command and its exit code.
    pub fn check(self) -> Result<Output> {
        let line = self.argv.join(" ");
        let out = self.run()?;
        if out.success() {
            Ok(out)
        } else {
            Err(Error::other(format!(
                "{line} failed with exit code {}",
                out.code
            )))
        }
    }

    /// Start the command detached (own session, no pipes) and return its pid. It outlives
    /// the call; a background thread reaps it when it exits, so `kill(pid, 0)` tells
    /// whether it still runs (its exit status is not kept).
    pub fn spawn_detached(self, log_file: Option<&std::path::Path>) -> Result<u32> {
        let line = self.argv.join(" ");
        if !self.quiet {
            self.ctx.info(&line);
        }
        let mut cmd = self.build()?;
        let (out, err) = match log_file {
            Some(path) => {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("open {}", path.display()))?;
                let dup = f
                    .try_clone()
                    .with_context(|| format!("open {}", path.display()))?;
                (Stdio::from(dup), Stdio::from(f))
            }
            None => (Stdio::null(), Stdio::null()),
        };
        cmd.stdout(out).stderr(err);
        // A new session (and process group) of its own: the operator's terminal going away
        // does not hang it up, and signalling -pid reaches all it started. No setpgid before
        // it: a group leader cannot call setsid.
        // SAFETY: setsid is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| match libc::setsid() {
                -1 => Err(std::io::Error::last_os_error()),
                _ => Ok(()),
            });
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::other(format!("{line}: {e}")))?;
        let pid = child.id();
        // Reap it when it exits, so that while this process lives an exited command is gone
        // rather than a zombie that still answers `kill -0`.
        std::thread::spawn(move || child.wait());
        Ok(pid)
    }
}

/// The program a command line names: `prog` itself when it holds a `/` or the command keeps
/// this process's `PATH` (`path` None), else the first executable `<dir>/<prog>` of `path`,
/// the `PATH` the command gets. Resolving it here keeps std on its fast spawn path, which it
/// leaves for fork and exec when the child's `PATH` is not the parent's.
pub fn program_path(prog: &str, path: Option<&str>) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = path.filter(|_| !prog.contains('/')) else {
        return PathBuf::from(prog);
    };
    path.split(':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| std::path::Path::new(dir).join(prog))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .unwrap_or_else(|| PathBuf::from(prog))
}

/// Read a stream line by line, logging each line at its level, raised to `floor` (with a
/// header before the first one).
fn pump(
    stream: impl Read,
    ctx: &Ctx,
    quiet: bool,
    level_of: fn(&str) -> Level,
    floor: Level,
    header: &str,
) -> String {
    let mut text = String::new();
    let mut first = true;
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { break };
        if !quiet {
            if first {
                ctx.log(Level::Info, header);
                first = false;
            }
            ctx.log(level_of(&line).max(floor), &line);
        }
        text.push_str(&line);
        text.push('\n');
    }
    text
}

/// Wait for the child; past the deadline kill its process group and report a timeout.
fn wait_until(child: &mut std::process::Child, pid: i32, deadline: Option<Instant>) -> Result<i32> {
    let Some(deadline) = deadline else {
        return Ok(code_of(child.wait().context("wait for the command")?));
    };
    // A waiter thread lets us block with a precise timeout instead of polling.
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let _ = tx.send(child.wait());
        });
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(status) => Ok(code_of(status.context("wait for the command")?)),
            Err(_) => {
                // SAFETY: plain kill(2) on the group we created.
                unsafe { libc::kill(-pid, libc::SIGKILL) };
                let _ = rx.recv();
                Err(Error::timeout("command killed at the call's deadline"))
            }
        }
    })
}

fn code_of(status: std::process::ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_looked_up_in_the_commands_path() {
        let p = |prog, path| program_path(prog, path);
        assert_eq!(
            p("sh", Some("/nonexistent::/bin")),
            PathBuf::from("/bin/sh")
        );
        assert_eq!(p("/bin/sh", Some("/x")), PathBuf::from("/bin/sh"));
        assert_eq!(p("sh", None), PathBuf::from("sh"));
        assert_eq!(
            p("no-such-program", Some("/bin")),
            PathBuf::from("no-such-program")
        );
    }
}
