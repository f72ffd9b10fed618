//! Finding and loading driver libraries. Each file is loaded once by canonical path with
//! `lib_header_from_path(..).init_root_module()` (the `RootModule::load_from_*` helpers cache
//! one module per type per process, so a second library would silently alias the first),
//! and never unloaded.

use super::callbacks;
use super::digest::DigestCache;
use super::package::PackageManifest;
use super::preflight;
use abi_stable::library::LibraryError;
use std::path::{Path, PathBuf};
use svcmgr_plugin_api::abi::{ApiRange, DriverModRef, ABI_VERSION, API_VERSION};
use svcmgr_plugin_api::types::Manifest;

/// A library that loaded and initialised.
pub struct Library {
    pub path: PathBuf,
    pub module: DriverModRef,
    /// The api versions its `api_version()` declared (what the host negotiated on).
    pub api: ApiRange,
    /// The plugin-api version it was built against; its major is the library's ABI version.
    pub plugin_api: String,
    pub manifest: Manifest,
}

/// Why a file was refused (one line each, naming the file).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: refused: {what} is writable by group or others")]
    Writable { path: PathBuf, what: String },
    #[error("{path}: refused: {what} is owned by uid {uid}, neither root nor the invoking user")]
    Owner {
        path: PathBuf,
        what: String,
        uid: u32,
    },
    #[error("{path}: refused: {reason}")]
    Preflight { path: PathBuf, reason: String },
    #[error(
        "{path}: refused: its sha256 is not the one its package recorded (modified after \
         install; see 'svcmgr driver verify')"
    )]
    Digest { path: PathBuf },
    #[error("{path}: not a svcmgr driver library: {reason}")]
    NotADriver { path: PathBuf, reason: String },
    #[error(
        "{path}: built against plugin-api {built} (abi {abi}), this host needs abi \
         {ABI_VERSION}: rebuild the driver"
    )]
    AbiVersion {
        path: PathBuf,
        built: String,
        abi: u64,
        /// abi_stable's own report, for `--debug`.
        details: String,
    },
    #[error(
        "{path}: built against plugin-api {built} (abi {abi}), but its ABI layout is not the \
         one of abi {ABI_VERSION} this host needs: rebuild the driver"
    )]
    AbiLayout {
        path: PathBuf,
        built: String,
        abi: u64,
        /// abi_stable's layout dump, for `--debug`.
        details: String,
    },
    #[error("{path}: driver speaks api versions {min}..={max}, this svcmgr speaks api {host}")]
    Api {
        path: PathBuf,
        min: u32,
        max: u32,
        host: u32,
    },
    #[error("{path}: driver init failed: {reason}")]
    Init { path: PathBuf, reason: String },
    #[error("{path}: invalid manifest: {reason}")]
    Manifest { path: PathBuf, reason: String },
}

/// The `.so` files directly in each of the `SVCMGR_DRIVER_PATH` folders (links to files
/// included: the folder is the developer's), in a stable order.
pub fn discover(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        out.extend(
            paths
                .into_iter()
                .filter(|p| p.extension().is_some_and(|e| e == "so") && p.is_file()),
        );
    }
    out
}

/// Owned by root or the invoking user, and not writable by group or others.
pub fn trusted_owner_and_mode(meta: &std::fs::Metadata) -> bool {
    crate::paths::distrust(meta).is_none()
}

/// Refuse files or folders others could have written (loading runs their code as root).
fn check_permissions(path: &Path, canonical: &Path) -> Result<(), LoadError> {
    use crate::paths::Distrust;
    let dir = canonical.parent().unwrap_or(Path::new("/"));
    for (what, p) in [("the file", canonical), ("its folder", dir)] {
        let meta = std::fs::metadata(p).map_err(|e| LoadError::NotADriver {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let what = format!("{what} {}", p.display());
        match crate::paths::distrust(&meta) {
            Some(Distrust::Writable(_)) => {
                return Err(LoadError::Writable {
                    path: path.to_path_buf(),
                    what,
                })
            }
            Some(Distrust::Owner(uid)) => {
                return Err(LoadError::Owner {
                    path: path.to_path_buf(),
                    what,
                    uid,
                })
            }
            None => {}
        }
    }
    Ok(())
}

/// What an installed library must match: its package's record, checked before `dlopen`
/// (the digest, through the cache) and after (what the library says it provides).
pub struct Expected<'a> {
    pub package: &'a PackageManifest,
    pub digests: &'a std::sync::Mutex<DigestCache>,
}

/// The canonical path of a library file (one load per canonical path).
pub fn canonical(path: &Path) -> Result<PathBuf, LoadError> {
    std::fs::canonicalize(path).map_err(|e| LoadError::NotADriver {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Check and load one file: permissions, what can be checked before `dlopen` (ELF tables
/// within the file, nobody writing it, an installed library's digest), then the ABI, the api
/// and the manifest.
pub fn load(path: &Path, expected: Option<Expected<'_>>) -> Result<Library, LoadError> {
    let canonical = canonical(path)?;
    check_permissions(path, &canonical)?;
    preflight::check(&canonical).map_err(|reason| LoadError::Preflight {
        path: path.to_path_buf(),
        reason,
    })?;
    if let Some(exp) = &expected {
        let sha = exp
            .digests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .digest(&canonical)
            .map_err(|e| LoadError::NotADriver {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        if sha != exp.package.sha256 {
            return Err(LoadError::Digest {
                path: path.to_path_buf(),
            });
        }
    }
    let header = abi_stable::library::lib_header_from_path(&canonical).map_err(|e| {
        LoadError::NotADriver {
            path: path.to_path_buf(),
            reason: load_failure(&e),
        }
    })?;
    let built = header.version_strings();
    let module = header
        .init_root_module::<DriverModRef>()
        .map_err(|e| abi_refusal(path, &built.to_string(), e))?;
    let api = (module.api_version())();
    if !api.contains(API_VERSION) {
        return Err(LoadError::Api {
            path: path.to_path_buf(),
            min: api.min,
            max: api.max,
            host: API_VERSION,
        });
    }
    if let abi_stable::std_types::RResult::RErr(e) =
        (module.init())(callbacks::host_callbacks(), API_VERSION)
    {
        return Err(LoadError::Init {
            path: path.to_path_buf(),
            reason: e.to_string(),
        });
    }
    let manifest: Manifest =
        serde_json::from_str((module.manifest())().as_str()).map_err(|e| LoadError::Manifest {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    for d in &manifest.drivers {
        semver::Version::parse(&d.version).map_err(|e| LoadError::Manifest {
            path: path.to_path_buf(),
            reason: format!("driver {} version '{}': {e}", d.id, d.version),
        })?;
        if !d.id.contains('.') {
            return Err(LoadError::Manifest {
                path: path.to_path_buf(),
                reason: format!("driver id '{}' is not <group>.<type>", d.id),
            });
        }
    }
    if let Some(exp) = &expected {
        let ids = |ds: &[svcmgr_plugin_api::types::DriverManifest]| {
            ds.iter()
                .map(|d| format!("{} {}", d.id, d.version))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (said, recorded) = (ids(&manifest.drivers), ids(&exp.package.drivers));
        if said != recorded {
            return Err(LoadError::Manifest {
                path: path.to_path_buf(),
                reason: format!("it provides {said}, its package recorded {recorded}"),
            });
        }
    }
    Ok(Library {
        path: path.to_path_buf(),
        module,
        api,
        plugin_api: built.to_string(),
        manifest,
    })
}

impl LoadError {
    /// What only `--debug` shows (abi_stable's report of an ABI refusal).
    pub fn details(&self) -> Option<&str> {
        match self {
            LoadError::AbiVersion { details, .. } | LoadError::AbiLayout { details, .. } => {
                Some(details)
            }
            _ => None,
        }
    }
}

/// One line with the remedy: a library of another ABI version, or of the same version with
/// another layout (a hand-edited or foreign copy of the ABI).
fn abi_refusal(path: &Path, built: &str, e: LibraryError) -> LoadError {
    let abi = semver::Version::parse(built).map_or(0, |v| v.major);
    let details = squash(&e.to_string());
    let path = path.to_path_buf();
    let built = built.to_string();
    match e {
        LibraryError::IncompatibleVersionNumber { .. } => LoadError::AbiVersion {
            path,
            built,
            abi,
            details,
        },
        _ if abi != u64::from(ABI_VERSION) => LoadError::AbiVersion {
            path,
            built,
            abi,
            details,
        },
        _ => LoadError::AbiLayout {
            path,
            built,
            abi,
            details,
        },
    }
}

/// The longest reason a refusal gives on its one line (a linker message can be long).
const MAX_REASON: usize = 300;

/// Why the library could not be opened as a svcmgr library, on one line of bounded length:
/// the system's reason (`dlerror`), not abi_stable's framing of it (whose first line, `Could
/// not open library at:`, says nothing).
fn load_failure(e: &LibraryError) -> String {
    let reason = match e {
        LibraryError::OpenError { err, .. } => squash(&err.to_string()),
        LibraryError::GetSymbolError { symbol, err, .. } => format!(
            "no symbol {}: {}",
            String::from_utf8_lossy(symbol).trim_end_matches('\0'),
            squash(&err.to_string())
        ),
        other => squash(&other.to_string()),
    };
    match reason.char_indices().nth(MAX_REASON) {
        Some((cut, _)) => format!("{}…", &reason[..cut]),
        None => reason,
    }
}

/// abi_stable's layout errors span many lines; keep them on one.
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
