//! Service configuration: the INI document, its file, scoped lookups, and resolution of its
//! sections into typed resource definitions (`resolve`).

pub mod ini;
pub mod keywords;
pub mod kwexpr;
pub mod refs;
pub mod resolve;

use ini::{Document, Section};
use std::path::{Path, PathBuf};

/// A config that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("service {name} does not exist ({} not found)", path.display())]
    Missing { name: String, path: PathBuf },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Syntax {
        path: PathBuf,
        source: ini::ParseError,
    },
}

#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub name: String,
    pub path: PathBuf,
    pub doc: Document,
}

impl ServiceConfig {
    pub fn load(name: &str, path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ConfigError::Missing {
                name: name.into(),
                path: path.into(),
            },
            _ => ConfigError::Io {
                path: path.into(),
                source: e,
            },
        })?;
        Self::from_text(name, path, &text)
    }

    pub fn from_text(
        name: &str,
        path: impl Into<PathBuf>,
        text: &str,
    ) -> Result<Self, ConfigError> {
        let path = path.into();
        let doc = Document::parse(text).map_err(|source| ConfigError::Syntax {
            path: path.clone(),
            source,
        })?;
        Ok(ServiceConfig {
            name: name.into(),
            path,
            doc,
        })
    }

    /// Write atomically (temp file in the same folder, then rename).
    pub fn save(&self) -> Result<(), ConfigError> {
        let io = |source| ConfigError::Io {
            path: self.path.clone(),
            source,
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = self.path.with_extension("conf.tmp");
        std::fs::write(&tmp, self.doc.render()).map_err(io)?;
        std::fs::rename(&tmp, &self.path).map_err(io)
    }

    /// `key@<node>` first, then `key@nodes` when this node is one of `DEFAULT.nodes`, then `key`.
    pub fn raw_scoped(&self, section: &str, key: &str, node: &str) -> Option<&str> {
        self.raw_scoped_in(self.doc.section(section)?, key, node)
    }

    /// [`ServiceConfig::raw_scoped`] in a section already found.
    pub fn raw_scoped_in<'s>(&'s self, s: &'s Section, key: &str, node: &str) -> Option<&'s str> {
        // One pass over the section, without building the scoped names (this runs for every
        // keyword of every section).
        let (mut on_node, mut on_nodes, mut bare) = (None, None, None);
        for (k, v) in s.entries() {
            match k.strip_prefix(key) {
                Some("") => bare = bare.or(Some(v)),
                Some(scoped) => match scoped.strip_prefix('@') {
                    Some(n) if n == node => on_node = on_node.or(Some(v)),
                    Some("nodes") => on_nodes = on_nodes.or(Some(v)),
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
