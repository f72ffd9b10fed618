//! Whether the resource's filesystem is mounted, from the kernel's mount table (no fork).
//! Pure: the table and the facts about the source are passed in.

use std::path::{Component, Path, PathBuf};
use svcmgr_plugin_api::sdk::devices::Aliases;
use svcmgr_plugin_api::sdk::mountinfo::{self, Mount};

/// What must be mounted for the resource to be up.
#[derive(Debug, Clone)]
pub enum Source {
    /// A block device (or image file) known under these names and numbers.
    Device(Aliases),
    /// A directory, bind-mounted: its filesystem's device number and its path (canonical).
    Directory { dev: (u32, u32), path: PathBuf },
    /// A tmpfs: any tmpfs mounted there.
    Tmpfs,
}

/// What the mount table holds at the mount point.
#[derive(Debug, PartialEq, Eq)]
pub enum State<'a> {
    /// Our source is mounted there.
    Mounted(&'a Mount),
    /// Something else is mounted there (the mount on top).
    Other(&'a Mount),
    Unmounted,
}

/// The state at the first of `points` (the mount point as written and its real path) that
/// holds anything.
pub fn state<'a>(table: &'a [Mount], points: &[PathBuf], source: &Source) -> State<'a> {
    let mut other = None;
    for point in points {
        for m in mountinfo::mounts_at(table, point) {
            if is_ours(table, m, source) {
                return State::Mounted(m);
            }
            other = Some(m);
        }
    }
    other.map_or(State::Unmounted, State::Other)
}

fn is_ours(table: &[Mount], m: &Mount, source: &Source) -> bool {
    match source {
        Source::Device(aliases) => aliases.matches(m),
        Source::Tmpfs => m.fs_type == "tmpfs",
        Source::Directory { dev, path } => {
            m.device_number() == *dev && bind_root(table, *dev, path).as_deref() == Some(&m.root)
        }
    }
}

/// The `root` field a bind mount of `path` shows: `path` relative to the mount of its
/// filesystem that contains it, under that mount's own root.
fn bind_root(table: &[Mount], dev: (u32, u32), path: &Path) -> Option<PathBuf> {
    let holder = table
        .iter()
        .filter(|m| m.device_number() == dev && path.starts_with(&m.mount_point))
        .max_by_key(|m| m.mount_point.components().count())?;
    let rest = path.strip_prefix(&holder.mount_point).ok()?;
    Some(holder.root.join(rest))
}

/// `path` made absolute-looking and without `.`, `..`, doubled or trailing slashes, without
/// touching the filesystem: the mount point as the kernel's table spells it, and the sort key.
pub fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    const TABLE: &[u8] = b"27 1 254:1 / / rw - ext4 /dev/vda1 rw
40 27 7:3 / /srv/a rw - ext4 /dev/loop3 rw
41 40 0:50 / /srv/a/t rw - tmpfs tmpfs rw
42 27 254:1 /home/data /srv/bind rw - ext4 /dev/vda1 rw
43 40 7:3 /sub /srv/b rw - ext4 /dev/loop3 rw
";

    fn loop3() -> Source {
        Source::Device(Aliases {
            names: BTreeSet::from(["/dev/loop3".to_string()]),
            numbers: BTreeSet::from([(7, 3)]),
        })
    }

    fn at(p: &str) -> Vec<PathBuf> {
        vec![PathBuf::from(p)]
    }

    #[test]
    fn device_mounted_other_or_not() {
        let t = mountinfo::parse(TABLE);
        assert!(matches!(state(&t, &at("/srv/a"), &loop3()), State::Mounted(m) if m.id == 40));
        assert!(matches!(state(&t, &at("/srv/a/t"), &loop3()), State::Other(m) if m.id == 41));
        assert_eq!(state(&t, &at("/srv/c"), &loop3()), State::Unmounted);
        let both = vec![PathBuf::from("/link/to/a"), PathBuf::from("/srv/a")];
        assert!(
            matches!(state(&t, &both, &loop3()), State::Mounted(_)),
            "the real path counts"
        );
    }

    #[test]
    fn tmpfs_and_bind() {
        let t = mountinfo::parse(TABLE);
        assert!(matches!(
            state(&t, &at("/srv/a/t"), &Source::Tmpfs),
            State::Mounted(_)
        ));
        assert!(matches!(
            state(&t, &at("/srv/a"), &Source::Tmpfs),
            State::Other(_)
        ));
        let home = |p: &str| Source::Directory {
            dev: (254, 1),
            path: PathBuf::from(p),
        };
        assert!(matches!(
            state(&t, &at("/srv/bind"), &home("/home/data")),
            State::Mounted(_)
        ));
        assert!(matches!(
            state(&t, &at("/srv/bind"), &home("/home/other")),
            State::Other(_)
        ));
        let sub = Source::Directory {
            dev: (7, 3),
            path: PathBuf::from("/srv/a/sub"),
        };
        assert!(
            matches!(state(&t, &at("/srv/b"), &sub), State::Mounted(_)),
            "a directory inside another mount"
        );
    }

    #[test]
    fn cleaning() {
        assert_eq!(
            clean(Path::new("/opt//app/./data/")),
            Path::new("/opt/app/data")
        );
        assert_eq!(clean(Path::new("/opt/app/../x")), Path::new("/opt/x"));
        assert_eq!(clean(Path::new("/")), Path::new("/"));
    }
}
