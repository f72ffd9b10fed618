//! From a config and the loaded drivers to typed definitions: which driver serves each
//! section, the converted keyword values a driver receives, the generic properties the host
//! acts on, and every problem found (`validate config` prints them; actions refuse on errors).

use super::ini::Section;
use super::keywords::{self, HostKw};
use super::refs::{Builtins, Expander, RefError};
use super::ServiceConfig;
use crate::drivers::{DriverEntry, Registry, ResolveError};
use crate::hooks::{self, Require, Trigger, When};
use rustc_hash::FxHashMap;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;
use svcmgr_plugin_api::types::{KeywordSpec, KwType};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// One finding, naming the section and (when there is one) the keyword.
#[derive(Debug, Clone, PartialEq)]
pub struct Diag {
    pub severity: Severity,
    pub section: String,
    pub keyword: Option<String>,
    pub message: String,
}

impl Diag {
    /// `error: <file>: [<section>] <keyword>: <message>`
    pub fn render(&self, file: &Path) -> String {
        let level = self.severity;
        match &self.keyword {
            Some(k) => format!(
                "{level}: {}: [{}] {k}: {}",
                file.display(),
                self.section,
                self.message
            ),
            None => format!(
                "{level}: {}: [{}] {}",
                file.display(),
                self.section,
                self.message
            ),
        }
    }
}

/// What a driver call gets when no keyword sets its timeout (OpenSVC's defaults): an action
/// verb one hour, a status one minute.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3600);
pub const DEFAULT_STATUS_TIMEOUT: Duration = Duration::from_secs(60);

/// The verbs with a timeout keyword of their own.
const TIMED_VERBS: [(&str, &str); 5] = [
    ("start", "start_timeout"),
    ("stop", "stop_timeout"),
    ("provision", "provision_timeout"),
    ("unprovision", "unprovision_timeout"),
    ("status", "status_timeout"),
];

/// Per-verb timeouts; unset ones fall back to `timeout`, then to the `[DEFAULT]` ones (and
/// the calls to [`DEFAULT_TIMEOUT`], [`DEFAULT_STATUS_TIMEOUT`] for `status`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeouts {
    pub by_verb: BTreeMap<String, Duration>,
    pub any: Option<Duration>,
}

impl Timeouts {
    /// The timeout the configuration sets for `verb`, if any (see
    /// `drivers::handle::Deadline::for_verb` for the defaults).
    pub fn configured(&self, verb: &str) -> Option<Duration> {
        self.by_verb.get(verb).copied().or(self.any)
    }

    fn or(mut self, fallback: &Timeouts) -> Timeouts {
        for (verb, d) in &fallback.by_verb {
            self.by_verb.entry(verb.clone()).or_insert(*d);
        }
        if self.any.is_none() {
            self.any = fallback.any;
        }
        self
    }
}

/// Generic properties of a resource, handled by the host for every driver.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Props {
    pub disable: bool,
    pub optional: bool,
    pub standby: bool,
    pub monitor: bool,
    pub restart: i64,
    pub tags: Vec<String>,
    pub subset: Option<String>,
    pub timeouts: Timeouts,
    pub provision: bool,
    pub unprovision: bool,
    /// Every trigger, grouped by verb, each verb's in running order.
    pub triggers: Vec<Trigger>,
    /// `<verb>_requires`, by verb.
    pub requires: BTreeMap<String, Vec<Require>>,
}

impl Props {
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }

    /// The triggers of `verb` that run at `when`, in order.
    pub fn triggers<'a>(&'a self, verb: &'a str, when: When) -> impl Iterator<Item = &'a Trigger> {
        self.triggers
            .iter()
            .filter(move |t| t.verb == verb && t.when == when)
    }

    /// The requirements checked before `verb`.
    pub fn requires(&self, verb: &str) -> &[Require] {
        self.requires.get(verb).map(Vec::as_slice).unwrap_or(&[])
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResourceDef {
    pub rid: String,
    /// The driver group (`disk` for `[vg#1]`).
    pub group: String,
    /// The driver id, when one serves the section.
    pub driver: Option<String>,
    /// Why the resource cannot be acted on (unknown driver, invalid values).
    pub problem: Option<String>,
    /// Driver keywords, converted, defaults filled in.
    pub keywords: Keywords,
    /// The `[DEFAULT]` keywords the driver declared, converted.
    pub service_keywords: Keywords,
    pub props: Props,
    /// The generic keywords explicitly set in the section, converted (passed to the driver).
    pub generic_keywords: Keywords,
    /// The driver's version chosen for this resource (pinned, or the newest installed).
    pub driver_version: Option<String>,
}

/// Converted keywords of a resource (its driver's, defaults filled in; the `[DEFAULT]` ones
/// of its driver; the generic ones its section sets), as the JSON object its driver receives,
/// kept as that text. As maps of `Value`s they took half a kilobyte per resource (a large
/// service holds thousands), to be serialised into this text anyway. None is empty text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Keywords(Box<str>);

impl Keywords {
    /// The keywords of `pairs` (name, value), in that order, written in `scratch` first (a
    /// buffer reused from one resource to the next: the text is then allocated once, at its
    /// size).
    pub fn of<'k>(
        pairs: impl IntoIterator<Item = (&'k str, &'k Value)>,
        scratch: &mut Vec<u8>,
    ) -> Keywords {
        scratch.clear();
        scratch.push(b'{');
        for (name, value) in pairs {
            if scratch.len() > 1 {
                scratch.push(b',');
            }
            // Writing a string or a `Value` into a vector cannot fail.
            let _ = serde_json::to_writer(&mut *scratch, name);
            scratch.push(b':');
            let _ = serde_json::to_writer(&mut *scratch, value);
        }
        if scratch.len() == 1 {
            return Keywords::default();
        }
        scratch.push(b'}');
        // serde_json writes UTF-8.
        Keywords(std::str::from_utf8(scratch).unwrap_or("{}").into())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The JSON object.
    pub fn json(&self) -> &str {
        match &*self.0 {
            "" => "{}",
            text => text,
        }
    }

    /// The keywords as a map.
    pub fn map(&self) -> Map<String, Value> {
        serde_json::from_str(self.json()).unwrap_or_default()
    }

    /// One keyword's value.
    pub fn get(&self, name: &str) -> Option<Value> {
        self.map().remove(name)
    }
}

// Unit tests build definitions from maps.
#[cfg(test)]
impl From<&Map<String, Value>> for Keywords {
    fn from(map: &Map<String, Value>) -> Keywords {
        Keywords::of(map.iter().map(|(k, v)| (k.as_str(), v)), &mut Vec::new())
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceDef {
    pub id: String,
    pub rollback: bool,
    pub disable: bool,
    pub lock_timeout: Option<Duration>,
    /// `DEFAULT.nodes`, and the DRP nodes (`drpnode`, `drpnodes`): where the service may act.
    pub nodes: Vec<String>,
    pub drpnodes: Vec<String>,
    pub resources: Vec<Box<ResourceDef>>,
    /// `<group>:<subset>` → parallel.
    pub subsets: BTreeMap<String, bool>,
}

/// Resolve a whole config. Diagnostics come in file order.
pub fn resolve<'a>(
    cfg: &'a ServiceConfig,
    reg: &'a Registry,
    node: &str,
    var: &str,
) -> (ServiceDef, Vec<Diag>) {
    let builtins = Builtins {
        svcname: &cfg.name,
        nodename: node,
        var,
        id: cfg.id(),
    };
    let mut r = Reader {
        cfg,
        refs: Expander::new(cfg, &builtins),
        diags: Vec::new(),
        errors: 0,
        loops: HashSet::new(),
        last_section: None,
        present: Vec::new(),
        holds_host: None,
        defaults: FxHashMap::default(),
        service_cache: FxHashMap::default(),
        pins: None,
        driver_specs: FxHashMap::default(),
        last_driver: None,
        scratch: Vec::new(),
    };
    let mut def = ServiceDef {
        id: cfg.id().to_string(),
        rollback: true,
        // Sized once: grown by doubling, the definitions of 10,000 resources were copied
        // over and over into ever larger buffers, each new page a fault.
        resources: Vec::with_capacity(cfg.doc.sections().len()),
        ..Default::default()
    };
    let default_timeouts = r.service(reg, &mut def);
    for section in cfg.doc.sections() {
        let name = section.name.as_str();
        if name == "env" {
            r.env();
            continue;
        }
        if name == "DEFAULT" || name == "labels" || name == "data" {
            continue;
        }
        if let Some(spec) = name.strip_prefix("subset#") {
            r.subset(name, spec, &mut def);
        } else if name.contains('#') {
            if let Err(why) = crate::rid::check(name) {
                // Never a resource: its name would become paths.
                r.diag(Severity::Error, name, None, why);
                continue;
            }
            let mut res = r.resource(reg, name, &default_timeouts);
            // DEFAULT.disable disables the whole service.
            res.props.disable |= def.disable;
            def.resources.push(Box::new(res));
        } else {
            r.diag(
                Severity::Error,
                name,
                None,
                "unknown section (expected DEFAULT, env, subset#<group>:<name> or <group>#<index>)"
                    .into(),
            );
        }
    }
    (def, r.diags)
}

struct Reader<'a> {
    cfg: &'a ServiceConfig,
    refs: Expander<'a>,
    diags: Vec<Diag>,
    /// How many of `diags` are errors (counted, not recounted: that was quadratic).
    errors: usize,
    /// The reference loops reported, each as its set of keywords.
    loops: HashSet<BTreeSet<String>>,
    last_section: Option<&'a Section>,
    /// The keys of `last_section`, without their `@scope`. A section holds a few keys and
    /// most of the keywords read from it are unset: checking these first spares the unset
    /// ones their scoped lookup and conversion (some thirty per resource section).
    present: Vec<&'a str>,
    /// Whether `last_section` holds a keyword of a host table (by address), once asked:
    /// most resource sections set none of the generic keywords, read one by one otherwise.
    holds_host: Option<(usize, bool)>,
    /// Converted driver defaults, by keyword spec (address).
    defaults: FxHashMap<usize, Option<Value>>,
    /// Driver id → its `[DEFAULT]` keyword values and whether one was invalid.
    service_cache: FxHashMap<String, (Keywords, bool)>,
    /// `[DEFAULT] drivers`, parsed once (every resource without a pin of its own reads it).
    pins: Option<Result<BTreeMap<String, semver::VersionReq>, String>>,
    /// By driver entry (address): its keywords a resource section sets, those the host
    /// does not handle itself. Sorted out once per driver, not once per resource.
    driver_specs: FxHashMap<usize, Rc<[&'a KeywordSpec]>>,
    /// The driver the last resource section resolved to, by its rid prefix and `type`:
    /// the sections of a service mostly come in runs of one driver.
    last_driver: Option<(&'a str, Option<String>, &'a DriverEntry)>,
    /// Where each resource's [`Keywords`] are written first.
    scratch: Vec<u8>,
}

/// A problem already reported as a diagnostic.
struct Reported;

impl<'a> Reader<'a> {
    fn diag(&mut self, severity: Severity, section: &str, keyword: Option<&str>, message: String) {
        self.errors += usize::from(severity == Severity::Error);
        self.diags.push(Diag {
            severity,
            section: section.into(),
            keyword: keyword.map(String::from),
            message,
        });
    }

    /// The scoped, unexpanded text of the first of `names` that is set, with the key that set
    /// it (None: none is). `names` are a keyword's spellings, an iterator so that reading one
    /// allocates nothing.
    fn raw_text<N: AsRef<str>>(
        &mut self,
        section: &str,
        names: impl IntoIterator<Item = N>,
    ) -> Option<(String, &'a str)> {
        let s = self.section(section)?;
        let cfg: &'a ServiceConfig = self.cfg;
        names.into_iter().find_map(|n| {
            // Most keywords read are unset: the section's keys tell, without a scoped lookup.
            if !self.present.contains(&n.as_ref()) {
                return None;
            }
            cfg.raw_scoped_in(s, n.as_ref(), self.refs.b.nodename)
                .map(|v| (n.as_ref().to_string(), v))
        })
    }

    /// The expanded, scoped text of the first of `names` that is set (None: none is).
    /// An expansion error (a reference loop) is reported here, once, and is `Err(Reported)`.
    fn raw<N: AsRef<str>>(
        &mut self,
        section: &str,
        names: impl IntoIterator<Item = N>,
    ) -> Result<Option<(String, String)>, Reported> {
        let Some((key, raw)) = self.raw_text(section, names) else {
            return Ok(None);
        };
        match self.refs.expand(section, &key, raw) {
            Ok(v) => Ok(Some((key, v))),
            Err(e) => Err(self.report_ref(section, &key, e)),
        }
    }

    /// Report an expansion error against `section.key`; a loop met from several keywords is
    /// reported once.
    fn report_ref(&mut self, section: &str, key: &str, e: RefError) -> Reported {
        let first_report = e.cycle().is_none_or(|cycle| {
            self.loops
                .insert(cycle.into_iter().map(String::from).collect())
        });
        if first_report {
            self.diag(Severity::Error, section, Some(key), e.to_string());
        }
        Reported
    }

    /// `raw` of `section.key`, expanded and converted to `kind` ([`expand_value`]); an
    /// error is reported.
    fn convert(
        &mut self,
        section: &str,
        key: &str,
        raw: &str,
        kind: KwType,
    ) -> Result<Value, Reported> {
        expand_value(&self.refs, section, key, raw, kind).map_err(|e| match e {
            ValueError::Ref(e) => self.report_ref(section, key, e),
            ValueError::Invalid(why) => {
                self.diag(Severity::Error, section, Some(key), why);
                Reported
            }
        })
    }

    /// A section by name; the last one found is kept, as a resource's keywords are read in a
    /// row.
    fn section(&mut self, name: &str) -> Option<&'a Section> {
        // Callers mostly pass the section's own name: the same text, told without comparing
        // it (this runs for every keyword read).
        let same = |s: &&Section| std::ptr::eq(s.name.as_str(), name) || s.name == name;
        if let Some(s) = self.last_section.filter(same) {
            return Some(s);
        }
        let cfg: &'a ServiceConfig = self.cfg;
        let s = cfg.doc.section(name)?;
        self.last_section = Some(s);
        self.present.clear();
        self.present.extend(
            s.entries()
                .map(|(k, _)| k.split_once('@').map_or(k, |(b, _)| b)),
        );
        self.holds_host = None;
        Some(s)
    }

    /// Whether `section` holds a keyword of host table `table` (by any spelling).
    fn holds_any(&mut self, section: &str, table: &'static [HostKw]) -> bool {
        if self.section(section).is_none() {
            return false;
        }
        let key = table.as_ptr() as usize;
        match self.holds_host {
            Some((k, holds)) if k == key => holds,
            _ => {
                let holds = (self.present.iter()).any(|p| keywords::find(table, p).is_some());
                self.holds_host = Some((key, holds));
                holds
            }
        }
    }

    /// A driver keyword's default, converted once per keyword.
    fn default_of(&mut self, spec: &KeywordSpec) -> Option<Value> {
        // Most keywords have none: nothing to look up.
        spec.default.as_ref()?;
        // Keyed by address: the registry's specs outlive the reader.
        let key = spec as *const KeywordSpec as usize;
        self.defaults
            .entry(key)
            .or_insert_with(|| match &spec.default {
                Some(Value::String(raw)) => spec.kind.convert(raw).ok(),
                other => other.clone(),
            })
            .clone()
    }

    /// A converted value; a conversion error is reported against the keyword.
    fn typed<N: AsRef<str>>(
        &mut self,
        section: &str,
        names: impl IntoIterator<Item = N>,
        kind: KwType,
    ) -> Result<Option<Value>, Reported> {
        let Some((key, raw)) = self.raw_text(section, names) else {
            return Ok(None);
        };
        self.convert(section, &key, raw, kind).map(Some)
    }

    fn host_value(&mut self, section: &str, table: &'static [HostKw], name: &str) -> Option<Value> {
        if !self.holds_any(section, table) {
            return None;
        }
        let (k, _) = keywords::find(table, name)?;
        let names = std::iter::once(k.name).chain(k.aliases.iter().copied());
        self.typed(section, names, k.kind).ok().flatten()
    }

    fn host_bool(
        &mut self,
        section: &str,
        table: &'static [HostKw],
        name: &str,
        default: bool,
    ) -> bool {
        self.host_value(section, table, name)
            .and_then(|v| v.as_bool())
            .unwrap_or(default)
    }

    fn timeouts(&mut self, section: &str, table: &'static [HostKw]) -> Timeouts {
        let mut t = Timeouts::default();
        // Most sections set no keyword of the table: none of the six is asked for.
        if !self.holds_any(section, table) {
            return t;
        }
        for (verb, keyword) in TIMED_VERBS {
            if let Some(ms) = self
                .host_value(section, table, keyword)
                .and_then(|v| v.as_u64())
            {
                t.by_verb.insert(verb.into(), Duration::from_millis(ms));
            }
        }
        t.any = self
            .host_value(section, table, "timeout")
            .and_then(|v| v.as_u64())
            .map(Duration::from_millis);
        t
    }

    /// Check every key of a section against the keywords it may hold: unknown, legacy and
    /// ignored keywords, two spellings of one keyword, a key set twice (naming both lines),
    /// and the values that this node does not read (`key` hidden by `key@<node>`, or
    /// `key@<other node>`), which another node would.
    /// `unknown` words the error of an unknown keyword (built only when one is met).
    fn check_keys(
        &mut self,
        section: &str,
        known: &dyn Fn(&str) -> KeyClass,
        unknown: &dyn Fn() -> String,
    ) {
        // The config outlives the reader: its keys need no copy while diagnostics are added.
        let cfg = self.cfg;
        let Some(s) = cfg.doc.section(section) else {
            return;
        };
        // (keyword, scope, key that set it, its line): two spellings of one keyword
        // contradict, one key twice is ambiguous. A section holds a few keys: a list is
        // cheaper than a map.
        let mut spelled: Vec<(std::borrow::Cow<'_, str>, Option<&str>, &str, usize)> = Vec::new();
        // Keys whose value this node does not read, with their type: checked below.
        let mut unread: Vec<(&str, &str, KwType)> = Vec::new();
        let scoped = s.entries().any(|(k, _)| k.contains('@'));
        for ((key, value), (_, line)) in s.entries().zip(s.entry_lines()) {
            let (base, scope) = match key.split_once('@') {
                Some((b, s)) => (b, Some(s)),
                None => (key, None),
            };
            let class = known(base);
            let keyword: std::borrow::Cow<'_, str> = match &class {
                KeyClass::Legacy(modern, _) => modern.clone().into(),
                _ => base.into(),
            };
            let other = spelled
                .iter()
                .find(|(k, s, _, _)| *k == keyword && *s == scope)
                .map(|(_, _, other, other_line)| (*other, *other_line));
            spelled.push((keyword.clone(), scope, key, line));
            match other {
                Some((other, other_line)) if other == key => self.diag(
                    Severity::Error,
                    section,
                    Some(key),
                    format!("set twice, on lines {other_line} and {line}: only the first is read"),
                ),
                Some((other, _)) => self.diag(
                    Severity::Warning,
                    section,
                    Some(key),
                    format!(
                        "'{other}' is set too: two spellings of '{keyword}', of which \
                         only one is read"
                    ),
                ),
                None => {}
            }
            let kind = match &class {
                KeyClass::Known(kind) => *kind,
                KeyClass::Legacy(_, kind) => Some(*kind),
                _ => None,
            };
            if let Some(kind) = kind.filter(|_| scoped) {
                let read = cfg.scoped_in(s, base, self.refs.b.nodename).map(|(k, _)| k);
                if read != Some(key) {
                    unread.push((key, value, kind));
                }
            }
            match class {
                KeyClass::Known(_) => {}
                KeyClass::Legacy(modern, _) => self.diag(
                    Severity::Warning,
                    section,
                    Some(key),
                    format!("legacy keyword, use '{modern}'"),
                ),
                KeyClass::Ignored => self.diag(
                    Severity::Warning,
                    section,
                    Some(key),
                    "accepted for compatibility, has no effect".into(),
                ),
                KeyClass::Unknown => self.diag(Severity::Error, section, Some(key), unknown()),
            }
        }
        for (key, value, kind) in unread {
            let _ = self.convert(section, key, value, kind);
        }
    }

    fn service(&mut self, reg: &Registry, def: &mut ServiceDef) -> Timeouts {
        let driver_kws: Vec<KeywordSpec> = reg
            .entries()
            .flat_map(|d| d.manifest.service_keywords.clone())
            .collect();
        self.check_keys(
            "DEFAULT",
            &|key| match keywords::find(keywords::SERVICE, key) {
                Some((k, _)) if k.ignored => KeyClass::Ignored,
                Some((k, true)) => KeyClass::Legacy(k.name.to_string(), k.kind),
                Some((k, false)) => KeyClass::Known(Some(k.kind)),
                None => classify_spec(&driver_kws, key),
            },
            &|| "unknown keyword".into(),
        );
        if self
            .cfg
            .doc
            .get("DEFAULT", "id")
            .is_some_and(|id| id.trim().is_empty())
        {
            self.diag(
                Severity::Error,
                "DEFAULT",
                Some("id"),
                "empty (unset it: 'create' makes one; a service id is a UUID)".into(),
            );
        }
        if let Err(e) = self.pins() {
            let e = e.clone();
            self.diag(Severity::Error, "DEFAULT", Some("drivers"), e);
        }
        def.rollback = self.host_bool("DEFAULT", keywords::SERVICE, "rollback", true);
        def.disable = self.host_bool("DEFAULT", keywords::SERVICE, "disable", false);
        def.lock_timeout = self
            .host_value("DEFAULT", keywords::SERVICE, "lock_timeout")
            .and_then(|v| v.as_u64())
            .map(Duration::from_millis);
        let mut words = |name: &str| words(self.host_value("DEFAULT", keywords::SERVICE, name));
        def.nodes = words("nodes");
        def.drpnodes = words("drpnode");
        def.drpnodes.extend(words("drpnodes"));
        self.timeouts("DEFAULT", keywords::SERVICE)
    }

    /// Expand every `[env]` value, so that a reference loop confined to `[env]` is reported
    /// even when nothing else refers to it.
    fn env(&mut self) {
        let cfg = self.cfg;
        let Some(s) = cfg.doc.section("env") else {
            return;
        };
        let mut seen = HashSet::new();
        for (key, _) in s.entries() {
            let base = key.split_once('@').map_or(key, |(b, _)| b);
            if seen.insert(base) {
                let _ = self.raw("env", [base]);
            }
        }
    }

    fn subset(&mut self, section: &str, spec: &str, def: &mut ServiceDef) {
        let Some((group_type, name)) = spec.split_once(':') else {
            self.diag(
                Severity::Error,
                section,
                None,
                "subset sections are named subset#<group>:<subset>".into(),
            );
            return;
        };
        let group = match group_type.split_once('.') {
            Some((g, _)) => {
                self.diag(
                    Severity::Warning,
                    section,
                    None,
                    format!("legacy section name, use [subset#{g}:{name}]"),
                );
                g
            }
            None => group_type,
        };
        self.check_keys(
            section,
            &|key| match keywords::find(keywords::SUBSET, key) {
                Some((k, _)) => KeyClass::Known(Some(k.kind)),
                None => KeyClass::Unknown,
            },
            &|| "unknown keyword (subset sections take 'parallel')".into(),
        );
        let parallel = self.host_bool(section, keywords::SUBSET, "parallel", false);
        def.subsets.insert(format!("{group}:{name}"), parallel);
    }

    /// A resource section; one that has errors keeps them as its `problem`.
    fn resource(&mut self, reg: &'a Registry, rid: &'a str, defaults: &Timeouts) -> ResourceDef {
        let first_diag = self.diags.len();
        let prefix = crate::rid::prefix(rid);
        let type_name = self.raw(rid, ["type"]).ok().flatten().map(|(_, v)| v);
        let has_type = type_name.is_some();
        let entry = match self.driver_of(reg, prefix, type_name) {
            Ok(e) => Some(e),
            Err(e) => {
                let names_type = has_type && !matches!(e, ResolveError::UnknownGroup(_));
                self.diag(
                    Severity::Error,
                    rid,
                    names_type.then_some("type"),
                    e.to_string(),
                );
                None
            }
        };
        // The version: pinned by the section or `[DEFAULT] drivers`, else the newest.
        let (entry, pin_problem) = match entry.map(|e| self.pinned_version(reg, rid, e)) {
            Some(Err(why)) => (entry, why),
            Some(Ok(pinned)) => (Some(pinned), None),
            None => (None, None),
        };
        if let Some(e) = entry.filter(|e| e.manifest.group() != prefix) {
            self.diag(
                Severity::Warning,
                rid,
                None,
                format!(
                    "legacy section name, use [{}#{}] with type = {}",
                    e.manifest.group(),
                    crate::rid::index(rid),
                    e.manifest.type_name()
                ),
            );
        }
        let driver_kws: &[KeywordSpec] = entry.map_or(&[], |e| &e.manifest.keywords);
        let own_kws = entry.map_or_else(|| Rc::from([]), |e| self.own_keywords(e));
        // Without a driver, only generic keywords can be judged.
        let has_driver = entry.is_some();
        self.check_keys(
            rid,
            &|key| match keywords::find(keywords::RESOURCE, key) {
                Some((k, _)) => KeyClass::Known(Some(k.kind)),
                None if !has_driver => KeyClass::Known(None),
                None => classify_spec(driver_kws, key),
            },
            &|| match entry {
                Some(e) => format!("unknown keyword (driver {})", e.manifest.id),
                None => "unknown keyword".into(),
            },
        );
        let props = self.props(rid, defaults);
        let generic_keywords = Keywords::of(
            self.explicit_generic(rid)
                .iter()
                .map(|(k, v)| (k.as_str(), v)),
            &mut self.scratch,
        );
        let mut values = Vec::with_capacity(own_kws.len());
        // The section is the one read last (`props`): its keys tell which keywords are set.
        self.section(rid);
        for spec in own_kws.iter() {
            let names = std::iter::once(&spec.name).chain(&spec.aliases);
            let value = match names.clone().any(|n| self.present.contains(&n.as_str())) {
                true => self.driver_value(rid, spec),
                // Most are unset: their default, without a lookup.
                false => self.unset_value(rid, spec),
            };
            if let Some(v) = value {
                values.push((spec.name.as_str(), v));
            }
        }
        let keywords = Keywords::of(values.iter().map(|(k, v)| (*k, v)), &mut self.scratch);
        let (service_keywords, service_invalid) = match entry {
            Some(e) => self.service_keywords(e),
            None => (Keywords::default(), false),
        };
        // Why the resource cannot act: its own errors (shown by `print status`), and a
        // `[DEFAULT] drivers` pin of its driver that nothing satisfies.
        let reasons: Vec<String> = self.diags[first_diag..]
            .iter()
            .filter(|d| d.severity == Severity::Error && d.section == rid)
            .map(|d| match &d.keyword {
                Some(k) => format!("{k}: {}", d.message),
                None => d.message.clone(),
            })
            .chain(pin_problem)
            .collect();
        let problem = if !reasons.is_empty() {
            Some(reasons.join("; "))
        } else {
            service_invalid.then(|| {
                "a [DEFAULT] keyword of its driver is invalid (see validate config)".to_string()
            })
        };
        ResourceDef {
            rid: rid.to_string(),
            group: entry
                .map(|e| e.manifest.group().to_string())
                .unwrap_or_else(|| prefix.to_string()),
            driver: entry.map(|e| e.manifest.id.clone()),
            driver_version: entry.map(|e| e.manifest.version.clone()),
            problem,
            keywords,
            service_keywords,
            props,
            generic_keywords,
        }
    }

    /// The driver serving sections of rid prefix `prefix` and `type` `type_name`
    /// ([`Registry::resolve`], remembered for the next section).
    fn driver_of(
        &mut self,
        reg: &'a Registry,
        prefix: &'a str,
        type_name: Option<String>,
    ) -> Result<&'a DriverEntry, ResolveError> {
        if let Some((_, _, entry)) = self
            .last_driver
            .as_ref()
            .filter(|(p, t, _)| *p == prefix && *t == type_name)
        {
            return Ok(entry);
        }
        let entry = reg.resolve(prefix, type_name.as_deref())?;
        self.last_driver = Some((prefix, type_name, entry));
        Ok(entry)
    }

    /// The keywords of `entry`'s driver that a resource section sets: all but those the
    /// host handles itself (a driver declaring one of those does not get it).
    fn own_keywords(&mut self, entry: &'a DriverEntry) -> Rc<[&'a KeywordSpec]> {
        let key = entry as *const DriverEntry as usize;
        self.driver_specs
            .entry(key)
            .or_insert_with(|| {
                entry
                    .manifest
                    .keywords
                    .iter()
                    .filter(|spec| keywords::find(keywords::RESOURCE, &spec.name).is_none())
                    .collect()
            })
            .clone()
    }

    /// `[DEFAULT] drivers`: driver id → version requirement.
    fn pins(&mut self) -> &Result<BTreeMap<String, semver::VersionReq>, String> {
        let (cfg, node) = (self.cfg, self.refs.b.nodename);
        self.pins.get_or_insert_with(|| {
            let words: Vec<String> = cfg
                .raw_scoped("DEFAULT", "drivers", node)
                .map(|t| t.split_whitespace().map(String::from).collect())
                .unwrap_or_default();
            crate::drivers::parse_pins(&words)
        })
    }

    /// The version of `entry`'s driver a resource uses: its `driver_version`, else the one
    /// `[DEFAULT] drivers` names, else the newest. An unsatisfied pin is reported, in the
    /// section that pins; the error carries the reason when that section is `[DEFAULT]` (the
    /// resource's own diagnostics do not hold it).
    fn pinned_version<'r>(
        &mut self,
        reg: &'r Registry,
        rid: &str,
        entry: &'r DriverEntry,
    ) -> Result<&'r DriverEntry, Option<String>> {
        let id = &entry.manifest.id;
        let (section, keyword, req) = match self.raw(rid, ["driver_version"]) {
            Ok(Some((_, text))) => match crate::drivers::parse_req(&text) {
                Ok(req) => (rid.to_string(), "driver_version", req),
                Err(e) => {
                    self.diag(Severity::Error, rid, Some("driver_version"), e);
                    return Err(None);
                }
            },
            Err(Reported) => return Err(None),
            Ok(None) => match self.pins().as_ref().ok().and_then(|p| p.get(id).cloned()) {
                Some(req) => ("DEFAULT".to_string(), "drivers", req),
                None => return Ok(entry),
            },
        };
        reg.choose(id, &req).map_err(|e| {
            let diag = Diag {
                severity: Severity::Error,
                section: section.clone(),
                keyword: Some(keyword.into()),
                message: e.clone(),
            };
            if !self.diags.contains(&diag) {
                self.diags.push(diag);
            }
            (section != rid).then(|| format!("{keyword}: {e}"))
        })
    }

    /// The generic keywords explicitly set in a section, converted. Invalid values are left
    /// out: `props` has reported them.
    fn explicit_generic(&mut self, section: &str) -> Map<String, Value> {
        // Most sections set none: then the table is not gone through.
        if !self.holds_any(section, keywords::RESOURCE) {
            return Map::new();
        }
        let present = &self.present;
        keywords::RESOURCE
            .iter()
            .filter(|k| {
                std::iter::once(&k.name)
                    .chain(k.aliases)
                    .any(|n| present.contains(n))
            })
            .filter_map(|k| {
                let (key, raw) = std::iter::once(&k.name).chain(k.aliases).find_map(|n| {
                    Some((*n, self.cfg.raw_scoped(section, n, self.refs.b.nodename)?))
                })?;
                let value = expand_value(&self.refs, section, key, raw, k.kind).ok()?;
                Some((k.name.to_string(), value))
            })
            .collect()
    }

    /// The `[DEFAULT]` keywords a driver declared, and whether one of them is invalid. Read
    /// once per driver, so that a problem with one is reported once, not once per resource.
    fn service_keywords(&mut self, entry: &DriverEntry) -> (Keywords, bool) {
        if let Some(cached) = self.service_cache.get(&entry.manifest.id) {
            return cached.clone();
        }
        let before = self.error_count();
        let mut values = Vec::new();
        for spec in &entry.manifest.service_keywords {
            if let Some(v) = self.driver_value("DEFAULT", spec) {
                values.push((spec.name.as_str(), v));
            }
        }
        let values = Keywords::of(values.iter().map(|(k, v)| (*k, v)), &mut self.scratch);
        let read = (values, self.error_count() > before);
        self.service_cache
            .insert(entry.manifest.id.clone(), read.clone());
        read
    }

    fn error_count(&self) -> usize {
        self.diags
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    fn props(&mut self, rid: &str, defaults: &Timeouts) -> Props {
        let t = keywords::RESOURCE;
        let tags = words(self.host_value(rid, t, "tags"));
        // A `noaction` resource is never acted on: optional unless said otherwise.
        let noaction = tags.iter().any(|t| t == "noaction");
        let (triggers, requires) = self.hooks(rid);
        Props {
            disable: self.host_bool(rid, t, "disable", false),
            optional: self.host_bool(rid, t, "optional", noaction),
            standby: self.host_bool(rid, t, "standby", false),
            monitor: self.host_bool(rid, t, "monitor", false),
            restart: self
                .host_value(rid, t, "restart")
                .and_then(|v| v.as_i64())
                .unwrap_or(0),
            tags,
            subset: self
                .host_value(rid, t, "subset")
                .and_then(|v| v.as_str().map(String::from)),
            timeouts: self.timeouts(rid, t).or(defaults),
            provision: self.host_bool(rid, t, "provision", true),
            unprovision: self.host_bool(rid, t, "unprovision", true),
            triggers,
            requires,
        }
    }

    /// The keywords a section holds, without their `@scope`.
    fn present_keys(&mut self, section: &str) -> &[&'a str] {
        match self.section(section) {
            Some(_) => &self.present,
            None => &[],
        }
    }

    /// The triggers and requirements of a resource section. Only the keywords the section
    /// holds are looked up: most sections have none.
    fn hooks(&mut self, rid: &str) -> (Vec<Trigger>, BTreeMap<String, Vec<Require>>) {
        let t = keywords::RESOURCE;
        let present: Vec<&str> = (self.present_keys(rid).iter().copied())
            .filter(|k| k.contains("pre_") || k.contains("post_") || k.ends_with("_requires"))
            .collect();
        let mut triggers = Vec::new();
        let mut requires = BTreeMap::new();
        if present.is_empty() {
            return (triggers, requires);
        }
        for verb in hooks::VERBS {
            for when in [When::Pre, When::Post] {
                for (keyword, blocking) in hooks::trigger_keywords(verb, when) {
                    if !present.contains(&keyword.as_str()) {
                        continue;
                    }
                    let argv = words(self.host_value(rid, t, &keyword));
                    if !argv.is_empty() {
                        triggers.push(Trigger {
                            keyword,
                            verb: verb.to_string(),
                            when,
                            blocking,
                            argv,
                        });
                    }
                }
            }
            let keyword = format!("{verb}_requires");
            if !present.contains(&keyword.as_str()) {
                continue;
            }
            let text = self.host_value(rid, t, &keyword);
            match hooks::parse_requires(text.as_ref().and_then(Value::as_str).unwrap_or("")) {
                Ok(list) => {
                    requires.insert(verb.to_string(), list);
                }
                Err(e) => self.diag(Severity::Error, rid, Some(&keyword), e),
            }
        }
        (triggers, requires)
    }

    /// What a driver keyword the section does not set gets: its default; a required one is
    /// an error.
    fn unset_value(&mut self, section: &str, spec: &KeywordSpec) -> Option<Value> {
        if spec.required {
            self.diag(
                Severity::Error,
                section,
                Some(&spec.name),
                "missing required keyword".into(),
            );
        }
        self.default_of(spec)
    }

    fn driver_value(&mut self, section: &str, spec: &KeywordSpec) -> Option<Value> {
        let names = std::iter::once(&spec.name).chain(&spec.aliases);
        let value = match self.typed(section, names, spec.kind) {
            Ok(Some(v)) => v,
            Err(Reported) => return None,
            Ok(None) => return self.unset_value(section, spec),
        };
        if let (Some(cands), Some(text)) = (&spec.candidates, value.as_str()) {
            if !cands.iter().any(|c| c == text) {
                self.diag(
                    Severity::Error,
                    section,
                    Some(&spec.name),
                    format!("value '{text}' is not one of: {}", cands.join(", ")),
                );
            }
        }
        Some(value)
    }
}

/// The words of a `list` or `shlex` value.
fn words(v: Option<Value>) -> Vec<String> {
    v.and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

/// Why a value could not be read as its keyword's type.
enum ValueError {
    /// A reference in it does not expand (a loop, an unknown keyword).
    Ref(RefError),
    /// The expanded text is not of the type.
    Invalid(String),
}

/// `raw`, the value of `section.key`, expanded and converted to `kind`. Shell words are split
/// first and their references expanded inside each word: a substituted value is never split
/// again (decisions §4; a caller's environment cannot add words to a command).
fn expand_value(
    refs: &Expander<'_>,
    section: &str,
    key: &str,
    raw: &str,
    kind: KwType,
) -> Result<Value, ValueError> {
    match kind {
        KwType::Shlex => {
            let words = match is_one_word(raw) {
                true => vec![raw.to_string()],
                false => shell_words::split(raw).map_err(|e| {
                    ValueError::Invalid(format!("'{raw}' is not valid shell words: {e}"))
                })?,
            };
            let words = refs
                .expand_words(section, key, words)
                .map_err(ValueError::Ref)?;
            Ok(Value::from(words))
        }
        kind => {
            let text = refs.expand(section, key, raw).map_err(ValueError::Ref)?;
            kind.convert(&text).map_err(ValueError::Invalid)
        }
    }
}

/// Whether shell words splitting leaves `raw` as it is, one word: it holds no blank, quote,
/// backslash or comment sign (most values, split for each of thousands of resources).
fn is_one_word(raw: &str) -> bool {
    !raw.is_empty()
        && !raw
            .bytes()
            .any(|b| b.is_ascii_whitespace() || matches!(b, b'\'' | b'"' | b'\\' | b'#'))
}

/// What a key of a section is, with its type when known.
enum KeyClass {
    Known(Option<KwType>),
    Legacy(String, KwType),
    Ignored,
    Unknown,
}

fn classify_spec(specs: &[KeywordSpec], key: &str) -> KeyClass {
    for s in specs {
        if s.name == key {
            return KeyClass::Known(Some(s.kind));
        }
        if s.aliases.iter().any(|a| a == key) {
            return KeyClass::Legacy(s.name.clone(), s.kind);
        }
    }
    KeyClass::Unknown
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use svcmgr_plugin_api::types::DriverManifest;

    fn resolve_text(text: &str) -> (ServiceDef, Vec<Diag>) {
        let mut simple = DriverManifest::new("app.simple", "1.0.0");
        simple.default_for_group = true;
        let mut newer = simple.clone();
        newer.version = "2.0.0".into();
        let reg = Registry::of_manifests(vec![simple, newer]);
        let cfg = ServiceConfig {
            name: "s".into(),
            path: "s.conf".into(),
            doc: super::super::ini::Document::parse(text).unwrap(),
        };
        resolve(&cfg, &reg, "node1", "/var")
    }

    proptest::proptest! {
        #[test]
        fn one_word_values_are_what_splitting_gives(raw in r#"[a-z/'"\\# \t\n{}=é]{0,8}"#) {
            if is_one_word(&raw) {
                proptest::prop_assert_eq!(shell_words::split(&raw).unwrap(), [raw.clone()]);
            }
        }
    }

    #[test]
    fn one_word_values() {
        assert!(is_one_word("/bin/true") && is_one_word("{env.x}") && is_one_word("a=b"));
        for raw in ["", "a b", "'a'", "a\\b", "#a", "a\tb", "\"a\""] {
            assert!(!is_one_word(raw), "{raw}");
        }
    }

    #[test]
    fn pins_choose_the_version_and_an_unmet_one_is_the_resources_problem() {
        let (def, diags) = resolve_text(
            "[DEFAULT]\ndrivers = app.simple@^1\n\n[app#1]\n\n[app#2]\ndriver_version = 2\n",
        );
        assert!(diags.is_empty(), "{diags:?}");
        let versions: Vec<_> = def
            .resources
            .iter()
            .map(|r| r.driver_version.as_deref())
            .collect();
        assert_eq!(versions, [Some("1.0.0"), Some("2.0.0")]);

        // Unmet in [DEFAULT]: reported there once, and each resource of the driver says why.
        let (def, diags) =
            resolve_text("[DEFAULT]\ndrivers = app.simple@^3\n\n[app#1]\n\n[app#2]\n");
        let unmet = "no installed version of app.simple satisfies ^3 (installed: 2.0.0, 1.0.0)";
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(
            (diags[0].section.as_str(), diags[0].message.as_str()),
            ("DEFAULT", unmet)
        );
        for r in &def.resources {
            assert_eq!(
                r.problem.as_deref(),
                Some(format!("drivers: {unmet}").as_str())
            );
        }

        // Unmet in the section: its own error, said once.
        let (def, diags) = resolve_text("[app#1]\ndriver_version = ^3\n\n[app#2]\n");
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(diags[0].section, "app#1");
        assert_eq!(
            def.resources[0].problem.as_deref(),
            Some(format!("driver_version: {unmet}").as_str())
        );
        assert_eq!(def.resources[1].problem, None);
    }
}
