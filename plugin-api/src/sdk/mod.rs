//! The driver author's side: implement [`ResourceImpl`], describe drivers with [`DriverDecl`]
//! and [`Kw`], export them with [`crate::export_plugin!`].

pub mod command;
mod ctx;
pub mod devices;
mod error;
pub(crate) mod export;
pub mod files;
mod log_bridge;
pub mod mountinfo;
pub mod programs;

use crate::types::ActionReport;
use crate::types::{Devs, DriverManifest, KeywordSpec, KwType, ResourceContext, StatusReport};
use serde_json::{Map, Value};
use std::time::Duration;

pub use command::{Cmd, Output};
pub use ctx::Ctx;
pub(crate) use ctx::HostSide;
pub use error::{Context, Error, ErrorKind, Result};

/// What a driver's factory receives: the resource id, its converted keywords (defaults filled
/// in by the host) and its context.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ResourceSpec {
    /// The driver id the section resolved to (`app.forking`).
    pub driver_id: String,
    /// The resource id (`app#1`).
    pub rid: String,
    /// The section's keywords, converted to their declared types.
    pub keywords: Map<String, Value>,
    /// Where the resource lives.
    pub context: ResourceContext,
}

/// Up to this many keywords, [`ResourceSpec::get`] reads the map in order.
const SCANNED: usize = 8;

impl ResourceSpec {
    /// A spec for `rid` of driver `driver_id`, with these converted keywords and context.
    /// Drivers receive one; unit tests build one with the `testing` module.
    pub fn new(
        driver_id: &str,
        rid: &str,
        keywords: Map<String, Value>,
        context: ResourceContext,
    ) -> Self {
        ResourceSpec {
            driver_id: driver_id.to_string(),
            rid: rid.to_string(),
            keywords,
            context,
        }
    }
    /// A keyword's value, `None` when unset.
    pub fn get(&self, kw: &str) -> Option<&Value> {
        // A resource's keyword map is small (what its section sets, and defaults): comparing
        // a few names is cheaper than hashing one with the map's SipHash, and drivers read
        // every keyword of each of thousands of resources.
        let found = match self.keywords.len() {
            0..=SCANNED => self.keywords.iter().find(|(k, _)| *k == kw).map(|(_, v)| v),
            _ => self.keywords.get(kw),
        };
        found.filter(|v| !v.is_null())
    }
    /// A `string` keyword.
    pub fn str(&self, kw: &str) -> Option<&str> {
        self.get(kw).and_then(Value::as_str)
    }
    /// A `bool` keyword (unset is false).
    pub fn bool(&self, kw: &str) -> bool {
        self.get(kw).and_then(Value::as_bool).unwrap_or(false)
    }
    /// An `int` keyword.
    pub fn int(&self, kw: &str) -> Option<i64> {
        self.get(kw).and_then(Value::as_i64)
    }
    /// A `duration` keyword.
    pub fn duration(&self, kw: &str) -> Option<Duration> {
        self.get(kw)
            .and_then(Value::as_u64)
            .map(Duration::from_millis)
    }
    /// A `list` or `shlex` keyword (unset is empty).
    pub fn words(&self, kw: &str) -> Vec<String> {
        match self.get(kw) {
            Some(Value::Array(items)) => {
                // Sized for all of them (they are strings): collected from a filter, the
                // vector would hold room for four words, kept by drivers for each resource.
                let mut words = Vec::with_capacity(items.len());
                words.extend(items.iter().filter_map(|v| v.as_str().map(String::from)));
                words
            }
            Some(Value::String(s)) => s.split_whitespace().map(String::from).collect(),
            _ => Vec::new(),
        }
    }
    /// A `[DEFAULT]` keyword the driver declared with [`DriverDecl::service_keyword`].
    pub fn service(&self, kw: &str) -> Option<&Value> {
        self.context.service.get(kw).filter(|v| !v.is_null())
    }
    /// The resource's `tags` keyword holds `tag`.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.context.tags.iter().any(|t| t == tag)
    }
}

/// One resource, as a driver implements it. Every verb runs under the host's deadline
/// (`ctx.deadline()`); panics are caught by the SDK and fail only this resource.
///
/// Only `label`, `status`, `start` and `stop` are required; every other method has a default
/// and new ones only ever come with a default.
pub trait ResourceImpl: Send + Sync + 'static {
    /// The label `print status` shows (`forking /usr/bin/app start`).
    fn label(&self) -> String;
    /// Rids this resource is linked to: it starts right after them, stops right before them,
    /// and selecting it pulls them in. Those named by keywords declared with [`Kw::link`] are
    /// added by the SDK; prefer such a keyword: the host knows those links before it creates
    /// any resource and tells their targets (`ResourceContext::linked_by`).
    fn links(&self) -> Vec<String> {
        Vec::new()
    }
    /// A key ordering resources of the same group (e.g. a mount point, so parents go first).
    fn sort_key(&self) -> Option<String> {
        None
    }
    /// Variables added to the environment of every command run for this resource, the
    /// host's triggers included (an ip resource adds `OPENSVC_IPNAME`, …). Asked once, when
    /// the resource is created.
    fn env(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    /// The resource's state.
    fn status(&self, ctx: &Ctx) -> Result<StatusReport>;
    /// Bring it up; `ActionReport::unchanged()` when it already was.
    fn start(&self, ctx: &Ctx) -> Result<ActionReport>;
    /// Bring it down; `ActionReport::unchanged()` when it already was.
    fn stop(&self, ctx: &Ctx) -> Result<ActionReport>;
    /// Create what the resource needs, then start it (default: start).
    fn provision(&self, ctx: &Ctx) -> Result<ActionReport> {
        self.start(ctx)
    }
    /// Stop, then remove what provision created (default: stop).
    fn unprovision(&self, ctx: &Ctx) -> Result<ActionReport> {
        self.stop(ctx)
    }
    /// The block devices the resource exposes and uses (`print devs`; the `devs` verb).
    /// Default: none.
    fn devs(&self, ctx: &Ctx) -> Result<Devs> {
        let _ = ctx;
        Ok(Devs::default())
    }
    /// Other verbs, and answers to other resources' queries (default: unsupported).
    fn call(&self, verb: &str, payload: &Value, ctx: &Ctx) -> Result<Value> {
        let _ = (payload, ctx);
        Err(Error::unsupported(format!(
            "verb '{verb}' is not supported"
        )))
    }
}

/// Builds a resource from its spec: one per driver id.
pub type Factory = fn(&ResourceSpec) -> Result<Box<dyn ResourceImpl>>;

/// One driver id served by a library, built up with its keywords.
pub struct DriverDecl {
    manifest: DriverManifest,
    factory: Factory,
}

impl DriverDecl {
    /// Driver `id` (`group.type`) at `version`, whose resources `factory` builds.
    pub fn new(id: &str, version: &str, factory: Factory) -> Self {
        DriverDecl {
            manifest: DriverManifest::new(id, version),
            factory,
        }
    }
    /// One paragraph for `driver info`.
    pub fn help(mut self, text: &str) -> Self {
        self.manifest.help = text.to_string();
        self
    }
    /// Serve `[<group>#N]` sections that have no `type` keyword.
    pub fn default_for_group(mut self) -> Self {
        self.manifest.default_for_group = true;
        self
    }
    /// Also serve sections named `[<prefix>#N]` (a legacy spelling; the rid keeps it).
    pub fn section_alias(mut self, prefix: &str) -> Self {
        self.manifest.section_aliases.push(prefix.to_string());
        self
    }
    /// Also serve `type = <name>`.
    pub fn type_alias(mut self, name: &str) -> Self {
        self.manifest.type_aliases.push(name.to_string());
        self
    }
    /// Declare a section keyword.
    pub fn keyword(mut self, kw: Kw) -> Self {
        self.manifest.keywords.push(kw.0);
        self
    }
    /// Declare a `[DEFAULT]` keyword the resources read through [`ResourceSpec::service`].
    pub fn service_keyword(mut self, kw: Kw) -> Self {
        self.manifest.service_keywords.push(kw.0);
        self
    }
    /// Declare a verb beyond start/stop/status (`provision`, `query:netns`).
    pub fn capability(mut self, cap: &str) -> Self {
        self.manifest.capabilities.push(cap.to_string());
        self
    }
    /// Claim a CLI word whose arguments become a command line (`call("passthrough")`).
    pub fn passthrough(mut self, word: &str) -> Self {
        self.manifest.passthrough = Some(word.to_string());
        self
    }
    /// What this declaration puts in the manifest.
    pub fn manifest(&self) -> &DriverManifest {
        &self.manifest
    }
    /// Build a resource of this driver.
    pub fn create(&self, spec: &ResourceSpec) -> Result<Box<dyn ResourceImpl>> {
        (self.factory)(spec)
    }
}

/// A typed keyword declaration, turned into the manifest's JSON.
///
/// ```
/// use svcmgr_plugin_api::Kw;
///
/// let kw = Kw::duration("check_timeout").default("60s").help("Time limit of the check.");
/// assert_eq!(kw.spec().name, "check_timeout");
/// ```
pub struct Kw(KeywordSpec);

impl Kw {
    /// A keyword `name` of type `kind`.
    pub fn new(name: &str, kind: KwType) -> Self {
        Kw(KeywordSpec::new(name, kind))
    }
    /// A text keyword.
    pub fn string(name: &str) -> Self {
        Kw::new(name, KwType::String)
    }
    /// A boolean keyword.
    pub fn bool(name: &str) -> Self {
        Kw::new(name, KwType::Bool)
    }
    /// An integer keyword.
    pub fn int(name: &str) -> Self {
        Kw::new(name, KwType::Int)
    }
    /// A duration keyword (`30s`), received as milliseconds.
    pub fn duration(name: &str) -> Self {
        Kw::new(name, KwType::Duration)
    }
    /// A whitespace-separated list keyword.
    pub fn list(name: &str) -> Self {
        Kw::new(name, KwType::List)
    }
    /// A shell-words keyword (a command line).
    pub fn shlex(name: &str) -> Self {
        Kw::new(name, KwType::Shlex)
    }
    /// The section is invalid without it.
    pub fn required(mut self) -> Self {
        self.0.required = true;
        self
    }
    /// The default, written as it would be in the config file.
    pub fn default(mut self, raw: &str) -> Self {
        self.0.default = Some(Value::String(raw.to_string()));
        self
    }
    /// Another accepted name.
    pub fn alias(mut self, name: &str) -> Self {
        self.0.aliases.push(name.to_string());
        self
    }
    /// The only accepted values.
    pub fn candidates(mut self, values: &[&str]) -> Self {
        self.0.candidates = Some(values.iter().map(|s| s.to_string()).collect());
        self
    }
    /// One line for `driver info`.
    pub fn help(mut self, text: &str) -> Self {
        self.0.help = text.to_string();
        self
    }
    /// The value is the rid of a resource of `group` this one is linked to (see
    /// [`KeywordSpec::link`]); the SDK adds it to the resource's `links()`.
    pub fn link(mut self, group: &str) -> Self {
        self.0.link = Some(group.to_string());
        self
    }
    /// The declaration as the manifest carries it.
    pub fn spec(&self) -> &KeywordSpec {
        &self.0
    }
}

/// A driver library: its name, version and drivers.
///
/// ```
/// # use svcmgr_plugin_api::{DriverDecl, Plugin, ResourceSpec, ResourceImpl, Result};
/// # fn new_flag(_: &ResourceSpec) -> Result<Box<dyn ResourceImpl>> { unimplemented!() }
/// let plugin = Plugin::new("flag", "1.0.0").driver(DriverDecl::new("app.flag", "1.0.0", new_flag));
/// assert_eq!(plugin.drivers().len(), 1);
/// ```
pub struct Plugin {
    name: String,
    version: String,
    drivers: Vec<DriverDecl>,
}

impl Plugin {
    /// Library `name` at `version` (semver), with no driver yet.
    pub fn new(name: &str, version: &str) -> Self {
        Plugin {
            name: name.to_string(),
            version: version.to_string(),
            drivers: Vec::new(),
        }
    }
    /// Add a driver.
    pub fn driver(mut self, decl: DriverDecl) -> Self {
        self.drivers.push(decl);
        self
    }
    /// The library name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The library version.
    pub fn version(&self) -> &str {
        &self.version
    }
    /// Its drivers.
    pub fn drivers(&self) -> &[DriverDecl] {
        &self.drivers
    }
    /// The declaration of driver `id`.
    pub fn find(&self, id: &str) -> Option<&DriverDecl> {
        self.drivers.iter().find(|d| d.manifest.id == id)
    }
}
