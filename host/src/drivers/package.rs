//! The driver package (docs/driver-packages.md): one gzipped tar per driver library, holding
//! exactly `driver.json` (a [`PackageManifest`]), the library it names, and optionally
//! `driver.json.sig`, the ed25519 signature of `driver.json`'s bytes. Keys are PEM files:
//! PKCS#8 for the signing key, SPKI for the trusted public keys (what `openssl genpkey
//! -algorithm ed25519` and `openssl pkey -pubout` write).

use super::digest;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use svcmgr_plugin_api::abi::{ApiRange, ABI_VERSION, API_VERSION};
use svcmgr_plugin_api::types::DriverManifest;

pub const MANIFEST: &str = "driver.json";
pub const SIGNATURE: &str = "driver.json.sig";
/// The version of this layout, `format` in `driver.json`.
pub const FORMAT: u32 = 1;
/// The target triple this host was built for.
pub const HOST_TARGET: &str = env!("SVCMGR_TARGET");

const MAX_MANIFEST: u64 = 4 << 20;
const MAX_LIBRARY: u64 = 1 << 30;

/// `driver.json`: what the package holds, enough to resolve a config without loading the
/// library (the drivers' whole manifests), and what to check it against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageManifest {
    pub format: u32,
    /// The library's name (`Plugin::new(name, ..)`).
    pub library: String,
    /// The library's version (semver).
    pub version: String,
    /// The library's file name in the package (`lib<name>.so`).
    pub file: String,
    /// Hex sha256 of that file.
    pub sha256: String,
    /// The target triple it was built for (`x86_64-unknown-linux-gnu`).
    pub target: String,
    /// The plugin-api version it was built against (its major is the ABI version).
    pub plugin_api: String,
    /// The api versions it implements.
    pub api: ApiRange,
    /// The drivers it provides, as the library describes them.
    pub drivers: Vec<DriverManifest>,
    /// The optional protocol features it implements.
    #[serde(default)]
    pub features: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("{0}: not a valid driver package: {1}")]
    Invalid(PathBuf, String),
    #[error("{0}: refused: {1}")]
    Refused(PathBuf, String),
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
}

impl PackageManifest {
    /// Read and check a `driver.json`.
    pub fn parse(bytes: &[u8]) -> Result<PackageManifest, String> {
        let m: PackageManifest =
            serde_json::from_slice(bytes).map_err(|e| format!("{MANIFEST}: {e}"))?;
        if m.format != FORMAT {
            return Err(format!(
                "{MANIFEST}: format {} (this svcmgr reads format {FORMAT})",
                m.format
            ));
        }
        if !is_plain_name(&m.file) || !m.file.ends_with(".so") {
            return Err(format!(
                "{MANIFEST}: file '{}' is not a plain .so file name",
                m.file
            ));
        }
        if !is_plain_name(&m.library) {
            return Err(format!(
                "{MANIFEST}: library '{}' is not a plain name",
                m.library
            ));
        }
        if m.sha256.len() != 64 || !m.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("{MANIFEST}: sha256 '{}' is not a sha256", m.sha256));
        }
        semver::Version::parse(&m.version)
            .map_err(|e| format!("{MANIFEST}: version '{}': {e}", m.version))?;
        if m.drivers.is_empty() {
            return Err(format!("{MANIFEST}: no drivers"));
        }
        for d in &m.drivers {
            let (group, kind) = d.id.split_once('.').unwrap_or(("", ""));
            if !is_plain_name(&d.id) || group.is_empty() || kind.is_empty() {
                return Err(format!(
                    "{MANIFEST}: driver id '{}' is not <group>.<type>",
                    d.id
                ));
            }
            semver::Version::parse(&d.version)
                .map_err(|e| format!("{MANIFEST}: driver {} version '{}': {e}", d.id, d.version))?;
        }
        Ok(m)
    }

    /// `<library>-<version>-<target>.tar.gz`
    pub fn archive_name(&self) -> String {
        format!("{}-{}-{}.tar.gz", self.library, self.version, self.target)
    }

    /// The driver whose `<id>/<version>` folder holds the files (the first one); the others'
    /// folders are links to it.
    pub fn primary(&self) -> &DriverManifest {
        &self.drivers[0]
    }

    /// Why this host cannot use the package, if it cannot: another target, ABI or api.
    pub fn incompatibility(&self) -> Option<String> {
        if self.target != HOST_TARGET {
            return Some(format!(
                "built for {}, this svcmgr runs on {HOST_TARGET}",
                self.target
            ));
        }
        let abi = semver::Version::parse(&self.plugin_api).map_or(0, |v| v.major);
        if abi != u64::from(ABI_VERSION) {
            return Some(format!(
                "built against plugin-api {} (abi {abi}), this svcmgr needs abi {ABI_VERSION}",
                self.plugin_api
            ));
        }
        if !self.api.contains(API_VERSION) {
            return Some(format!(
                "speaks api versions {}..={}, this svcmgr speaks api {API_VERSION}",
                self.api.min, self.api.max
            ));
        }
        None
    }
}

/// A file name without folders, `..` or anything a shell or a path would read specially.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b))
}

/// The ed25519 signing key in a PKCS#8 PEM file.
pub fn read_signing_key(path: &Path) -> Result<SigningKey, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    SigningKey::from_pkcs8_pem(&text).map_err(|e| {
        format!(
            "{}: not an ed25519 private key in PKCS#8 PEM ({e})",
            path.display()
        )
    })
}

/// The keys a package signature may be made with: `<root>/etc/svcmgr/trusted-keys/*`, each an
/// ed25519 public key in SPKI PEM, named by its file name without extension.
pub struct TrustedKeys {
    pub keys: Vec<(String, VerifyingKey)>,
}

impl TrustedKeys {
    /// Every key of `dir` (none when it does not exist). A file that is not a key is an
    /// error: a key the operator meant to trust must not be skipped silently.
    pub fn load(dir: &Path) -> Result<TrustedKeys, String> {
        let mut keys = Vec::new();
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(TrustedKeys { keys }),
            Err(e) => return Err(format!("{}: {e}", dir.display())),
        };
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .map(|e| e.path())
            .collect();
        files.sort();
        for file in files {
            let text =
                std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let key = VerifyingKey::from_public_key_pem(&text).map_err(|e| {
                format!("{}: not an ed25519 public key in PEM ({e})", file.display())
            })?;
            let name = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            keys.push((name, key));
        }
        Ok(TrustedKeys { keys })
    }

    /// The name of the trusted key that made `signature` over `manifest`.
    pub fn signer(&self, manifest: &[u8], signature: &[u8]) -> Option<&str> {
        let sig = Signature::from_slice(signature).ok()?;
        self.keys
            .iter()
            .find(|(_, k)| k.verify_strict(manifest, &sig).is_ok())
            .map(|(n, _)| n.as_str())
    }

    /// What the signature policy says of a package: the signer's name, `None` for an
    /// unsigned package when no key is configured, or why it is refused.
    pub fn judge(
        &self,
        manifest: &[u8],
        signature: Option<&[u8]>,
    ) -> Result<Option<String>, String> {
        match (signature, self.keys.is_empty()) {
            (None, true) => Ok(None),
            (None, false) => Err("unsigned, and trusted keys are configured".into()),
            (Some(_), true) => Ok(None),
            (Some(sig), false) => self
                .signer(manifest, sig)
                .map(|n| Some(n.to_string()))
                .ok_or_else(|| "its signature is not made by any trusted key".into()),
        }
    }
}

/// Write the package of a library into `out_dir`; its path. `manifest` already holds the
/// library's digest and descriptions.
pub fn create(
    manifest: &PackageManifest,
    library: &Path,
    key: Option<&SigningKey>,
    out_dir: &Path,
) -> Result<PathBuf, PackageError> {
    let json = serde_json::to_vec_pretty(manifest).expect("serialisable manifest");
    let dest = out_dir.join(manifest.archive_name());
    let io = |e| PackageError::Io(dest.clone(), e);
    std::fs::create_dir_all(out_dir).map_err(io)?;
    let tmp = tempfile::NamedTempFile::new_in(out_dir).map_err(io)?;
    let gz = flate2::write::GzEncoder::new(tmp.as_file(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let mut add = |name: &str, mode: u32, size: u64, data: &mut dyn Read| {
        let mut header = tar::Header::new_ustar();
        header.set_size(size);
        header.set_mode(mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, name, data)
    };
    add(MANIFEST, 0o644, json.len() as u64, &mut json.as_slice()).map_err(io)?;
    if let Some(key) = key {
        let sig = key.sign(&json).to_bytes();
        add(SIGNATURE, 0o644, sig.len() as u64, &mut sig.as_slice()).map_err(io)?;
    }
    let lib_file = std::fs::File::open(library).map_err(|e| PackageError::Io(library.into(), e))?;
    let size = lib_file
        .metadata()
        .map_err(|e| PackageError::Io(library.into(), e))?
        .len();
    add(&manifest.file, 0o644, size, &mut &lib_file).map_err(io)?;
    tar.into_inner()
        .and_then(|gz| gz.finish())
        .and_then(|mut f| f.flush())
        .map_err(io)?;
    std::fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .map_err(io)?;
    tmp.persist(&dest).map_err(|e| io(e.error))?;
    Ok(dest)
}

/// What [`unpack`] found.
pub struct Unpacked {
    pub manifest: PackageManifest,
    pub manifest_bytes: Vec<u8>,
    pub signature: Option<Vec<u8>>,
}

/// Extract a package into the empty folder `dest`, refusing anything that is not one of its
/// three plain files at its expected name (no folder, link, device, `..` or absolute path, no
/// duplicate), and a library whose sha256 is not the manifest's.
pub fn unpack(archive: &Path, dest: &Path) -> Result<Unpacked, PackageError> {
    let invalid = |msg: String| PackageError::Invalid(archive.to_path_buf(), msg);
    let file = std::fs::File::open(archive).map_err(|e| PackageError::Io(archive.into(), e))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut manifest_bytes = None;
    let mut signature = None;
    let mut library: Option<(String, String)> = None;
    let entries = tar.entries().map_err(|e| invalid(e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| invalid(e.to_string()))?;
        let raw_name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let kind = entry.header().entry_type();
        if kind != tar::EntryType::Regular {
            return Err(invalid(format!(
                "entry '{raw_name}' is not a plain file ({kind:?})"
            )));
        }
        if !is_plain_name(&raw_name) && raw_name != MANIFEST && raw_name != SIGNATURE {
            return Err(invalid(format!(
                "entry '{raw_name}' is not a plain file name (absolute, in a folder, or '..')"
            )));
        }
        let size = entry.header().size().map_err(|e| invalid(e.to_string()))?;
        let duplicate = || invalid(format!("entry '{raw_name}' appears twice"));
        match raw_name.as_str() {
            MANIFEST => {
                if manifest_bytes.is_some() {
                    return Err(duplicate());
                }
                manifest_bytes = Some(read_small(&mut entry, size, MAX_MANIFEST, &raw_name).map_err(invalid)?);
            }
            SIGNATURE => {
                if signature.is_some() {
                    return Err(duplicate());
                }
                signature = Some(read_small(&mut entry, size, 64, &raw_name).map_err(invalid)?);
            }
            name if name.ends_with(".so") => {
                if library.is_some() {
                    return Err(invalid(format!(
                        "entry '{raw_name}': a package holds one library"
                    )));
                }
                if size > MAX_LIBRARY {
                    return Err(invalid(format!("entry '{raw_name}' is too large")));
                }
                let sha = extract_hashing(&mut entry, &dest.join(name))
                    .map_err(|e| invalid(format!("entry '{raw_name}': {e}")))?;
                library = Some((name.to_string(), sha));
            }
            _ => {
                return Err(invalid(format!(
                    "unexpected entry '{raw_name}' (a package holds {MANIFEST}, {SIGNATURE} and one .so)"
                )))
            }
        }
    }
    let manifest_bytes = manifest_bytes.ok_or_else(|| invalid(format!("no {MANIFEST}")))?;
    let manifest = PackageManifest::parse(&manifest_bytes).map_err(invalid)?;
    let (name, sha) = library.ok_or_else(|| invalid(format!("no library ({})", manifest.file)))?;
    if name != manifest.file {
        return Err(invalid(format!(
            "it holds '{name}', its {MANIFEST} names '{}'",
            manifest.file
        )));
    }
    if sha != manifest.sha256 {
        return Err(PackageError::Refused(
            archive.to_path_buf(),
            format!(
                "the sha256 of {name} is {sha}, its {MANIFEST} says {}",
                manifest.sha256
            ),
        ));
    }
    Ok(Unpacked {
        manifest,
        manifest_bytes,
        signature,
    })
}

fn read_small(entry: &mut impl Read, size: u64, max: u64, name: &str) -> Result<Vec<u8>, String> {
    if size > max {
        return Err(format!("entry '{name}' is too large ({size} bytes)"));
    }
    let mut buf = Vec::with_capacity(size as usize);
    entry
        .take(max + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("entry '{name}': {e}"))?;
    Ok(buf)
}

/// Copy an entry to a new file, hashing on the way; its hex sha256.
fn extract_hashing(entry: &mut impl Read, dest: &Path) -> std::io::Result<String> {
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dest)?;
    let sha = digest::sha256_stream(entry, |block| out.write_all(block))?;
    out.sync_all()?;
    Ok(sha)
}

/// The package manifest of a library file, from what the loaded library says of itself.
pub fn describe(lib: &super::loader::Library) -> Result<PackageManifest, String> {
    let file = lib
        .path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let m = PackageManifest {
        format: FORMAT,
        library: lib.manifest.plugin.clone(),
        version: lib.manifest.version.clone(),
        file,
        sha256: digest::sha256_file(&lib.path)
            .map_err(|e| format!("{}: {e}", lib.path.display()))?,
        target: HOST_TARGET.to_string(),
        plugin_api: lib.plugin_api.clone(),
        api: lib.api,
        drivers: lib.manifest.drivers.clone(),
        features: lib.manifest.features.clone(),
    };
    // What an installer will check, checked now.
    let bytes = serde_json::to_vec(&m).map_err(|e| e.to_string())?;
    PackageManifest::parse(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn manifest(file: &str, sha256: &str) -> PackageManifest {
        let mut d = DriverManifest::new("app.vend", "1.2.0");
        d.help = "test".into();
        PackageManifest {
            format: FORMAT,
            library: "vend".into(),
            version: "1.2.0".into(),
            file: file.into(),
            sha256: sha256.into(),
            target: HOST_TARGET.into(),
            plugin_api: svcmgr_plugin_api::VERSION.into(),
            api: ApiRange::single(API_VERSION),
            drivers: vec![d],
            features: vec![],
        }
    }

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    /// A package of `content` as library, made by `create`.
    fn package(dir: &Path, content: &[u8], key: Option<&SigningKey>) -> PathBuf {
        let lib = dir.join("libvend.so");
        std::fs::write(&lib, content).unwrap();
        let m = manifest("libvend.so", &digest::sha256_bytes(content));
        create(&m, &lib, key, &dir.join("out")).unwrap()
    }

    #[test]
    fn round_trip_with_a_signature() {
        let dir = tempfile::tempdir().unwrap();
        let pkg = package(dir.path(), b"\x7fELF...", Some(&key()));
        assert!(pkg.ends_with(format!("vend-1.2.0-{HOST_TARGET}.tar.gz")));
        let dest = dir.path().join("x");
        std::fs::create_dir(&dest).unwrap();
        let u = unpack(&pkg, &dest).unwrap();
        assert_eq!(u.manifest.drivers[0].id, "app.vend");
        assert_eq!(
            std::fs::read(dest.join("libvend.so")).unwrap(),
            b"\x7fELF..."
        );
        let trusted = TrustedKeys {
            keys: vec![("vendor".into(), key().verifying_key())],
        };
        let sig = u.signature.as_deref();
        assert_eq!(
            trusted.judge(&u.manifest_bytes, sig),
            Ok(Some("vendor".into()))
        );
        let mut tampered = u.manifest_bytes.clone();
        tampered[5] ^= 1;
        assert!(trusted.judge(&tampered, sig).is_err());
        assert!(trusted.judge(&u.manifest_bytes, None).is_err());
        let none = TrustedKeys { keys: vec![] };
        assert_eq!(none.judge(&u.manifest_bytes, None), Ok(None));
    }

    /// A tar.gz with the given raw entries (name, type, content).
    fn raw_archive(path: &Path, entries: &[(&str, tar::EntryType, &[u8])]) {
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(path).unwrap(),
            flate2::Compression::fast(),
        );
        let mut tar = tar::Builder::new(gz);
        for (name, kind, data) in entries {
            let mut h = tar::Header::new_gnu();
            // set_path refuses `..` and absolute paths: write the name bytes directly.
            h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_entry_type(*kind);
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            if *kind == tar::EntryType::Symlink {
                h.set_link_name("/etc/passwd").unwrap();
                h.set_size(0);
            }
            h.set_cksum();
            tar.append(
                &h,
                if *kind == tar::EntryType::Symlink {
                    &b""[..]
                } else {
                    data
                },
            )
            .unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap();
    }

    #[test]
    fn bad_entries_are_refused_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let m = serde_json::to_vec(&manifest("libvend.so", &digest::sha256_bytes(b"x"))).unwrap();
        type Entries<'a> = Vec<(&'a str, tar::EntryType, &'a [u8])>;
        let cases: Vec<(Entries, &str)> = vec![
            (
                vec![("../evil.so", tar::EntryType::Regular, b"x")],
                "'../evil.so' is not a plain file name",
            ),
            (
                vec![("/etc/evil.so", tar::EntryType::Regular, b"x")],
                "'/etc/evil.so' is not a plain file name",
            ),
            (
                vec![("sub/libvend.so", tar::EntryType::Regular, b"x")],
                "'sub/libvend.so' is not a plain file name",
            ),
            (
                vec![("libvend.so", tar::EntryType::Symlink, b"")],
                "'libvend.so' is not a plain file",
            ),
            (
                vec![("libvend.so", tar::EntryType::Char, b"")],
                "'libvend.so' is not a plain file",
            ),
            (
                vec![
                    ("driver.json", tar::EntryType::Regular, &m),
                    ("driver.json", tar::EntryType::Regular, &m),
                ],
                "'driver.json' appears twice",
            ),
            (
                vec![("README", tar::EntryType::Regular, b"x")],
                "unexpected entry 'README'",
            ),
            (
                vec![
                    ("driver.json", tar::EntryType::Regular, &m),
                    ("libvend.so", tar::EntryType::Regular, b"y"),
                ],
                "the sha256 of libvend.so is",
            ),
            (
                vec![("driver.json", tar::EntryType::Regular, &m)],
                "no library (libvend.so)",
            ),
        ];
        for (i, (entries, want)) in cases.iter().enumerate() {
            let pkg = dir.path().join(format!("p{i}.tar.gz"));
            raw_archive(&pkg, entries);
            let dest = dir.path().join(format!("d{i}"));
            std::fs::create_dir(&dest).unwrap();
            let e = unpack(&pkg, &dest).err().expect(want).to_string();
            assert!(e.contains(want), "{e} (expected {want})");
            // Nothing outside the destination.
            assert!(!dir.path().join("evil.so").exists());
        }
    }

    #[test]
    fn a_truncated_archive_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let pkg = package(dir.path(), &vec![1u8; 200_000], None);
        let bytes = std::fs::read(&pkg).unwrap();
        std::fs::write(&pkg, &bytes[..bytes.len() / 2]).unwrap();
        let dest = dir.path().join("d");
        std::fs::create_dir(&dest).unwrap();
        let e = unpack(&pkg, &dest).err().unwrap().to_string();
        assert!(e.contains("not a valid driver package"), "{e}");
    }

    #[test]
    fn manifest_checks() {
        let ok = manifest("libvend.so", &"a".repeat(64));
        let check = |m: &PackageManifest| PackageManifest::parse(&serde_json::to_vec(m).unwrap());
        check(&ok).unwrap();
        let mut bad = ok.clone();
        bad.file = "../libvend.so".into();
        assert!(check(&bad)
            .unwrap_err()
            .contains("not a plain .so file name"));
        let mut bad = ok.clone();
        bad.drivers[0].id = "novend".into();
        assert!(check(&bad).unwrap_err().contains("is not <group>.<type>"));
        let mut other = ok.clone();
        other.target = "aarch64-unknown-linux-gnu".into();
        if HOST_TARGET != other.target {
            assert!(other
                .incompatibility()
                .unwrap()
                .contains("built for aarch64"));
        }
        let mut other = ok.clone();
        other.api = ApiRange::single(API_VERSION + 1);
        assert!(other
            .incompatibility()
            .unwrap()
            .contains("speaks api versions"));
        assert_eq!(ok.incompatibility(), None);
    }
}
