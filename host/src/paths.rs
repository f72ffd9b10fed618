//! Where things live (decisions §2): everything under `SVCMGR_ROOT` (default `/`).

use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Paths {
    pub root: PathBuf,
    pub nodename: String,
    /// `SVCMGR_DRIVER_PATH` folders (plain `.so` files).
    pub driver_path: Vec<PathBuf>,
}

impl Paths {
    pub fn from_env() -> Paths {
        let root = std::env::var_os("SVCMGR_ROOT")
            .map(PathBuf::from)
            .unwrap_or_else(|| "/".into());
        let nodename = std::env::var("SVCMGR_NODENAME")
            .ok()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| {
                nix::unistd::gethostname()
                    .ok()
                    .and_then(|h| h.into_string().ok())
                    .unwrap_or_else(|| "localhost".into())
            });
        let driver_path = std::env::var("SVCMGR_DRIVER_PATH")
            .map(|v| {
                v.split(':')
                    .filter(|s| !s.is_empty())
                    .map(PathBuf::from)
                    .collect()
            })
            .unwrap_or_default();
        Paths {
            root,
            nodename,
            driver_path,
        }
    }

    /// `<root>/etc/opensvc`: service configs, and the argv[0] links.
    pub fn etc(&self) -> PathBuf {
        self.root.join("etc/opensvc")
    }

    /// The config file: `<name>.conf`, or the legacy `<name>.env` when only it exists.
    pub fn conf(&self, name: &str) -> PathBuf {
        let conf = self.etc().join(format!("{name}.conf"));
        let legacy = self.etc().join(format!("{name}.env"));
        if !conf.exists() && legacy.exists() {
            legacy
        } else {
            conf
        }
    }

    /// `<root>/etc/opensvc/<name>.d`: the service's own scripts, first on the `PATH` of the
    /// commands run for it.
    pub fn scripts_dir(&self, name: &str) -> PathBuf {
        self.etc().join(format!("{name}.d"))
    }

    /// The argv[0] dispatch link `<root>/etc/opensvc/<name>`.
    pub fn link(&self, name: &str) -> PathBuf {
        self.etc().join(name)
    }

    /// The service var dir: lock, status.json, frozen flag, per-resource state.
    pub fn var(&self, name: &str) -> PathBuf {
        self.root.join("var/lib/opensvc").join(name)
    }

    pub fn log_file(&self, name: &str) -> PathBuf {
        self.root
            .join("var/log/opensvc")
            .join(format!("{name}.log"))
    }

    pub fn installed_drivers(&self) -> PathBuf {
        self.root.join("usr/lib/svcmgr/drivers")
    }

    /// The public keys driver packages may be signed with.
    pub fn trusted_keys(&self) -> PathBuf {
        self.root.join("etc/svcmgr/trusted-keys")
    }

    /// The remembered digests of installed libraries (see `drivers::digest`).
    pub fn digest_cache(&self) -> PathBuf {
        self.root.join("var/cache/svcmgr/digests.json")
    }

    /// The services of this node: `<name>.conf` (or legacy `.env`) in the config folder.
    pub fn service_names(&self) -> std::collections::BTreeSet<String> {
        std::fs::read_dir(self.etc())
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "conf" || x == "env"))
                    .filter_map(|p| Some(p.file_stem()?.to_string_lossy().into_owned()))
                    .collect()
            })
            .unwrap_or_default()
    }
}
