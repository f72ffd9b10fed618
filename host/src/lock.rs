//! Locks of a service, each an flock on a file of its var dir whose content names the holder
//! (pid and intent) for the waiting side's messages:
//! - the action lock (`<var>/lock`): one state-changing action at a time; `delete` takes it
//!   too, so that no action runs on a config being deleted;
//! - the config lock (`<var>/config.lock`): one read-modify-write of the config at a time
//!   (`set`, `unset`, `create`, `delete`, `edit config`, `enable`, `disable`).
//!
//! A waiter says once whom it waits for. A lock file may be removed by its holder (`delete`
//! removes the var dir): a waiter that then locks the removed file notices it and tries again
//! on the file now at the path, so two processes never both believe they hold the lock.

use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::io::{Read, Seek};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("timed out waiting for lock {path}: holder pid {pid}, holder intent '{action}'")]
    Timeout {
        path: PathBuf,
        pid: String,
        action: String,
    },
    // The cause is part of the message (not a `source`): error chains print it once.
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// Held until dropped.
pub struct Lock {
    lock: Flock<File>,
    path: PathBuf,
}

#[derive(serde::Serialize, serde::Deserialize, Default)]
struct Holder {
    pid: u32,
    action: String,
}

impl Holder {
    fn read(file: &mut File) -> Holder {
        let mut text = String::new();
        let _ = file.rewind();
        let _ = file.read_to_string(&mut text);
        // The first document: the end of a longer previous holder may follow it until the
        // new holder has cut the file.
        serde_json::Deserializer::from_str(&text)
            .into_iter()
            .next()
            .and_then(Result::ok)
            .unwrap_or_default()
    }

    fn pid(&self) -> String {
        match self.pid {
            0 => "unknown".to_string(),
            pid => pid.to_string(),
        }
    }
}

/// The action lock of the service whose var dir is `var`.
pub fn acquire(var: &Path, action: &str, wait: Duration) -> Result<Lock, LockError> {
    acquire_file(&var.join("lock"), action, wait)
}

/// The config lock of the service whose var dir is `var`.
pub fn config(var: &Path, action: &str, wait: Duration) -> Result<Lock, LockError> {
    acquire_file(&var.join("config.lock"), action, wait)
}

/// Lock `path` (made 0600, in a folder made 0700 when missing), waiting up to `wait`.
pub fn acquire_file(path: &Path, action: &str, wait: Duration) -> Result<Lock, LockError> {
    let io = |error| LockError::Io {
        path: path.to_path_buf(),
        error,
    };
    if let Some(dir) = path.parent() {
        svcmgr_plugin_api::sdk::files::create_dir_mode(dir, crate::paths::PRIVATE_DIR_MODE)
            .map_err(io)?;
    }
    // Bounded: `checked_add` fails only for waits of centuries, which never end anyway.
    let deadline = Instant::now().checked_add(wait);
    let mut said_waiting = false;
    loop {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(crate::paths::PRIVATE_FILE_MODE)
            .open(path)
            .map_err(io)?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) if !still_at(&lock, path) => continue,
            Ok(lock) => {
                let holder = Holder {
                    pid: std::process::id(),
                    action: action.to_string(),
                };
                // Written over the previous holder, then cut to its length: a file cut to
                // zero is written out to disk when closed (ext4's auto_da_alloc, for files
                // replaced by truncation), which cost ~0.3 ms per action here.
                let holder = serde_json::to_vec(&holder).unwrap_or_default();
                lock.write_all_at(&holder, 0).map_err(io)?;
                lock.set_len(holder.len() as u64).map_err(io)?;
                let perms = std::fs::Permissions::from_mode(crate::paths::PRIVATE_FILE_MODE);
                lock.set_permissions(perms).map_err(io)?;
                return Ok(Lock {
                    lock,
                    path: path.to_path_buf(),
                });
            }
            Err((mut file, _)) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    let h = Holder::read(&mut file);
                    return Err(LockError::Timeout {
                        path: path.to_path_buf(),
                        pid: h.pid(),
                        action: h.action,
                    });
                }
                if !said_waiting {
                    said_waiting = true;
                    let h = Holder::read(&mut file);
                    crate::log::info(
                        "",
                        &format!(
                            "waiting for the lock {} held by pid {} (action {})",
                            path.display(),
                            h.pid(),
                            if h.action.is_empty() {
                                "unknown"
                            } else {
                                &h.action
                            }
                        ),
                    );
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// Whether the file locked is still the one at `path` (its holder may have removed it).
fn still_at(lock: &Flock<File>, path: &Path) -> bool {
    match (lock.metadata(), std::fs::metadata(path)) {
        (Ok(held), Ok(now)) => held.dev() == now.dev() && held.ino() == now.ino(),
        _ => false,
    }
}

impl Lock {
    /// Remove the lock file while holding it (its service is gone), and its folder if that is
    /// now empty: a waiter notices and finds the service gone.
    pub fn remove(self) {
        let _ = std::fs::remove_file(&self.path);
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::remove_dir(dir);
        }
        drop(self.lock);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_removed_lock_file_is_not_held_twice() {
        let dir = std::env::temp_dir().join(format!("svcmgr-lock-{}", std::process::id()));
        let path = dir.join("lock");
        let first = acquire_file(&path, "delete", Duration::ZERO).unwrap();
        // A waiter opened the file before the holder removed it.
        let stale = std::fs::File::open(&path).unwrap();
        first.remove();
        let locked = Flock::lock(stale, FlockArg::LockExclusiveNonblock)
            .map_err(|_| ())
            .unwrap();
        assert!(
            !still_at(&locked, &path),
            "the removed file is not the lock"
        );
        let second = acquire_file(&path, "start", Duration::ZERO).unwrap();
        assert!(acquire_file(&path, "stop", Duration::ZERO).is_err());
        drop(second);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_holder_written_over_a_longer_one_reads_whole() {
        let dir = std::env::temp_dir().join(format!("svcmgr-holder-{}", std::process::id()));
        let path = dir.join("lock");
        drop(acquire_file(&path, "unprovision", Duration::ZERO).unwrap());
        let held = acquire_file(&path, "stop", Duration::ZERO).unwrap();
        let pid = std::process::id();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!(r#"{{"pid":{pid},"action":"stop"}}"#)
        );
        // What a waiter may read before the new holder has cut the file.
        let mixed = dir.join("mixed");
        std::fs::write(&mixed, r#"{"pid":7,"action":"stop"}ovision"}"#).unwrap();
        let h = Holder::read(&mut File::open(&mixed).unwrap());
        assert_eq!((h.pid, h.action.as_str()), (7, "stop"));
        drop(held);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
