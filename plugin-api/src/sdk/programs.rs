//! The system programs a driver runs: find one on `PATH` before running it, so that a missing
//! tool is reported with the package that ships it rather than as "No such file or directory".
//!
//! ```
//! use svcmgr_plugin_api::sdk::programs;
//!
//! assert!(programs::which("sh").is_some());
//! let err = programs::require("no-such-tool-here", "imaginary-tools").unwrap_err();
//! assert_eq!(
//!     err.message(),
//!     "no-such-tool-here not found: install the Debian package imaginary-tools"
//! );
//! ```

use super::{Error, Result};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// The executable file `name` resolves to on `PATH` (None: not installed, or not on `PATH`).
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// [`which`], or an error naming the program and the Debian `package` that ships it.
pub fn require(name: &str, package: &str) -> Result<PathBuf> {
    which(name).ok_or_else(|| {
        Error::other(format!(
            "{name} not found: install the Debian package {package}"
        ))
    })
}
