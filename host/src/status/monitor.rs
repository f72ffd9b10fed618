//! The record of the last action, kept in the var dir (there is no daemon to remember it):
//! `idle` after a success, `<action> failed` after a failure, and the local expectation
//! `started` after a successful full start, cleared by a full stop.

use serde::{Deserialize, Serialize};
use std::path::Path;
use svcmgr_plugin_api::sdk::files;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Monitor {
    pub status: String,
    pub local_expect: String,
    pub last_action: String,
}

const FILE: &str = "monitor.json";

impl Monitor {
    /// The file the record of var dir `var` is kept in.
    pub fn path(var: &Path) -> std::path::PathBuf {
        var.join(FILE)
    }

    pub fn load(var: &Path) -> Monitor {
        std::fs::read_to_string(Self::path(var))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }

    /// Write atomically, 0600 (a reader never sees half a record).
    pub fn save(&self, var: &Path) -> std::io::Result<()> {
        write_state(
            var,
            FILE,
            &serde_json::to_string_pretty(self).unwrap_or_default(),
        )
    }

    /// Record how an action ended. `full` means no resource selection narrowed it.
    pub fn record(&mut self, action: &str, ok: bool, full: bool) {
        self.last_action = action.to_string();
        self.status = if ok {
            "idle".into()
        } else {
            format!("{action} failed")
        };
        if ok && full {
            match action {
                "start" | "restart" | "provision" => self.local_expect = "started".into(),
                "stop" | "shutdown" | "unprovision" => self.local_expect.clear(),
                _ => {}
            }
        }
    }

    /// Record an action that SIGINT or SIGTERM interrupted (what it changed was rolled
    /// back): `<action> interrupted`.
    pub fn record_interrupted(&mut self, action: &str) {
        self.last_action = action.to_string();
        self.status = format!("{action} interrupted");
    }
}

/// Write `<var>/<file>` atomically and durably, 0600, in a var dir made 0700 when missing.
pub fn write_state(var: &Path, file: &str, text: &str) -> std::io::Result<()> {
    use crate::paths::{PRIVATE_DIR_MODE, PRIVATE_FILE_MODE};
    files::create_dir_mode(var, PRIVATE_DIR_MODE)?;
    files::write_atomic(&var.join(file), text.as_bytes(), PRIVATE_FILE_MODE)
}

/// Write `<var>/status.json`, as [`write_state`] does but not synced to disk: it is a cache
/// of the last evaluation, rebuilt by any status or action, so a machine crash that loses the
/// last write costs nothing that the next command does not redo; readers still never see a
/// part of it. Its two fsyncs were most of a `print status` on a busy disk.
pub fn write_status_cache(var: &Path, text: &str) -> std::io::Result<()> {
    use crate::paths::{PRIVATE_DIR_MODE, PRIVATE_FILE_MODE};
    files::create_dir_mode(var, PRIVATE_DIR_MODE)?;
    files::write_cache(&var.join("status.json"), text.as_bytes(), PRIVATE_FILE_MODE)
}

/// The frozen flag file of a service.
pub fn frozen_flag(var: &Path) -> std::path::PathBuf {
    var.join("frozen")
}

/// When the service was frozen (unix time), if it is.
pub fn frozen_since(var: &Path) -> Option<f64> {
    let meta = std::fs::metadata(frozen_flag(var)).ok()?;
    let mtime = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(mtime.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes() {
        let mut m = Monitor::default();
        m.record("start", true, true);
        assert_eq!(
            (m.status.as_str(), m.local_expect.as_str()),
            ("idle", "started")
        );
        m.record("stop", true, false);
        assert_eq!(
            m.local_expect, "started",
            "a scoped stop keeps the expectation"
        );
        m.record("start", false, true);
        assert_eq!(m.status, "start failed");
        m.record("stop", true, true);
        assert_eq!((m.status.as_str(), m.local_expect.as_str()), ("idle", ""));
    }
}
