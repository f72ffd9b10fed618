//! The JSON documents that travel through the ABI's string arguments, shared by host and SDK.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// What a driver library describes about itself (`DriverMod::manifest`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// Library name, e.g. `app`.
    pub plugin: String,
    /// Library version (semver).
    pub version: String,
    pub api: ApiVersions,
    pub drivers: Vec<DriverManifest>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiVersions {
    pub min: u32,
    pub max: u32,
}

/// One driver id (`group.type`) provided by a library.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct DriverManifest {
    pub id: String,
    pub version: String,
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
pub enum KwType {
    /// Text, passed as a JSON string.
    String,
    /// `true/false/yes/no/1/0/on/off`, passed as a JSON bool.
    Bool,
    /// Passed as a JSON integer.
    Int,
    /// `5`, `500ms`, `30s`, `2m`, `1h`, `1d`; passed as integer milliseconds.
    Duration,
    /// Whitespace-separated words, passed as a JSON array of strings.
    List,
    /// Shell-like words (quotes honoured), passed as a JSON array of strings.
    Shlex,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KeywordSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: KwType,
    #[serde(default)]
    pub default: Option<Value>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub candidates: Option<Vec<String>>,
    #[serde(default)]
    pub help: String,
}

/// Parse a duration: a bare number is seconds; suffixes `ms`, `s`, `m`, `h`, `d`.
/// Compound forms like `1m30s` are accepted too.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = s.parse::<f64>() {
        if secs >= 0.0 && secs.is_finite() {
            return Ok(Duration::from_secs_f64(secs));
        }
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let unit_len = rest[num_len..]
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len() - num_len);
        let (num, unit) = (&rest[..num_len], &rest[num_len..num_len + unit_len]);
        let n: f64 = num
            .parse()
            .map_err(|_| format!("invalid duration '{text}'"))?;
        let unit_secs = match unit {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            _ => return Err(format!("invalid duration '{text}' (units: ms, s, m, h, d)")),
        };
        total += Duration::from_secs_f64(n * unit_secs);
        rest = &rest[num_len + unit_len..];
    }
    Ok(total)
}

/// Human form of a duration as used in messages (`5s`, `500ms`, `2m`).
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) {
        format!("{ms}ms")
    } else if ms.is_multiple_of(3_600_000) && ms > 0 {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) && ms > 0 {
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
pub struct ResourceContext {
    pub svcname: String,
    pub nodename: String,
    /// `DEFAULT.id`.
    pub svc_id: String,
    /// The service var dir (`<root>/var/lib/opensvc/<name>`).
    pub var_dir: String,
    /// Identifies the service instance in host callbacks.
    pub token: u64,
    /// The converted `[DEFAULT]` keywords the driver declared in `service_keywords`.
    #[serde(default)]
    pub service: Map<String, Value>,
    /// The environment the host gives every command run for this resource (`OPENSVC_*`,
    /// `PATH` with the service's script folder first). The SDK adds `OPENSVC_ACTION` per call
    /// and what the driver declares ([`crate::sdk::ResourceImpl::env`]).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// `<root>/etc/opensvc/<svc>.d`: the service's own scripts (where a relative script
    /// path is looked up).
    #[serde(default)]
    pub scripts_dir: String,
}

/// Arguments of every verb call.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
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
}

/// One status log line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LogEntry {
    /// `info`, `warn` or `error`.
    pub level: String,
    pub message: String,
}

/// Answer of `status`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct StatusReport {
    /// `up`, `down`, `warn`, `n/a` or `undef`.
    pub status: String,
    #[serde(default)]
    pub log: Vec<LogEntry>,
    /// Overrides the resource's static label when set.
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub info: Map<String, Value>,
}

/// Answer of start/stop/provision/unprovision.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct ActionReport {
    /// The call changed the resource's state (a start that found it already up did not):
    /// only changed resources are rolled back.
    pub changed: bool,
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
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("").is_err());
        assert_eq!(format_duration(Duration::from_secs(5)), "5s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::from_secs(120)), "2m");
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
