//! Service configuration: the INI document, its file, scoped lookups, and resolution of its
//! sections into typed resource definitions (`resolve`).

pub mod ini;
pub mod keywords;
pub mod kwexpr;
pub mod refs;
pub mod resolve;

use ini::{Document, Section};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use svcmgr_plugin_api::sdk::files;

/// The largest config file read (a service of 10,000 resources takes about 0.3 MiB): a
/// larger one is refused before it is read.
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// A config that could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("service {name} does not exist ({} not found)", path.display())]
    Missing { name: String, path: PathBuf },
    // The cause is part of the message (not a `source`): error chains print it once.
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}: {error}", path.display())]
    Syntax {
        path: PathBuf,
        error: ini::ParseError,
    },
    /// A file svcmgr refuses to act on (not a regular file, too large, writable or owned by
    /// someone else), or a document that would not read back as written.
    #[error("{}: {why}", path.display())]
    Refused { path: PathBuf, why: String },
}

/// What identifies a config file's content on disk: a change shows in one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
}

/// The stamp of the config at `path`; None when it is gone.
pub fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    Some(Stamp {
        dev: m.dev(),
        ino: m.ino(),
        size: m.size(),
        mtime: m.mtime(),
        mtime_nsec: m.mtime_nsec(),
    })
}

/// Why a config file (`is_dir` false) or its folder must not be trusted: its commands run
/// as root. The rule driver libraries follow ([`crate::paths::distrust`]), except that a
/// sticky folder (where nobody replaces another's file) may be writable by others.
fn untrusted(meta: &std::fs::Metadata) -> Option<String> {
    use crate::paths::Distrust;
    match crate::paths::distrust(meta)? {
        Distrust::Writable(mode) if meta.is_dir() && mode & 0o1000 != 0 => None,
        Distrust::Writable(mode) => Some(format!("writable by group or others (mode {mode:o})")),
        Distrust::Owner(uid) => Some(format!(
            "owned by uid {uid}, neither root nor the invoking user"
        )),
    }
}

/// Read a config file's bytes, refusing what svcmgr must not act on: a file that is not
/// regular (a FIFO would block the read forever, a device never end), larger than
/// [`MAX_CONFIG_BYTES`], or untrusted, or in an untrusted folder.
fn read_config_file(name: &str, path: &Path) -> Result<Vec<u8>, ConfigError> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let refused = |why: String| ConfigError::Refused {
        path: path.into(),
        why,
    };
    let io = |error| ConfigError::Io {
        path: path.into(),
        error,
    };
    // Non-blocking: opening a FIFO for reading waits for a writer otherwise.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ConfigError::Missing {
                name: name.into(),
                path: path.into(),
            },
            _ => io(e),
        })?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(refused("not a regular file".into()));
    }
    let too_large = || refused(format!("larger than {} MiB", MAX_CONFIG_BYTES >> 20));
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(too_large());
    }
    if let Some(why) = untrusted(&meta) {
        return Err(refused(why));
    }
    if let Some(dir) = path.parent().and_then(|d| std::fs::metadata(d).ok()) {
        if let Some(why) = untrusted(&dir) {
            return Err(refused(format!("its folder is {why}")));
        }
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub name: String,
    pub path: PathBuf,
    pub doc: Document,
}

impl ServiceConfig {
    pub fn load(name: &str, path: &Path) -> Result<Self, ConfigError> {
        let bytes = read_config_file(name, path)?;
        let text = ini::decode(&bytes).map_err(|error| ConfigError::Syntax {
            path: path.into(),
            error,
        })?;
        Self::from_text(name, path, text)
    }

    pub fn from_text(
        name: &str,
        path: impl Into<PathBuf>,
        text: &str,
    ) -> Result<Self, ConfigError> {
        let path = path.into();
        let doc = Document::parse(text).map_err(|error| ConfigError::Syntax {
            path: path.clone(),
            error,
        })?;
        Ok(ServiceConfig {
            name: name.into(),
            path,
            doc,
        })
    }

    /// Write atomically ([`files::write_atomic`]: unique temporary file, fsync, rename),
    /// mode 0600, in a folder made 0750. The rendered text is read back first and must give
    /// the document in memory: no writer can inject a line the reader would see otherwise.
    /// Callers hold the config lock ([`crate::lock::config`]) around their read-modify-write.
    pub fn save(&self) -> Result<(), ConfigError> {
        let io = |error| ConfigError::Io {
            path: self.path.clone(),
            error,
        };
        let text = self.doc.render();
        let back = Document::parse(&text).map_err(|e| ConfigError::Refused {
            path: self.path.clone(),
            why: format!("nothing written: the new text would not read back: {e}"),
        })?;
        self.doc
            .same_content(&back)
            .map_err(|why| ConfigError::Refused {
                path: self.path.clone(),
                why: format!("nothing written: the new text would not read back as set: {why}"),
            })?;
        if let Some(dir) = self.path.parent() {
            files::create_dir_mode(dir, crate::paths::SHARED_DIR_MODE).map_err(io)?;
        }
        files::write_atomic(&self.path, text.as_bytes(), crate::paths::PRIVATE_FILE_MODE)
            .map_err(io)
    }

    /// `key@<node>` first, then `key@nodes` when this node is one of `DEFAULT.nodes`, then `key`.
    pub fn raw_scoped(&self, section: &str, key: &str, node: &str) -> Option<&str> {
        self.raw_scoped_in(self.doc.section(section)?, key, node)
    }

    /// [`ServiceConfig::raw_scoped`] in a section already found.
    pub fn raw_scoped_in<'s>(&'s self, s: &'s Section, key: &str, node: &str) -> Option<&'s str> {
        self.scoped_in(s, key, node).map(|(_, v)| v)
    }

    /// The key (`key`, `key@<node>`, `key@nodes`) and value this node reads for `key`.
    pub fn scoped_in<'s>(
        &'s self,
        s: &'s Section,
        key: &str,
        node: &str,
    ) -> Option<(&'s str, &'s str)> {
        // One pass over the section, without building the scoped names (this runs for every
        // keyword of every section).
        let (mut on_node, mut on_nodes, mut bare) = (None, None, None);
        for (k, v) in s.entries() {
            match k.strip_prefix(key) {
                Some("") => bare = bare.or(Some((k, v))),
                Some(scoped) => match scoped.strip_prefix('@') {
                    Some(n) if n == node => on_node = on_node.or(Some((k, v))),
                    Some("nodes") => on_nodes = on_nodes.or(Some((k, v))),
                    _ => {}
                },
                None => {}
            }
        }
        on_node
            .or(on_nodes.filter(|_| self.node_in_nodes(node)))
            .or(bare)
    }

    fn node_in_nodes(&self, node: &str) -> bool {
        match self.doc.get("DEFAULT", "nodes") {
            Some(nodes) => nodes.split_whitespace().any(|n| n == node),
            None => true,
        }
    }

    /// `DEFAULT.id`, or empty.
    pub fn id(&self) -> &str {
        self.doc.get("DEFAULT", "id").unwrap_or("")
    }
}
