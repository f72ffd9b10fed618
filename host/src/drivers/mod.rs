//! The driver registry: which loaded library serves which driver id, and how a config section
//! resolves to a driver. The host knows no driver by name: everything comes from manifests.

pub mod callbacks;
pub mod handle;
pub mod in_flight;
pub mod info;
pub mod loader;

use crate::paths::Paths;
use abi_stable::std_types::{RResult, RStr};
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use svcmgr_plugin_api::abi::{ApiRange, DriverError, ResourceBox};
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

/// One driver id and the library providing it.
pub struct DriverEntry {
    pub manifest: DriverManifest,
    pub lib: usize,
}

pub struct Registry {
    pub libs: Vec<loader::Library>,
    pub drivers: BTreeMap<String, DriverEntry>,
    /// One line per refused file or duplicate id.
    pub warnings: Vec<String>,
    /// What `--debug` adds to those lines (abi_stable's layout reports).
    pub debug: Vec<String>,
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
    /// Load every library found in the installed driver dir and `SVCMGR_DRIVER_PATH`.
    pub fn load(paths: &Paths) -> Registry {
        let files = loader::discover(&paths.installed_drivers(), &paths.driver_path);
        let mut reg = Registry {
            libs: Vec::new(),
            drivers: BTreeMap::new(),
            warnings: Vec::new(),
            debug: Vec::new(),
        };
        let mut seen = HashSet::new();
        for file in files {
            match loader::load(&file, &mut seen) {
                Ok(Some(lib)) => reg.add(lib),
                Ok(None) => {}
                Err(e) => {
                    if let Some(details) = e.details() {
                        reg.debug.push(format!("{}: {details}", file.display()));
                    }
                    reg.warnings.push(e.to_string());
                }
            }
        }
        reg
    }

    fn add(&mut self, lib: loader::Library) {
        let index = self.libs.len();
        for d in &lib.manifest.drivers {
            if let Some(existing) = self.drivers.get(&d.id) {
                let (old, new) = (version_of(&existing.manifest), version_of(d));
                let newer = new > old;
                let (old_path, new_path) = (self.libs[existing.lib].path.clone(), lib.path.clone());
                let ((kept, kept_v), (dropped, dropped_v)) = if newer {
                    ((new_path, &new), (old_path, &old))
                } else {
                    ((old_path, &old), (new_path, &new))
                };
                self.warnings.push(format!(
                    "driver {} is provided twice: keeping {} ({kept_v}), ignoring {} ({dropped_v})",
                    d.id,
                    kept.display(),
                    dropped.display(),
                ));
                if !newer {
                    continue;
                }
            }
            self.drivers.insert(
                d.id.clone(),
                DriverEntry {
                    manifest: d.clone(),
                    lib: index,
                },
            );
        }
        self.libs.push(lib);
    }

    pub fn path_of(&self, entry: &DriverEntry) -> &PathBuf {
        &self.libs[entry.lib].path
    }

    /// The api versions the library serving `entry` implements.
    pub fn api_of(&self, entry: &DriverEntry) -> ApiRange {
        self.libs[entry.lib].api
    }

    /// The plugin-api version the library serving `entry` was built against.
    pub fn plugin_api_of(&self, entry: &DriverEntry) -> &str {
        &self.libs[entry.lib].plugin_api
    }

    /// The driver serving a legacy section prefix (`vg` → `disk.vg`), if any.
    pub fn by_section_alias(&self, prefix: &str) -> Option<&DriverEntry> {
        self.drivers
            .values()
            .find(|d| d.manifest.section_aliases.iter().any(|a| a == prefix))
    }

    /// Every group known to the host or to a loaded driver.
    pub fn is_known_group(&self, group: &str) -> bool {
        GROUP_ORDER.contains(&group) || self.drivers.values().any(|d| d.manifest.group() == group)
    }

    /// The driver for a `[<prefix>#N]` section whose `type` keyword is `type_name`.
    pub fn resolve(
        &self,
        prefix: &str,
        type_name: Option<&str>,
    ) -> Result<&DriverEntry, ResolveError> {
        if let Some(d) = self.by_section_alias(prefix) {
            return Ok(d);
        }
        if !self.is_known_group(prefix) {
            return Err(ResolveError::UnknownGroup(prefix.to_string()));
        }
        let in_group = || {
            self.drivers
                .values()
                .filter(move |d| d.manifest.group() == prefix)
        };
        match type_name {
            Some(t) => in_group()
                .find(|d| {
                    d.manifest.type_name() == t || d.manifest.type_aliases.iter().any(|a| a == t)
                })
                .ok_or_else(|| ResolveError::UnknownDriver(format!("{prefix}.{t}"))),
            None => in_group()
                .find(|d| d.manifest.default_for_group)
                .ok_or_else(|| ResolveError::NoDefault(prefix.to_string())),
        }
    }

    /// Instantiate a resource through its library (the host goes through
    /// [`handle::Handle::create`], which marks the call in flight).
    pub fn new_resource(
        &self,
        entry: &DriverEntry,
        rid: &str,
        keywords: &str,
        context: &str,
    ) -> Result<ResourceBox, DriverError> {
        let module = &self.libs[entry.lib].module;
        match (module.new_resource())(
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

fn version_of(d: &DriverManifest) -> semver::Version {
    semver::Version::parse(&d.version).unwrap_or(semver::Version::new(0, 0, 0))
}
