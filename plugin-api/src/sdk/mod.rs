//! The driver author's side: implement [`ResourceImpl`], describe drivers with [`DriverDecl`]
//! and [`Kw`], export them with [`crate::export_plugin!`].

pub mod command;
pub mod export;
mod log_bridge;

use crate::abi::{error_kind, level, DriverError};
use crate::types::{
    ActionReport, CallArgs, DriverManifest, KeywordSpec, KwType, LogEntry, ResourceContext,
    StatusReport,
};
use serde_json::{Map, Value};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use command::{Cmd, Output};

/// A driver error: a kind (see [`crate::abi::error_kind`]) and a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub kind: u32,
    pub message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn other(msg: impl Into<String>) -> Self {
        Error {
            kind: error_kind::OTHER,
            message: msg.into(),
        }
    }
    pub fn config(msg: impl Into<String>) -> Self {
        Error {
            kind: error_kind::CONFIG,
            message: msg.into(),
        }
    }
    pub fn unsupported(msg: impl Into<String>) -> Self {
        Error {
            kind: error_kind::UNSUPPORTED,
            message: msg.into(),
        }
    }
    pub fn timeout(msg: impl Into<String>) -> Self {
        Error {
            kind: error_kind::TIMEOUT,
            message: msg.into(),
        }
    }
    pub fn not_found(msg: impl Into<String>) -> Self {
        Error {
            kind: error_kind::NOT_FOUND,
            message: msg.into(),
        }
    }
    /// Mark a failure as having changed the resource (see [`error_kind::CHANGED`]).
    pub fn changed(mut self) -> Self {
        self.kind |= error_kind::CHANGED;
        self
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::other(e.to_string())
    }
}

impl From<Error> for DriverError {
    fn from(e: Error) -> Self {
        DriverError::new(e.kind, e.message)
    }
}

impl From<DriverError> for Error {
    fn from(e: DriverError) -> Self {
        Error {
            kind: e.kind,
            message: e.message.into_string(),
        }
    }
}

/// What a driver's factory receives: the resource id, its converted keywords (defaults filled
/// in by the host) and its context.
#[derive(Debug, Clone)]
pub struct ResourceSpec {
    pub driver_id: String,
    pub rid: String,
    pub keywords: Map<String, Value>,
    pub context: ResourceContext,
}

impl ResourceSpec {
    pub fn get(&self, kw: &str) -> Option<&Value> {
        self.keywords.get(kw).filter(|v| !v.is_null())
    }
    pub fn str(&self, kw: &str) -> Option<&str> {
        self.get(kw).and_then(Value::as_str)
    }
    pub fn bool(&self, kw: &str) -> bool {
        self.get(kw).and_then(Value::as_bool).unwrap_or(false)
    }
    pub fn int(&self, kw: &str) -> Option<i64> {
        self.get(kw).and_then(Value::as_i64)
    }
    /// A `duration` keyword.
    pub fn duration(&self, kw: &str) -> Option<Duration> {
        self.get(kw)
            .and_then(Value::as_u64)
            .map(Duration::from_millis)
    }
    /// A `list` or `shlex` keyword.
    pub fn words(&self, kw: &str) -> Vec<String> {
        match self.get(kw) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
            Some(Value::String(s)) => s.split_whitespace().map(String::from).collect(),
            _ => Vec::new(),
        }
    }
    /// A `[DEFAULT]` keyword the driver declared in `service_keywords`.
    pub fn service(&self, kw: &str) -> Option<&Value> {
        self.context.service.get(kw).filter(|v| !v.is_null())
    }
}

/// One resource, as a driver implements it. Every method runs under the host's deadline
/// (`ctx.deadline()`); panics are caught by the SDK and fail only this resource.
pub trait ResourceImpl: Send + Sync + 'static {
    fn label(&self) -> String;
    /// Rids this resource is linked to (see the ABI docs).
    fn links(&self) -> Vec<String> {
        Vec::new()
    }
    /// A key ordering resources of the same set (e.g. a mount point, so parents go first).
    fn sort_key(&self) -> Option<String> {
        None
    }
    /// Variables added to the environment of every command run for this resource, the
    /// host's triggers included (an ip resource adds `OPENSVC_IPNAME`, …). Asked once, when
    /// the resource is created.
    fn env(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    fn status(&self, ctx: &Ctx) -> Result<StatusReport>;
    fn start(&self, ctx: &Ctx) -> Result<ActionReport>;
    fn stop(&self, ctx: &Ctx) -> Result<ActionReport>;
    fn provision(&self, ctx: &Ctx) -> Result<ActionReport> {
        self.start(ctx)
    }
    fn unprovision(&self, ctx: &Ctx) -> Result<ActionReport> {
        self.stop(ctx)
    }
    /// Generic verbs and answers to other resources' queries.
    fn call(&self, verb: &str, payload: &Value, ctx: &Ctx) -> Result<Value> {
        let _ = (payload, ctx);
        Err(Error::unsupported(format!(
            "verb '{verb}' is not supported"
        )))
    }
}

type Factory = fn(&ResourceSpec) -> Result<Box<dyn ResourceImpl>>;

/// One driver id served by a library.
pub struct DriverDecl {
    pub manifest: DriverManifest,
    pub factory: Factory,
}

impl DriverDecl {
    pub fn new(id: &str, version: &str, factory: Factory) -> Self {
        DriverDecl {
            manifest: DriverManifest {
                id: id.to_string(),
                version: version.to_string(),
                ..Default::default()
            },
            factory,
        }
    }
    pub fn help(mut self, text: &str) -> Self {
        self.manifest.help = text.to_string();
        self
    }
    pub fn default_for_group(mut self) -> Self {
        self.manifest.default_for_group = true;
        self
    }
    pub fn section_alias(mut self, prefix: &str) -> Self {
        self.manifest.section_aliases.push(prefix.to_string());
        self
    }
    pub fn type_alias(mut self, name: &str) -> Self {
        self.manifest.type_aliases.push(name.to_string());
        self
    }
    pub fn keyword(mut self, kw: Kw) -> Self {
        self.manifest.keywords.push(kw.0);
        self
    }
    pub fn service_keyword(mut self, kw: Kw) -> Self {
        self.manifest.service_keywords.push(kw.0);
        self
    }
    pub fn capability(mut self, cap: &str) -> Self {
        self.manifest.capabilities.push(cap.to_string());
        self
    }
    pub fn passthrough(mut self, word: &str) -> Self {
        self.manifest.passthrough = Some(word.to_string());
        self
    }
}

/// A typed keyword declaration, turned into the manifest's JSON.
pub struct Kw(pub KeywordSpec);

impl Kw {
    pub fn new(name: &str, kind: KwType) -> Self {
        Kw(KeywordSpec {
            name: name.to_string(),
            kind,
            default: None,
            required: false,
            aliases: Vec::new(),
            candidates: None,
            help: String::new(),
        })
    }
    pub fn string(name: &str) -> Self {
        Kw::new(name, KwType::String)
    }
    pub fn bool(name: &str) -> Self {
        Kw::new(name, KwType::Bool)
    }
    pub fn int(name: &str) -> Self {
        Kw::new(name, KwType::Int)
    }
    pub fn duration(name: &str) -> Self {
        Kw::new(name, KwType::Duration)
    }
    pub fn list(name: &str) -> Self {
        Kw::new(name, KwType::List)
    }
    pub fn shlex(name: &str) -> Self {
        Kw::new(name, KwType::Shlex)
    }
    pub fn required(mut self) -> Self {
        self.0.required = true;
        self
    }
    /// The default, written as it would be in the config file.
    pub fn default(mut self, raw: &str) -> Self {
        self.0.default = Some(Value::String(raw.to_string()));
        self
    }
    pub fn alias(mut self, name: &str) -> Self {
        self.0.aliases.push(name.to_string());
        self
    }
    pub fn candidates(mut self, values: &[&str]) -> Self {
        self.0.candidates = Some(values.iter().map(|s| s.to_string()).collect());
        self
    }
    pub fn help(mut self, text: &str) -> Self {
        self.0.help = text.to_string();
        self
    }
}

/// A driver library: its name, version and drivers.
pub struct Plugin {
    pub name: &'static str,
    pub version: &'static str,
    pub drivers: Vec<DriverDecl>,
}

/// The context of one verb call: logging under the rid, the deadline, commands, queries.
pub struct Ctx {
    rid: String,
    token: u64,
    args: CallArgs,
    deadline: Option<Instant>,
    /// Extra environment every command of this resource gets.
    env: Vec<(String, String)>,
}

impl Ctx {
    pub(crate) fn new(rid: &str, token: u64, args: CallArgs, env: Vec<(String, String)>) -> Self {
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
        }
    }

    pub fn rid(&self) -> &str {
        &self.rid
    }
    /// The service action this call belongs to.
    pub fn action(&self) -> &str {
        &self.args.action
    }
    /// The verb-specific payload of a `call`.
    pub fn payload(&self) -> &Value {
        &self.args.payload
    }
    pub fn force(&self) -> bool {
        self.args.force
    }
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }
    /// Time left before the deadline (None: no deadline).
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }
    pub fn timed_out(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    pub fn log(&self, lvl: u8, msg: &str) {
        log_bridge::host_log(self.token, &self.rid, lvl, msg);
    }
    pub fn debug(&self, msg: &str) {
        self.log(level::DEBUG, msg)
    }
    pub fn info(&self, msg: &str) {
        self.log(level::INFO, msg)
    }
    pub fn warn(&self, msg: &str) {
        self.log(level::WARN, msg)
    }
    pub fn error(&self, msg: &str) {
        self.log(level::ERROR, msg)
    }
    /// Log at service level (no rid), e.g. `pulling docker image …`.
    pub fn service_info(&self, msg: &str) {
        log_bridge::host_log(self.token, "", level::INFO, msg);
    }

    /// A command that logs its argv and output under this resource and honours the deadline.
    pub fn command<S: AsRef<str>>(&self, argv: &[S]) -> Cmd<'_> {
        let mut cmd = Cmd::new(self, argv.iter().map(|s| s.as_ref().to_string()).collect());
        for (k, v) in &self.env {
            cmd = cmd.env(k, v);
        }
        cmd
    }

    /// Ask another resource of the service (routed to its `call(verb, payload)`).
    pub fn query(&self, rid: &str, verb: &str, payload: &Value) -> Result<Value> {
        let answer = log_bridge::host_query(self.token, rid, verb, &payload.to_string())?;
        serde_json::from_str(&answer)
            .map_err(|e| Error::other(format!("invalid answer from {rid} to '{verb}': {e}")))
    }
}

impl StatusReport {
    pub fn new(status: &str) -> Self {
        StatusReport {
            status: status.to_string(),
            ..Default::default()
        }
    }
    pub fn up() -> Self {
        Self::new("up")
    }
    pub fn down() -> Self {
        Self::new("down")
    }
    pub fn na() -> Self {
        Self::new("n/a")
    }
    fn with(mut self, level: &str, msg: &str) -> Self {
        self.log.push(LogEntry {
            level: level.to_string(),
            message: msg.to_string(),
        });
        self
    }
    /// An informational status log line (never degrades the status).
    pub fn info(self, msg: &str) -> Self {
        self.with("info", msg)
    }
    /// A warning status log line (makes the service `overall` warn).
    pub fn warn(self, msg: &str) -> Self {
        self.with("warn", msg)
    }
    pub fn error(self, msg: &str) -> Self {
        self.with("error", msg)
    }
}

impl ActionReport {
    pub fn changed() -> Self {
        ActionReport { changed: true }
    }
    pub fn unchanged() -> Self {
        ActionReport { changed: false }
    }
}
