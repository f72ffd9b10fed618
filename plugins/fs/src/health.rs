//! Whether a mounted filesystem answers: `stat` of the mount point within a time limit, and a
//! write test on a read-write mount (a hung network or failing device shows here, not in the
//! mount table).

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

#[derive(Debug, PartialEq, Eq)]
pub enum Health {
    Fine,
    /// `stat` (or the write test) did not answer within the limit.
    NoAnswer,
    /// `stat` failed; the error.
    StatFailed(String),
    /// The write test failed; the error.
    NotWritable(String),
}

/// Probe `mnt` on a worker thread, waiting at most `limit`. A probe that hangs keeps its
/// thread (a syscall stuck in the kernel cannot be cancelled) but not the caller.
pub fn check(mnt: &Path, write: bool, limit: Duration) -> Health {
    let (tx, rx) = mpsc::channel();
    let mnt = mnt.to_path_buf();
    std::thread::spawn(move || {
        let health = match std::fs::metadata(&mnt) {
            Err(e) => Health::StatFailed(e.to_string()),
            Ok(_) if write => write_test(&mnt).map_or_else(Health::NotWritable, |()| Health::Fine),
            Ok(_) => Health::Fine,
        };
        let _ = tx.send(health);
    });
    rx.recv_timeout(limit).unwrap_or(Health::NoAnswer)
}

/// Create and remove a file at the root of the filesystem. A full filesystem is writable.
fn write_test(mnt: &Path) -> Result<(), String> {
    static N: AtomicU64 = AtomicU64::new(0);
    let file: PathBuf = mnt.join(format!(
        ".svcmgr-write-test.{}.{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&file)
    {
        Ok(_) => std::fs::remove_file(&file).map_err(|e| format!("remove {}: {e}", file.display())),
        Err(e) if matches!(e.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded) => Ok(()),
        Err(e) => Err(format!("create {}: {e}", file.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writable_dir_is_fine_and_leaves_nothing() {
        let dir = std::env::temp_dir().join(format!("svcmgr-health-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(check(&dir, true, Duration::from_secs(5)), Health::Fine);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::remove_dir(&dir).unwrap();
    }

    #[test]
    fn a_missing_dir_is_reported() {
        let h = check(
            Path::new("/nonexistent/svcmgr"),
            false,
            Duration::from_secs(5),
        );
        assert!(matches!(h, Health::StatFailed(e) if e.contains("No such file")));
    }

    #[test]
    fn read_only_proc_fails_the_write_test() {
        assert!(matches!(
            check(Path::new("/proc/self"), true, Duration::from_secs(5)),
            Health::NotWritable(_)
        ));
    }
}
