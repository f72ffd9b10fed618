//! Commands the host runs itself (triggers), as drivers run theirs: no shell, the resource's
//! environment, a process group of their own that the deadline kills. The caller logs the
//! command line; its stdout lines are logged at info and its stderr lines at warning, under
//! the resource.

use crate::log;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;
use svcmgr_plugin_api::abi::level;
use svcmgr_plugin_api::sdk::command::program_path;

/// Run `argv` to completion (blocking): its exit code, 128 + the signal number when a signal
/// ended it (the deadline's KILL included), or why it could not start.
pub fn run(
    rid: &str,
    argv: &[String],
    env: &[(String, String)],
    deadline: Option<Instant>,
) -> Result<i32, String> {
    let (prog, args) = argv.split_first().ok_or("empty command line")?;
    let path = env.iter().rev().find(|(k, _)| k == "PATH");
    let mut child = Command::new(program_path(prog, path.map(|(_, v)| v.as_str())))
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("{prog}: {e}"))?;
    let out = child.stdout.take();
    let err = child.stderr.take();
    let status = std::thread::scope(|scope| {
        scope.spawn(|| out.map(|s| log_lines(s, rid, "output:", level::INFO)));
        scope.spawn(|| err.map(|s| log_lines(s, rid, "stderr:", level::WARN)));
        wait(&mut child, rid, deadline)
    });
    status.map(|s| s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0)))
}

/// Log each line of a stream at `lvl`, after `header`.
fn log_lines(stream: impl Read, rid: &str, header: &str, lvl: u8) {
    for (n, line) in BufReader::new(stream)
        .lines()
        .map_while(Result::ok)
        .enumerate()
    {
        if n == 0 {
            log::log(rid, level::INFO, header);
        }
        log::log(rid, lvl, &line);
    }
}

/// Wait for the child; at the deadline, kill its process group first.
fn wait(
    child: &mut std::process::Child,
    rid: &str,
    deadline: Option<Instant>,
) -> Result<std::process::ExitStatus, String> {
    let pid = child.id() as i32;
    let Some(deadline) = deadline else {
        return child.wait().map_err(|e| e.to_string());
    };
    // A waiter thread lets the deadline be exact without polling.
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|scope| {
        scope.spawn(|| tx.send(child.wait()));
        let status = match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(status) => status,
            Err(_) => {
                log::warn(rid, &format!("kill -KILL -{pid}: the deadline has passed"));
                // SAFETY: plain kill(2) on the process group this command leads.
                unsafe { libc::kill(-pid, libc::SIGKILL) };
                rx.recv().map_err(|e| e.to_string())?
            }
        };
        status.map_err(|e| e.to_string())
    })
}
