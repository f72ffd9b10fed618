//! Files written safely, for drivers and the host alike: [`write_atomic`] replaces a file so
//! that a reader (or a process killed mid-write) sees the old content or the new one, never a
//! part, with the permission bits asked whatever the umask ([`write_cache`] too, without
//! syncing to disk); [`create_dir_mode`] makes a folder private the same way.
//!
//! ```no_run
//! use svcmgr_plugin_api::sdk::files;
//! files::write_atomic("/var/lib/opensvc/svc/app#1/pid".as_ref(), b"4242\n", 0o600)?;
//! # Ok::<(), std::io::Error>(())
//! ```

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Replace `path` with `contents`, atomically: the content goes to a new temporary file in the
/// same folder (a unique name, created exclusively), is synced to disk, gets the permission
/// bits `mode` exactly (the umask has no say), then is renamed over `path`, and the folder is
/// synced so that the rename survives a crash. On error, the temporary file is removed and
/// `path` is untouched.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> std::io::Result<()> {
    replace(path, contents, mode, true)
}

/// Replace `path` with `contents` as [`write_atomic`] does, without syncing anything to disk:
/// a reader still sees the old content or the new one, never a part, but after a crash of
/// the machine the file may hold either (or, on a file system that does not order a rename
/// after the data it renames, be empty). For a cache that the next reading rebuilds, whose
/// two syncs would cost more than it is worth.
pub fn write_cache(path: &Path, contents: &[u8], mode: u32) -> std::io::Result<()> {
    replace(path, contents, mode, false)
}

fn replace(path: &Path, contents: &[u8], mode: u32, sync: bool) -> std::io::Result<()> {
    let (tmp, mut file) = create_temp_beside(path, mode)?;
    let written = file
        .write_all(contents)
        .and_then(|()| file.set_permissions(std::fs::Permissions::from_mode(mode)))
        .and_then(|()| match sync {
            true => file.sync_all().and_then(|()| std::fs::rename(&tmp, path)),
            false => swap_in(&tmp, path),
        });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    // The rename is in the folder's data: sync it too (best effort: some file systems refuse).
    if let Some(dir) = path.parent().filter(|d| sync && !d.as_os_str().is_empty()) {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Put `tmp` at `path` unsynced: exchanged with the file there (one step, as a rename), which
/// is then removed from the temporary name. A rename over an existing file makes ext4 start
/// writing the new file out first (its auto_da_alloc, which orders a replacement after its
/// data): the start of the sync a cache does without, ~0.15 ms here. With no file to
/// exchange with (nothing there, or something else than a file, which a rename refuses or
/// replaces as it should), or a file system that cannot exchange, a rename.
fn swap_in(tmp: &Path, path: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    if !std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file()) {
        return std::fs::rename(tmp, path);
    }
    let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes());
    let (from, to) = (c(tmp)?, c(path)?);
    // SAFETY: renameat2(2) of two NUL-terminated paths we own, as a raw syscall (not every C
    // library a driver may be built with wraps it).
    let exchanged = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    } == 0;
    match exchanged {
        true => {
            let _ = std::fs::remove_file(tmp);
            Ok(())
        }
        false => std::fs::rename(tmp, path),
    }
}

/// A new file beside `path`, named `.<name>.<pid>.<n>.tmp`, created exclusively (a name left
/// by a dead process of the same pid is skipped, never reused).
fn create_temp_beside(path: &Path, mode: u32) -> std::io::Result<(PathBuf, File)> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(ErrorKind::InvalidInput, "no file name"))?
        .to_string_lossy();
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let tmp = path.with_file_name(format!(".{name}.{}.{n}.tmp", std::process::id()));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(libc::O_CLOEXEC)
            .open(&tmp)
        {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Create `dir` and its missing parents; the folders this call creates get the permission
/// bits `mode` exactly, whatever the umask. Existing folders keep theirs.
pub fn create_dir_mode(dir: &Path, mode: u32) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir_mode(parent, mode)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)),
        // Made by a concurrent process meanwhile: theirs is as good.
        Err(e) if e.kind() == ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sdk-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn atomic_writes_get_their_mode_and_leave_no_temporary_file() {
        let dir = scratch("atomic");
        create_dir_mode(&dir.join("a/b"), 0o700).unwrap();
        assert_eq!(
            std::fs::metadata(dir.join("a")).unwrap().mode() & 0o7777,
            0o700
        );
        let f = dir.join("a/b/state.json");
        // SAFETY: umask(2) only changes this process's mask; restored below.
        let old = unsafe { libc::umask(0) };
        write_atomic(&f, b"one", 0o600).unwrap();
        write_atomic(&f, b"two", 0o640).unwrap();
        write_cache(&f, b"three", 0o604).unwrap();
        unsafe { libc::umask(old) };
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "three");
        assert_eq!(std::fs::metadata(&f).unwrap().mode() & 0o7777, 0o604);
        assert_eq!(std::fs::read_dir(dir.join("a/b")).unwrap().count(), 1);
        // A failed write leaves the old content and no temporary file.
        assert!(write_atomic(&dir.join("a/nofolder/x"), b"z", 0o600).is_err());
        assert!(write_atomic(&dir.join("a/b"), b"z", 0o600).is_err());
        assert!(write_cache(&dir.join("a/b"), b"z", 0o600).is_err());
        assert_eq!(std::fs::read_dir(dir.join("a/b")).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn concurrent_writers_never_share_a_temporary_file() {
        let dir = scratch("concurrent");
        create_dir_mode(&dir, 0o700).unwrap();
        let f = dir.join("x");
        std::thread::scope(|s| {
            for i in 0..8 {
                let f = &f;
                s.spawn(move || {
                    for n in 0..50 {
                        let text = format!("{i}").repeat(1000);
                        let write = if n % 2 == 0 {
                            write_atomic
                        } else {
                            write_cache
                        };
                        write(f, text.as_bytes(), 0o600).unwrap();
                    }
                });
            }
        });
        let text = std::fs::read_to_string(&f).unwrap();
        assert_eq!(text.len(), 1000);
        assert!(text.chars().all(|c| c == text.chars().next().unwrap()));
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
