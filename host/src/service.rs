//! A service ready to act on: its config, resolved definitions, and driver resource objects.

use crate::config::resolve::{self, Diag, ResourceDef, ServiceDef, Severity};
use crate::config::{ConfigError, ServiceConfig};
use crate::drivers::callbacks::{self, ResourceTable};
use crate::drivers::Registry;
use crate::paths::Paths;
use abi_stable::std_types::{RResult, RStr};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use svcmgr_plugin_api::abi::ResourceBox;
use svcmgr_plugin_api::types::ResourceContext;

/// One resource: its definition and, when its driver could create it, the driver object.
#[derive(Clone)]
pub struct Resource {
    pub def: ResourceDef,
    /// The driver's object, or why there is none (shown as `undef` with this reason).
    pub driver: Result<Arc<ResourceBox>, String>,
    pub label: String,
    pub links: Vec<String>,
    /// Driver-provided ordering key within a set (e.g. a mount point).
    pub sort_key: Option<String>,
    /// The environment of the commands run for this resource (the host's triggers): the
    /// service's, `OPENSVC_RID`, then what the driver adds. `OPENSVC_ACTION` comes per call.
    pub env: Vec<(String, String)>,
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
        let scripts_dir = paths.scripts_dir(&cfg.name);
        let svc_env = service_env(&cfg.name, &def.id, &scripts_dir);
        let mut resources = Vec::with_capacity(def.resources.len());
        for rdef in &def.resources {
            let mut env = svc_env.clone();
            env.insert("OPENSVC_RID".into(), rdef.rid.clone());
            let context = ResourceContext {
                svcname: cfg.name.clone(),
                nodename: paths.nodename.clone(),
                svc_id: def.id.clone(),
                var_dir: var.to_string_lossy().into_owned(),
                token,
                service: rdef.service_keywords.clone(),
                env,
                scripts_dir: scripts_dir.to_string_lossy().into_owned(),
            };
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
                env: context.env.into_iter().collect(),
            };
            res.driver = created.map(|h| {
                res.label = h.label().into_string();
                res.links = h.links().into_iter().map(|s| s.into_string()).collect();
                let described = describe(&h);
                res.sort_key = described.sort_key;
                res.env.extend(described.env);
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

    /// The errors that block every action: those outside resource sections (`[DEFAULT]`,
    /// `[env]`, subsets). An error in a resource section blocks only the actions on it.
    pub fn global_errors(&self) -> impl Iterator<Item = &Diag> {
        self.errors()
            .filter(|d| self.resource(&d.section).is_none())
    }

    /// The errors of the resource sections among `rids`.
    pub fn errors_of<'a>(
        &'a self,
        rids: &'a std::collections::BTreeSet<&'a str>,
    ) -> impl Iterator<Item = &'a Diag> {
        self.errors().filter(|d| rids.contains(d.section.as_str()))
    }

    /// Why this node may not change the service's state: `DEFAULT.nodes` (or a DRP node
    /// list) is set and does not name it.
    pub fn foreign_node(&self) -> Option<String> {
        let (nodes, drp) = (&self.def.nodes, &self.def.drpnodes);
        let node = &self.paths.nodename;
        if (nodes.is_empty() && drp.is_empty())
            || nodes
                .iter()
                .chain(drp)
                .any(|n| n.eq_ignore_ascii_case(node))
        {
            return None;
        }
        let mut lists = format!("DEFAULT.nodes ({})", nodes.join(" "));
        if !drp.is_empty() {
            lists += &format!(" nor of the DRP nodes ({})", drp.join(" "));
        }
        Some(format!("this node '{node}' is not one of {lists}"))
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

/// The static facts a driver gives about a resource (`call("describe")`).
#[derive(Debug, Default, serde::Deserialize)]
struct Described {
    #[serde(default)]
    sort_key: Option<String>,
    /// Variables the driver adds to the environment of the resource's commands.
    #[serde(default)]
    env: BTreeMap<String, String>,
}

/// The SDK answers `describe`; an older or foreign driver may not (nothing then).
fn describe(h: &ResourceBox) -> Described {
    match h.call(RStr::from("describe"), RStr::from("{}")) {
        RResult::ROk(s) => serde_json::from_str(s.as_str()).unwrap_or_default(),
        RResult::RErr(_) => Described::default(),
    }
}

/// The environment of every command run for a service's resources (reference notes §7.5),
/// before the per-resource and per-call variables: its identity, and its script folder
/// first on `PATH`.
fn service_env(name: &str, id: &str, scripts_dir: &Path) -> BTreeMap<String, String> {
    let path = std::env::var("PATH")
        .unwrap_or_else(|_| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    [
        ("OPENSVC_SVCNAME", name),
        ("OPENSVC_SVCPATH", name),
        ("OPENSVC_NAME", name),
        ("OPENSVC_ID", id),
        ("OPENSVC_SVC_ID", id),
        ("OPENSVC_KIND", "svc"),
        ("OPENSVC_NAMESPACE", "root"),
        ("OPENSVC_LEADER", "1"),
        ("PATH", &format!("{}:{path}", scripts_dir.display())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_environment() {
        let env = service_env("web", "id-1", Path::new("/r/etc/opensvc/web.d"));
        assert_eq!(env["OPENSVC_SVCNAME"], "web");
        assert_eq!(env["OPENSVC_NAME"], "web");
        assert_eq!(env["OPENSVC_SVC_ID"], "id-1");
        assert_eq!(env["OPENSVC_KIND"], "svc");
        assert_eq!(env["OPENSVC_NAMESPACE"], "root");
        assert_eq!(env["OPENSVC_LEADER"], "1");
        assert!(env["PATH"].starts_with("/r/etc/opensvc/web.d:"));
    }
}
