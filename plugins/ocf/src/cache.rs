//! Parsed meta-data, cached per agent file so that creating many resources of one agent, or
//! running `print status` again, does not run `meta-data` each time.
//!
//! Two levels, both keyed by the agent's path and checked against its device, inode, size and
//! modification time (a package upgrade replaces the file, so the stamp changes):
//! - in memory, shared by every resource the library makes in this process;
//! - on disk, one JSON file per agent in `<service var dir>/ocf-meta-data/`: the var dir is the
//!   one writable place a driver is given, and it goes away with the service. The cost is one
//!   `meta-data` run per service and agent version.

use crate::agent::Agent;
use crate::meta::AgentMeta;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The time an agent gets to print its meta-data.
const META_DATA_LIMIT: Duration = Duration::from_secs(10);

/// What identifies one version of an agent file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i64,
}

impl Stamp {
    fn of(path: &Path) -> std::io::Result<Stamp> {
        let m = std::fs::metadata(path)?;
        Ok(Stamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime_ns: m.mtime() * 1_000_000_000 + m.mtime_nsec(),
        })
    }
}

/// One cache file.
#[derive(Serialize, Deserialize)]
struct Entry {
    path: PathBuf,
    stamp: Stamp,
    meta: AgentMeta,
}

type Memory = Mutex<HashMap<PathBuf, (Stamp, Arc<AgentMeta>)>>;

fn memory() -> &'static Memory {
    static MEMORY: OnceLock<Memory> = OnceLock::new();
    MEMORY.get_or_init(Default::default)
}

/// The cache folder of a service (None: no service, e.g. `driver info`).
pub fn dir_of(var_dir: &str) -> Option<PathBuf> {
    (!var_dir.is_empty()).then(|| Path::new(var_dir).join("ocf-meta-data"))
}

/// The parsed meta-data of `agent`, from a cache when its file has not changed.
pub fn meta_data(
    agent: &Agent,
    ocf_root: &str,
    disk: Option<&Path>,
) -> Result<Arc<AgentMeta>, String> {
    let stamp = Stamp::of(&agent.path)
        .map_err(|e| format!("{}: {}: {e}", agent.name(), agent.path.display()))?;
    let mut mem = memory().lock().unwrap_or_else(|e| e.into_inner());
    if let Some((s, meta)) = mem.get(&agent.path) {
        if *s == stamp {
            return Ok(meta.clone());
        }
    }
    let file = disk.map(|d| d.join(format!("{}.json", agent.name())));
    let cached = file.as_deref().and_then(|f| read(f, &agent.path, stamp));
    let meta = match cached {
        Some(meta) => Arc::new(meta),
        None => {
            let xml = agent.meta_data_xml(ocf_root, META_DATA_LIMIT)?;
            let meta = AgentMeta::parse(&xml)
                .map_err(|e| format!("{} meta-data is not valid: {e}", agent.name()))?;
            if let Some(f) = &file {
                // A cache that cannot be written costs speed, not correctness.
                let _ = write(f, &agent.path, stamp, &meta);
            }
            Arc::new(meta)
        }
    };
    mem.insert(agent.path.clone(), (stamp, meta.clone()));
    Ok(meta)
}

fn read(file: &Path, agent: &Path, stamp: Stamp) -> Option<AgentMeta> {
    let entry: Entry = serde_json::from_slice(&std::fs::read(file).ok()?).ok()?;
    (entry.path == agent && entry.stamp == stamp).then_some(entry.meta)
}

/// Write through a temporary file and a rename, so a concurrent reader sees all or nothing.
/// The cache folder is made in an existing var dir only: reading a config (`validate
/// config`, a refused start) creates no var dir.
fn write(file: &Path, agent: &Path, stamp: Stamp, meta: &AgentMeta) -> std::io::Result<()> {
    let dir = file.parent().expect("cache files live in a folder");
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    let entry = Entry {
        path: agent.to_path_buf(),
        stamp,
        meta: meta.clone(),
    };
    let tmp = dir.join(format!(".{}.{}.tmp", std::process::id(), unique()));
    std::fs::write(&tmp, serde_json::to_vec(&entry)?)?;
    std::fs::rename(&tmp, file).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// A per-process counter, so two threads never share a temporary file.
fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// An agent that counts its meta-data runs in a file next to it.
    fn counting_agent(root: &Path, name: &str) -> Agent {
        let dir = root.join("resource.d/test");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        let script = format!(
            "#!/bin/sh\necho run >> {}/{name}.runs\necho \"<resource-agent name='{name}'><parameters><parameter name='p'><content type='string'/></parameter></parameters></resource-agent>\"\n",
            root.display()
        );
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        Agent::locate(&format!("test:{name}"), root.to_str().unwrap()).unwrap()
    }

    fn runs(root: &Path, name: &str) -> usize {
        std::fs::read_to_string(root.join(format!("{name}.runs")))
            .map(|t| t.lines().count())
            .unwrap_or(0)
    }

    fn forget(agent: &Agent) {
        memory().lock().unwrap().remove(&agent.path);
    }

    #[test]
    fn memory_then_disk_then_a_changed_file() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path().to_str().unwrap();
        let cache = root.path().join("var/svc/ocf-meta-data");
        let agent = counting_agent(root.path(), "a");

        // No var dir yet: nothing is written.
        meta_data(&agent, r, Some(&cache)).unwrap();
        assert!(!root.path().join("var").exists());
        forget(&agent);
        std::fs::create_dir_all(root.path().join("var/svc")).unwrap();

        let m = meta_data(&agent, r, Some(&cache)).unwrap();
        assert_eq!(m.params[0].name, "p");
        meta_data(&agent, r, Some(&cache)).unwrap();
        assert_eq!(
            runs(root.path(), "a"),
            2,
            "the second call is served from memory"
        );
        let mode = std::fs::metadata(&cache).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);

        forget(&agent);
        meta_data(&agent, r, Some(&cache)).unwrap();
        assert_eq!(
            runs(root.path(), "a"),
            2,
            "a new process reads the disk cache"
        );

        // A new version of the agent (other size and mtime): its meta-data runs again.
        let mut text = std::fs::read_to_string(&agent.path).unwrap();
        text.push_str("# v2\n");
        std::fs::write(&agent.path, text).unwrap();
        meta_data(&agent, r, Some(&cache)).unwrap();
        assert_eq!(runs(root.path(), "a"), 3);
        forget(&agent);
        meta_data(&agent, r, Some(&cache)).unwrap();
        assert_eq!(
            runs(root.path(), "a"),
            3,
            "the disk cache holds the new version"
        );
    }

    #[test]
    fn without_a_service_only_memory() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path().to_str().unwrap();
        let agent = counting_agent(root.path(), "b");
        meta_data(&agent, r, dir_of("").as_deref()).unwrap();
        forget(&agent);
        meta_data(&agent, r, None).unwrap();
        assert_eq!(runs(root.path(), "b"), 2);
    }

    #[test]
    fn invalid_meta_data_is_named() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("resource.d/test");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("c"), "#!/bin/sh\necho usage: c start\n").unwrap();
        std::fs::set_permissions(dir.join("c"), std::fs::Permissions::from_mode(0o755)).unwrap();
        let r = root.path().to_str().unwrap();
        let agent = Agent::locate("test:c", r).unwrap();
        let err = meta_data(&agent, r, None).unwrap_err();
        assert!(err.starts_with("test:c meta-data is not valid: "), "{err}");
    }
}
