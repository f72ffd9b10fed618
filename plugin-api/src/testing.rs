//! Unit-testing a driver with no host and no `.so` (feature `testing`).
//!
//! [`resource`] builds a resource of a driver from raw keyword text, converted and defaulted as
//! the host does it; [`TestResource`] calls its verbs through the same adapter the ABI uses
//! (JSON round trip and panic guard included), with an optional deadline, and keeps every log
//! line the calls produced.
//!
//! ```
//! use svcmgr_plugin_api::testing;
//! use svcmgr_plugin_api::{
//!     ActionReport, Ctx, DriverDecl, Kw, Plugin, ResourceImpl, ResourceSpec, Result, Status,
//!     StatusReport,
//! };
//!
//! struct Echo(String);
//! impl ResourceImpl for Echo {
//!     fn label(&self) -> String { format!("echo {}", self.0) }
//!     fn status(&self, _: &Ctx) -> Result<StatusReport> { Ok(StatusReport::na()) }
//!     fn start(&self, ctx: &Ctx) -> Result<ActionReport> {
//!         ctx.command(&["echo", &self.0]).check()?;
//!         Ok(ActionReport::changed())
//!     }
//!     fn stop(&self, _: &Ctx) -> Result<ActionReport> { Ok(ActionReport::unchanged()) }
//! }
//! fn new_echo(spec: &ResourceSpec) -> Result<Box<dyn ResourceImpl>> {
//!     Ok(Box::new(Echo(spec.str("text").unwrap_or_default().to_string())))
//! }
//! fn plugin() -> Plugin {
//!     Plugin::new("echo", "1.0.0").driver(
//!         DriverDecl::new("app.echo", "1.0.0", new_echo).keyword(Kw::string("text").default("hi")),
//!     )
//! }
//!
//! let res = testing::resource(plugin, "app.echo", "app#1").build().unwrap();
//! assert_eq!(res.label(), "echo hi");
//! assert!(res.start().unwrap().changed);
//! assert_eq!(res.status().unwrap().status, Status::NA);
//! let lines: Vec<String> = res.logs().into_iter().map(|l| l.message).collect();
//! assert_eq!(lines, ["echo hi", "output:", "hi"]);
//! ```

use crate::abi::Resource;
use crate::sdk::export::{create, Adapter};
use crate::sdk::{Error, HostSide, Plugin, ResourceSpec, Result};
use crate::types::{
    features, ActionReport, CallArgs, KeywordSpec, Level, LinkedBy, ResourceContext, StatusReport,
};
use abi_stable::std_types::{RResult, RStr, RString};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One line a resource logged during a call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogLine {
    /// The rid it was logged under (empty: service level).
    pub rid: String,
    /// Its level.
    pub level: Level,
    /// Its text.
    pub message: String,
}

/// Start building a resource of driver `driver_id` (declared by `plugin`) named `rid`.
pub fn resource(plugin: fn() -> Plugin, driver_id: &str, rid: &str) -> Builder {
    Builder {
        plugin: plugin(),
        driver_id: driver_id.to_string(),
        rid: rid.to_string(),
        keywords: Vec::new(),
        service_keywords: Vec::new(),
        context: ResourceContext {
            svcname: "test".into(),
            nodename: "node1".into(),
            svc_id: "test-id".into(),
            ..Default::default()
        },
        var_dir: None,
    }
}

/// A resource in the making: its keywords as raw config text, its context.
pub struct Builder {
    plugin: Plugin,
    driver_id: String,
    rid: String,
    keywords: Vec<(String, String)>,
    service_keywords: Vec<(String, String)>,
    context: ResourceContext,
    var_dir: Option<PathBuf>,
}

impl Builder {
    /// Set a section keyword (or one of its aliases) as it would be written in the config.
    pub fn keyword(mut self, name: &str, raw: &str) -> Self {
        self.keywords.push((name.to_string(), raw.to_string()));
        self
    }
    /// Set a `[DEFAULT]` keyword the driver declared.
    pub fn service_keyword(mut self, name: &str, raw: &str) -> Self {
        self.service_keywords
            .push((name.to_string(), raw.to_string()));
        self
    }
    /// The service name (default `test`).
    pub fn svcname(mut self, name: &str) -> Self {
        self.context.svcname = name.to_string();
        self
    }
    /// The service id, `DEFAULT.id` (default `test-id`).
    pub fn svc_id(mut self, id: &str) -> Self {
        self.context.svc_id = id.to_string();
        self
    }
    /// Add a tag (the `tags` keyword, which the host handles and passes in the context).
    pub fn tag(mut self, tag: &str) -> Self {
        self.context.tags.push(tag.to_string());
        self
    }
    /// A resource of driver `driver` whose config links it to this one
    /// (`ResourceContext::linked_by`).
    pub fn linked_by(mut self, rid: &str, driver: &str) -> Self {
        self.context.linked_by.push(LinkedBy::new(rid, driver));
        self
    }
    /// The node name (default `node1`).
    pub fn nodename(mut self, name: &str) -> Self {
        self.context.nodename = name.to_string();
        self
    }
    /// The service var dir (default: a fresh folder under the temp dir, removed with the
    /// resource).
    pub fn var_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.var_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// The spec the driver's factory would receive: keywords converted to their declared
    /// types, defaults filled in, required ones checked. A keyword the driver does not declare
    /// is a config error naming it.
    pub fn spec(&self) -> Result<ResourceSpec> {
        let decl = self.plugin.find(&self.driver_id).ok_or_else(|| {
            Error::not_found(format!("driver {} is not in this library", self.driver_id))
        })?;
        let manifest = decl.manifest();
        let mut context = self.context.clone();
        context.var_dir = self
            .var_dir
            .as_ref()
            .map(|d| d.to_string_lossy().into_owned())
            .unwrap_or_default();
        context.service = convert(&manifest.service_keywords, &self.service_keywords)?;
        context.host_features = features::ALL.iter().map(|f| f.to_string()).collect();
        let keywords = convert(&manifest.keywords, &self.keywords)?;
        Ok(ResourceSpec::new(
            &self.driver_id,
            &self.rid,
            keywords,
            context,
        ))
    }

    /// Create the resource, as the host does at service load. A factory that panics gives
    /// the error the host would report (`resource creation panicked: …`), not a panic of the
    /// test.
    pub fn build(mut self) -> Result<TestResource> {
        let scratch = match &self.var_dir {
            Some(_) => None,
            None => {
                let dir = Scratch::new()?;
                self.var_dir = Some(dir.0.clone());
                Some(dir)
            }
        };
        static TOKENS: AtomicU64 = AtomicU64::new(1);
        let mut spec = self.spec()?;
        spec.context.token = TOKENS.fetch_add(1, Ordering::Relaxed);
        let host = Arc::new(Capture::default());
        let adapter = create(&self.plugin, &spec, host.clone())?;
        Ok(TestResource {
            adapter,
            host,
            spec,
            timeout: None,
            force: false,
            action: None,
            _scratch: scratch,
        })
    }
}

/// Convert raw values by their declarations: defaults, required, candidates, types.
fn convert(specs: &[KeywordSpec], raw: &[(String, String)]) -> Result<Map<String, Value>> {
    if let Some((name, _)) = raw
        .iter()
        .find(|(name, _)| !specs.iter().any(|s| s.answers_to(name)))
    {
        return Err(Error::config_kw(name, "unknown keyword"));
    }
    let mut out = Map::new();
    for spec in specs {
        let given = raw
            .iter()
            .rev()
            .find(|(name, _)| spec.answers_to(name))
            .map(|(_, v)| v.as_str());
        let text = match (given, &spec.default) {
            (Some(text), _) => text,
            (None, Some(Value::String(default))) => default.as_str(),
            (None, _) if spec.required => {
                return Err(Error::config_kw(&spec.name, "missing required keyword"))
            }
            (None, _) => continue,
        };
        if let Some(cands) = &spec.candidates {
            if !cands.iter().any(|c| c == text) {
                let msg = format!("value '{text}' is not one of: {}", cands.join(", "));
                return Err(Error::config_kw(&spec.name, msg));
            }
        }
        let value = spec
            .kind
            .convert(text)
            .map_err(|e| Error::config_kw(&spec.name, e))?;
        out.insert(spec.name.clone(), value);
    }
    Ok(out)
}

/// A resource under test. Each verb is one call as the host makes it.
pub struct TestResource {
    adapter: Adapter,
    host: Arc<Capture>,
    spec: ResourceSpec,
    timeout: Option<Duration>,
    force: bool,
    action: Option<String>,
    _scratch: Option<Scratch>,
}

impl TestResource {
    /// Give every later call this deadline from its start (None: no deadline, the default).
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }
    /// Pass `--force` to every later call.
    pub fn set_force(&mut self, force: bool) {
        self.force = force;
    }
    /// The service action later calls belong to (default: the verb's name).
    pub fn set_action(&mut self, action: &str) {
        self.action = Some(action.to_string());
    }
    /// Answer `answer` when the resource queries `verb` of resource `rid` (unanswered queries
    /// fail as not found).
    pub fn answer_query(&self, rid: &str, verb: &str, answer: Value) {
        lock(&self.host.answers).insert((rid.to_string(), verb.to_string()), answer);
    }
    /// The spec the resource was built from.
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }
    /// The service var dir.
    pub fn var_dir(&self) -> &Path {
        Path::new(&self.spec.context.var_dir)
    }

    /// Every line logged so far.
    pub fn logs(&self) -> Vec<LogLine> {
        lock(&self.host.lines).clone()
    }
    /// Every line logged so far, forgetting them.
    pub fn take_logs(&self) -> Vec<LogLine> {
        std::mem::take(&mut *lock(&self.host.lines))
    }

    /// The label `print status` shows.
    pub fn label(&self) -> String {
        self.adapter.label().into_string()
    }
    /// The rids it is linked to.
    pub fn links(&self) -> Vec<String> {
        self.adapter
            .links()
            .into_iter()
            .map(RString::into_string)
            .collect()
    }
    /// Its sort key, as the host learns it (the `describe` verb).
    pub fn sort_key(&self) -> Option<String> {
        let answer: Value = self.verb("describe", Value::Null).ok()?;
        answer["sort_key"].as_str().map(String::from)
    }
    /// Call `status`.
    pub fn status(&self) -> Result<StatusReport> {
        decode(
            self.adapter
                .status(self.args("status", Value::Null).as_str().into()),
        )
    }
    /// Call `start`.
    pub fn start(&self) -> Result<ActionReport> {
        decode(
            self.adapter
                .start(self.args("start", Value::Null).as_str().into()),
        )
    }
    /// Call `stop`.
    pub fn stop(&self) -> Result<ActionReport> {
        decode(
            self.adapter
                .stop(self.args("stop", Value::Null).as_str().into()),
        )
    }
    /// Call `provision`.
    pub fn provision(&self) -> Result<ActionReport> {
        let args = self.args("provision", Value::Null);
        decode(self.adapter.provision(args.as_str().into()))
    }
    /// Call `unprovision`.
    pub fn unprovision(&self) -> Result<ActionReport> {
        let args = self.args("unprovision", Value::Null);
        decode(self.adapter.unprovision(args.as_str().into()))
    }
    /// Call another verb with a payload.
    pub fn call(&self, verb: &str, payload: Value) -> Result<Value> {
        self.verb(verb, payload)
    }

    fn verb<T: DeserializeOwned>(&self, verb: &str, payload: Value) -> Result<T> {
        let args = self.args(verb, payload);
        decode(self.adapter.call(RStr::from(verb), args.as_str().into()))
    }

    fn args(&self, verb: &str, payload: Value) -> String {
        let mut args = CallArgs::new(self.action.as_deref().unwrap_or(verb)).with_payload(payload);
        if let Some(t) = self.timeout {
            args = args.with_timeout(t);
        }
        args.force = self.force;
        serde_json::to_string(&args).unwrap_or_default()
    }
}

fn decode<T: DeserializeOwned>(answer: RResult<RString, crate::abi::DriverError>) -> Result<T> {
    match answer {
        RResult::ROk(doc) => serde_json::from_str(doc.as_str())
            .map_err(|e| Error::other(format!("invalid answer document: {e}"))),
        RResult::RErr(e) => Err(e.into()),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The host of a test: keeps log lines, answers registered queries.
#[derive(Default)]
struct Capture {
    lines: Mutex<Vec<LogLine>>,
    answers: Mutex<HashMap<(String, String), Value>>,
}

impl HostSide for Capture {
    fn log(&self, _token: u64, rid: &str, level: Level, msg: &str) {
        lock(&self.lines).push(LogLine {
            rid: rid.to_string(),
            level,
            message: msg.to_string(),
        });
    }

    fn query(&self, _token: u64, rid: &str, verb: &str, _payload: &str) -> Result<String> {
        lock(&self.answers)
            .get(&(rid.to_string(), verb.to_string()))
            .map(Value::to_string)
            .ok_or_else(|| {
                Error::not_found(format!("resource {rid} does not exist in this service"))
            })
    }
}

/// A var dir made for one test resource, removed with it.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "svcmgr-testing-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::other(format!("create {}: {e}", dir.display())))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdk::{Ctx, DriverDecl, Kw, ResourceImpl};
    use crate::types::Status;

    struct Probe {
        words: Vec<String>,
    }

    impl ResourceImpl for Probe {
        fn label(&self) -> String {
            self.words.join(" ")
        }
        fn status(&self, ctx: &Ctx) -> Result<StatusReport> {
            let name = ctx.query("container#1", "name", &Value::Null)?;
            Ok(StatusReport::up().with_info(name["name"].as_str().unwrap_or_default()))
        }
        fn start(&self, ctx: &Ctx) -> Result<ActionReport> {
            if ctx.force() {
                panic!("forced");
            }
            // A command outliving the deadline is killed at it.
            ctx.command(&["sleep", "5"]).check()?;
            Ok(ActionReport::changed())
        }
        fn stop(&self, _ctx: &Ctx) -> Result<ActionReport> {
            Ok(ActionReport::unchanged())
        }
    }

    fn new_probe(spec: &ResourceSpec) -> Result<Box<dyn ResourceImpl>> {
        Ok(Box::new(Probe {
            words: spec.words("words"),
        }))
    }

    fn plugin() -> Plugin {
        Plugin::new("probe", "1.0.0").driver(
            DriverDecl::new("app.probe", "1.0.0", new_probe)
                .keyword(Kw::list("words").alias("w").default("a b"))
                .keyword(Kw::string("mode").candidates(&["x", "y"]))
                .keyword(Kw::duration("wait").required()),
        )
    }

    #[test]
    fn keywords_are_converted_and_checked_like_the_host_does() {
        let b = resource(plugin, "app.probe", "app#1").keyword("wait", "2s");
        let spec = b.spec().unwrap();
        assert_eq!(spec.duration("wait"), Some(Duration::from_secs(2)));
        assert_eq!(spec.words("words"), ["a", "b"]);
        let spec = resource(plugin, "app.probe", "app#1")
            .keyword("wait", "1")
            .keyword("w", "c")
            .spec()
            .unwrap();
        assert_eq!(spec.words("words"), ["c"]);
        let err = |b: Builder| b.spec().unwrap_err().to_string();
        let b = resource(plugin, "app.probe", "app#1");
        assert_eq!(err(b), "wait: missing required keyword");
        let b = resource(plugin, "app.probe", "app#1")
            .keyword("wait", "1")
            .keyword("mode", "z");
        assert_eq!(err(b), "mode: value 'z' is not one of: x, y");
        let b = resource(plugin, "app.probe", "app#1")
            .keyword("wait", "1")
            .keyword("bogus", "1");
        assert_eq!(err(b), "bogus: unknown keyword");
        let b = resource(plugin, "app.probe", "app#1").keyword("wait", "soon");
        assert!(err(b).starts_with("wait: invalid duration"));
    }

    #[test]
    fn a_panicking_factory_is_an_error_as_behind_the_abi() {
        fn new_broken(spec: &ResourceSpec) -> Result<Box<dyn ResourceImpl>> {
            panic!("no {} today", spec.rid)
        }
        fn broken() -> Plugin {
            Plugin::new("broken", "1.0.0").driver(DriverDecl::new(
                "app.broken",
                "1.0.0",
                new_broken,
            ))
        }
        let e = resource(broken, "app.broken", "app#1")
            .build()
            .err()
            .expect("a panicking factory builds nothing");
        assert_eq!(e.kind(), crate::ErrorKind::Panic);
        assert_eq!(e.message(), "resource creation panicked: no app#1 today");
    }

    #[test]
    fn calls_honour_the_deadline_answer_queries_and_catch_panics() {
        let mut res = resource(plugin, "app.probe", "app#1")
            .keyword("wait", "1s")
            .build()
            .unwrap();
        let var = res.var_dir().to_path_buf();
        assert!(var.is_dir());
        res.set_timeout(Some(Duration::from_millis(200)));
        let begin = std::time::Instant::now();
        let e = res.start().unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Timeout, "{e}");
        assert!(begin.elapsed() < Duration::from_secs(3));
        assert_eq!(res.take_logs()[0].message, "sleep 5");

        assert!(res.status().unwrap_err().message().contains("container#1"));
        res.answer_query("container#1", "name", serde_json::json!({"name": "c1"}));
        let report = res.status().unwrap();
        assert_eq!(report.status, Status::Up);
        assert_eq!(report.log[0].message, "c1");

        res.set_force(true);
        let e = res.start().unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Panic);
        assert_eq!(e.message(), "start panicked: forced");
        drop(res);
        assert!(!var.exists(), "the scratch var dir goes with the resource");
    }
}
