//! The sha256 of installed libraries, checked at every load. Hashing a few megabytes per
//! library on every command would cost more than the command, so each digest is remembered
//! with what changes whenever the file's content can have changed (device, inode, size, mtime
//! and ctime: ctime cannot be set back by hand) in `<root>/var/cache/svcmgr/digests.json`,
//! which only root (or the invoking user) may write.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The hex sha256 of `bytes`.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// The hex sha256 of a file, read in blocks.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    sha256_stream(&mut std::fs::File::open(path)?, |_| Ok(()))
}

/// The hex sha256 of what `input` yields, each block also handed to `sink` (a copy).
pub fn sha256_stream(
    input: &mut impl Read,
    mut sink: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        sink(&buf[..n])?;
    }
    Ok(format!("{:x}", hasher.finalize()))
}

/// What identifies one version of a file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i64,
    ctime_ns: i64,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Stamp {
        let ns = |s: i64, n: i64| s.saturating_mul(1_000_000_000).saturating_add(n);
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    #[serde(flatten)]
    stamp: Stamp,
    sha256: String,
}

/// Digests by file path, read once per process and written back when it learnt one.
pub struct DigestCache {
    file: PathBuf,
    entries: BTreeMap<PathBuf, Entry>,
    dirty: bool,
    /// A file changed less than this long ago is not remembered: timestamps are coarse (a
    /// few ms), so a second change within the same tick would keep the same stamp.
    racy: std::time::Duration,
}

impl DigestCache {
    /// The cache kept in `file`; empty when it is missing, unreadable, or writable by others
    /// (a digest read from there would prove nothing).
    pub fn open(file: PathBuf) -> DigestCache {
        let entries = std::fs::metadata(&file)
            .ok()
            .filter(super::loader::trusted_owner_and_mode)
            .and_then(|_| std::fs::read(&file).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        DigestCache {
            file,
            entries,
            dirty: false,
            racy: std::time::Duration::from_secs(1),
        }
    }

    /// The sha256 of `path`: remembered when the file is unchanged since, computed otherwise.
    pub fn digest(&mut self, path: &Path) -> std::io::Result<String> {
        let stamp = Stamp::of(&std::fs::metadata(path)?);
        if let Some(e) = self.entries.get(path).filter(|e| e.stamp == stamp) {
            return Ok(e.sha256.clone());
        }
        let sha256 = sha256_file(path)?;
        // The file may have changed while it was read: remember only a stable reading of a
        // file that has not changed for a while.
        let now_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64);
        let settled = now_ns - stamp.ctime_ns >= self.racy.as_nanos() as i64;
        if settled && Stamp::of(&std::fs::metadata(path)?) == stamp {
            self.entries.insert(
                path.to_path_buf(),
                Entry {
                    stamp,
                    sha256: sha256.clone(),
                },
            );
            self.dirty = true;
        }
        Ok(sha256)
    }

    /// Forget the files under `dir` (a removed package).
    pub fn forget_under(&mut self, dir: &Path) {
        let before = self.entries.len();
        self.entries.retain(|p, _| !p.starts_with(dir));
        self.dirty |= self.entries.len() != before;
    }

    /// Write the cache back if it learnt something, atomically, and only into an existing
    /// folder: a read-only command creates no folder.
    pub fn save(&mut self) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        if !self.file.parent().is_some_and(Path::is_dir) {
            return;
        }
        let Ok(text) = serde_json::to_vec(&self.entries) else {
            return;
        };
        // A cache that cannot be written (a read-only root, another user) costs time only.
        let _ = svcmgr_plugin_api::sdk::files::write_atomic(&self.file, &text, 0o600);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_until_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let lib = dir.path().join("lib.so");
        std::fs::write(&lib, b"one").unwrap();
        let cache_file = dir.path().join("digests.json");
        let mut cache = DigestCache::open(cache_file.clone());
        assert_eq!(cache.digest(&lib).unwrap(), sha256_bytes(b"one"));
        assert!(
            cache.entries.is_empty(),
            "a file changed just now is not remembered"
        );
        cache.racy = std::time::Duration::ZERO;
        assert_eq!(cache.digest(&lib).unwrap(), sha256_bytes(b"one"));
        cache.save();
        let mut again = DigestCache::open(cache_file.clone());
        assert_eq!(again.entries.len(), 1);
        // Same size, same mtime, other content: ctime moved, so it is read again.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&lib, b"two").unwrap();
        let old = again.entries.values().next().unwrap().stamp.mtime_ns;
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(old as u64);
        std::fs::File::options()
            .write(true)
            .open(&lib)
            .unwrap()
            .set_modified(t)
            .unwrap();
        assert_eq!(again.digest(&lib).unwrap(), sha256_bytes(b"two"));
        again.forget_under(dir.path());
        assert!(again.entries.is_empty());
    }
}
