//! The pid file of an `app.simple`: the pid and the identity of the process started (its
//! start time in `/proc/<pid>/stat`, the boot it ran in) and its command. A process whose
//! identity differs is not the app, however its pid came back: it is never signalled.

use serde_json::{json, Value};
use std::path::Path;

/// What the pid file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PidFile {
    pub pid: i32,
    /// Clock ticks after boot at which the process started (`/proc/<pid>/stat`, field 22).
    pub start_time: u64,
    /// `/proc/sys/kernel/random/boot_id`: start times count from boot.
    pub boot_id: String,
    /// The command started, for messages (a program may rewrite its own command line).
    pub command: Vec<String>,
}

impl PidFile {
    /// The identity of process `pid`, started for `command`; None when it is gone.
    pub fn of(pid: i32, command: &[String]) -> Option<PidFile> {
        let (_, start_time) = stat(pid)?;
        Some(PidFile {
            pid,
            start_time,
            boot_id: boot_id(),
            command: command.to_vec(),
        })
    }

    /// The pid file at `path`; None when absent or unreadable (a file of another format
    /// proves nothing about a process).
    pub fn read(path: &Path) -> Option<PidFile> {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
        Some(PidFile {
            pid: i32::try_from(doc["pid"].as_i64()?).ok()?,
            start_time: doc["start_time"].as_u64()?,
            boot_id: doc["boot_id"].as_str()?.to_string(),
            command: serde_json::from_value(doc["command"].clone()).ok()?,
        })
    }

    pub fn to_json(&self) -> String {
        json!({
            "pid": self.pid,
            "start_time": self.start_time,
            "boot_id": self.boot_id,
            "command": self.command,
        })
        .to_string()
    }

    /// Whether the process it names runs and is the one started (an exited process that
    /// nobody reaped yet is not running).
    pub fn is_running(&self) -> bool {
        self.pid > 0
            && stat(self.pid).is_some_and(|(state, start)| {
                start == self.start_time && !matches!(state, 'Z' | 'X')
            })
            && boot_id() == self.boot_id
    }

    /// `pid 123 (sleep 30)`, for messages.
    pub fn describe(&self) -> String {
        format!("pid {} ({})", self.pid, self.command.join(" "))
    }
}

/// The state letter and start time of process `pid`, from `/proc/<pid>/stat`.
fn stat(pid: i32) -> Option<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// The fields after the command name (which may hold spaces and parentheses): the state is
/// the first, the start time the 20th (fields 3 and 22 of proc(5)).
fn parse_stat(text: &str) -> Option<(char, u64)> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    Some((state, fields.get(19)?.parse().ok()?))
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_from_stat_and_round_trip() {
        let line = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 \
                    1000 100 18446744073709551615";
        assert_eq!(parse_stat(line), Some(('S', 987654)));
        assert_eq!(parse_stat("garbage"), None);

        let me = std::process::id() as i32;
        let id = PidFile::of(me, &["test".into()]).unwrap();
        assert!(id.is_running(), "this very process");
        let dir = std::env::temp_dir().join(format!("app-pidfile-{me}"));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pid");
        std::fs::write(&path, id.to_json()).unwrap();
        assert_eq!(PidFile::read(&path), Some(id.clone()));
        // The same pid, another start time: another process.
        let other = PidFile {
            start_time: id.start_time + 1,
            ..id.clone()
        };
        assert!(!other.is_running());
        std::fs::write(&path, "4242\n").unwrap();
        assert_eq!(PidFile::read(&path), None, "a bare pid proves nothing");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
