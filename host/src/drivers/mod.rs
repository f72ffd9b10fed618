//! The driver registry: which library serves which driver id at which versions, how a config
//! section resolves to a driver and a version, and loading a library when a resource first
//! needs it. The host knows no driver by name: everything comes from manifests.

pub mod callbacks;
pub mod digest;
pub mod info;
pub mod loader;
pub mod package;
pub mod preflight;
pub mod store;

use crate::paths::Paths;
use abi_stable::std_types::{RResult, RStr};
use digest::DigestCache;
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use svcmgr_plugin_api::abi::{error_kind, ApiRange, DriverError, ResourceBox};
use svcmgr_plugin_api::types::DriverManifest;

/// Driver groups in start order (decisions §6). Groups a driver introduces come after these.
pub const GROUP_ORDER: &[&str] = &[
    "ip",
    "volume",
    "disk",
    "fs",
    "share",
    "container",
    "app",
    "sync",
    "task",
];

/// Position of a group in the start order.
pub fn group_rank(group: &str) -> usize {
    GROUP_ORDER
        .iter()
        .position(|g| *g == group)
        .unwrap_or(GROUP_ORDER.len())
}

/// One driver id at one version, and the library providing it.
pub struct DriverEntry {
    pub manifest: DriverManifest,
    pub lib: usize,
}

impl DriverEntry {
    pub fn version(&self) -> semver::Version {
        version_of(&self.manifest)
    }
}

/// Where a library comes from.
pub enum Source {
    /// An installed package (`<root>/usr/lib/svcmgr/drivers/<id>/<version>/`).
    Installed(Box<store::Installed>),
    /// A `.so` in a `SVCMGR_DRIVER_PATH` folder.
    Path,
}

/// A library the host knows of. Installed ones are known from their `driver.json` and loaded
/// only when a resource needs them; path ones are loaded to be known at all.
pub struct Lib {
    pub path: PathBuf,
    pub source: Source,
    pub name: String,
    pub version: String,
    pub api: ApiRange,
    pub plugin_api: String,
    /// The drivers it provides, as its package or the loaded library describes them.
    pub drivers: Vec<DriverManifest>,
    /// The loaded library, or why it was refused.
    loaded: OnceLock<Result<loader::Library, String>>,
}

impl Lib {
    pub fn installed(&self) -> Option<&store::Installed> {
        match &self.source {
            Source::Installed(pkg) => Some(pkg),
            Source::Path => None,
        }
    }
}

pub struct Registry {
    libs: Vec<Lib>,
    /// Driver id → its versions, newest first.
    drivers: BTreeMap<String, Vec<DriverEntry>>,
    digests: Mutex<DigestCache>,
    /// Print abi_stable's reports of ABI refusals (`--debug`).
    debug: bool,
}

/// Why a section maps to no driver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("unknown section group '{0}'")]
    UnknownGroup(String),
    #[error("unknown driver {0} (no loaded driver library provides it)")]
    UnknownDriver(String),
    #[error("no driver serves '{0}' sections without a 'type' keyword")]
    NoDefault(String),
}

impl Registry {
    /// Know every installed package (from its `driver.json`, nothing loaded) and load every
    /// library of `SVCMGR_DRIVER_PATH`. Refusals are warned about as they happen.
    pub fn load(paths: &Paths, debug: bool) -> Registry {
        let mut reg = Registry::empty(paths.digest_cache(), debug);
        let mut warn = |w: String| crate::log::warn("", &w);
        for pkg in store::scan(&paths.installed_drivers(), &mut warn) {
            if let Some(why) = pkg.manifest.incompatibility() {
                warn(format!("{}: not loaded: {why}", pkg.dir.display()));
                continue;
            }
            let m = &pkg.manifest;
            reg.libs.push(Lib {
                path: pkg.library_path(),
                name: m.library.clone(),
                version: m.version.clone(),
                api: m.api,
                plugin_api: m.plugin_api.clone(),
                drivers: m.drivers.clone(),
                source: Source::Installed(Box::new(pkg)),
                loaded: OnceLock::new(),
            });
        }
        let mut seen = HashSet::new();
        for file in loader::discover(&paths.driver_path) {
            // A second link to one library is that library: skipped silently.
            if !loader::canonical(&file).is_ok_and(|c| seen.insert(c)) {
                continue;
            }
            match loader::load(&file, None) {
                Ok(lib) => reg.libs.push(Lib {
                    path: file,
                    name: lib.manifest.plugin.clone(),
                    version: lib.manifest.version.clone(),
                    api: lib.api,
                    plugin_api: lib.plugin_api.clone(),
                    drivers: lib.manifest.drivers.clone(),
                    source: Source::Path,
                    loaded: OnceLock::from(Ok(lib)),
                }),
                Err(e) => reg.refused(&e),
            }
        }
        reg.refuse_alias_claims();
        reg.index();
        reg
    }

    fn empty(digest_cache: PathBuf, debug: bool) -> Registry {
        Registry {
            libs: Vec::new(),
            drivers: BTreeMap::new(),
            digests: Mutex::new(DigestCache::open(digest_cache)),
            debug,
        }
    }

    /// A registry of these drivers, one library each, none of them loadable: for unit tests
    /// of what is decided from manifests alone.
    pub fn of_manifests(manifests: Vec<DriverManifest>) -> Registry {
        let mut reg = Registry::empty(PathBuf::new(), false);
        for (i, m) in manifests.into_iter().enumerate() {
            reg.libs.push(Lib {
                path: PathBuf::from(format!("lib{i}.so")),
                source: Source::Path,
                name: format!("lib{i}"),
                version: m.version.clone(),
                api: ApiRange::single(svcmgr_plugin_api::abi::API_VERSION),
                plugin_api: svcmgr_plugin_api::VERSION.into(),
                drivers: vec![m],
                loaded: OnceLock::from(Err("not loadable".to_string())),
            });
        }
        reg.refuse_alias_claims();
        reg.index();
        reg
    }

    fn refused(&self, e: &loader::LoadError) {
        crate::log::warn("", &e.to_string());
        if let (true, Some(details)) = (self.debug, e.details()) {
            eprintln!("debug: {details}");
        }
    }

    /// A library that claims a section name another library serves (as an alias, or as the
    /// group of its drivers: `app`) would take over sections that are not its own: it is
    /// refused, with a warning naming both. Versions of one library do not compete.
    fn refuse_alias_claims(&mut self) {
        let mut refused: Vec<usize> = Vec::new();
        for (i, lib) in self.libs.iter().enumerate() {
            let claims = lib
                .drivers
                .iter()
                .flat_map(|d| d.section_aliases.iter().map(move |a| (d, a)));
            for (d, alias) in claims {
                let owner = self.libs.iter().enumerate().find(|(j, other)| {
                    *j != i
                        && other.name != lib.name
                        && !refused.contains(j)
                        && other.drivers.iter().any(|o| {
                            o.group() == alias || (*j < i && o.section_aliases.contains(alias))
                        })
                });
                if let Some((_, other)) = owner {
                    crate::log::warn(
                        "",
                        &format!(
                            "{}: refused: its driver {} claims the section name '{alias}', \
                             already served by library {} ({})",
                            lib.path.display(),
                            d.id,
                            other.name,
                            other.path.display()
                        ),
                    );
                    refused.push(i);
                    break;
                }
            }
        }
        for i in refused {
            self.libs[i].drivers.clear();
        }
    }

    /// Index the drivers by id, newest version first. One id at one version from two
    /// libraries is warned about; the first found (installed before path) keeps it.
    fn index(&mut self) {
        let mut drivers: BTreeMap<String, Vec<DriverEntry>> = BTreeMap::new();
        for (lib, l) in self.libs.iter().enumerate() {
            for d in &l.drivers {
                let versions = drivers.entry(d.id.clone()).or_default();
                if let Some(e) = versions.iter().find(|e| e.manifest.version == d.version) {
                    crate::log::warn(
                        "",
                        &format!(
                            "driver {} {} is provided twice: keeping {}, ignoring {}",
                            d.id,
                            d.version,
                            self.libs[e.lib].path.display(),
                            l.path.display()
                        ),
                    );
                    continue;
                }
                versions.push(DriverEntry {
                    manifest: d.clone(),
                    lib,
                });
            }
        }
        for versions in drivers.values_mut() {
            versions.sort_by_key(|e| std::cmp::Reverse(e.version()));
        }
        self.drivers = drivers;
    }

    /// The loaded library of `lib`, loading it on first use (a refusal is warned about once).
    pub fn library(&self, lib: usize) -> Result<&loader::Library, &str> {
        let l = &self.libs[lib];
        l.loaded
            .get_or_init(|| {
                let pkg = l.installed().expect("path libraries are loaded when found");
                let expected = loader::Expected {
                    package: &pkg.manifest,
                    digests: &self.digests,
                };
                let loaded = loader::load(&l.path, Some(expected));
                self.digests
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .save();
                loaded.map_err(|e| {
                    self.refused(&e);
                    e.to_string()
                })
            })
            .as_ref()
            .map_err(String::as_str)
    }

    /// Load every library (`driver list`).
    pub fn load_all(&self) {
        for lib in 0..self.libs.len() {
            let _ = self.library(lib);
        }
    }

    pub fn libs(&self) -> &[Lib] {
        &self.libs
    }

    pub fn lib_of(&self, entry: &DriverEntry) -> &Lib {
        &self.libs[entry.lib]
    }

    /// Every driver id with its versions, newest first.
    pub fn ids(&self) -> impl Iterator<Item = (&String, &[DriverEntry])> {
        self.drivers.iter().map(|(id, v)| (id, v.as_slice()))
    }

    /// Every driver at every version.
    pub fn entries(&self) -> impl Iterator<Item = &DriverEntry> {
        self.drivers.values().flatten()
    }

    /// The version of `id` the host uses when nothing pins one: the newest.
    pub fn get(&self, id: &str) -> Option<&DriverEntry> {
        self.drivers.get(id).and_then(|v| v.first())
    }

    /// `id` at exactly `version`.
    pub fn get_version(&self, id: &str, version: &str) -> Option<&DriverEntry> {
        self.drivers
            .get(id)?
            .iter()
            .find(|e| e.manifest.version == version)
    }

    /// The entry a resolved resource names: its driver at its chosen version (the default
    /// one when none was chosen).
    pub fn entry_for(&self, id: Option<&str>, version: Option<&str>) -> Option<&DriverEntry> {
        match version {
            Some(v) => self.get_version(id?, v),
            None => self.get(id?),
        }
    }

    /// The newest version of `id` that `req` accepts; the error names the versions there are.
    pub fn choose(&self, id: &str, req: &semver::VersionReq) -> Result<&DriverEntry, String> {
        let versions = self.drivers.get(id).map(Vec::as_slice).unwrap_or_default();
        versions
            .iter()
            .find(|e| req.matches(&e.version()))
            .ok_or_else(|| {
                let there: Vec<&str> = versions
                    .iter()
                    .map(|e| e.manifest.version.as_str())
                    .collect();
                format!(
                    "no installed version of {id} satisfies {req} (installed: {})",
                    if there.is_empty() {
                        "none".to_string()
                    } else {
                        there.join(", ")
                    }
                )
            })
    }

    /// `ID` or `ID@VERSION` (an exact version, or a requirement such as `^1.2`).
    pub fn lookup(&self, spec: &str) -> Result<&DriverEntry, String> {
        match spec.split_once('@') {
            None => self
                .get(spec)
                .ok_or_else(|| format!("unknown driver {spec}")),
            Some((id, v)) => {
                let req = parse_req(v).map_err(|e| format!("{spec}: {e}"))?;
                self.choose(id, &req)
            }
        }
    }

    /// The driver serving a legacy section prefix (`vg` → `disk.vg`), if any.
    pub fn by_section_alias(&self, prefix: &str) -> Option<&DriverEntry> {
        self.drivers.values().find_map(|versions| {
            versions
                .iter()
                .any(|d| d.manifest.section_aliases.iter().any(|a| a == prefix))
                .then(|| &versions[0])
        })
    }

    /// Every group known to the host or to a driver.
    pub fn is_known_group(&self, group: &str) -> bool {
        GROUP_ORDER.contains(&group) || self.entries().any(|d| d.manifest.group() == group)
    }

    /// The driver for a `[<prefix>#N]` section whose `type` keyword is `type_name`, at the
    /// version used when nothing pins one. An explicit type in a known group always wins
    /// over a section alias.
    pub fn resolve(
        &self,
        prefix: &str,
        type_name: Option<&str>,
    ) -> Result<&DriverEntry, ResolveError> {
        let known_group = self.is_known_group(prefix);
        let by_type = |t: &str| {
            self.drivers.values().find_map(|versions| {
                versions
                    .iter()
                    .any(|d| {
                        d.manifest.group() == prefix
                            && (d.manifest.type_name() == t
                                || d.manifest.type_aliases.iter().any(|a| a == t))
                    })
                    .then(|| &versions[0])
            })
        };
        if let (true, Some(t)) = (known_group, type_name) {
            return by_type(t).ok_or_else(|| ResolveError::UnknownDriver(format!("{prefix}.{t}")));
        }
        if let Some(d) = self.by_section_alias(prefix) {
            return Ok(d);
        }
        match type_name {
            _ if !known_group => Err(ResolveError::UnknownGroup(prefix.to_string())),
            Some(t) => Err(ResolveError::UnknownDriver(format!("{prefix}.{t}"))),
            None => self
                .drivers
                .values()
                .find_map(|versions| {
                    versions
                        .iter()
                        .any(|d| d.manifest.group() == prefix && d.manifest.default_for_group)
                        .then(|| &versions[0])
                })
                .ok_or_else(|| ResolveError::NoDefault(prefix.to_string())),
        }
    }

    /// Instantiate a resource through its library (loaded now if it was not yet).
    pub fn new_resource(
        &self,
        entry: &DriverEntry,
        rid: &str,
        keywords: &str,
        context: &str,
    ) -> Result<ResourceBox, DriverError> {
        let lib = self.library(entry.lib).map_err(|why| {
            DriverError::new(
                error_kind::OTHER,
                format!(
                    "driver {} {}: {why}",
                    entry.manifest.id, entry.manifest.version
                ),
            )
        })?;
        match (lib.module.new_resource())(
            RStr::from(entry.manifest.id.as_str()),
            RStr::from(rid),
            RStr::from(keywords),
            RStr::from(context),
        ) {
            RResult::ROk(r) => Ok(r),
            RResult::RErr(e) => Err(e),
        }
    }
}

/// A version requirement as written after `@` or in `driver_version`: `^1.2`, `=1.0.0`, or a
/// bare version, which means exactly that version.
pub fn parse_req(text: &str) -> Result<semver::VersionReq, String> {
    let text = text.trim();
    if let Ok(v) = semver::Version::parse(text) {
        return Ok(semver::VersionReq {
            comparators: vec![semver::Comparator {
                op: semver::Op::Exact,
                major: v.major,
                minor: Some(v.minor),
                patch: Some(v.patch),
                pre: v.pre,
            }],
        });
    }
    semver::VersionReq::parse(text)
        .map_err(|e| format!("'{text}' is not a version requirement: {e}"))
}

/// `[DEFAULT] drivers = fs.ext4@^1.2, container.docker@=1.0.0`: driver id → requirement.
pub fn parse_pins(words: &[String]) -> Result<BTreeMap<String, semver::VersionReq>, String> {
    words
        .iter()
        .flat_map(|w| w.split(','))
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(|w| {
            let (id, req) = w
                .split_once('@')
                .ok_or_else(|| format!("'{w}' is not <driver id>@<version requirement>"))?;
            Ok((
                id.to_string(),
                parse_req(req).map_err(|e| format!("{w}: {e}"))?,
            ))
        })
        .collect()
}

fn version_of(d: &DriverManifest) -> semver::Version {
    semver::Version::parse(&d.version).unwrap_or(semver::Version::new(0, 0, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn driver(id: &str, version: &str) -> DriverManifest {
        DriverManifest::new(id, version)
    }

    #[test]
    fn versions_and_pins() {
        let reg = Registry::of_manifests(vec![
            driver("fs.vendorfs", "1.0.0"),
            driver("fs.vendorfs", "2.0.0"),
            driver("fs.vendorfs", "1.4.2"),
        ]);
        assert_eq!(reg.get("fs.vendorfs").unwrap().manifest.version, "2.0.0");
        let pick = |r: &str| {
            reg.choose("fs.vendorfs", &parse_req(r).unwrap())
                .map(|e| e.manifest.version.clone())
        };
        assert_eq!(pick("^1.2").unwrap(), "1.4.2");
        assert_eq!(pick("1.0.0").unwrap(), "1.0.0");
        assert_eq!(
            pick("^3").unwrap_err(),
            "no installed version of fs.vendorfs satisfies ^3 (installed: 2.0.0, 1.4.2, 1.0.0)"
        );
        assert_eq!(
            reg.lookup("fs.vendorfs@1").unwrap().manifest.version,
            "1.4.2"
        );
        let pins = parse_pins(&["fs.ext4@^1.2,".into(), "container.docker@=1.0.0".into()]).unwrap();
        assert_eq!(pins["fs.ext4"].to_string(), "^1.2");
        assert!(parse_pins(&["fs.ext4".into()])
            .unwrap_err()
            .contains("is not <driver id>@"));
    }

    #[test]
    fn a_section_name_claim_is_refused_and_an_explicit_type_wins() {
        let mut forking = driver("app.forking", "1.0.0");
        forking.default_for_group = true;
        let mut evil = driver("task.evil", "1.0.0");
        evil.section_aliases = vec!["app".into()];
        let mut vg = driver("disk.vg", "1.0.0");
        vg.section_aliases = vec!["vg".into()];
        let mut syncer = driver("task.syncer", "1.0.0");
        syncer.section_aliases = vec!["sync".into()];
        let reg = Registry::of_manifests(vec![evil, forking, vg, syncer]);
        assert!(reg.get("task.evil").is_none(), "refused");
        assert_eq!(reg.resolve("app", None).unwrap().manifest.id, "app.forking");
        assert_eq!(reg.resolve("vg", None).unwrap().manifest.id, "disk.vg");
        assert_eq!(
            reg.resolve("vg", Some("vg")).unwrap().manifest.id,
            "disk.vg"
        );
        // Nobody else serves `sync`: the claim stands, but not against an explicit type.
        assert_eq!(
            reg.resolve("sync", None).unwrap().manifest.id,
            "task.syncer"
        );
        assert_eq!(
            reg.resolve("sync", Some("rsync")).err(),
            Some(ResolveError::UnknownDriver("sync.rsync".into()))
        );
    }
}
