//! The installed drivers: `<root>/usr/lib/svcmgr/drivers/<id>/<version>/`, one folder per
//! package (named after its first driver) holding `driver.json`, the library and the optional
//! signature, plus one link `<id>/<version> -> ../<first id>/<version>` for each other driver
//! the package provides. Installing builds the whole folder under a temporary name in the
//! same tree and renames it into place: a crash leaves either nothing or a complete package.
//! Install and remove hold `<drivers>/.lock`, so concurrent ones queue.

use super::package::{self, PackageError, PackageManifest, TrustedKeys, MANIFEST, SIGNATURE};
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// One installed package.
#[derive(Debug, Clone)]
pub struct Installed {
    /// `<drivers>/<first id>/<version>`
    pub dir: PathBuf,
    pub manifest: PackageManifest,
    pub manifest_bytes: Vec<u8>,
    pub signature: Option<Vec<u8>>,
}

impl Installed {
    pub fn library_path(&self) -> PathBuf {
        self.dir.join(&self.manifest.file)
    }

    /// Read `<dir>/driver.json` and the signature beside it.
    fn read(dir: &Path) -> Result<Installed, String> {
        let manifest_bytes = std::fs::read(dir.join(MANIFEST))
            .map_err(|e| format!("{}: {e}", dir.join(MANIFEST).display()))?;
        let manifest = PackageManifest::parse(&manifest_bytes)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        let signature = std::fs::read(dir.join(SIGNATURE)).ok();
        Ok(Installed {
            dir: dir.to_path_buf(),
            manifest,
            manifest_bytes,
            signature,
        })
    }
}

/// Every package under `drivers`, in a stable order. Only real folders two levels down are
/// read: links (the other drivers' `<id>/<version>` entries, or anything pointing out of the
/// tree) are never followed, so a link to a system folder or a link loop costs nothing.
/// Problems (a folder that is not a package) go to `warn`.
pub fn scan(drivers: &Path, warn: &mut dyn FnMut(String)) -> Vec<Installed> {
    let mut out = Vec::new();
    for id_dir in sorted_entries(drivers) {
        let name = file_name(&id_dir);
        let Ok(meta) = std::fs::symlink_metadata(&id_dir) else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        if !meta.is_dir() {
            warn(format!(
                "{}: ignored: not a driver folder (packages are installed by 'svcmgr driver \
                 install'; loose libraries go in SVCMGR_DRIVER_PATH)",
                id_dir.display()
            ));
            continue;
        }
        for version_dir in sorted_entries(&id_dir) {
            let Ok(meta) = std::fs::symlink_metadata(&version_dir) else {
                continue;
            };
            if meta.file_type().is_symlink() {
                // The folder of another driver of a package: read through its first driver.
                continue;
            }
            if !meta.is_dir() {
                warn(format!(
                    "{}: ignored: not a driver version folder",
                    version_dir.display()
                ));
                continue;
            }
            match Installed::read(&version_dir) {
                Ok(pkg) => {
                    let first = pkg.manifest.primary();
                    if first.id != name || first.version != file_name(&version_dir) {
                        warn(format!(
                            "{}: ignored: its {MANIFEST} describes {} {}, not {} {}",
                            version_dir.display(),
                            first.id,
                            first.version,
                            name,
                            file_name(&version_dir)
                        ));
                        continue;
                    }
                    out.push(pkg);
                }
                Err(e) => warn(format!("{e}: ignored")),
            }
        }
    }
    out
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Hold the tree's lock (waiting for another install or remove), then clear what a crashed
/// one left: its temporary folders, which the lock proves nobody uses.
fn lock(drivers: &Path) -> Result<Flock<File>, std::io::Error> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(drivers.join(".lock"))?;
    let held = Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| e)?;
    for stale in sorted_entries(drivers) {
        let name = file_name(&stale);
        if name.starts_with(".install-") || name.starts_with(".remove-") {
            let _ = remove_tree(&stale);
        } else if name.starts_with(".link-") {
            let _ = std::fs::remove_file(&stale);
        }
    }
    Ok(held)
}

/// Create `dir` and its missing parents, mode 0755.
fn make_dirs(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
}

use std::os::unix::fs::DirBuilderExt;

/// What `install` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Installed,
    /// The same content was there already.
    Unchanged,
    /// Another content of the same version was replaced (`--force`).
    Replaced,
}

/// Install one package file. `signer` in the result is the trusted key that signed it.
pub fn install(
    drivers: &Path,
    digest_cache: &Path,
    archive: &Path,
    keys: &TrustedKeys,
    force: bool,
) -> Result<(Installed, Option<String>, Outcome), PackageError> {
    let io = |e| PackageError::Io(drivers.to_path_buf(), e);
    let refused = |msg: String| PackageError::Refused(archive.to_path_buf(), msg);
    make_dirs(drivers).map_err(io)?;
    let _lock = lock(drivers).map_err(io)?;
    let tmp = tempfile::Builder::new()
        .prefix(".install-")
        .tempdir_in(drivers)
        .map_err(io)?;
    let unpacked = package::unpack(archive, tmp.path())?;
    let m = &unpacked.manifest;
    if let Some(why) = m.incompatibility() {
        return Err(refused(why));
    }
    let lib = tmp.path().join(&m.file);
    let machine =
        super::preflight::machine(&lib).map_err(|e| refused(format!("{}: {e}", m.file)))?;
    if Some(machine) != super::preflight::machine_of_target(&m.target) {
        return Err(refused(format!(
            "{} is an ELF file for machine {machine}, not for {}",
            m.file, m.target
        )));
    }
    super::preflight::check(&lib).map_err(|e| refused(format!("{}: {e}", m.file)))?;
    let signer = keys
        .judge(&unpacked.manifest_bytes, unpacked.signature.as_deref())
        .map_err(refused)?;
    if let Some(sig) = &unpacked.signature {
        std::fs::write(tmp.path().join(SIGNATURE), sig).map_err(io)?;
    }
    std::fs::write(tmp.path().join(MANIFEST), &unpacked.manifest_bytes).map_err(io)?;

    // What is at each driver's <id>/<version> already.
    let primary = m.primary();
    let dest = drivers.join(&primary.id).join(&primary.version);
    let mut replace = false;
    for d in &m.drivers {
        let at = drivers.join(&d.id).join(&d.version);
        if std::fs::symlink_metadata(&at).is_err() {
            continue;
        }
        let present = std::fs::canonicalize(&at)
            .ok()
            .and_then(|dir| Installed::read(&dir).ok());
        match present {
            Some(p) if p.manifest.library == m.library && p.manifest.version == m.version => {
                if p.manifest_bytes == unpacked.manifest_bytes && p.signature == unpacked.signature
                {
                    return Ok((p, signer, Outcome::Unchanged));
                }
                if !force {
                    return Err(refused(format!(
                        "{} {} is installed with another content ({}): use --force to replace it",
                        m.library,
                        m.version,
                        p.dir.display()
                    )));
                }
                replace = true;
            }
            Some(p) => {
                return Err(refused(format!(
                    "{} {} is already provided by library {} {} ({}): remove it first",
                    d.id,
                    d.version,
                    p.manifest.library,
                    p.manifest.version,
                    p.dir.display()
                )))
            }
            None if force => replace = true,
            None => {
                return Err(refused(format!(
                    "{} holds something that is not a package: use --force to replace it",
                    at.display()
                )))
            }
        }
    }

    // Modes whatever the umask, owned by the installer (root), durable before the rename.
    for name in [m.file.as_str(), MANIFEST, SIGNATURE] {
        let p = tmp.path().join(name);
        if p.exists() {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).map_err(io)?;
            File::open(&p).and_then(|f| f.sync_all()).map_err(io)?;
        }
    }
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).map_err(io)?;
    make_dirs(dest.parent().expect("<id>/<version>")).map_err(io)?;
    let staged = tmp.keep();
    let outcome = if replace && std::fs::symlink_metadata(&dest).is_ok() {
        // One atomic swap, then the old content goes.
        nix::fcntl::renameat2(
            None,
            &staged,
            None,
            &dest,
            nix::fcntl::RenameFlags::RENAME_EXCHANGE,
        )
        .map_err(|e| io(e.into()))?;
        remove_tree(&staged).map_err(io)?;
        Outcome::Replaced
    } else {
        std::fs::rename(&staged, &dest).map_err(io)?;
        Outcome::Installed
    };
    for d in &m.drivers[1..] {
        let target = Path::new("..").join(&primary.id).join(&primary.version);
        link_atomic(drivers, &target, &drivers.join(&d.id).join(&d.version)).map_err(io)?;
    }
    sync_dir(drivers);
    let installed = Installed::read(&dest).map_err(refused)?;
    // Where loads remember digests: made here, so that a read-only command creates nothing.
    if let Some(cache) = digest_cache.parent() {
        let _ = make_dirs(cache);
    }
    Ok((installed, signer, outcome))
}

/// Make `at` a link to `target`, replacing what is there in one rename.
fn link_atomic(drivers: &Path, target: &Path, at: &Path) -> std::io::Result<()> {
    make_dirs(at.parent().expect("<id>/<version>"))?;
    let tmp = drivers.join(format!(".link-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    if std::fs::symlink_metadata(at).is_ok_and(|m| m.is_dir()) {
        remove_tree(at)?;
    }
    std::fs::rename(&tmp, at)
}

fn sync_dir(dir: &Path) {
    if let Ok(f) = File::open(dir) {
        let _ = f.sync_all();
    }
}

/// Remove a folder tree without following links (std's remove_dir_all does not follow them).
fn remove_tree(dir: &Path) -> std::io::Result<()> {
    std::fs::remove_dir_all(dir)
}

/// Remove an installed package: its folder leaves the tree in one rename, then its links and
/// the emptied `<id>` folders go.
pub fn remove(drivers: &Path, pkg: &Installed) -> std::io::Result<()> {
    let _lock = lock(drivers)?;
    let trash = drivers.join(format!(".remove-{}", std::process::id()));
    std::fs::rename(&pkg.dir, &trash)?;
    for d in &pkg.manifest.drivers {
        let at = drivers.join(&d.id).join(&d.version);
        if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
            std::fs::remove_file(&at)?;
        }
        // Only when empty.
        let _ = std::fs::remove_dir(drivers.join(&d.id));
    }
    remove_tree(&trash)?;
    sync_dir(drivers);
    Ok(())
}

/// Every problem with an installed package, one line each: a library whose sha256 is not the
/// package's, a signature no trusted key made (or none while keys are configured), files or
/// folders others may write or owned by someone else, files that do not belong.
pub fn verify(pkg: &Installed, keys: &TrustedKeys) -> Vec<String> {
    let mut problems = Vec::new();
    let lib = pkg.library_path();
    match super::digest::sha256_file(&lib) {
        Ok(sha) if sha == pkg.manifest.sha256 => {}
        Ok(sha) => problems.push(format!(
            "{}: sha256 {sha}, its package recorded {}: the library was modified",
            lib.display(),
            pkg.manifest.sha256
        )),
        Err(e) => problems.push(format!("{}: {e}", lib.display())),
    }
    if let Err(e) = keys.judge(&pkg.manifest_bytes, pkg.signature.as_deref()) {
        problems.push(format!("{}: {e}", pkg.dir.join(MANIFEST).display()));
    }
    let expected = [pkg.manifest.file.as_str(), MANIFEST, SIGNATURE];
    let mut paths = vec![pkg.dir.clone()];
    for entry in sorted_entries(&pkg.dir) {
        if expected.contains(&file_name(&entry).as_str()) {
            paths.push(entry);
        } else {
            problems.push(format!(
                "{}: does not belong to the package",
                entry.display()
            ));
        }
    }
    for p in paths {
        match std::fs::symlink_metadata(&p) {
            Ok(meta) if meta.file_type().is_symlink() => {
                problems.push(format!("{}: a link, where a file belongs", p.display()))
            }
            Ok(meta) if !super::loader::trusted_owner_and_mode(&meta) => problems.push(format!(
                "{}: mode {:o}, owner uid {}: must be owned by root and not writable by group or others",
                p.display(),
                meta.mode() & 0o7777,
                meta.uid()
            )),
            Ok(_) => {}
            Err(e) => problems.push(format!("{}: {e}", p.display())),
        }
    }
    problems
}
