//! A service ready to act on: its config, resolved definitions, and driver resource objects.

use crate::config::resolve::{self, Diag, ResourceDef, ServiceDef, Severity};
use crate::config::{ConfigError, ServiceConfig};
use crate::drivers::callbacks::{self, ResourceTable};
use crate::drivers::Registry;
use crate::paths::Paths;
use abi_stable::std_types::{RResult, RStr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use svcmgr_plugin_api::abi::ResourceBox;
use svcmgr_plugin_api::types::{features, ResourceContext};

/// One resource: its definition and, when its driver could create it, the driver object.
pub struct Resource {
    pub def: ResourceDef,
    /// The driver's object, or why there is none (shown as `undef` with this reason).
    pub driver: Result<Arc<ResourceBox>, String>,
    pub label: String,
    pub links: Vec<String>,
    /// Driver-provided ordering key within a set (e.g. a mount point).
    pub sort_key: Option<String>,
}

impl Resource {
    pub fn rid(&self) -> &str {
        &self.def.rid
    }
}

pub struct Service {
    pub name: String,
    pub paths: Paths,
    pub cfg: ServiceConfig,
    pub def: ServiceDef,
    pub resources: Vec<Resource>,
    pub diags: Vec<Diag>,
}

impl Service {
    /// Read the config and create every resource it declares.
    pub fn build(paths: &Paths, name: &str, reg: &Registry) -> Result<Service, ConfigError> {
        let cfg = ServiceConfig::load(name, &paths.conf(name))?;
        Ok(Self::from_config(paths, cfg, reg))
    }

    pub fn from_config(paths: &Paths, cfg: ServiceConfig, reg: &Registry) -> Service {
        static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);
        let token = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
        let var = paths.var(&cfg.name);
        let (def, mut diags) = resolve::resolve(&cfg, reg, &paths.nodename, &var.to_string_lossy());
        let mut resources = Vec::with_capacity(def.resources.len());
        for rdef in &def.resources {
            let mut context = ResourceContext::new(&cfg.name, &var.to_string_lossy());
            context.nodename = paths.nodename.clone();
            context.svc_id = def.id.clone();
            context.token = token;
            context.service = rdef.service_keywords.clone();
            context.host_features = features::ALL.iter().map(|f| f.to_string()).collect();
            context.generic_keywords = rdef.generic_keywords.clone();
            let created = match &rdef.problem {
                Some(p) => Err(p.clone()),
                None => instantiate(reg, rdef, &context).inspect_err(|e| {
                    diags.push(Diag {
                        severity: Severity::Error,
                        section: rdef.rid.clone(),
                        keyword: None,
                        message: e.clone(),
                    })
                }),
            };
            let mut res = Resource {
                def: rdef.clone(),
                driver: Err(String::new()),
                label: String::new(),
                links: Vec::new(),
                sort_key: None,
            };
            res.driver = created.map(|h| {
                res.label = h.label().into_string();
                res.links = h.links().into_iter().map(|s| s.into_string()).collect();
                res.sort_key = describe_sort_key(&h);
                Arc::new(h)
            });
            resources.push(res);
        }
        for res in &resources {
            for link in &res.links {
                if !resources.iter().any(|r| r.rid() == link) {
                    diags.push(Diag {
                        severity: Severity::Error,
                        section: res.rid().to_string(),
                        keyword: None,
                        message: format!(
                            "linked to {link}, which is not a resource of this service"
                        ),
                    });
                }
            }
        }
        let table: ResourceTable = resources
            .iter()
            .filter_map(|r| {
                r.driver
                    .as_ref()
                    .ok()
                    .map(|h| (r.rid().to_string(), h.clone()))
            })
            .collect();
        callbacks::register(token, Arc::new(table));
        Service {
            name: cfg.name.clone(),
            paths: paths.clone(),
            cfg,
            def,
            resources,
            diags,
        }
    }

    pub fn resource(&self, rid: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.rid() == rid)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diag> {
        self.diags.iter().filter(|d| d.severity == Severity::Error)
    }

    pub fn var_dir(&self) -> PathBuf {
        self.paths.var(&self.name)
    }

    /// Whether `[subset#<group>:<subset>]` says parallel.
    pub fn subset_parallel(&self, group: &str, subset: &str) -> bool {
        self.def
            .subsets
            .get(&format!("{group}:{subset}"))
            .copied()
            .unwrap_or(false)
    }
}

/// Create a resource through its driver library.
fn instantiate(
    reg: &Registry,
    rdef: &ResourceDef,
    context: &ResourceContext,
) -> Result<ResourceBox, String> {
    // Resolution gives every definition without a problem its driver.
    let entry = rdef
        .driver
        .as_ref()
        .and_then(|d| reg.drivers.get(d))
        .ok_or_else(|| format!("no driver serves {}", rdef.rid))?;
    let kw = serde_json::Value::Object(rdef.keywords.clone()).to_string();
    let ctx = serde_json::to_string(context).unwrap_or_default();
    reg.new_resource(entry, &rdef.rid, &kw, &ctx)
        .map_err(|e| e.to_string())
}

/// The SDK answers `describe` with static facts; an older or foreign driver may not.
fn describe_sort_key(h: &ResourceBox) -> Option<String> {
    match h.call(RStr::from("describe"), RStr::from("{}")) {
        RResult::ROk(s) => serde_json::from_str::<serde_json::Value>(s.as_str())
            .ok()?
            .get("sort_key")?
            .as_str()
            .map(String::from),
        RResult::RErr(_) => None,
    }
}
