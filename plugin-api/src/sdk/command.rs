//! Running commands from a driver: the argv line, `output:` and every output line are logged
//! through the host under the resource's rid; the call's deadline kills the process group.

use super::{Context, Ctx, Error, Result};
use crate::types::Level;
use std::io::{Read, Write};
use std::ops::ControlFlow;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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
    answered: Option<fn(&str) -> bool>,
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
            answered: None,
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
    /// The command has answered once its standard output so far passes `answered` (checked
    /// after each line): [`Cmd::run`] returns then, without waiting for the process to exit.
    /// For read-only reports of tools that linger after they answered (LVM tears its aio
    /// context down for ~30 ms after printing its report). The process finishes in the
    /// background (a thread reaps it, what it still writes is dropped) and
    /// [`Output::code`] is 0, unless it had exited already.
    pub fn done_when(mut self, answered: fn(&str) -> bool) -> Self {
        self.answered = Some(answered);
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
    /// [`Cmd::check`]. The command is done when its process exits, even when something it
    /// left in the background (`sh -c "daemon &"`) keeps its output open: what the process
    /// wrote is logged, what comes later is read and dropped in the background.
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
        let (quiet, level_of, ctx) = (self.quiet, self.line_level, self.ctx);
        let floors = [Level::Debug, self.stderr_floor];
        let mut texts = [String::new(), String::new()];
        let mut headed = [false, false];
        let finished = supervise_until(&mut child, self.deadline, |stream, text| {
            let i = stream as usize;
            if !quiet {
                if !headed[i] {
                    ctx.log(Level::Info, ["output:", "stderr:"][i]);
                    headed[i] = true;
                }
                ctx.log(level_of(text).max(floors[i]), text);
            }
            texts[i].push_str(text);
            texts[i].push('\n');
            match self.answered {
                Some(answered) if stream == Stream::Stdout && answered(&texts[0]) => {
                    ControlFlow::Break(())
                }
                _ => ControlFlow::Continue(()),
            }
        })
        .context("wait for the command")?;
        if finished.killed_at_deadline {
            return Err(Error::timeout("command killed at the call's deadline"));
        }
        let [stdout, stderr] = texts;
        Ok(Output {
            code: finished.code,
            stdout,
            stderr,
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
        self.spawn_recorded(log_file, |_| Ok(())).map(|s| s.pid)
    }

    /// Start the command detached, as [`Cmd::spawn_detached`] does, and call `record` with
    /// its pid once the process exists but before it runs the program: the program runs only
    /// when `record` succeeds, and never when this process dies first. A pid file written by
    /// `record` can therefore not miss a running program, even under `kill -9`.
    pub fn spawn_recorded(
        self,
        log_file: Option<&std::path::Path>,
        record: impl FnOnce(u32) -> Result<()>,
    ) -> Result<Started> {
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
        let (report_r, report_w) = pipe().context("pipe")?;
        let (go_r, go_w) = pipe().context("pipe")?;
        let (report, go) = (report_w.as_raw_fd(), go_r.as_raw_fd());
        // SAFETY: `gate` makes only async-signal-safe calls (prctl, getppid, setsid, read,
        // write) on descriptors that stay open until the spawn returns.
        let parent = unsafe { libc::getpid() };
        unsafe {
            cmd.pre_exec(move || gate(report, go, parent));
        }
        let (spawned, recorded) = std::thread::scope(|scope| {
            // The spawn returns once the program runs, which waits for `record`: it runs on
            // a thread of its own, and its ends of the pipes close when it returns.
            let spawner = scope.spawn(move || {
                let spawned = cmd.spawn();
                drop((report_w, go_r));
                spawned
            });
            let recorded = match read_pid(&report_r) {
                Some(pid) => record(pid),
                None => Err(Error::other(format!("{line}: the process did not start"))),
            };
            if recorded.is_ok() {
                let _ = (&go_w).write_all(&[GO]);
            }
            drop(go_w);
            let spawned = spawner
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("spawn panicked")));
            (spawned, recorded)
        });
        recorded?;
        let mut child = spawned.map_err(|e| Error::other(format!("{line}: {e}")))?;
        let pid = child.id();
        // Reap it when it exits, so that while this process lives an exited command is gone
        // rather than a zombie that still answers `kill -0`.
        let (tx, exit) = mpsc::channel();
        std::thread::spawn(move || {
            let code = child.wait().map(code_of).unwrap_or(-1);
            let _ = tx.send(code);
        });
        Ok(Started { pid, exit })
    }
}

/// A command started by [`Cmd::spawn_recorded`], running detached from the call.
#[non_exhaustive]
pub struct Started {
    /// Its pid, which is also its session and process group.
    pub pid: u32,
    exit: mpsc::Receiver<i32>,
}

impl Started {
    /// Wait up to `limit` for the command to end: its exit code (128 + the signal number when
    /// a signal ended it), or None while it runs.
    pub fn exit_within(&self, limit: Duration) -> Option<i32> {
        self.exit.recv_timeout(limit).ok()
    }
}

/// What the spawned process waits for before running its program.
const GO: u8 = b'g';

/// Runs in the forked process before its program: a new session; death with this process
/// (until the program runs); its pid reported on `report`; then wait for `GO` on `go`. End
/// of file on `go` (this process gave up or died) cancels the program.
fn gate(report: RawFd, go: RawFd, parent: libc::pid_t) -> std::io::Result<()> {
    use std::io::Error as IoError;
    // SAFETY: plain system calls on descriptors and buffers owned here.
    unsafe {
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
            return Err(IoError::last_os_error());
        }
        // The parent died before the death signal was armed.
        if libc::getppid() != parent {
            return Err(IoError::from_raw_os_error(libc::ESRCH));
        }
        // A new session (and process group) of its own: the operator's terminal going away
        // does not hang it up, and signalling -pid reaches all it started.
        if libc::setsid() == -1 {
            return Err(IoError::last_os_error());
        }
        let pid = libc::getpid().to_ne_bytes();
        if libc::write(report, pid.as_ptr().cast(), pid.len()) != pid.len() as isize {
            return Err(IoError::last_os_error());
        }
        let mut b = 0u8;
        loop {
            match libc::read(go, (&mut b as *mut u8).cast(), 1) {
                1 if b == GO => break,
                -1 if IoError::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
                _ => return Err(IoError::from_raw_os_error(libc::ECANCELED)),
            }
        }
        if libc::prctl(libc::PR_SET_PDEATHSIG, 0) != 0 {
            return Err(IoError::last_os_error());
        }
    }
    Ok(())
}

/// The pid the forked process reports, or None when it ended first.
fn read_pid(mut from: &std::fs::File) -> Option<u32> {
    let mut pid = [0u8; 4];
    from.read_exact(&mut pid).ok()?;
    u32::try_from(libc::pid_t::from_ne_bytes(pid)).ok()
}

/// A pipe whose ends close on exec.
fn pipe() -> std::io::Result<(std::fs::File, std::fs::File)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the two descriptors, which the Files then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fresh descriptors, owned by nobody else.
    Ok(unsafe {
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(fds[1]),
        )
    })
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

/// Which stream an output line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stream {
    /// Standard output.
    Stdout = 0,
    /// Standard error.
    Stderr = 1,
}

/// How a [`supervise`]d command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finished {
    /// Exit code, or 128 + the signal number when a signal ended it.
    pub code: i32,
    /// The deadline passed: its process group was killed.
    pub killed_at_deadline: bool,
    /// It answered ([`supervise_until`]) before its process exited, which finishes in the
    /// background: `code` is 0.
    pub answered_running: bool,
}

/// Wait for `child` (spawned with piped stdout and stderr, leading a process group of its
/// own), handing each line it writes to `on_line`, until it exits or `deadline` passes (then
/// its process group is killed with SIGKILL). It is done when its process exits: what that
/// process wrote is read then; a pipe that something it left in the background keeps open is
/// read and dropped by a background thread until that closes it (so the background process
/// never gets SIGPIPE while this process lives). Lines that are not UTF-8 are read lossily.
pub fn supervise(
    child: &mut Child,
    deadline: Option<Instant>,
    mut on_line: impl FnMut(Stream, &str),
) -> std::io::Result<Finished> {
    supervise_until(child, deadline, |stream, line| {
        on_line(stream, line);
        ControlFlow::Continue(())
    })
}

/// [`supervise`], except that the command is done as soon as `on_line` breaks (it has
/// answered): if its process still runs then, a background thread reaps it and what it
/// still writes is read and dropped, and the result says `answered_running`.
pub fn supervise_until(
    child: &mut Child,
    deadline: Option<Instant>,
    mut on_line: impl FnMut(Stream, &str) -> ControlFlow<()>,
) -> std::io::Result<Finished> {
    let pid = child.id() as libc::pid_t;
    let mut streams = [
        child.stdout.take().map(|s| Pipe::new(s.into())),
        child.stderr.take().map(|s| Pipe::new(s.into())),
    ];
    let exit = ExitWatch::new(pid)?;
    let mut killed_at_deadline = false;
    loop {
        let timeout = match (deadline, killed_at_deadline) {
            (Some(d), false) => {
                let left = d.saturating_duration_since(Instant::now()).as_millis();
                i32::try_from(left).unwrap_or(i32::MAX)
            }
            _ => -1,
        };
        let mut fds = vec![libc::pollfd {
            fd: exit.fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        fds.extend(
            streams
                .iter()
                .flatten()
                .filter(|p| p.open)
                .map(|p| libc::pollfd {
                    fd: p.fd(),
                    events: libc::POLLIN,
                    revents: 0,
                }),
        );
        // SAFETY: poll(2) on descriptors owned here.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            // SAFETY: plain kill(2) on the group the command leads.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            killed_at_deadline = true;
            continue;
        }
        let mut answered = false;
        for (i, pipe) in streams.iter_mut().enumerate() {
            let Some(pipe) = pipe.as_mut().filter(|p| p.open) else {
                continue;
            };
            let ready = fds.iter().any(|f| f.fd == pipe.fd() && f.revents != 0);
            if ready {
                pipe.read_some(&mut |l| answered |= on_line(STREAMS[i], l).is_break())?;
            }
        }
        if fds[0].revents != 0 {
            break;
        }
        if answered && !killed_at_deadline {
            if child.try_wait()?.is_some() {
                break;
            }
            for pipe in streams.into_iter().flatten().filter(|p| p.open) {
                pipe.drop_in_background();
            }
            reap_in_background(pid);
            return Ok(Finished {
                code: 0,
                killed_at_deadline,
                answered_running: true,
            });
        }
    }
    let status = child.wait()?;
    // Everything the process wrote before it exited is in the pipes now.
    for (i, pipe) in streams.iter_mut().enumerate() {
        if let Some(pipe) = pipe.as_mut() {
            pipe.drain(&mut |l| {
                let _ = on_line(STREAMS[i], l);
            })?;
        }
    }
    for pipe in streams.into_iter().flatten().filter(|p| p.open) {
        pipe.drop_in_background();
    }
    Ok(Finished {
        code: code_of(status),
        killed_at_deadline,
        answered_running: false,
    })
}

/// Wait for the exit of a child this process spawned, on a thread of its own.
fn reap_in_background(pid: libc::pid_t) {
    let _ = std::thread::Builder::new().spawn(move || {
        // SAFETY: waitpid(2) on our own child, no status kept.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    });
}

const STREAMS: [Stream; 2] = [Stream::Stdout, Stream::Stderr];

/// One output pipe of a command, read in chunks and cut into lines.
struct Pipe {
    file: std::fs::File,
    pending: Vec<u8>,
    open: bool,
}

impl Pipe {
    fn new(fd: OwnedFd) -> Pipe {
        Pipe {
            file: fd.into(),
            pending: Vec::new(),
            open: true,
        }
    }

    fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// One read: hand out the complete lines; at end of file, the last partial one too.
    fn read_some(&mut self, on_line: &mut dyn FnMut(&str)) -> std::io::Result<usize> {
        let mut buf = [0u8; 8192];
        let n = match self.file.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return Ok(1),
            Err(e) => return Err(e),
        };
        self.pending.extend_from_slice(&buf[..n]);
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            on_line(&String::from_utf8_lossy(&line[..end]));
        }
        if n == 0 {
            self.open = false;
            if !self.pending.is_empty() {
                on_line(&String::from_utf8_lossy(&std::mem::take(&mut self.pending)));
            }
        }
        Ok(n)
    }

    /// Read what the pipe holds now (not what a writer keeps adding), without waiting.
    fn drain(&mut self, on_line: &mut dyn FnMut(&str)) -> std::io::Result<()> {
        let mut held: libc::c_int = 0;
        // SAFETY: FIONREAD writes the byte count into the int we own.
        unsafe { libc::ioctl(self.fd(), libc::FIONREAD, &mut held) };
        let mut left = usize::try_from(held).unwrap_or(0);
        set_nonblocking(self.fd(), true);
        while self.open && left > 0 {
            match self.read_some(on_line) {
                Ok(n) => left = left.saturating_sub(n),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        // A pipe at end of file reads 0 bytes at once: notice it.
        if self.open && held == 0 {
            let _ = self.read_some(on_line);
        }
        set_nonblocking(self.fd(), false);
        // A partial last line of the process is still its output.
        if !self.pending.is_empty() {
            on_line(&String::from_utf8_lossy(&std::mem::take(&mut self.pending)));
        }
        Ok(())
    }

    /// Keep reading (and dropping) what comes until the writers close the pipe.
    fn drop_in_background(mut self) {
        let _ = std::thread::Builder::new().spawn(move || {
            let mut buf = [0u8; 8192];
            while matches!(self.file.read(&mut buf), Ok(n) if n > 0) {}
        });
    }
}

fn set_nonblocking(fd: RawFd, on: bool) {
    // SAFETY: fcntl(2) on a descriptor owned by the caller.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        let flags = match on {
            true => flags | libc::O_NONBLOCK,
            false => flags & !libc::O_NONBLOCK,
        };
        libc::fcntl(fd, libc::F_SETFL, flags);
    }
}

/// A descriptor that turns readable when the process exits: its pidfd, or, on kernels
/// without pidfd_open (before 5.3), a pipe closed by a thread that waits for the exit
/// without reaping it.
struct ExitWatch(OwnedFd);

impl ExitWatch {
    fn new(pid: libc::pid_t) -> std::io::Result<ExitWatch> {
        // SAFETY: pidfd_open returns a new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd >= 0 {
            // SAFETY: a fresh descriptor, owned by nobody else.
            return Ok(ExitWatch(unsafe { OwnedFd::from_raw_fd(fd as RawFd) }));
        }
        let (r, w) = pipe()?;
        std::thread::Builder::new().spawn(move || {
            // SAFETY: waitid(2) into a siginfo we own; WNOWAIT leaves the reaping to the
            // caller's `wait`.
            unsafe {
                let mut info: libc::siginfo_t = std::mem::zeroed();
                libc::waitid(
                    libc::P_PID,
                    pid as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::WNOWAIT,
                );
            }
            drop(w);
        })?;
        Ok(ExitWatch(r.into()))
    }

    fn fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
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
    fn a_command_that_answered_is_done_and_reaped_in_the_background() {
        let spawn = || {
            Command::new("sh")
                .args(["-c", "echo answer; sleep 2; echo late"])
                .process_group(0)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let alive = |pid: u32| unsafe { libc::kill(pid as libc::pid_t, 0) } == 0;
        let mut child = spawn();
        let mut lines = Vec::new();
        let done = supervise_until(&mut child, None, |_, line| {
            lines.push(line.to_string());
            match line {
                "answer" => ControlFlow::Break(()),
                _ => ControlFlow::Continue(()),
            }
        })
        .unwrap();
        assert!(done.answered_running && done.code == 0);
        assert_eq!(lines, ["answer"]);
        assert!(alive(child.id()), "returned before the process exited");
        // Reaped once it exits, not left a zombie (which would still answer kill -0).
        let until = Instant::now() + Duration::from_secs(30);
        while alive(child.id()) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(!alive(child.id()), "the process was not reaped");
        // Without an answer, the command is done when it exits, with every line.
        let mut child = spawn();
        let mut lines = Vec::new();
        let done = supervise(&mut child, None, |_, line| lines.push(line.to_string())).unwrap();
        assert!(!done.answered_running && done.code == 0);
        assert_eq!(lines, ["answer", "late"]);
    }

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
