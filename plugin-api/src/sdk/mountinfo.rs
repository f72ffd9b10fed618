//! The kernel's mount table, read from `/proc/self/mountinfo` without running `mount` or
//! `findmnt` (a status check should cost no fork).
//!
//! The kernel escapes four bytes in the path fields as octal: space `\040`, tab `\011`,
//! newline `\012` and backslash `\134`; [`parse`] undoes that. Other bytes are written raw,
//! so paths are kept as [`PathBuf`] (they need not be UTF-8).
//!
//! ```
//! use svcmgr_plugin_api::sdk::mountinfo;
//! use std::path::Path;
//!
//! let table = mountinfo::parse(
//!     b"36 25 7:0 / /srv/my\\040data rw,relatime shared:1 - ext4 /dev/loop0 rw\n",
//! );
//! let m = mountinfo::mounts_at(&table, Path::new("/srv/my data"))[0];
//! assert_eq!((m.source.as_str(), m.fs_type.as_str()), ("/dev/loop0", "ext4"));
//! assert_eq!(m.device_number(), (7, 0));
//! ```

use std::borrow::Cow;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

/// One mount: one line of `/proc/self/mountinfo` (see `proc(5)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The mount's unique id.
    pub id: u32,
    /// The id of the mount this one sits on.
    pub parent_id: u32,
    /// Major number of the mounted filesystem's device (`st_dev` of the files on it).
    pub major: u32,
    /// Minor number of the mounted filesystem's device.
    pub minor: u32,
    /// The directory of the filesystem mounted here: `/`, or the source directory of a bind
    /// mount relative to its filesystem's root.
    pub root: PathBuf,
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// Per-mount options (`rw,relatime`).
    pub mount_options: String,
    /// The filesystem type (`ext4`, `tmpfs`, …).
    pub fs_type: String,
    /// What was mounted: a device path as the kernel knows it (`/dev/loop0`, `/dev/mapper/x`
    /// shows as `/dev/mapper/x` or `/dev/dm-N` depending on how it was named), or a free word
    /// (`tmpfs`, `none`).
    pub source: String,
    /// Per-superblock options.
    pub super_options: String,
}

impl Mount {
    /// The device number of the mounted filesystem, as `(major, minor)`.
    pub fn device_number(&self) -> (u32, u32) {
        (self.major, self.minor)
    }

    /// Whether this mount is read-only (`ro` among its per-mount options).
    pub fn read_only(&self) -> bool {
        self.mount_options.split(',').any(|o| o == "ro")
    }
}

/// Read this process's mount table.
pub fn read() -> std::io::Result<Vec<Mount>> {
    std::fs::read("/proc/self/mountinfo").map(|bytes| parse(&bytes))
}

/// Parse a mountinfo text. A line that does not have the expected fields is skipped.
pub fn parse(text: &[u8]) -> Vec<Mount> {
    text.split(|b| *b == b'\n').filter_map(parse_line).collect()
}

/// Parse one mountinfo line.
pub fn parse_line(line: &[u8]) -> Option<Mount> {
    let fields: Vec<&[u8]> = line.split(|b| *b == b' ').collect();
    // Optional fields (shared:N, master:N…) run until a lone "-".
    let sep = fields.iter().position(|f| *f == b"-")?;
    if sep < 6 || fields.len() < sep + 4 {
        return None;
    }
    // Status checks read the table often: a field without escapes (nearly all) is copied
    // once, not unescaped into a buffer and then copied again.
    fn raw(f: &[u8]) -> Cow<'_, [u8]> {
        match f.contains(&b'\\') {
            true => Cow::Owned(unescape(f)),
            false => Cow::Borrowed(f),
        }
    }
    let text = |f: &[u8]| String::from_utf8_lossy(&raw(f)).into_owned();
    let path = |f: &[u8]| PathBuf::from(OsString::from_vec(raw(f).into_owned()));
    let num = |f: &[u8]| std::str::from_utf8(f).ok()?.parse::<u32>().ok();
    let (major, minor) = std::str::from_utf8(fields[2]).ok()?.split_once(':')?;
    Some(Mount {
        id: num(fields[0])?,
        parent_id: num(fields[1])?,
        major: major.parse().ok()?,
        minor: minor.parse().ok()?,
        root: path(fields[3]),
        mount_point: path(fields[4]),
        mount_options: text(fields[5]),
        fs_type: text(fields[sep + 1]),
        source: text(fields[sep + 2]),
        super_options: text(fields[sep + 3]),
    })
}

/// Undo the kernel's octal escapes (`\040` → space). A backslash not followed by three octal
/// digits is kept as it is.
pub fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let octal = field
            .get(i + 1..i + 4)
            .filter(|d| field[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)))
            .map(|d| d.iter().fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0')))
            .and_then(|v| u8::try_from(v).ok());
        match octal {
            Some(byte) => {
                out.push(byte);
                i += 4;
            }
            None => {
                out.push(field[i]);
                i += 1;
            }
        }
    }
    out
}

/// The mounts whose mount point is `path`, in mount order (the last one is on top).
pub fn mounts_at<'a>(mounts: &'a [Mount], path: &Path) -> Vec<&'a Mount> {
    mounts.iter().filter(|m| m.mount_point == path).collect()
}

/// The mounts strictly below `path`, deepest first: the order to unmount them in.
pub fn mounts_under<'a>(mounts: &'a [Mount], path: &Path) -> Vec<&'a Mount> {
    let mut below: Vec<(usize, &Mount)> = mounts
        .iter()
        .enumerate()
        .filter(|(_, m)| m.mount_point != path && m.mount_point.starts_with(path))
        .collect();
    // Deeper paths first; at equal depth, the most recent mount first.
    below.sort_by(|(ia, a), (ib, b)| {
        let depth = |m: &Mount| m.mount_point.components().count();
        depth(b).cmp(&depth(a)).then(ib.cmp(ia))
    });
    below.into_iter().map(|(_, m)| m).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &[u8] = b"22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:1 / / rw,relatime shared:1 master:2 - ext4 /dev/vda1 rw,errors=remount-ro
40 27 7:3 / /srv/a rw,relatime shared:5 - ext4 /dev/loop3 rw
41 40 7:4 / /srv/a/b ro,nosuid - xfs /dev/loop4 ro,attr2
42 41 0:50 / /srv/a/b/c\\040d rw - tmpfs tmp\\134fs rw,size=1024k
43 40 7:3 /data /srv/a/bind rw - ext4 /dev/loop3 rw
44 27 7:5 / /srv/ab rw - ext4 /dev/loop5 rw
45 40 0:51 / /srv/a/b rw - tmpfs tmpfs rw
";

    #[test]
    fn fields_and_escapes() {
        let t = parse(SAMPLE);
        assert_eq!(t.len(), 8);
        let m = &t[1];
        assert_eq!((m.id, m.parent_id), (27, 1));
        assert_eq!(m.device_number(), (254, 1));
        assert_eq!(m.fs_type, "ext4");
        assert_eq!(m.source, "/dev/vda1");
        assert_eq!(m.super_options, "rw,errors=remount-ro");
        assert!(!m.read_only());
        assert!(t[3].read_only());
        assert_eq!(t[4].mount_point, Path::new("/srv/a/b/c d"));
        assert_eq!(t[4].source, "tmp\\fs");
        assert_eq!(t[5].root, Path::new("/data"));
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let t = parse(b"garbage\n1 2 3:4 / /x rw\n\n5 6 x:y / /y rw - ext4 /dev/z rw\n");
        assert!(t.is_empty());
    }

    #[test]
    fn unescape_keeps_what_is_not_an_escape() {
        assert_eq!(unescape(b"a\\040b"), b"a b");
        assert_eq!(unescape(b"a\\011\\012\\134"), b"a\t\n\\");
        assert_eq!(unescape(b"a\\09b\\"), b"a\\09b\\");
        assert_eq!(unescape(b"\\777"), b"\\777", "out of byte range");
        assert_eq!(
            parse(b"1 2 3:4 / /\\303\\251t\\xe9 rw - ext4 /dev/z rw")[0].mount_point,
            PathBuf::from(OsString::from_vec(b"/\xc3\xa9t\\xe9".to_vec()))
        );
    }

    #[test]
    fn at_and_under() {
        let t = parse(SAMPLE);
        let at: Vec<u32> = mounts_at(&t, Path::new("/srv/a/b"))
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(at, [41, 45], "stacked mounts in mount order");
        let under: Vec<u32> = mounts_under(&t, Path::new("/srv/a"))
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(
            under,
            [42, 45, 43, 41],
            "deepest first, /srv/ab is not below"
        );
        assert!(mounts_under(&t, Path::new("/srv/a/b/c d")).is_empty());
    }

    #[test]
    fn reads_this_process_table() {
        let t = read().unwrap();
        assert!(t.iter().any(|m| m.mount_point == Path::new("/")));
    }
}
