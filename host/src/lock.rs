//! One action at a time per service: an flock on `<var>/lock`, whose content names the
//! holder (pid and action) for the waiting side's message.

use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::io::{Read, Seek, Write};
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
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Held until dropped.
pub struct ActionLock {
    _lock: Flock<File>,
}

#[derive(serde::Serialize, serde::Deserialize, Default)]
struct Holder {
    pid: u32,
    action: String,
}

pub fn acquire(var: &Path, action: &str, wait: Duration) -> Result<ActionLock, LockError> {
    let path = var.join("lock");
    let io = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(var).map_err(io)?;
    let deadline = Instant::now() + wait;
    loop {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(mut lock) => {
                let holder = Holder {
                    pid: std::process::id(),
                    action: action.to_string(),
                };
                lock.set_len(0).map_err(io)?;
                lock.rewind().map_err(io)?;
                lock.write_all(
                    serde_json::to_string(&holder)
                        .unwrap_or_default()
                        .as_bytes(),
                )
                .map_err(io)?;
                lock.flush().map_err(io)?;
                return Ok(ActionLock { _lock: lock });
            }
            Err((mut file, _)) => {
                if Instant::now() >= deadline {
                    let mut text = String::new();
                    let _ = file.read_to_string(&mut text);
                    let h: Holder = serde_json::from_str(&text).unwrap_or_default();
                    let pid = if h.pid == 0 {
                        "unknown".to_string()
                    } else {
                        h.pid.to_string()
                    };
                    return Err(LockError::Timeout {
                        path,
                        pid,
                        action: h.action,
                    });
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}
