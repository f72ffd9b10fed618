//! A service ready to act on: its config, resolved definitions, and driver resource objects.

use crate::config::resolve::{self, Diag, ResourceDef, ServiceDef, Severity};
use crate::config::{ConfigError, ServiceConfig};
use crate::drivers::callbacks::{self, ResourceTable};
use crate::drivers::handle::Handle;
use crate::drivers::Registry;
use crate::paths::Paths;
use compact_str::CompactString;
use std::borrow::Cow;
// Rids are short keys read from a trusted config: Fx hashing, not SipHash (five tables of
// 10,000 rids each showed in loading a large service).
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use svcmgr_plugin_api::types::{self, features, LinkedBy, ResourceContext};

/// One resource: its definition and, when its driver could create it, the driver object.
#[derive(Clone)]
pub struct Resource {
    pub def: Box<ResourceDef>,
    /// The driver's object, or why there is none (shown as `undef` with this reason).
    pub driver: Result<Arc<Handle>, String>,
    pub label: String,
    pub links: Vec<String>,
    /// Driver-provided ordering key within a set (e.g. a mount point).
    pub sort_key: Option<String>,
    /// The environment of the service's commands, shared by its resources.
    pub service_env: Arc<[(String, String)]>,
    /// What the driver adds to it for this resource.
    pub driver_env: Vec<(String, String)>,
}

impl Resource {
    pub fn rid(&self) -> &str {
        &self.def.rid
    }

    /// The environment of the commands run for this resource (the host's triggers): the
    /// service's, `OPENSVC_RID`, then what the driver adds. `OPENSVC_ACTION` comes per call.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = self.service_env.to_vec();
        env.push(("OPENSVC_RID".into(), self.rid().to_string()));
        env.extend(self.driver_env.iter().cloned());
        env
    }
}

pub struct Service {
    pub name: String,
    pub paths: Paths,
    pub cfg: ServiceConfig,
    pub def: ServiceDef,
    pub resources: Vec<Resource>,
    pub diags: Vec<Diag>,
    /// rid → index in `resources`: a lookup per planned step or error would otherwise search
    /// them all (quadratic on large services).
    /// Rids are short: kept inline, not allocated.
    by_rid: HashMap<CompactString, usize>,
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
        let var_dir = var.to_string_lossy();
        let (mut def, mut diags) = resolve::resolve(&cfg, reg, &paths.nodename, &var_dir);
        // The definitions move into the resources (cloning 10,000 of them was measurable).
        let rdefs = std::mem::take(&mut def.resources);
        let links: Vec<Vec<ConfigLink>> = rdefs.iter().map(|r| config_links(reg, r)).collect();
        let mut linked_by = linked_by_index(&rdefs, &links);
        // Most services have no link at all: then no table of their rids and groups (each
        // of these tables of 10,000 entries is memory touched for the first time).
        let config_linked = links.iter().any(|own| !own.is_empty());
        let mut broken: Vec<Option<(String, String)>> = if !config_linked {
            Vec::new()
        } else {
            // By rid, not searched for: a service of 10,000 resources stays linear.
            let groups: HashMap<&str, &str> = rdefs
                .iter()
                .map(|r| (r.rid.as_str(), r.group.as_str()))
                .collect();
            links
                .iter()
                .map(|own| {
                    own.iter()
                        .find_map(|l| l.problem(&groups).map(|p| (l.keyword.clone(), p)))
                })
                .collect()
        };
        let scripts_dir = paths.scripts_dir(&cfg.name).to_string_lossy().into_owned();
        let service_env: Arc<[(String, String)]> =
            types::service_env(&cfg.name, &def.id, &scripts_dir).into();
        let mut base = ResourceContext::new(&cfg.name, &var_dir);
        base.nodename = paths.nodename.clone();
        base.svc_id = def.id.clone();
        base.token = token;
        base.host_features = features::ALL.iter().map(|f| f.to_string()).collect();
        // The SDK derives the service environment from these (`features::ENV`).
        base.scripts_dir = scripts_dir;
        let base_doc = serde_json::to_string(&base).unwrap_or_default();
        let mut resources = Vec::with_capacity(rdefs.len());
        for (i, (rdef, own_links)) in rdefs.into_iter().zip(links).enumerate() {
            let broken_link = broken.get_mut(i).and_then(Option::take);
            let linked_by = match linked_by.is_empty() {
                true => Vec::new(),
                false => linked_by.remove(&rdef.rid).unwrap_or_default(),
            };
            let context = context_doc(&base, &base_doc, &rdef, linked_by);
            let created = match (&rdef.problem, broken_link) {
                (Some(p), _) => Err(p.clone()),
                (None, Some((keyword, problem))) => {
                    let message = format!("{keyword}: {problem}");
                    diags.push(Diag {
                        severity: Severity::Error,
                        section: rdef.rid.clone(),
                        keyword: Some(keyword),
                        message: problem,
                    });
                    Err(message)
                }
                (None, None) => instantiate(reg, &rdef, &context).inspect_err(|e| {
                    diags.push(Diag {
                        severity: Severity::Error,
                        section: rdef.rid.clone(),
                        keyword: None,
                        message: e.clone(),
                    })
                }),
            };
            let mut res = Resource {
                def: rdef,
                driver: Err(String::new()),
                label: String::new(),
                links: Vec::new(),
                sort_key: None,
                service_env: service_env.clone(),
                driver_env: Vec::new(),
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
                res.driver_env = described.env.into_iter().collect();
                Arc::new(h)
            });
            resources.push(res);
        }
        link_problems(&resources, &mut diags);
        let table: ResourceTable = resources
            .iter()
            .filter_map(|r| r.driver.as_ref().ok().map(|h| (r.rid().into(), h.clone())))
            .collect();
        callbacks::register(token, Arc::new(table));
        let by_rid = resources
            .iter()
            .enumerate()
            .map(|(i, r)| (r.rid().into(), i))
            .collect();
        Service {
            name: cfg.name.clone(),
            paths: paths.clone(),
            cfg,
            def,
            resources,
            diags,
            by_rid,
        }
    }

    /// The service, never to be dropped: for the command that loads it and then ends the
    /// process, which gives the memory back at once. Dropping frees a large service's
    /// definitions one by one: a tenth of `validate config` of 10,000 resources. Nothing in
    /// it needs a drop (its driver objects stay registered for callbacks until the exit).
    pub fn keep(self) -> std::mem::ManuallyDrop<Service> {
        std::mem::ManuallyDrop::new(self)
    }

    pub fn resource(&self, rid: &str) -> Option<&Resource> {
        let indexed = self.by_rid.get(rid).and_then(|&i| self.resources.get(i));
        match indexed.filter(|r| r.rid() == rid) {
            Some(r) => Some(r),
            // `resources` changed since the index was built: search.
            None => self.resources.iter().find(|r| r.rid() == rid),
        }
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
    /// Why the link is wrong, if it is: its target must be a resource of its group (`groups`:
    /// each rid's group).
    fn problem(&self, groups: &HashMap<&str, &str>) -> Option<String> {
        match groups.get(self.target.as_str()) {
            Some(g) if *g == self.group => None,
            _ => Some(format!(
                "{} is not a {} resource of this service",
                self.target, self.group
            )),
        }
    }
}

/// Report the links to rids that are not resources of the service, and the link cycles.
fn link_problems(resources: &[Resource], diags: &mut Vec<Diag>) {
    // Most services have no link at all: then no table of 10,000 rids to build (memory
    // touched for the first time).
    if resources.iter().all(|r| r.links.is_empty()) {
        return;
    }
    let rids: HashSet<&str> = resources.iter().map(Resource::rid).collect();
    for res in resources {
        for link in &res.links {
            if !rids.contains(link.as_str()) {
                diags.push(Diag {
                    severity: Severity::Error,
                    section: res.rid().to_string(),
                    keyword: None,
                    message: format!("linked to {link}, which is not a resource of this service"),
                });
            }
        }
    }
    let graph: Vec<(&str, &[String])> = resources
        .iter()
        .map(|r| (r.rid(), r.links.as_slice()))
        .collect();
    for cycle in link_cycles(&graph) {
        diags.push(Diag {
            severity: Severity::Error,
            section: cycle[0].clone(),
            keyword: None,
            message: format!(
                "link cycle: {} (a resource cannot run both before and after another)",
                cycle.join(" -> ")
            ),
        });
    }
}

/// The cycles among links (`(rid, the rids it is linked to)`, in config order): `a -> b ->
/// a`, or `a -> a`, each once, starting from its first resource. Iterative: a chain of 10,000
/// links is no deeper on the stack than one.
fn link_cycles(graph: &[(&str, &[String])]) -> Vec<Vec<String>> {
    let index: HashMap<&str, usize> = graph
        .iter()
        .enumerate()
        .map(|(i, (rid, _))| (*rid, i))
        .collect();
    let targets = |i: usize| {
        graph[i]
            .1
            .iter()
            .filter_map(|l| index.get(l.as_str()).copied())
            .collect::<Vec<_>>()
    };
    // 0: not seen, 1: on the current path, 2: done.
    let mut state = vec![0u8; graph.len()];
    let mut cycles = Vec::new();
    for start in 0..graph.len() {
        if state[start] != 0 {
            continue;
        }
        // (node, its targets, next target to visit)
        let mut path: Vec<(usize, Vec<usize>, usize)> = vec![(start, targets(start), 0)];
        state[start] = 1;
        while let Some((node, next, at)) = path.last_mut() {
            let Some(&t) = next.get(*at) else {
                state[*node] = 2;
                path.pop();
                continue;
            };
            *at += 1;
            match state[t] {
                0 => {
                    state[t] = 1;
                    path.push((t, targets(t), 0));
                }
                1 => {
                    let from = path.iter().position(|(n, _, _)| *n == t).unwrap_or(0);
                    let mut cycle: Vec<String> = path[from..]
                        .iter()
                        .map(|(n, _, _)| graph[*n].0.to_string())
                        .collect();
                    cycle.push(graph[t].0.to_string());
                    cycles.push(cycle);
                }
                _ => {}
            }
        }
    }
    cycles
}

fn config_links(reg: &Registry, rdef: &ResourceDef) -> Vec<ConfigLink> {
    let Some(entry) = reg.entry_for(rdef.driver.as_deref(), rdef.driver_version.as_deref()) else {
        return Vec::new();
    };
    let links = entry.manifest.keywords.iter().filter(|k| k.link.is_some());
    // Most drivers declare no link keyword: their resources' keywords are not read back.
    if links.clone().next().is_none() {
        return Vec::new();
    }
    let keywords = rdef.keywords.map();
    links
        .filter_map(|k| {
            let group = k.link.as_ref()?;
            let target = keywords.get(&k.name)?.as_str()?;
            (!target.is_empty()).then(|| ConfigLink {
                keyword: k.name.clone(),
                target: target.to_string(),
                group: group.clone(),
            })
        })
        .collect()
}

/// For each rid, the resources whose config links them to it, in config order (`links[i]`
/// are those of `all[i]`). One pass: a search per resource made loading quadratic.
fn linked_by_index(
    all: &[Box<ResourceDef>],
    links: &[Vec<ConfigLink>],
) -> HashMap<String, Vec<LinkedBy>> {
    let mut index: HashMap<String, Vec<LinkedBy>> = HashMap::default();
    for (r, own) in all.iter().zip(links) {
        let mut targets: Vec<&str> = own.iter().map(|l| l.target.as_str()).collect();
        targets.sort_unstable();
        targets.dedup();
        for target in targets {
            index
                .entry(target.to_string())
                .or_default()
                .push(LinkedBy::new(
                    &r.rid,
                    r.driver.as_deref().unwrap_or_default(),
                ));
        }
    }
    index
}

/// The context document of a resource: `base_doc` (the service's part, `base` serialized)
/// when it has nothing of its own, as most resources of a large service; else `base` with
/// its own parts.
fn context_doc<'a>(
    base: &ResourceContext,
    base_doc: &'a str,
    rdef: &ResourceDef,
    linked_by: Vec<LinkedBy>,
) -> Cow<'a, str> {
    if rdef.service_keywords.is_empty()
        && rdef.generic_keywords.is_empty()
        && rdef.props.tags.is_empty()
        && linked_by.is_empty()
    {
        return Cow::Borrowed(base_doc);
    }
    let mut context = base.clone();
    context.service = rdef.service_keywords.map();
    context.generic_keywords = rdef.generic_keywords.map();
    context.linked_by = linked_by;
    context.tags = rdef.props.tags.clone();
    Cow::Owned(serde_json::to_string(&context).unwrap_or_default())
}

/// Create a resource through its driver library.
fn instantiate(reg: &Registry, rdef: &ResourceDef, context: &str) -> Result<Handle, String> {
    // Resolution gives every definition without a problem its driver.
    let entry = reg
        .entry_for(rdef.driver.as_deref(), rdef.driver_version.as_deref())
        .ok_or_else(|| format!("no driver serves {}", rdef.rid))?;
    Handle::create(reg, entry, &rdef.rid, rdef.keywords.json(), context).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use svcmgr_plugin_api::types::{DriverManifest, KeywordSpec, KwType};

    #[test]
    fn link_cycles_are_found_once() {
        let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (a, b, c, d) = (l(&["b"]), l(&["c"]), l(&["a", "x"]), l(&["d"]));
        let graph = [("a", &a[..]), ("b", &b[..]), ("c", &c[..]), ("d", &d[..])];
        assert_eq!(
            link_cycles(&graph),
            [l(&["a", "b", "c", "a"]), l(&["d", "d"])]
        );
        let (e, f) = (l(&["f"]), l(&[]));
        assert!(link_cycles(&[("e", &e[..]), ("f", &f[..])]).is_empty());
    }

    fn registry() -> Registry {
        let kw = |name: &str, link: Option<&str>| {
            let mut k = KeywordSpec::new(name, KwType::String);
            k.link = link.map(String::from);
            k
        };
        let mut netns = DriverManifest::new("ip.netns", "1.0.0");
        netns.keywords = vec![kw("ipdev", None), kw("netns", Some("container"))];
        Registry::of_manifests(vec![netns])
    }

    fn def(rid: &str, group: &str, driver: &str, kw: serde_json::Value) -> Box<ResourceDef> {
        Box::new(ResourceDef {
            rid: rid.into(),
            group: group.into(),
            driver: Some(driver.into()),
            problem: None,
            keywords: kw.as_object().map(Into::into).unwrap_or_default(),
            service_keywords: Default::default(),
            generic_keywords: Default::default(),
            props: Default::default(),
            driver_version: None,
        })
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
        let groups: HashMap<&str, &str> = all
            .iter()
            .map(|r| (r.rid.as_str(), r.group.as_str()))
            .collect();
        assert_eq!(links[1][0].problem(&groups), None);
        assert_eq!(
            links[2][0].problem(&groups).as_deref(),
            Some("ip#1 is not a container resource of this service")
        );
        let index = linked_by_index(&all, &links);
        assert_eq!(index["container#1"], [LinkedBy::new("ip#1", "ip.netns")]);
        assert!(!index.contains_key("ip#3"));
    }
}
