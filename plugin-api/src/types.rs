//! The JSON documents that travel through the ABI's string arguments, shared by host and SDK,
//! and the status and log vocabularies.
//!
//! Wire rule: a field is only ever appended, with `#[serde(default)]`, so that a document from
//! an older or newer peer still parses; every enum serialises to the same strings as the
//! plain strings of 1.0.

use crate::abi::ApiRange;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// What a driver library describes about itself (`DriverMod::manifest`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[non_exhaustive]
pub struct Manifest {
    /// Library name, e.g. `app`.
    pub plugin: String,
    /// Library version (semver).
    pub version: String,
    /// The api versions the library implements.
    pub api: ApiRange,
    /// The drivers the library provides.
    pub drivers: Vec<DriverManifest>,
    /// Optional protocol features the library implements (see [`features`]); the host uses
    /// one only when the library lists it. Empty for a 1.0 library.
    #[serde(default)]
    pub features: Vec<String>,
}

impl Manifest {
    /// The manifest of a library `plugin` at `version` implementing `api`, with no drivers yet.
    pub fn new(plugin: &str, version: &str, api: ApiRange) -> Self {
        Manifest {
            plugin: plugin.to_string(),
            version: version.to_string(),
            api,
            drivers: Vec::new(),
            features: Vec::new(),
        }
    }
}

/// Optional protocol features, negotiated by name: a library lists those its plugin-api
/// release implements in [`Manifest::features`], the host lists its own in
/// [`ResourceContext::host_features`], and each side relies on a feature only when the other
/// lists it. A 1.x release that adds a behaviour a peer must know about (a new context field
/// whose absence would otherwise read as "empty", a new verb) names it here instead of growing
/// the ABI. What 1.0 did is the baseline and is never listed.
pub mod features {
    /// The host fills [`super::ResourceContext::linked_by`] (from keywords declared with
    /// [`super::KeywordSpec::link`]).
    pub const LINKED_BY: &str = "linked_by";
    /// The host fills [`super::ResourceContext::tags`].
    pub const TAGS: &str = "tags";
    /// The host fills [`super::ResourceContext::scripts_dir`], and the SDK gives every command
    /// the environment of [`super::service_env`] (the host sends only further variables, in
    /// [`super::ResourceContext::env`]).
    pub const ENV: &str = "env";
    /// The features of this release.
    pub const ALL: &[&str] = &[LINKED_BY, TAGS, ENV];
}

/// One driver id (`group.type`) provided by a library.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[non_exhaustive]
pub struct DriverManifest {
    /// `group.type`, e.g. `app.forking`.
    pub id: String,
    /// The driver's version (semver).
    pub version: String,
    /// One paragraph shown by `driver info`.
    #[serde(default)]
    pub help: String,
    /// This driver serves `[<group>#N]` sections that have no `type` keyword.
    #[serde(default)]
    pub default_for_group: bool,
    /// Legacy section prefixes served by this driver (`vg` for `disk.vg`): the rid keeps them.
    #[serde(default)]
    pub section_aliases: Vec<String>,
    /// Other `type` values that select this driver (`oci` for `container.docker`).
    #[serde(default)]
    pub type_aliases: Vec<String>,
    /// The keywords of its sections.
    #[serde(default)]
    pub keywords: Vec<KeywordSpec>,
    /// `[DEFAULT]` keywords this driver reads (passed to its resources in the context).
    #[serde(default)]
    pub service_keywords: Vec<KeywordSpec>,
    /// Verbs beyond start/stop/status the driver implements (`provision`, `query:netns`, …).
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// A CLI word (e.g. `docker`) whose following arguments the driver turns into a command
    /// line run with the operator's terminal (`call("passthrough", …)`).
    #[serde(default)]
    pub passthrough: Option<String>,
}

impl DriverManifest {
    /// A manifest for driver `id` at `version`, everything else empty.
    pub fn new(id: &str, version: &str) -> Self {
        DriverManifest {
            id: id.to_string(),
            version: version.to_string(),
            ..Default::default()
        }
    }
    /// The group part of the id (`container` for `container.docker`).
    pub fn group(&self) -> &str {
        self.id.split_once('.').map(|(g, _)| g).unwrap_or(&self.id)
    }
    /// The type part of the id (`docker` for `container.docker`).
    pub fn type_name(&self) -> &str {
        self.id.split_once('.').map(|(_, t)| t).unwrap_or("")
    }
}

/// The value types a keyword may have; the host converts raw INI text accordingly.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum KwType {
    /// Text, passed as a JSON string.
    String,
    /// `true/false/yes/no/1/0/on/off`, passed as a JSON bool.
    Bool,
    /// Passed as a JSON integer.
    Int,
    /// `5`, `500ms`, `30s`, `2m`, `1h`, `1d` (at most [`MAX_DURATION`]); passed as integer
    /// milliseconds.
    Duration,
    /// Whitespace-separated words, passed as a JSON array of strings.
    List,
    /// Shell-like words (quotes honoured), passed as a JSON array of strings.
    Shlex,
}

/// One keyword a driver declares (built with [`crate::Kw`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[non_exhaustive]
pub struct KeywordSpec {
    /// The keyword as written in the config file.
    pub name: String,
    /// Its value type.
    #[serde(rename = "type")]
    pub kind: KwType,
    /// The default, as raw config text (a JSON string).
    #[serde(default)]
    pub default: Option<Value>,
    /// The section is invalid without it.
    #[serde(default)]
    pub required: bool,
    /// Other names accepted for it.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// The only values accepted, when set.
    #[serde(default)]
    pub candidates: Option<Vec<String>>,
    /// One line shown by `driver info`.
    #[serde(default)]
    pub help: String,
    /// The value names a resource of this service, of this driver group, that the resource is
    /// *linked to* (decisions §6: ip.netns's `netns` names its `container`). The host reads
    /// links from the config before creating any resource: it checks the target exists in
    /// that group, orders and expands with the link, and tells the target who links to it
    /// ([`ResourceContext::linked_by`]).
    #[serde(default)]
    pub link: Option<String>,
}

impl KeywordSpec {
    /// A keyword `name` of type `kind`, optional, no default.
    pub fn new(name: &str, kind: KwType) -> Self {
        KeywordSpec {
            name: name.to_string(),
            kind,
            default: None,
            required: false,
            aliases: Vec::new(),
            candidates: None,
            help: String::new(),
            link: None,
        }
    }
    /// Whether `name` is this keyword or one of its aliases.
    pub fn answers_to(&self, name: &str) -> bool {
        self.name == name || self.aliases.iter().any(|a| a == name)
    }
}

/// The longest duration [`parse_duration`] accepts: ten years (of 365.25 days). A timeout,
/// a wait or a delay beyond it is a configuration error rather than an overflow: every
/// deadline computed from a parsed duration fits in an `Instant`, and its milliseconds in a
/// `u64`.
pub const MAX_DURATION: Duration = Duration::from_secs(315_576_000);

/// Parse a duration: a bare number is seconds (`5`, `2.5`); otherwise numbers with units,
/// compound forms included (`500ms`, `30s`, `2m`, `1h`, `1d`, `1w`, `1y`, `1m30s`, `1h 30m`),
/// as the `humantime` crate reads them (a year is 365.25 days, a month 30.44 days). Checked:
/// a value past [`MAX_DURATION`], or too large to compute, is an error, never a wrap.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    let out_of_range = || format!("duration '{s}' is out of range (at most 10y)");
    let d = match bare_seconds(s) {
        Some(d) => d.ok_or_else(out_of_range)?,
        None => humantime::parse_duration(s).map_err(|e| match e {
            humantime::DurationError::NumberOverflow => out_of_range(),
            e => format!("invalid duration '{s}': {e}"),
        })?,
    };
    if d > MAX_DURATION {
        return Err(out_of_range());
    }
    Ok(d)
}

/// `5`, `2.5`, `.5`: seconds, in checked integer arithmetic (None inside: too large). The
/// outer None: not a bare number.
fn bare_seconds(s: &str) -> Option<Option<Duration>> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        return None;
    }
    let secs = match int {
        "" => Some(0),
        int => int.parse::<u64>().ok(),
    };
    // Nanoseconds: the first nine digits of the fraction (the rest is below a nanosecond).
    let nanos = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(9)
        .fold(0u32, |n, b| n * 10 + u32::from(b - b'0'));
    Some(secs.map(|secs| Duration::new(secs, nanos)))
}

/// Human form of a duration as used in messages (`5s`, `500ms`, `2m`).
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    // `%` rather than `is_multiple_of`: the crate's rust-version predates it.
    #[allow(clippy::manual_is_multiple_of)]
    if ms % 1000 != 0 {
        format!("{ms}ms")
    } else if ms % 3_600_000 == 0 && ms > 0 {
        format!("{}h", ms / 3_600_000)
    } else if ms % 60_000 == 0 && ms > 0 {
        format!("{}m", ms / 60_000)
    } else {
        format!("{}s", ms / 1000)
    }
}

/// Parse a boolean keyword value.
pub fn parse_bool(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" | "on" => Ok(true),
        "false" | "no" | "n" | "0" | "off" | "" => Ok(false),
        other => Err(format!("'{other}' is not a boolean (true or false)")),
    }
}

impl KwType {
    /// Convert a raw INI value to the JSON value a driver receives.
    pub fn convert(self, raw: &str) -> Result<Value, String> {
        Ok(match self {
            KwType::String => Value::String(raw.to_string()),
            KwType::Bool => Value::Bool(parse_bool(raw)?),
            KwType::Int => Value::from(
                raw.trim()
                    .parse::<i64>()
                    .map_err(|_| format!("'{raw}' is not an integer"))?,
            ),
            KwType::Duration => Value::from(parse_duration(raw)?.as_millis() as u64),
            KwType::List => Value::from(raw.split_whitespace().collect::<Vec<_>>()),
            KwType::Shlex => Value::from(
                shell_words::split(raw)
                    .map_err(|e| format!("'{raw}' is not valid shell words: {e}"))?,
            ),
        })
    }
}

/// Everything a resource learns about its surroundings when it is created.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
#[non_exhaustive]
pub struct ResourceContext {
    /// The service name.
    pub svcname: String,
    /// The node name.
    pub nodename: String,
    /// `DEFAULT.id`.
    pub svc_id: String,
    /// The service var dir (`<root>/var/lib/opensvc/<name>`).
    pub var_dir: String,
    /// Identifies the service instance in host callbacks.
    pub token: u64,
    /// The converted `[DEFAULT]` keywords the driver declared in `service_keywords`.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub service: Map<String, Value>,
    /// Optional features the host offers (see [`features`]); empty from a 1.0 host.
    #[serde(default)]
    pub host_features: Vec<String>,
    /// The resources whose config links them to this one (a keyword declared with
    /// [`KeywordSpec::link`] names this rid), disabled ones included: a container learns that
    /// an ip resource will plumb its namespace before it runs it. Filled by hosts that list
    /// [`features::LINKED_BY`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub linked_by: Vec<LinkedBy>,
    /// The resource's `tags` keyword (`nonrouted`, `noaction`, …), for drivers whose
    /// behaviour a tag changes. Filled by hosts that list [`features::TAGS`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The resource is made only to answer `call("info")` for `svcmgr driver info <id> --kw
    /// …`: no action runs on it, so a driver may skip checks that need a whole configuration
    /// (its required keywords are still filled in by the host when given).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub info_only: bool,
    /// The generic resource keywords (handled by the host for every driver: `unprovision`,
    /// `optional`, …) explicitly set in this resource's section, converted. Keywords left to
    /// their default are absent, so a driver can tell `unprovision = true` written by the user
    /// from the default.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub generic_keywords: Map<String, Value>,
    /// Variables the host adds to the environment of every command run for this resource,
    /// beyond the service environment of [`service_env`], which a host listing
    /// [`features::ENV`] does not send: the SDK derives it from `svcname`, `svc_id` and
    /// `scripts_dir` (the same for every resource of a service: it is built once, not sent
    /// and parsed 10,000 times). Empty from this release's host. The SDK adds, in this order,
    /// the service environment, `OPENSVC_RID`, these, what the driver declares
    /// ([`crate::sdk::ResourceImpl::env`]), and `OPENSVC_ACTION` per call.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// `<root>/etc/opensvc/<svc>.d`: the service's own scripts (where a relative script path
    /// is looked up). Filled by hosts that list [`features::ENV`].
    #[serde(default)]
    pub scripts_dir: String,
}

impl ResourceContext {
    /// The context of a resource of service `svcname` whose var dir is `var_dir`.
    pub fn new(svcname: &str, var_dir: &str) -> Self {
        ResourceContext {
            svcname: svcname.to_string(),
            var_dir: var_dir.to_string(),
            ..Default::default()
        }
    }
}

/// The environment of every command run for the resources of service `svcname` (OpenSVC's
/// names, reference notes §7.5): its identity, and its script folder `scripts_dir` first on
/// the process's `PATH` (`PATH` is left alone when `scripts_dir` is empty). The host gives it
/// to its triggers, the SDK to the driver's commands; per resource, `OPENSVC_RID` and the
/// driver's variables follow, and per call `OPENSVC_ACTION`.
///
/// ```
/// use svcmgr_plugin_api::types::service_env;
///
/// let env = service_env("web", "1f2e", "/etc/opensvc/web.d");
/// assert!(env.contains(&("OPENSVC_SVCNAME".into(), "web".into())));
/// assert!(env.contains(&("OPENSVC_SVC_ID".into(), "1f2e".into())));
/// ```
pub fn service_env(svcname: &str, svc_id: &str, scripts_dir: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("OPENSVC_SVCNAME", svcname),
        ("OPENSVC_SVCPATH", svcname),
        ("OPENSVC_NAME", svcname),
        ("OPENSVC_ID", svc_id),
        ("OPENSVC_SVC_ID", svc_id),
        ("OPENSVC_KIND", "svc"),
        ("OPENSVC_NAMESPACE", "root"),
        ("OPENSVC_LEADER", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if !scripts_dir.is_empty() {
        let path = std::env::var("PATH").unwrap_or_else(|_| {
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()
        });
        env.push(("PATH".into(), format!("{scripts_dir}:{path}")));
    }
    env
}

/// One resource linked to another (see [`ResourceContext::linked_by`]).
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkedBy {
    /// Its rid (`ip#1`).
    pub rid: String,
    /// Its driver id (`ip.netns`).
    pub driver: String,
}

impl LinkedBy {
    /// Resource `rid` of driver `driver`.
    pub fn new(rid: &str, driver: &str) -> Self {
        LinkedBy {
            rid: rid.to_string(),
            driver: driver.to_string(),
        }
    }
}

/// Arguments of every verb call.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
#[non_exhaustive]
pub struct CallArgs {
    /// Unix time in milliseconds after which the host gives up on the call.
    #[serde(default)]
    pub deadline_unix_ms: Option<u64>,
    /// The timeout the deadline came from, in milliseconds (for messages).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// `--force` was given.
    #[serde(default)]
    pub force: bool,
    /// The service action this call belongs to (`start`, `restart`, `rollback`, …).
    #[serde(default)]
    pub action: String,
    /// Verb-specific payload (for `call`).
    #[serde(default)]
    pub payload: Value,
    /// The deadline is the host's default for the verb (1 h for an action, 1 min for a
    /// status), not a timeout the configuration set: a driver may end sooner on a bound of
    /// its own ([`crate::Ctx::deadline_or`]). False from hosts that sent a deadline only when
    /// configured.
    #[serde(default)]
    pub default_deadline: bool,
}

impl CallArgs {
    /// The arguments of a call made for the service action `action`, with no deadline.
    pub fn new(action: &str) -> Self {
        CallArgs {
            action: action.to_string(),
            ..Default::default()
        }
    }
    /// Give the call `timeout` from now.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        let ms = timeout.as_millis() as u64;
        self.deadline_unix_ms = Some(now_ms.saturating_add(ms));
        self.timeout_ms = Some(ms);
        self
    }
    /// Attach a verb-specific payload.
    pub fn with_payload(mut self, payload: Value) -> Self {
        self.payload = payload;
        self
    }
}

/// The level of a log line (a status log line or a line logged during a call).
///
/// Serialised as `debug`, `info`, `warn`, `error` (the strings of 1.0); a word outside these,
/// from a foreign driver, reads as `Info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[non_exhaustive]
#[repr(u8)]
pub enum Level {
    /// Shown only with `--debug`.
    Debug = 0,
    /// A plain line.
    #[default]
    Info = 1,
    /// Something the operator should look at: in a status log, makes the service warn.
    Warn = 2,
    /// Something failed.
    Error = 3,
}

impl Level {
    /// The number the ABI's log callback carries.
    pub const fn wire(self) -> u8 {
        self as u8
    }
    /// The level of an ABI log number (unknown numbers read as `Info`).
    pub const fn from_wire(n: u8) -> Level {
        match n {
            0 => Level::Debug,
            2 => Level::Warn,
            3 => Level::Error,
            _ => Level::Info,
        }
    }
    /// `debug`, `info`, `warn` or `error`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
    fn from_word(word: &str) -> Level {
        match word {
            "debug" => Level::Debug,
            "warn" | "warning" => Level::Warn,
            "error" => Level::Error,
            _ => Level::Info,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Level {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Level::from_word(&String::deserialize(d)?))
    }
}

/// A resource's state, as a driver reports it and `print status` shows it.
///
/// Serialised as the strings of 1.0: `up`, `down`, `warn`, `n/a`, `undef`, `stdby up`,
/// `stdby down`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Status {
    /// Running as configured.
    Up,
    /// Not running.
    Down,
    /// Running, but not as configured (a status log line says why).
    Warn,
    /// The state does not apply (a one-shot task, a resource without a check).
    NA,
    /// The state could not be determined.
    #[default]
    Undef,
    /// A standby resource that is up (the host derives it from `standby = true`).
    StdbyUp,
    /// A standby resource that is down.
    StdbyDown,
}

impl Status {
    /// Every status, in the order of this list.
    pub const ALL: [Status; 7] = [
        Status::Up,
        Status::Down,
        Status::Warn,
        Status::NA,
        Status::Undef,
        Status::StdbyUp,
        Status::StdbyDown,
    ];
    /// The word shown by `print status`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Up => "up",
            Status::Down => "down",
            Status::Warn => "warn",
            Status::NA => "n/a",
            Status::Undef => "undef",
            Status::StdbyUp => "stdby up",
            Status::StdbyDown => "stdby down",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word outside the status vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a status (up, down, warn, n/a, undef, stdby up, stdby down)")]
pub struct UnknownStatus(pub String);

impl FromStr for Status {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_string()))
    }
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// One status log line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogEntry {
    /// Its level: a `warn` or `error` line makes the service's overall status warn.
    pub level: Level,
    /// The text, without the rid.
    pub message: String,
}

impl LogEntry {
    /// A line at `level`.
    pub fn new(level: Level, message: impl Into<String>) -> Self {
        LogEntry {
            level,
            message: message.into(),
        }
    }
}

/// Answer of `status`: the state, status log lines, an optional label and free-form info.
///
/// ```
/// use svcmgr_plugin_api::{Status, StatusReport};
///
/// let report = StatusReport::down("no pid file").with_info("last exit code 0");
/// assert_eq!(report.status, Status::Down);
/// assert_eq!(report.log.len(), 2);
/// ```
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(from = "StatusDocument")]
#[non_exhaustive]
pub struct StatusReport {
    /// The state.
    pub status: Status,
    /// Status log lines, shown under the resource by `print status`.
    #[serde(default)]
    pub log: Vec<LogEntry>,
    /// Overrides the resource's static label when set.
    #[serde(default)]
    pub label: Option<String>,
    /// Free-form facts, shown in the JSON status.
    #[serde(default)]
    pub info: Map<String, Value>,
    /// A status word outside the vocabulary, as a foreign or broken driver sent it.
    #[serde(skip)]
    unknown_status: Option<String>,
}

/// The wire shape of a status report: the status as a plain string, so a word outside the
/// vocabulary does not lose the rest of the report.
#[derive(Deserialize)]
struct StatusDocument {
    status: String,
    #[serde(default)]
    log: Vec<LogEntry>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    info: Map<String, Value>,
}

impl From<StatusDocument> for StatusReport {
    fn from(doc: StatusDocument) -> Self {
        let (status, unknown_status) = match doc.status.parse() {
            Ok(st) => (st, None),
            Err(UnknownStatus(word)) => (Status::Undef, Some(word)),
        };
        StatusReport {
            status,
            log: doc.log,
            label: doc.label,
            info: doc.info,
            unknown_status,
        }
    }
}

impl StatusReport {
    /// A report of `status`, with no log line.
    pub fn new(status: Status) -> Self {
        StatusReport {
            status,
            ..Default::default()
        }
    }
    /// Up.
    pub fn up() -> Self {
        Self::new(Status::Up)
    }
    /// Down, with an info line saying why (`StatusReport::new(Status::Down)` for none).
    pub fn down(reason: impl Into<String>) -> Self {
        Self::new(Status::Down).with_info(reason)
    }
    /// Warn, with a warning line saying why.
    pub fn warn(reason: impl Into<String>) -> Self {
        Self::new(Status::Warn).with_warn(reason)
    }
    /// Not applicable.
    pub fn na() -> Self {
        Self::new(Status::NA)
    }
    /// Undetermined, with an error line saying why.
    pub fn undef(reason: impl Into<String>) -> Self {
        Self::new(Status::Undef).with_error(reason)
    }
    /// Add a status log line.
    pub fn with_log(mut self, level: Level, message: impl Into<String>) -> Self {
        self.log.push(LogEntry::new(level, message));
        self
    }
    /// Add an informational line (never degrades the status).
    pub fn with_info(self, message: impl Into<String>) -> Self {
        self.with_log(Level::Info, message)
    }
    /// Add a warning line (makes the service's overall status warn).
    pub fn with_warn(self, message: impl Into<String>) -> Self {
        self.with_log(Level::Warn, message)
    }
    /// Add an error line.
    pub fn with_error(self, message: impl Into<String>) -> Self {
        self.with_log(Level::Error, message)
    }
    /// Replace the resource's label in `print status`.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }
    /// Add a free-form fact to the JSON status.
    pub fn with_fact(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.info.insert(key.to_string(), value.into());
        self
    }
    /// The status word a driver sent that is outside the vocabulary (the report then reads
    /// [`Status::Undef`]); only set on a parsed report.
    pub fn unknown_status(&self) -> Option<&str> {
        self.unknown_status.as_deref()
    }
}

/// Answer of start/stop/provision/unprovision.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ActionReport {
    /// The call changed the resource's state (a start that found it already up did not):
    /// only changed resources are rolled back.
    pub changed: bool,
}

impl ActionReport {
    /// The call changed the resource.
    pub fn changed() -> Self {
        ActionReport { changed: true }
    }
    /// The call found the resource already as wanted.
    pub fn unchanged() -> Self {
        ActionReport { changed: false }
    }
    /// Changed or not, as `changed` says.
    pub fn from_changed(changed: bool) -> Self {
        ActionReport { changed }
    }
}

/// Answer of `call("devs")`: the block devices of a resource, as OpenSVC's `print devs`
/// shows them. A driver without devices answers empty lists (the SDK's default), and a host
/// treats a driver that does not know the verb the same way.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Devs {
    /// Devices the resource makes available (a volume group's logical volumes).
    #[serde(default)]
    pub exposed: Vec<String>,
    /// Devices the resource is built on (a volume group's physical volumes, a filesystem's
    /// device).
    #[serde(default)]
    pub sub: Vec<String>,
    /// The whole devices under the sub devices (the disk holding a partition).
    #[serde(default)]
    pub base: Vec<String>,
}

impl Devs {
    /// These devices exposed.
    pub fn with_exposed(mut self, devs: Vec<String>) -> Self {
        self.exposed = devs;
        self
    }
    /// These devices used.
    pub fn with_sub(mut self, devs: Vec<String>) -> Self {
        self.sub = devs;
        self
    }
    /// These whole devices under the used ones.
    pub fn with_base(mut self, devs: Vec<String>) -> Self {
        self.base = devs;
        self
    }
}

/// Answer of `call("info")`, asked by `svcmgr driver info <id> --kw …` of a resource made with
/// `ResourceContext::info_only`: what a driver tells about one configuration (e.g. the
/// parameters of the OCF agent its keywords name). Drivers that answer list `info` in their
/// manifest's `capabilities`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[non_exhaustive]
pub struct InfoReport {
    /// What the answer is about, e.g. `heartbeat:IPaddr2 (/usr/lib/ocf/…/IPaddr2)`.
    pub title: String,
    /// Text shown under the title.
    #[serde(default)]
    pub help: String,
    /// Settings of that configuration, described like keywords.
    #[serde(default)]
    pub keywords: Vec<KeywordSpec>,
}

impl InfoReport {
    /// An answer about `title`, with `help` text and the settings as `keywords`.
    pub fn new(title: &str, help: &str, keywords: Vec<KeywordSpec>) -> Self {
        InfoReport {
            title: title.to_string(),
            help: help.to_string(),
            keywords,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86400));
        assert_eq!(
            parse_duration("2w").unwrap(),
            Duration::from_secs(14 * 86400)
        );
        assert_eq!(
            parse_duration("1y").unwrap(),
            Duration::from_secs(365 * 86400 + 6 * 3600)
        );
        assert_eq!(
            parse_duration("1w1d").unwrap(),
            Duration::from_secs(8 * 86400)
        );
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("").is_err());
        assert_eq!(parse_duration("2.5").unwrap(), Duration::from_millis(2500));
        assert_eq!(parse_duration(".5").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1h 30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("10y").unwrap(), MAX_DURATION);
        // Out of range or unreadable: an error, never a panic nor a wrap.
        for text in [
            "1e300",
            "18446744073709551615ms",
            "18446744073709551616",
            "99999999999999999999999y",
            "11y",
            "315576001",
            "-1",
            "NaN",
            "inf",
            ".",
            "1.5.5",
        ] {
            assert!(parse_duration(text).is_err(), "{text}");
        }
        assert!(parse_duration("18446744073709551615ms")
            .unwrap_err()
            .contains("out of range"));
        assert_eq!(format_duration(Duration::from_secs(5)), "5s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::from_secs(120)), "2m");
    }

    #[test]
    fn the_service_environment() {
        let env: BTreeMap<String, String> = service_env("web", "id-1", "/r/etc/opensvc/web.d")
            .into_iter()
            .collect();
        assert_eq!(env["OPENSVC_SVCNAME"], "web");
        assert_eq!(env["OPENSVC_SVCPATH"], "web");
        assert_eq!(env["OPENSVC_NAME"], "web");
        assert_eq!(env["OPENSVC_ID"], "id-1");
        assert_eq!(env["OPENSVC_SVC_ID"], "id-1");
        assert_eq!(env["OPENSVC_KIND"], "svc");
        assert_eq!(env["OPENSVC_NAMESPACE"], "root");
        assert_eq!(env["OPENSVC_LEADER"], "1");
        assert!(env["PATH"].starts_with("/r/etc/opensvc/web.d:"));
        let no_scripts = service_env("web", "id-1", "");
        assert!(no_scripts.iter().all(|(k, _)| k != "PATH"));
    }

    #[test]
    fn a_context_sends_only_what_is_set_and_a_1_0_peer_reads_it() {
        let mut ctx = ResourceContext::new("web", "/var/web");
        ctx.token = 7;
        let doc = serde_json::to_value(&ctx).unwrap();
        let mut keys: Vec<&str> = doc
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        // 1.0 requires svcname, nodename, svc_id, var_dir and token; the rest defaults.
        assert_eq!(
            keys,
            [
                "host_features",
                "nodename",
                "scripts_dir",
                "svc_id",
                "svcname",
                "token",
                "var_dir"
            ]
        );
        let back: ResourceContext = serde_json::from_value(doc).unwrap();
        assert_eq!(back, ctx);
    }

    #[test]
    fn statuses_and_levels_keep_the_strings_of_1_0() {
        for st in Status::ALL {
            let json = serde_json::to_string(&st).unwrap();
            assert_eq!(json, format!("\"{}\"", st.as_str()));
            assert_eq!(serde_json::from_str::<Status>(&json).unwrap(), st);
        }
        let old = r#"{"status":"n/a","log":[{"level":"warn","message":"w"}]}"#;
        let report: StatusReport = serde_json::from_str(old).unwrap();
        assert_eq!(report.status, Status::NA);
        assert_eq!(report.log, vec![LogEntry::new(Level::Warn, "w")]);
        assert_eq!(report.unknown_status(), None);
        let doc = serde_json::to_value(StatusReport::warn("w")).unwrap();
        assert_eq!(doc["status"], "warn");
        assert_eq!(doc["log"][0]["level"], "warn");
        for (n, lvl) in [
            (0, Level::Debug),
            (1, Level::Info),
            (2, Level::Warn),
            (3, Level::Error),
        ] {
            assert_eq!(Level::from_wire(n), lvl);
            assert_eq!(lvl.wire(), n);
        }
    }

    #[test]
    fn a_status_outside_the_vocabulary_reads_undef_and_keeps_the_word() {
        let doc = r#"{"status":"sleepy","log":[{"level":"info","message":"zz"}]}"#;
        let report: StatusReport = serde_json::from_str(doc).unwrap();
        assert_eq!(report.status, Status::Undef);
        assert_eq!(report.unknown_status(), Some("sleepy"));
        assert_eq!(report.log.len(), 1);
        assert!(serde_json::from_str::<Status>("\"sleepy\"").is_err());
    }

    #[test]
    fn conversions() {
        assert_eq!(KwType::Bool.convert("yes").unwrap(), Value::Bool(true));
        assert!(KwType::Bool.convert("maybe").is_err());
        assert_eq!(KwType::Int.convert(" 3 ").unwrap(), Value::from(3));
        assert_eq!(KwType::Duration.convert("2s").unwrap(), Value::from(2000));
        assert_eq!(
            KwType::List.convert("a  b").unwrap(),
            serde_json::json!(["a", "b"])
        );
        assert_eq!(
            KwType::Shlex.convert("sh -c 'a b'").unwrap(),
            serde_json::json!(["sh", "-c", "a b"])
        );
    }
}
