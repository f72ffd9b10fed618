//! Where things live (decisions §2): everything under `SVCMGR_ROOT` (default `/`).

use std::path::PathBuf;

/// Config, pid, lock and state files: read and written by their owner only, whatever the umask.
pub const PRIVATE_FILE_MODE: u32 = 0o600;
/// A service's var dir.
pub const PRIVATE_DIR_MODE: u32 = 0o700;
/// `etc/opensvc` and the log folder: their owner's group may look in.
pub const SHARED_DIR_MODE: u32 = 0o750;

/// The longest service name: `<name>.conf` and `<name>.log` stay far below a file name's
/// 255 bytes.
const MAX_NAME: usize = 200;

/// Why `name` cannot be a service name. A name becomes file names, log prefixes and the
/// `<name>` link run from a shell's `PATH`: ASCII letters, digits, `_`, `-` and `.`, starting
/// with a letter, a digit or `_` (no option-like `-x`, no hidden `.x`, no path, no blank,
/// control character or shell syntax).
pub fn check_service_name(name: &str) -> Result<(), String> {
    let bad = |why: &str| {
        Err(format!(
            "invalid service name '{}': {why}",
            name.escape_debug()
        ))
    };
    match name.chars().next() {
        None => return bad("empty"),
        Some(c) if !(c.is_ascii_alphanumeric() || c == '_') => {
            return bad("it starts with a letter, a digit or '_'")
        }
        _ => {}
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return bad(&format!(
            "'{}' is not allowed (letters, digits, '_', '-' and '.')",
            c.escape_debug()
        ));
    }
    if name.len() > MAX_NAME {
        return bad(&format!("longer than {MAX_NAME} characters"));
    }
    Ok(())
}

/// Why a file or folder must not be trusted with what svcmgr runs as root (a driver library,
/// a config's commands).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distrust {
    /// Writable by group or others: its mode.
    Writable(u32),
    /// Owned by someone other than root or the invoking user: that uid.
    Owner(u32),
}

/// Whether the file or folder of `meta` is writable by group or others, or owned by someone
/// other than root or the invoking user.
pub fn distrust(meta: &std::fs::Metadata) -> Option<Distrust> {
    use std::os::unix::fs::MetadataExt;
    if meta.mode() & 0o022 != 0 {
        return Some(Distrust::Writable(meta.mode() & 0o7777));
    }
    let euid = nix::unistd::geteuid().as_raw();
    (meta.uid() != 0 && meta.uid() != euid).then_some(Distrust::Owner(meta.uid()))
}

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

    /// The service var dir: lock, status.json, frozen flag, per-resource state. `name` is a
    /// checked service name ([`check_service_name`]): it is one path component.
    pub fn var(&self, name: &str) -> PathBuf {
        debug_assert!(check_service_name(name).is_ok(), "unchecked name {name:?}");
        self.root.join("var/lib/opensvc").join(name)
    }

    /// The action log (`<root>/var/log/opensvc/<name>.log`).
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
                    .filter_map(|p| {
                        let name = p.file_stem()?.to_string_lossy().into_owned();
                        // A file no service name leads to is never acted on.
                        match check_service_name(&name) {
                            Ok(()) => Some(name),
                            Err(e) => {
                                crate::log::warn("", &format!("{}: ignored: {e}", p.display()));
                                None
                            }
                        }
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names() {
        for ok in ["demo", "web-1.prod_x", "_x", "A1"] {
            assert!(check_service_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "-x", ".x", "a/b", "a b", "a\nb", "a\tb", "a\u{1b}b", "$(x)", "a;b",
        ] {
            assert!(check_service_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_service_name(&"a".repeat(201)).is_err());
    }
}
