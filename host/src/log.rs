//! Console and file logging of actions (decisions §9).
//!
//! Default layout: `<node>.<svc>[.<rid>]` padded to a common width, one level character
//! (space for info, `W`, `E`, `D`), the message. `classic`: `HH:MM:SS LEVEL   NAME   message`.
//! Lines go to stderr whole (one write each) and, timestamped, to the service's log file.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use svcmgr_plugin_api::abi::level;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Default,
    Classic,
}

struct Logger {
    node: String,
    svc: String,
    width: usize,
    format: Format,
    debug: bool,
    color: bool,
    /// The action log, once [`open_file`] opened it: an action that is refused before it
    /// takes its lock writes nothing on disk.
    file: OnceLock<Mutex<File>>,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Options of the logger, from the CLI and the environment.
pub struct Setup<'a> {
    pub node: &'a str,
    pub svc: &'a str,
    /// The length of the longest rid (names are padded to a common width).
    pub longest_rid: usize,
    pub format: Format,
    pub debug: bool,
    pub color: bool,
}

/// Install the logger for the service this process acts on (first call wins).
pub fn init(s: Setup<'_>) {
    let longest_rid = if s.longest_rid > 0 {
        s.longest_rid + 1
    } else {
        0
    };
    let width = match s.format {
        Format::Default => s.node.len() + 1 + s.svc.len() + longest_rid,
        Format::Classic => s.svc.len() + 8,
    };
    let _ = LOGGER.set(Logger {
        node: s.node.to_string(),
        svc: s.svc.to_string(),
        width,
        format: s.format,
        debug: s.debug,
        color: s.color,
        file: OnceLock::new(),
    });
}

/// Append the lines logged from now on to the action log `path` too (made 0600, in a folder
/// made 0750 when missing). Without [`init`] first, or once a file is open, nothing changes.
pub fn open_file(path: &Path) {
    use std::os::unix::fs::OpenOptionsExt;
    let Some(l) = LOGGER.get() else {
        return;
    };
    if let Some(dir) = path.parent() {
        let _ = svcmgr_plugin_api::sdk::files::create_dir_mode(dir, crate::paths::SHARED_DIR_MODE);
    }
    if let Ok(f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(crate::paths::PRIVATE_FILE_MODE)
        .open(path)
    {
        let _ = l.file.set(Mutex::new(f));
        // The fatal-signal handler writes to the same file, with the same name column.
        crate::signals::set_log_target(Some(path), &l.name(""), utc_offset());
    }
}

fn level_char(lvl: u8) -> char {
    match lvl {
        level::WARN => 'W',
        level::ERROR => 'E',
        level::DEBUG => 'D',
        _ => ' ',
    }
}

fn level_word(lvl: u8) -> &'static str {
    match lvl {
        level::WARN => "WARNING",
        level::ERROR => "ERROR",
        level::DEBUG => "DEBUG",
        _ => "INFO",
    }
}

/// The local time's offset from UTC now, in seconds.
pub fn utc_offset() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as libc::time_t;
    // SAFETY: localtime_r writes into the tm we own.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&now, &mut tm);
        tm
    };
    tm.tm_gmtoff
}

/// Local time as (`YYYY-MM-DD`, `HH:MM:SS`, milliseconds).
fn now_local() -> (String, String, u32) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as libc::time_t;
    // SAFETY: localtime_r writes into the tm we own.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut tm);
        tm
    };
    (
        format!(
            "{:04}-{:02}-{:02}",
            tm.tm_year + 1900,
            tm.tm_mon + 1,
            tm.tm_mday
        ),
        format!("{:02}:{:02}:{:02}", tm.tm_hour, tm.tm_min, tm.tm_sec),
        now.subsec_millis(),
    )
}

impl Logger {
    fn name(&self, rid: &str) -> String {
        match (self.format, rid.is_empty()) {
            (Format::Default, true) => format!("{}.{}", self.node, self.svc),
            (Format::Default, false) => format!("{}.{}.{}", self.node, self.svc, rid),
            (Format::Classic, true) => self.svc.to_uppercase(),
            (Format::Classic, false) => format!("{}.{}", self.svc, rid).to_uppercase(),
        }
    }

    fn write(&self, rid: &str, lvl: u8, msg: &str) {
        let name = self.name(rid);
        let w = self.width;
        let (date, time, ms) = now_local();
        let plain = format!("{name:<w$} {} {msg}", level_char(lvl));
        if let Some(f) = self.file.get() {
            let mut f = f.lock().unwrap_or_else(|e| e.into_inner());
            // One write per line: another process appending to the same file (a concurrent
            // status) never splits it.
            let _ = f.write_all(format!("{date} {time}.{ms:03} {plain}\n").as_bytes());
        }
        if lvl == level::DEBUG && !self.debug {
            return;
        }
        let line = match self.format {
            Format::Classic => format!("{time} {:<7} {name:<w$} {msg}", level_word(lvl)),
            Format::Default if self.color => {
                let code = match lvl {
                    level::WARN => "33",
                    level::ERROR => "31",
                    _ => "0",
                };
                format!(
                    "\x1b[1m{name:<w$}\x1b[0m \x1b[{code}m{}\x1b[0m {msg}",
                    level_char(lvl)
                )
            }
            Format::Default => plain,
        };
        // stderr is unbuffered: `writeln!` would write the line in pieces.
        let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
    }
}

/// `text` with its control characters escaped (`\r`, `\x1b`, `\u{9b}`; a tab stays): what
/// drivers and commands print reaches the terminal and the log file as text, never as
/// terminal commands or a rewritten line.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() && c != '\t') {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\t' => out.push(c),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x80 && c.is_control() => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.into()
}

/// Log a line under `rid` (empty: the service itself); control characters are escaped.
pub fn log(rid: &str, lvl: u8, msg: &str) {
    match LOGGER.get() {
        Some(l) => {
            for part in msg.lines() {
                l.write(rid, lvl, &escape_controls(part));
            }
        }
        // Before a service is chosen (driver management, early errors): plain stderr.
        None if lvl != level::DEBUG => {
            for part in msg.lines() {
                eprintln!(
                    "{}{}",
                    if lvl == level::WARN { "warning: " } else { "" },
                    escape_controls(part)
                )
            }
        }
        None => {}
    }
}

pub fn info(rid: &str, msg: &str) {
    log(rid, level::INFO, msg)
}
pub fn warn(rid: &str, msg: &str) {
    log(rid, level::WARN, msg)
}
pub fn error(rid: &str, msg: &str) {
    log(rid, level::ERROR, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_controls("plain\ttext"), "plain\ttext");
        assert_eq!(
            escape_controls("a\u{1b}[2Jb\rc\u{7f}\u{9b}\0"),
            "a\\x1b[2Jb\\rc\\x7f\\u{9b}\\x00"
        );
    }
}
