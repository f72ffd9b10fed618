//! A service ready to act on: its config, resolved definitions, and driver resource objects.

use crate::config::resolve::{self, Diag, ResourceDef, ServiceDef, Severity};
use crate::config::{ConfigError, ServiceConfig};
use crate::drivers::callbacks::{self, ResourceTable};
use crate::drivers::handle::Handle;
use crate::drivers::Registry;
use crate::paths::Paths;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use svcmgr_plugin_api::types::{features, LinkedBy, ResourceContext};

/// One resource: its definition and, when its driver could create it, the driver object.
#[derive(Clone)]
pub struct Resource {
    pub def: ResourceDef,
    /// The driver's object, or why there is none (shown as `undef` with this reason).
    pub driver: Result<Arc<Handle>, String>,
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
        // A driver that kills the process while its resource is created is named in the
        // action log too (the logger, set up later, refines this).
        crate::signals::set_log_target(
            Some(&paths.log_file(&cfg.name)),
            &format!("{}.{}", paths.nodename, cfg.name),
            crate::log::utc_offset(),
        );
        let (def, mut diags) = resolve::resolve(&cfg, reg, &paths.nodename, &var.to_string_lossy());
        let links: Vec<Vec<ConfigLink>> =
            def.resources.iter().map(|r| config_links(reg, r)).collect();
        let scripts_dir = paths.scripts_dir(&cfg.name);
        let svc_env = service_env(&cfg.name, &def.id, &scripts_dir);
        let mut resources = Vec::with_capacity(def.resources.len());
        for (rdef, own_links) in def.resources.iter().zip(&links) {
            let mut context = ResourceContext::new(&cfg.name, &var.to_string_lossy());
            context.nodename = paths.nodename.clone();
            context.svc_id = def.id.clone();
            context.token = token;
            context.service = rdef.service_keywords.clone();
            context.host_features = features::ALL.iter().map(|f| f.to_string()).collect();
            context.generic_keywords = rdef.generic_keywords.clone();
            context.linked_by = linked_by(&rdef.rid, &def.resources, &links);
            context.tags = rdef.props.tags.clone();
            context.env = svc_env.clone();
            context.env.insert("OPENSVC_RID".into(), rdef.rid.clone());
            context.scripts_dir = scripts_dir.to_string_lossy().into_owned();
            let broken_link = own_links
                .iter()
                .find_map(|l| l.problem(&def.resources).map(|p| (l, p)));
            let created = match (&rdef.problem, broken_link) {
                (Some(p), _) => Err(p.clone()),
                (None, Some((link, problem))) => {
                    diags.push(Diag {
                        severity: Severity::Error,
                        section: rdef.rid.clone(),
                        keyword: Some(link.keyword.clone()),
                        message: problem.clone(),
                    });
                    Err(format!("{}: {problem}", link.keyword))
                }
                (None, None) => instantiate(reg, rdef, &context).inspect_err(|e| {
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
                res.label = h.label();
                res.links = own_links.iter().map(|l| l.target.clone()).collect();
                for l in h.links() {
                    if !res.links.contains(&l) {
                        res.links.push(l);
                    }
                }
                let described = h.describe();
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

/// A link a resource's config declares: a keyword its driver flags as naming the rid of a
/// resource of some group (`KeywordSpec::link`). Known before any resource is created, so
/// that every resource learns at creation who links to it.
struct ConfigLink {
    keyword: String,
    target: String,
    group: String,
}

impl ConfigLink {
    /// Why the link is wrong, if it is: its target must be a resource of its group.
    fn problem(&self, all: &[ResourceDef]) -> Option<String> {
        match all.iter().find(|r| r.rid == self.target) {
            Some(r) if r.group == self.group => None,
            _ => Some(format!(
                "{} is not a {} resource of this service",
                self.target, self.group
            )),
        }
    }
}

fn config_links(reg: &Registry, rdef: &ResourceDef) -> Vec<ConfigLink> {
    let Some(entry) = rdef.driver.as_ref().and_then(|d| reg.drivers.get(d)) else {
        return Vec::new();
    };
    entry
        .manifest
        .keywords
        .iter()
        .filter_map(|k| {
            let group = k.link.as_ref()?;
            let target = rdef.keywords.get(&k.name)?.as_str()?;
            (!target.is_empty()).then(|| ConfigLink {
                keyword: k.name.clone(),
                target: target.to_string(),
                group: group.clone(),
            })
        })
        .collect()
}

/// The resources whose config links them to `rid` (`links[i]` are those of `all[i]`).
fn linked_by(rid: &str, all: &[ResourceDef], links: &[Vec<ConfigLink>]) -> Vec<LinkedBy> {
    all.iter()
        .zip(links)
        .filter(|(_, l)| l.iter().any(|l| l.target == rid))
        .map(|(r, _)| LinkedBy::new(&r.rid, r.driver.as_deref().unwrap_or_default()))
        .collect()
}

/// Create a resource through its driver library.
fn instantiate(
    reg: &Registry,
    rdef: &ResourceDef,
    context: &ResourceContext,
) -> Result<Handle, String> {
    // Resolution gives every definition without a problem its driver.
    let entry = rdef
        .driver
        .as_ref()
        .and_then(|d| reg.drivers.get(d))
        .ok_or_else(|| format!("no driver serves {}", rdef.rid))?;
    Handle::create(reg, entry, &rdef.rid, &rdef.keywords, context).map_err(|e| e.to_string())
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
    use crate::drivers::DriverEntry;
    use svcmgr_plugin_api::types::{DriverManifest, KeywordSpec, KwType};

    fn registry() -> Registry {
        let kw = |name: &str, link: Option<&str>| {
            let mut k = KeywordSpec::new(name, KwType::String);
            k.link = link.map(String::from);
            k
        };
        let mut netns = DriverManifest::new("ip.netns", "1.0.0");
        netns.keywords = vec![kw("ipdev", None), kw("netns", Some("container"))];
        Registry {
            libs: Vec::new(),
            drivers: [(
                netns.id.clone(),
                DriverEntry {
                    manifest: netns,
                    lib: 0,
                },
            )]
            .into(),
            warnings: Vec::new(),
            debug: Vec::new(),
        }
    }

    fn def(rid: &str, group: &str, driver: &str, kw: serde_json::Value) -> ResourceDef {
        ResourceDef {
            rid: rid.into(),
            group: group.into(),
            driver: Some(driver.into()),
            problem: None,
            keywords: kw.as_object().cloned().unwrap_or_default(),
            service_keywords: Default::default(),
            generic_keywords: Default::default(),
            props: Default::default(),
        }
    }

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

    #[test]
    fn links_from_keywords_and_who_links_to_whom() {
        let reg = registry();
        let all = vec![
            def(
                "container#1",
                "container",
                "container.docker",
                serde_json::json!({}),
            ),
            def(
                "ip#1",
                "ip",
                "ip.netns",
                serde_json::json!({"ipdev": "br0", "netns": "container#1"}),
            ),
            def(
                "ip#2",
                "ip",
                "ip.netns",
                serde_json::json!({"netns": "ip#1"}),
            ),
            def("ip#3", "ip", "ip.netns", serde_json::json!({"netns": ""})),
        ];
        let links: Vec<Vec<ConfigLink>> = all.iter().map(|r| config_links(&reg, r)).collect();
        assert_eq!(links[1].len(), 1);
        assert_eq!(
            (links[1][0].keyword.as_str(), links[1][0].target.as_str()),
            ("netns", "container#1")
        );
        assert!(links[0].is_empty() && links[3].is_empty());
        assert_eq!(links[1][0].problem(&all), None);
        assert_eq!(
            links[2][0].problem(&all).as_deref(),
            Some("ip#1 is not a container resource of this service")
        );
        assert_eq!(
            linked_by("container#1", &all, &links),
            [LinkedBy::new("ip#1", "ip.netns")]
        );
        assert_eq!(linked_by("ip#3", &all, &links), []);
    }
}
