//! The context of one verb call: logging under the rid, the deadline, commands, queries, and
//! file helpers whose errors name the file.

use super::command::Cmd;
use super::error::{Context, Error, Result};
use crate::types::{CallArgs, Level};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Where a call's log lines and queries go: the host through the ABI callbacks, or the
/// capture of [`crate::testing`].
pub(crate) trait HostSide: Send + Sync {
    fn log(&self, token: u64, rid: &str, level: Level, msg: &str);
    fn query(&self, token: u64, rid: &str, verb: &str, payload: &str) -> Result<String>;
}

/// Variables, in the order they are set.
pub(crate) type Vars = Vec<(String, String)>;

/// The environment of a resource's commands: the service's, shared by its resources, then the
/// resource's own and the call's.
pub(crate) struct CommandEnv {
    pub(crate) shared: Arc<[(String, String)]>,
    pub(crate) own: Vars,
}

/// The context of one verb call, handed to every [`crate::ResourceImpl`] method.
pub struct Ctx {
    rid: String,
    token: u64,
    args: CallArgs,
    deadline: Option<Instant>,
    /// The environment every command of this resource gets.
    env: CommandEnv,
    host: Arc<dyn HostSide>,
}

impl Ctx {
    pub(crate) fn new(
        rid: &str,
        token: u64,
        args: CallArgs,
        env: CommandEnv,
        host: Arc<dyn HostSide>,
    ) -> Self {
        let deadline = args.deadline_unix_ms.map(|ms| {
            let now_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis() as u64;
            Instant::now() + Duration::from_millis(ms.saturating_sub(now_ms))
        });
        Ctx {
            rid: rid.to_string(),
            token,
            args,
            deadline,
            env,
            host,
        }
    }

    /// The resource id (`app#1`). Messages need not repeat it: the host prefixes every line.
    pub fn rid(&self) -> &str {
        &self.rid
    }
    /// The service action this call belongs to (`start`, `restart`, `rollback`, `status`, …).
    pub fn action(&self) -> &str {
        &self.args.action
    }
    /// The verb-specific payload of a `call`.
    pub fn payload(&self) -> &Value {
        &self.args.payload
    }
    /// `--force` was given.
    pub fn force(&self) -> bool {
        self.args.force
    }
    /// When the host gives up on this call (None: no deadline).
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }
    /// When the call should end by a bound of the driver's own: the deadline a timeout
    /// keyword set; when none is set, `own` from now (a container's stop grace, an agent's
    /// advised timeout), never past the host's default deadline.
    pub fn deadline_or(&self, own: Duration) -> Instant {
        let own = Instant::now() + own;
        match (self.deadline, self.args.default_deadline) {
            (Some(d), false) => d,
            (Some(d), true) => d.min(own),
            (None, _) => own,
        }
    }
    /// The timeout the deadline came from, for messages.
    pub fn timeout(&self) -> Option<Duration> {
        self.args.timeout_ms.map(Duration::from_millis)
    }
    /// Time left before the deadline (None: no deadline).
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }
    /// Whether the deadline has passed.
    pub fn timed_out(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Log a line under this resource.
    pub fn log(&self, level: Level, msg: &str) {
        self.host.log(self.token, &self.rid, level, msg);
    }
    /// Log a debug line (shown with `--debug`).
    pub fn debug(&self, msg: &str) {
        self.log(Level::Debug, msg)
    }
    /// Log a line.
    pub fn info(&self, msg: &str) {
        self.log(Level::Info, msg)
    }
    /// Log a warning.
    pub fn warn(&self, msg: &str) {
        self.log(Level::Warn, msg)
    }
    /// Log an error.
    pub fn error(&self, msg: &str) {
        self.log(Level::Error, msg)
    }
    /// Log at service level (no rid), e.g. `pulling docker image …`.
    pub fn service_info(&self, msg: &str) {
        self.host.log(self.token, "", Level::Info, msg);
    }

    /// A command that logs its argv and output under this resource and honours the deadline.
    pub fn command<S: AsRef<str>>(&self, argv: &[S]) -> Cmd<'_> {
        let mut cmd = Cmd::new(self, argv.iter().map(|s| s.as_ref().to_string()).collect());
        for (k, v) in self.env.shared.iter().chain(&self.env.own) {
            cmd = cmd.env(k, v);
        }
        cmd
    }

    /// Ask another resource of the service (routed to its `call(verb, payload)`).
    pub fn query(&self, rid: &str, verb: &str, payload: &Value) -> Result<Value> {
        let answer = self
            .host
            .query(self.token, rid, verb, &payload.to_string())?;
        serde_json::from_str(&answer)
            .map_err(|e| Error::other(format!("invalid answer from {rid} to '{verb}': {e}")))
    }

    /// Read a text file; the error names it (`read <path>: …`).
    pub fn read_file(&self, path: impl AsRef<Path>) -> Result<String> {
        let path = path.as_ref();
        std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))
    }
    /// Write a file, replacing it; the error names it (`write <path>: …`).
    pub fn write_file(&self, path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> Result<()> {
        let path = path.as_ref();
        std::fs::write(path, contents).with_context(|| format!("write {}", path.display()))
    }
    /// Replace a file atomically, private to its owner (mode 0600): readers (and a process
    /// killed mid-write) see the old content or the new one, never a part
    /// ([`crate::sdk::files::write_atomic`]); the error names `path`.
    pub fn write_file_atomic(
        &self,
        path: impl AsRef<Path>,
        contents: impl AsRef<[u8]>,
    ) -> Result<()> {
        let path = path.as_ref();
        crate::sdk::files::write_atomic(path, contents.as_ref(), 0o600)
            .with_context(|| format!("write {}", path.display()))
    }
    /// Create a folder and its parents; the error names it (`create <path>: …`).
    pub fn create_dir_all(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        std::fs::create_dir_all(path).with_context(|| format!("create {}", path.display()))
    }
    /// Remove a file: `Ok(false)` when it was already absent; the error names it.
    pub fn remove_file(&self, path: impl AsRef<Path>) -> Result<bool> {
        let path = path.as_ref();
        match std::fs::remove_file(path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e).with_context(|| format!("remove {}", path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Nowhere;

    impl HostSide for Nowhere {
        fn log(&self, _: u64, _: &str, _: Level, _: &str) {}
        fn query(&self, _: u64, _: &str, _: &str, _: &str) -> Result<String> {
            Err(Error::unsupported("no host"))
        }
    }

    fn ctx(timeout: Option<Duration>, by_default: bool) -> Ctx {
        let mut args = CallArgs::new("start");
        if let Some(t) = timeout {
            args = args.with_timeout(t);
        }
        args.default_deadline = by_default;
        let env = CommandEnv {
            shared: Arc::from(Vec::new()),
            own: Vec::new(),
        };
        Ctx::new("app#1", 0, args, env, Arc::new(Nowhere))
    }

    #[test]
    fn a_driver_bound_applies_unless_a_timeout_was_configured() {
        let (own, hour) = (Duration::from_secs(10), Duration::from_secs(3600));
        let left = |c: &Ctx| c.deadline_or(own).saturating_duration_since(Instant::now());
        assert!(
            left(&ctx(Some(hour), true)) <= own,
            "the host's default: own bound"
        );
        assert!(
            left(&ctx(Some(hour), false)) > own,
            "configured: the deadline"
        );
        let short = ctx(Some(Duration::from_secs(2)), true);
        assert!(
            left(&short) <= Duration::from_secs(2),
            "never past the deadline"
        );
        assert!(
            left(&ctx(None, false)) <= own,
            "no deadline at all: own bound"
        );
    }
}
