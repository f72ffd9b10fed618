//! `driver info <id> --kw key=value…`: ask a driver about one configuration (e.g. the
//! parameters of the OCF agent its `agent` keyword names). The host knows nothing of the
//! answer's subject: it makes a resource of the given keywords, marked `info_only`, and asks
//! it `call("info")`, which drivers listing the `info` capability answer with an `InfoReport`.

use super::handle::{Deadline, Handle};
use super::{DriverEntry, Registry};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;
use svcmgr_plugin_api::types::{features, CallArgs, InfoReport, KeywordSpec, ResourceContext};

/// The capability a driver lists when it answers `call("info")`.
pub const INFO_CAPABILITY: &str = "info";

/// The keyword document of `--kw key=value` pairs: converted to the declared types, with the
/// defaults of the keywords not given. Errors name the `--kw` at fault.
pub fn keywords_of(specs: &[KeywordSpec], kws: &[String]) -> Result<Map<String, Value>, String> {
    let mut doc = Map::new();
    for kw in kws {
        let (key, raw) = kw
            .split_once('=')
            .ok_or_else(|| format!("--kw {kw}: expected keyword=value"))?;
        let spec = specs
            .iter()
            .find(|s| s.name == key || s.aliases.iter().any(|a| a == key))
            .ok_or_else(|| format!("--kw {kw}: the driver has no keyword '{key}'"))?;
        let value = spec
            .kind
            .convert(raw)
            .map_err(|e| format!("--kw {kw}: {e}"))?;
        doc.insert(spec.name.clone(), value);
    }
    for spec in specs {
        if doc.contains_key(&spec.name) {
            continue;
        }
        let default = match &spec.default {
            Some(Value::String(raw)) => spec.kind.convert(raw).ok(),
            other => other.clone(),
        };
        doc.insert(spec.name.clone(), default.unwrap_or(Value::Null));
    }
    Ok(doc)
}

impl Registry {
    /// Ask `entry`'s driver about the configuration `kws` describes.
    pub fn ask_info(&self, entry: &DriverEntry, kws: &[String]) -> Result<InfoReport, String> {
        let id = &entry.manifest.id;
        if !entry
            .manifest
            .capabilities
            .iter()
            .any(|c| c == INFO_CAPABILITY)
        {
            return Err(format!("driver {id} tells nothing more for --kw"));
        }
        let keywords = keywords_of(&entry.manifest.keywords, kws)?;
        let mut context = ResourceContext::default();
        context.info_only = true;
        context.host_features = features::ALL.iter().map(|f| f.to_string()).collect();
        let context = serde_json::to_string(&context).unwrap_or_default();
        let keywords = serde_json::to_string(&keywords).unwrap_or_default();
        let handle = Handle::create(self, entry, "info", &keywords, &context)
            .map_err(|e| format!("{id}: {e}"))?;
        Arc::new(handle)
            .call(
                "info",
                CallArgs::new("driver info"),
                Deadline::by_default(INFO_TIMEOUT),
            )
            .map_err(|e| format!("{id}: {e}"))
    }
}

/// How long a driver may take to describe a configuration (an OCF agent's meta-data).
const INFO_TIMEOUT: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;
    use svcmgr_plugin_api::types::KwType;

    fn spec(name: &str, kind: KwType, default: Option<&str>) -> KeywordSpec {
        let mut spec = KeywordSpec::new(name, kind);
        spec.default = default.map(|d| Value::String(d.into()));
        spec.aliases = vec![format!("{name}_alias")];
        spec
    }

    #[test]
    fn converts_given_keywords_and_fills_defaults() {
        let specs = [
            spec("agent", KwType::String, None),
            spec("params", KwType::Shlex, None),
            spec("ocf_root", KwType::String, Some("/usr/lib/ocf")),
        ];
        let doc = keywords_of(
            &specs,
            &[
                "agent=heartbeat:Dummy".into(),
                "params_alias=a=1 'b=2 3'".into(),
            ],
        )
        .unwrap();
        assert_eq!(
            Value::Object(doc),
            serde_json::json!({
                "agent": "heartbeat:Dummy",
                "params": ["a=1", "b=2 3"],
                "ocf_root": "/usr/lib/ocf",
            })
        );
    }

    #[test]
    fn errors_name_the_kw() {
        let specs = [spec("agent", KwType::String, None)];
        assert_eq!(
            keywords_of(&specs, &["nope=1".into()]).unwrap_err(),
            "--kw nope=1: the driver has no keyword 'nope'"
        );
        assert_eq!(
            keywords_of(&specs, &["agent".into()]).unwrap_err(),
            "--kw agent: expected keyword=value"
        );
    }
}
