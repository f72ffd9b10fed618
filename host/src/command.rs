//! Commands the host runs itself (triggers), as drivers run theirs: no shell, the resource's
//! environment, a process group of their own that the deadline kills. The caller logs the
//! command line; its stdout lines are logged at info and its stderr lines at warning, under
//! the resource.

use crate::log;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Instant;
use svcmgr_plugin_api::abi::level;
use svcmgr_plugin_api::sdk::command::{program_path, supervise, Stream};

/// Run `argv` to completion (blocking): its exit code, 128 + the signal number when a signal
/// ended it (the deadline's KILL included), or why it could not start. Like a driver's
/// command, it is done when its process exits, whatever it left in the background.
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
    let pid = child.id();
    let mut headed = [false, false];
    let finished = supervise(&mut child, deadline, |stream, line| {
        let (i, header, lvl) = match stream {
            Stream::Stderr => (1, "stderr:", level::WARN),
            _ => (0, "output:", level::INFO),
        };
        if !headed[i] {
            log::log(rid, level::INFO, header);
            headed[i] = true;
        }
        log::log(rid, lvl, line);
    })
    .map_err(|e| format!("{prog}: {e}"))?;
    if finished.killed_at_deadline {
        log::warn(rid, &format!("kill -KILL -{pid}: the deadline has passed"));
    }
    Ok(finished.code)
}
