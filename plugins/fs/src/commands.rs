//! The command lines the driver runs, built from the resource's keywords (pure, so the exact
//! lines are unit-tested), and the Debian package shipping each program.

use crate::kind::Kind;
use std::path::Path;

fn text(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// `mount -t <type> [-o <opts>] <dev> <mnt>`; a bind mount is `mount -o bind[,<opts>] …`.
pub fn mount(kind: Kind, dev: &str, mnt: &Path, opts: Option<&str>) -> Vec<String> {
    let mut argv = vec!["mount".to_string()];
    let opts = opts.filter(|o| !o.is_empty());
    match kind {
        Kind::Bind => {
            let all = opts.map_or("bind".to_string(), |o| format!("bind,{o}"));
            argv.extend(["-o".into(), all]);
        }
        _ => {
            argv.extend(["-t".into(), kind.name().into()]);
            if let Some(o) = opts {
                argv.extend(["-o".into(), o.into()]);
            }
        }
    }
    argv.extend([dev.to_string(), text(mnt)]);
    argv
}

pub fn umount(mnt: &Path) -> Vec<String> {
    vec!["umount".into(), text(mnt)]
}

/// Kill every process using the filesystem mounted at `mnt`.
pub fn fuser_kill(mnt: &Path) -> Vec<String> {
    vec!["fuser".into(), "-k".into(), "-m".into(), text(mnt)]
}

/// The check run before mounting: `e2fsck -p` for ext*, nothing for the others (xfs checks
/// itself at mount).
pub fn fsck(kind: Kind, dev: &Path) -> Option<Vec<String>> {
    kind.is_ext()
        .then(|| vec!["e2fsck".into(), "-p".into(), text(dev)])
}

/// Exit codes of `e2fsck -p` that let the start go on: clean, or errors corrected.
pub fn fsck_ok(code: i32) -> bool {
    code == 0 || code == 1
}

/// Exit code 8 of `e2fsck` (operational error) is worth another try: it is what e2fsck says
/// of a device still held exclusively, as it is for a moment after its umount when a new mount
/// namespace (a container being created) copied the mount just before.
pub fn fsck_retriable(code: i32) -> bool {
    code == 8
}

/// `mkfs.<type> -q [mkfs_opt] <dev>`, for the formatted kinds.
pub fn mkfs(kind: Kind, opts: &[String], dev: &Path) -> Option<Vec<String>> {
    kind.formatted().then(|| {
        let mut argv = vec![format!("mkfs.{}", kind.name()), "-q".into()];
        argv.extend(opts.iter().cloned());
        argv.push(text(dev));
        argv
    })
}

/// Low-level probe of the signatures on a device (any filesystem, LVM PV, swap, …).
pub fn probe(dev: &Path) -> Vec<String> {
    ["blkid", "-p", "-o", "export"]
        .into_iter()
        .map(String::from)
        .chain([text(dev)])
        .collect()
}

pub fn wipefs(dev: &Path) -> Vec<String> {
    vec!["wipefs".into(), "-a".into(), text(dev)]
}

/// The Debian package that ships `program`.
pub fn package_of(program: &str) -> &'static str {
    match program {
        "e2fsck" | "mkfs.ext2" | "mkfs.ext3" | "mkfs.ext4" => "e2fsprogs",
        "mkfs.xfs" => "xfsprogs",
        "fuser" => "psmisc",
        "mount" | "umount" => "mount",
        _ => "util-linux",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(argv: Vec<String>) -> String {
        argv.join(" ")
    }

    #[test]
    fn mount_lines() {
        let mnt = Path::new("/opt/app");
        assert_eq!(
            line(mount(Kind::Ext4, "/dev/vg/lv", mnt, Some("rw"))),
            "mount -t ext4 -o rw /dev/vg/lv /opt/app"
        );
        assert_eq!(
            line(mount(Kind::Xfs, "/dev/loop1", mnt, Some(""))),
            "mount -t xfs /dev/loop1 /opt/app",
            "no -o without options"
        );
        assert_eq!(
            line(mount(Kind::Tmpfs, "tmpfs", mnt, Some("size=10m"))),
            "mount -t tmpfs -o size=10m tmpfs /opt/app"
        );
        assert_eq!(
            line(mount(Kind::Bind, "/srv/data", mnt, None)),
            "mount -o bind /srv/data /opt/app"
        );
        assert_eq!(
            line(mount(Kind::Bind, "/srv/data", mnt, Some("ro"))),
            "mount -o bind,ro /srv/data /opt/app"
        );
    }

    #[test]
    fn check_format_wipe() {
        let dev = Path::new("/dev/loop0");
        assert_eq!(line(fsck(Kind::Ext3, dev).unwrap()), "e2fsck -p /dev/loop0");
        assert_eq!(fsck(Kind::Xfs, dev), None);
        assert!(fsck_ok(0) && fsck_ok(1));
        assert!(!fsck_ok(2) && !fsck_ok(4) && !fsck_ok(8));
        assert!(fsck_retriable(8) && !fsck_retriable(4) && !fsck_retriable(1));
        assert_eq!(
            line(mkfs(Kind::Ext4, &["-L".into(), "app".into()], dev).unwrap()),
            "mkfs.ext4 -q -L app /dev/loop0"
        );
        assert_eq!(
            line(mkfs(Kind::Xfs, &[], dev).unwrap()),
            "mkfs.xfs -q /dev/loop0"
        );
        assert_eq!(mkfs(Kind::Tmpfs, &[], dev), None);
        assert_eq!(line(probe(dev)), "blkid -p -o export /dev/loop0");
        assert_eq!(line(wipefs(dev)), "wipefs -a /dev/loop0");
        assert_eq!(line(fuser_kill(Path::new("/m"))), "fuser -k -m /m");
        assert_eq!(line(umount(Path::new("/m"))), "umount /m");
    }

    #[test]
    fn packages() {
        assert_eq!(package_of("mkfs.ext3"), "e2fsprogs");
        assert_eq!(package_of("mkfs.xfs"), "xfsprogs");
        assert_eq!(package_of("fuser"), "psmisc");
        assert_eq!(package_of("wipefs"), "util-linux");
        assert_eq!(package_of("blkid"), "util-linux");
    }
}
