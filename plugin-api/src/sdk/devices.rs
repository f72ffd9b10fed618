//! The names one block device goes by, so that a driver recognises it whatever name the
//! config and the kernel's mount table use: the path as written and its symlinks' target,
//! `/dev/<kernel name>` (`/dev/dm-3`, `/dev/loop0`), the device-mapper name
//! (`/dev/mapper/<vg>-<lv>`) and the LVM path (`/dev/<vg>/<lv>`), a loop device's backing
//! file, udev's `/dev/disk/by-*` links and their `UUID=`/`LABEL=` forms. Everything is read
//! from `/dev` and `/sys`: no command is run.
//!
//! `UUID=`/`LABEL=` are resolved through udev's `/dev/disk/by-uuid|by-label` links; where udev
//! does not run (containers), the superblocks of the block devices are read instead (ext2/3/4
//! and xfs are recognised: see [`parse_superblock`]).
//!
//! ```no_run
//! use svcmgr_plugin_api::sdk::{devices::Devices, mountinfo};
//!
//! let aliases = Devices::system().aliases("/dev/mapper/vgapp-lvapproot");
//! let table = mountinfo::read()?;
//! let mounted = table.iter().any(|m| aliases.matches(m));
//! # Ok::<(), std::io::Error>(())
//! ```

use super::mountinfo::Mount;
use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Every name and device number of one device, or of the loop devices backing one image file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aliases {
    /// Paths (`/dev/loop0`, `/dev/mapper/vg-lv`, an image file) and `UUID=…`/`LABEL=…` forms.
    pub names: BTreeSet<String>,
    /// The device numbers, as `(major, minor)`. Empty when no block device was found.
    pub numbers: BTreeSet<(u32, u32)>,
}

impl Aliases {
    /// Whether `mount` is of this device: its device number or its source is one of ours.
    pub fn matches(&self, mount: &Mount) -> bool {
        self.numbers.contains(&mount.device_number()) || self.names.contains(&mount.source)
    }
}

/// What a filesystem superblock says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Superblock {
    /// `ext2`, `ext3`, `ext4` or `xfs`.
    pub fs_type: &'static str,
    /// The filesystem UUID, lowercase, `8-4-4-4-12` hex digits.
    pub uuid: String,
    /// The filesystem label (empty when unset).
    pub label: String,
}

/// Where device nodes and sysfs live: `/dev` and `/sys`, or a fake tree in tests.
#[derive(Debug, Clone)]
pub struct Devices {
    dev: PathBuf,
    sys: PathBuf,
}

impl Devices {
    /// The running system's `/dev` and `/sys`.
    pub fn system() -> Devices {
        Devices {
            dev: PathBuf::from("/dev"),
            sys: PathBuf::from("/sys"),
        }
    }

    /// Other roots standing for `/dev` and `/sys` (tests). Names are reported under `dev`.
    pub fn with_roots(dev: impl Into<PathBuf>, sys: impl Into<PathBuf>) -> Devices {
        let canon = |p: PathBuf| fs::canonicalize(&p).unwrap_or(p);
        Devices {
            dev: canon(dev.into()),
            sys: canon(sys.into()),
        }
    }

    /// The path to hand to tools for a `dev` keyword value: the path as written when it
    /// exists, the device holding that filesystem for `UUID=`/`LABEL=`. None: no such device.
    pub fn resolve(&self, spec: &str) -> Option<PathBuf> {
        match tag_spec(spec) {
            Some((tag, value)) => self.find_tagged(tag, value),
            None => Path::new(spec).exists().then(|| PathBuf::from(spec)),
        }
    }

    /// Every name of the device `spec` designates (a path, `UUID=…`, `LABEL=…`, or an image
    /// file: then the loop devices attached to it). `spec` itself is always among the names.
    pub fn aliases(&self, spec: &str) -> Aliases {
        let mut out = Aliases::default();
        out.names.insert(spec.to_string());
        let Some(path) = self.resolve(spec) else {
            return out;
        };
        if let Ok(canon) = fs::canonicalize(&path) {
            out.names.insert(path_text(&path));
            out.names.insert(path_text(&canon));
            if let Some(kname) = self.kernel_name(&canon) {
                self.add_device(&kname, &mut out);
            } else if canon.is_file() {
                for kname in self.loops_backed_by(&canon) {
                    self.add_device(&kname, &mut out);
                }
            }
        }
        out
    }

    /// The whole devices at the bottom of the stack under the device `spec` designates (what
    /// OpenSVC's `print base devs` shows): the devices a device-mapper device (a logical
    /// volume) is built on, recursively, and a partition's disk; a device with nothing under
    /// it is its own base. Paths under `/dev`, sorted; empty when `spec` designates no block
    /// device.
    pub fn base_devices(&self, spec: &str) -> Vec<String> {
        let kname = self
            .resolve(spec)
            .and_then(|p| fs::canonicalize(p).ok())
            .and_then(|canon| self.kernel_name(&canon));
        let mut out = BTreeSet::new();
        if let Some(kname) = kname {
            self.add_bases(&kname, &mut out, 0);
        }
        out.into_iter().collect()
    }

    /// Add the bases of the block device `kname` (`depth`: how far down the stack it is).
    fn add_bases(&self, kname: &str, out: &mut BTreeSet<String>, depth: u32) {
        // sysfs has no cycles; the bound guards against a broken (or fake) tree.
        if depth < 16 {
            if let Some(disk) = self.disk_of_partition(kname) {
                return self.add_bases(&disk, out, depth + 1);
            }
            let under = self.below(kname);
            if !under.is_empty() {
                for k in under {
                    self.add_bases(&k, out, depth + 1);
                }
                return;
            }
        }
        out.insert(path_text(&self.dev.join(kname)));
    }

    /// The kernel names of the devices `kname` is built on (sysfs `slaves`), sorted.
    fn below(&self, kname: &str) -> Vec<String> {
        let dir = self.sys.join("class/block").join(kname).join("slaves");
        let mut names: Vec<String> = fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// The disk holding the partition `kname` (its folder's parent in sysfs), if it is one.
    fn disk_of_partition(&self, kname: &str) -> Option<String> {
        let dir = self.sys.join("class/block").join(kname);
        if !dir.join("partition").exists() {
            return None;
        }
        let real = fs::canonicalize(&dir).ok()?;
        Some(real.parent()?.file_name()?.to_string_lossy().into_owned())
    }

    /// Kernel names of the loop devices whose backing file is `file` (canonical path).
    pub fn loops_backed_by(&self, file: &Path) -> Vec<String> {
        let want = path_text(file);
        self.block_devices()
            .into_iter()
            .filter(|k| k.starts_with("loop"))
            .filter(|k| {
                self.sys_read(k, "loop/backing_file")
                    .is_some_and(|f| f == want)
            })
            .collect()
    }

    /// Kernel names of the block devices sysfs lists.
    fn block_devices(&self) -> Vec<String> {
        let Ok(dir) = fs::read_dir(self.sys.join("class/block")) else {
            return Vec::new();
        };
        let mut names: Vec<String> = dir
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// A sysfs attribute of a block device, trimmed.
    fn sys_read(&self, kname: &str, attr: &str) -> Option<String> {
        let text = fs::read_to_string(self.sys.join("class/block").join(kname).join(attr)).ok()?;
        Some(text.trim().to_string())
    }

    /// The kernel name of the block device at `canon`: its file name when sysfs knows it,
    /// else found by its device number (a `/dev/mapper/x` node that is not a symlink).
    fn kernel_name(&self, canon: &Path) -> Option<String> {
        if canon.parent() == Some(self.dev.as_path()) {
            let name = canon.file_name()?.to_string_lossy().into_owned();
            if self.sys.join("class/block").join(&name).exists() {
                return Some(name);
            }
        }
        let meta = fs::metadata(canon).ok()?;
        if !meta.file_type().is_block_device() {
            return None;
        }
        let (major, minor) = (libc::major(meta.rdev()), libc::minor(meta.rdev()));
        let link = fs::read_link(self.sys.join(format!("dev/block/{major}:{minor}"))).ok()?;
        Some(link.file_name()?.to_string_lossy().into_owned())
    }

    /// Add the names and number of the block device `kname`.
    fn add_device(&self, kname: &str, out: &mut Aliases) {
        let node = self.dev.join(kname);
        out.names.insert(path_text(&node));
        if let Some(number) = self
            .sys_read(kname, "dev")
            .and_then(|d| parse_dev_number(&d))
        {
            out.numbers.insert(number);
        }
        if let Some(dm_name) = self.sys_read(kname, "dm/name") {
            out.names
                .insert(path_text(&self.dev.join("mapper").join(&dm_name)));
            let is_lvm = self
                .sys_read(kname, "dm/uuid")
                .is_some_and(|u| u.starts_with("LVM-"));
            if let Some((vg, lv)) = split_mapper_name(&dm_name).filter(|_| is_lvm) {
                out.names.insert(path_text(&self.dev.join(vg).join(lv)));
            }
        }
        if let Some(file) = self.sys_read(kname, "loop/backing_file") {
            out.names.insert(file);
        }
        self.add_udev_links(&node, out);
    }

    /// udev's `/dev/disk/by-*/` links to `node`, and `UUID=`/`LABEL=` for the by-uuid and
    /// by-label ones.
    fn add_udev_links(&self, node: &Path, out: &mut Aliases) {
        let Ok(kinds) = fs::read_dir(self.dev.join("disk")) else {
            return;
        };
        for kind in kinds.flatten() {
            let kind_name = kind.file_name().to_string_lossy().into_owned();
            for link in fs::read_dir(kind.path()).into_iter().flatten().flatten() {
                if fs::canonicalize(link.path()).ok().as_deref() != Some(node) {
                    continue;
                }
                out.names.insert(path_text(&link.path()));
                let value = link.file_name().to_string_lossy().into_owned();
                match kind_name.as_str() {
                    "by-uuid" => out.names.insert(format!("UUID={value}")),
                    "by-label" => out.names.insert(format!("LABEL={value}")),
                    _ => false,
                };
            }
        }
    }

    /// The device holding the filesystem whose UUID or label is `value`.
    fn find_tagged(&self, tag: Tag, value: &str) -> Option<PathBuf> {
        let dir = match tag {
            Tag::Uuid => "by-uuid",
            Tag::Label => "by-label",
        };
        let link = self.dev.join("disk").join(dir).join(value);
        if link.exists() {
            return Some(link);
        }
        // No udev: read the superblocks of the devices that have a size.
        self.block_devices()
            .into_iter()
            .filter(|k| self.sys_read(k, "size").is_some_and(|s| s != "0"))
            .map(|k| self.dev.join(k))
            .find(|node| {
                read_superblock(node).is_some_and(|sb| match tag {
                    Tag::Uuid => sb.uuid.eq_ignore_ascii_case(value),
                    Tag::Label => sb.label == value,
                })
            })
    }
}

#[derive(Debug, Clone, Copy)]
enum Tag {
    Uuid,
    Label,
}

fn tag_spec(spec: &str) -> Option<(Tag, &str)> {
    if let Some(v) = spec.strip_prefix("UUID=") {
        Some((Tag::Uuid, v))
    } else {
        spec.strip_prefix("LABEL=").map(|v| (Tag::Label, v))
    }
}

fn path_text(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// `"7:0"` → `(7, 0)`.
fn parse_dev_number(text: &str) -> Option<(u32, u32)> {
    let (major, minor) = text.split_once(':')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Split a device-mapper name made by LVM into its VG and LV names: `vgapp-lvroot` →
/// `("vgapp", "lvroot")`; a dash inside a name is doubled (`my--vg-lv--1` → `("my-vg", "lv-1")`).
/// None when the name has no single dash, or more than one (LVM's hidden layers such as
/// `vg-lv-real`).
pub fn split_mapper_name(name: &str) -> Option<(String, String)> {
    let bytes = name.as_bytes();
    let mut split = None;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'-' {
            if bytes.get(i + 1) == Some(&b'-') {
                i += 2;
                continue;
            }
            if split.replace(i).is_some() {
                return None;
            }
        }
        i += 1;
    }
    let at = split?;
    let (vg, lv) = (&name[..at], &name[at + 1..]);
    (!vg.is_empty() && !lv.is_empty()).then(|| (vg.replace("--", "-"), lv.replace("--", "-")))
}

/// The device-mapper name LVM gives the LV `lv` of the VG `vg` (`/dev/mapper/<this>`).
pub fn mapper_name(vg: &str, lv: &str) -> String {
    format!("{}-{}", vg.replace('-', "--"), lv.replace('-', "--"))
}

/// Read the superblock of the filesystem on `path` (a device or an image file), if it is one
/// that [`parse_superblock`] recognises.
pub fn read_superblock(path: &Path) -> Option<Superblock> {
    let mut head = Vec::with_capacity(SUPERBLOCK_SPAN);
    fs::File::open(path)
        .ok()?
        .take(SUPERBLOCK_SPAN as u64)
        .read_to_end(&mut head)
        .ok()?;
    parse_superblock(&head)
}

/// How many bytes from the start of a device hold the superblocks we read.
pub const SUPERBLOCK_SPAN: usize = 2048;

/// Recognise an ext2/3/4 or xfs superblock in the first [`SUPERBLOCK_SPAN`] bytes of a
/// device. The ext flavour is told as blkid does: features ext3 lacks make it ext4, a journal
/// without them ext3, neither ext2.
pub fn parse_superblock(head: &[u8]) -> Option<Superblock> {
    let le32 = |b: &[u8], at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    if head.len() >= 512 && &head[..4] == b"XFSB" {
        return Some(Superblock {
            fs_type: "xfs",
            uuid: format_uuid(&head[32..48]),
            label: c_string(&head[108..120]),
        });
    }
    let sb = head.get(1024..2048)?;
    if u16::from_le_bytes([sb[56], sb[57]]) != 0xEF53 {
        return None;
    }
    let (compat, incompat, ro_compat) = (le32(sb, 0x5C), le32(sb, 0x60), le32(sb, 0x64));
    // What ext3 supports: filetype, recover, meta_bg; sparse_super, large_file, btree_dir.
    const EXT3_INCOMPAT: u32 = 0x2 | 0x4 | 0x10;
    const EXT3_RO_COMPAT: u32 = 0x1 | 0x2 | 0x4;
    const HAS_JOURNAL: u32 = 0x4;
    let fs_type = if incompat & !EXT3_INCOMPAT != 0 || ro_compat & !EXT3_RO_COMPAT != 0 {
        "ext4"
    } else if compat & HAS_JOURNAL != 0 {
        "ext3"
    } else {
        "ext2"
    };
    Some(Superblock {
        fs_type,
        uuid: format_uuid(&sb[0x68..0x78]),
        label: c_string(&sb[0x78..0x88]),
    })
}

fn format_uuid(b: &[u8]) -> String {
    let hex =
        |r: std::ops::Range<usize>| b[r].iter().map(|x| format!("{x:02x}")).collect::<String>();
    format!(
        "{}-{}-{}-{}-{}",
        hex(0..4),
        hex(4..6),
        hex(6..8),
        hex(8..10),
        hex(10..16)
    )
}

fn c_string(b: &[u8]) -> String {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A fake `/dev` + `/sys` tree, removed on drop.
    struct Tree(PathBuf);

    impl Tree {
        fn new() -> Tree {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let dir = std::env::temp_dir().join(format!(
                "svcmgr-devices-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            ));
            fs::create_dir_all(dir.join("dev")).unwrap();
            fs::create_dir_all(dir.join("sys/class/block")).unwrap();
            fs::create_dir_all(dir.join("sys/dev/block")).unwrap();
            Tree(fs::canonicalize(dir).unwrap())
        }
        fn devices(&self) -> Devices {
            Devices::with_roots(self.0.join("dev"), self.0.join("sys"))
        }
        fn dev(&self, rel: &str) -> String {
            path_text(&self.0.join("dev").join(rel))
        }
        fn write(&self, rel: &str, text: &str) {
            let p = self.0.join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, text).unwrap();
        }
        fn link(&self, rel: &str, target: &str) {
            let p = self.0.join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            symlink(target, p).unwrap();
        }
        /// A block device as sysfs and udev show it (the node is a plain file here).
        fn block(&self, kname: &str, number: &str, size: &str) {
            self.write(&format!("dev/{kname}"), "");
            self.write(
                &format!("sys/class/block/{kname}/dev"),
                &format!("{number}\n"),
            );
            self.write(
                &format!("sys/class/block/{kname}/size"),
                &format!("{size}\n"),
            );
            self.link(
                &format!("sys/dev/block/{number}"),
                &format!("../../class/block/{kname}"),
            );
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn lvm_volume_under_all_its_names() {
        let t = Tree::new();
        t.block("dm-3", "253:3", "2048");
        t.write("sys/class/block/dm-3/dm/name", "my--vg-lv--root\n");
        t.write("sys/class/block/dm-3/dm/uuid", "LVM-abcdef\n");
        t.link("dev/mapper/my--vg-lv--root", "../dm-3");
        t.link("dev/my-vg/lv-root", "../dm-3");
        t.link("dev/disk/by-uuid/1234-abcd", "../../dm-3");
        t.link("dev/disk/by-label/root", "../../dm-3");
        let d = t.devices();
        let want = set(&[
            &t.dev("dm-3"),
            &t.dev("mapper/my--vg-lv--root"),
            &t.dev("my-vg/lv-root"),
            &t.dev("disk/by-uuid/1234-abcd"),
            &t.dev("disk/by-label/root"),
            "UUID=1234-abcd",
            "LABEL=root",
        ]);
        for spec in [
            t.dev("my-vg/lv-root"),
            t.dev("mapper/my--vg-lv--root"),
            t.dev("dm-3"),
            "UUID=1234-abcd".to_string(),
            "LABEL=root".to_string(),
        ] {
            let a = d.aliases(&spec);
            assert_eq!(a.names, want, "from {spec}");
            assert_eq!(a.numbers, BTreeSet::from([(253, 3)]), "from {spec}");
        }
        assert_eq!(
            d.resolve("UUID=1234-abcd"),
            Some(t.0.join("dev/disk/by-uuid/1234-abcd"))
        );
    }

    #[test]
    fn a_device_mapper_volume_not_made_by_lvm_has_no_vg_path() {
        let t = Tree::new();
        t.block("dm-0", "253:0", "8");
        t.write("sys/class/block/dm-0/dm/name", "crypt-data\n");
        t.write("sys/class/block/dm-0/dm/uuid", "CRYPT-LUKS2-x\n");
        let a = t.devices().aliases(&t.dev("dm-0"));
        assert_eq!(a.names, set(&[&t.dev("dm-0"), &t.dev("mapper/crypt-data")]));
    }

    #[test]
    fn image_file_and_its_loop_devices() {
        let t = Tree::new();
        let image = t.0.join("disk.img");
        fs::write(&image, "").unwrap();
        let image_s = path_text(&image);
        t.block("loop0", "7:0", "128");
        t.write(
            "sys/class/block/loop0/loop/backing_file",
            &format!("{image_s}\n"),
        );
        t.block("loop1", "7:1", "128");
        t.write("sys/class/block/loop1/loop/backing_file", "/other.img\n");
        let d = t.devices();
        let a = d.aliases(&image_s);
        assert_eq!(a.names, set(&[&image_s, &t.dev("loop0")]));
        assert_eq!(a.numbers, BTreeSet::from([(7, 0)]));
        let b = d.aliases(&t.dev("loop0"));
        assert!(
            b.names.contains(&image_s),
            "a loop device names its backing file"
        );
        assert_eq!(d.loops_backed_by(&image), ["loop0"]);
    }

    #[test]
    fn a_symlink_is_followed() {
        let t = Tree::new();
        t.block("vdb", "254:16", "100");
        t.link("my-disk", "dev/vdb");
        let link = path_text(&t.0.join("my-disk"));
        let a = t.devices().aliases(&link);
        assert_eq!(a.names, set(&[&link, &t.dev("vdb")]));
        assert_eq!(a.numbers, BTreeSet::from([(254, 16)]));
    }

    #[test]
    fn a_device_node_is_found_by_its_number() {
        let t = Tree::new();
        t.block("dm-7", "253:7", "8");
        t.write("sys/class/block/dm-7/dm/name", "vg-data\n");
        t.write("sys/class/block/dm-7/dm/uuid", "LVM-x\n");
        // Without udev, /dev/mapper/<name> is a node of its own, not a link to dm-N.
        fs::create_dir_all(t.0.join("dev/mapper")).unwrap();
        let node = std::ffi::CString::new(t.dev("mapper/vg-data")).unwrap();
        // SAFETY: mknod(2) on a path we own; no memory is shared.
        let made =
            unsafe { libc::mknod(node.as_ptr(), libc::S_IFBLK | 0o600, libc::makedev(253, 7)) };
        if made != 0 {
            eprintln!(
                "skipped: mknod needs CAP_MKNOD ({})",
                std::io::Error::last_os_error()
            );
            return;
        }
        let a = t.devices().aliases(&t.dev("mapper/vg-data"));
        assert_eq!(
            a.names,
            set(&[&t.dev("mapper/vg-data"), &t.dev("dm-7"), &t.dev("vg/data")])
        );
    }

    #[test]
    fn base_devices_are_at_the_bottom_of_the_stack() {
        let t = Tree::new();
        // sda1 is a partition of sda: sysfs lists it in its disk's folder.
        t.block("sda", "8:0", "4096");
        fs::create_dir_all(t.0.join("sys/devices/pci0/block/sda/sda1")).unwrap();
        t.write("sys/devices/pci0/block/sda/sda1/partition", "1\n");
        t.write("sys/devices/pci0/block/sda/sda1/dev", "8:1\n");
        t.link("sys/class/block/sda1", "../../devices/pci0/block/sda/sda1");
        t.write("dev/sda1", "");
        t.block("loop2", "7:2", "128");
        // An LV on sda1 and loop2, and an LV on that one (a snapshot's layers).
        t.block("dm-0", "253:0", "64");
        t.link("sys/class/block/dm-0/slaves/sda1", "../../sda1");
        t.link("sys/class/block/dm-0/slaves/loop2", "../../loop2");
        t.block("dm-1", "253:1", "64");
        t.link("sys/class/block/dm-1/slaves/dm-0", "../../dm-0");
        t.link("dev/vg/lv", "../dm-1");
        let d = t.devices();
        let (sda, loop2) = (t.dev("sda"), t.dev("loop2"));
        assert_eq!(
            d.base_devices(&t.dev("vg/lv")),
            [loop2.clone(), sda.clone()]
        );
        assert_eq!(d.base_devices(&t.dev("sda1")), [sda]);
        assert_eq!(d.base_devices(&loop2), [loop2]);
        assert!(d.base_devices("/nonexistent/dev").is_empty());
    }

    #[test]
    fn missing_device_has_only_its_own_name() {
        let t = Tree::new();
        let d = t.devices();
        let a = d.aliases("/nonexistent/dev");
        assert_eq!(a.names, set(&["/nonexistent/dev"]));
        assert!(a.numbers.is_empty());
        assert_eq!(d.resolve("/nonexistent/dev"), None);
        assert_eq!(d.resolve("UUID=0000"), None);
    }

    #[test]
    fn matches_a_mount_by_number_or_source() {
        let a = Aliases {
            names: set(&["/dev/loop0"]),
            numbers: BTreeSet::from([(7, 0)]),
        };
        let mount = |line: &[u8]| super::super::mountinfo::parse_line(line).unwrap();
        assert!(a.matches(&mount(b"1 2 7:0 / /m rw - ext4 /dev/other rw")));
        assert!(a.matches(&mount(b"1 2 0:40 / /m rw - btrfs /dev/loop0 rw")));
        assert!(!a.matches(&mount(b"1 2 7:1 / /m rw - ext4 /dev/loop1 rw")));
    }

    fn ext_head(compat: u32, incompat: u32, ro: u32) -> Vec<u8> {
        let mut head = vec![0u8; SUPERBLOCK_SPAN];
        let sb = &mut head[1024..];
        sb[56..58].copy_from_slice(&0xEF53u16.to_le_bytes());
        sb[0x5C..0x60].copy_from_slice(&compat.to_le_bytes());
        sb[0x60..0x64].copy_from_slice(&incompat.to_le_bytes());
        sb[0x64..0x68].copy_from_slice(&ro.to_le_bytes());
        for (i, b) in sb[0x68..0x78].iter_mut().enumerate() {
            *b = i as u8 * 17;
        }
        sb[0x78..0x7D].copy_from_slice(b"appfs");
        head
    }

    #[test]
    fn superblocks() {
        let ext4 = parse_superblock(&ext_head(0x4, 0x2 | 0x40, 0x1)).unwrap();
        assert_eq!(ext4.fs_type, "ext4");
        assert_eq!(ext4.uuid, "00112233-4455-6677-8899-aabbccddeeff");
        assert_eq!(ext4.label, "appfs");
        assert_eq!(
            parse_superblock(&ext_head(0x4, 0x2, 0x1)).unwrap().fs_type,
            "ext3"
        );
        assert_eq!(
            parse_superblock(&ext_head(0, 0x2, 0x3)).unwrap().fs_type,
            "ext2"
        );
        assert_eq!(
            parse_superblock(&ext_head(0, 0x2, 0x8)).unwrap().fs_type,
            "ext4"
        );

        let mut xfs = vec![0u8; 512];
        xfs[..4].copy_from_slice(b"XFSB");
        xfs[32] = 0xab;
        xfs[108..112].copy_from_slice(b"data");
        let sb = parse_superblock(&xfs).unwrap();
        assert_eq!((sb.fs_type, sb.label.as_str()), ("xfs", "data"));
        assert!(sb.uuid.starts_with("ab000000-"));

        assert_eq!(parse_superblock(&[0u8; SUPERBLOCK_SPAN]), None);
        assert_eq!(parse_superblock(&[0u8; 100]), None, "too short");
    }

    #[test]
    fn uuid_and_label_without_udev_read_the_superblocks() {
        let t = Tree::new();
        t.block("loop5", "7:5", "0");
        t.block("vdc", "254:32", "4096");
        fs::write(t.0.join("dev/vdc"), ext_head(0x4, 0x42, 0x1)).unwrap();
        let d = t.devices();
        let want = Some(t.0.join("dev/vdc"));
        assert_eq!(d.resolve("UUID=00112233-4455-6677-8899-AABBCCDDEEFF"), want);
        assert_eq!(d.resolve("LABEL=appfs"), want);
        assert_eq!(d.resolve("LABEL=other"), None);
        let a = d.aliases("LABEL=appfs");
        assert_eq!(a.numbers, BTreeSet::from([(254, 32)]));
    }

    #[test]
    fn mapper_names() {
        assert_eq!(
            split_mapper_name("vgapp-lvapproot"),
            Some(("vgapp".into(), "lvapproot".into()))
        );
        assert_eq!(
            split_mapper_name("my--vg-lv--1"),
            Some(("my-vg".into(), "lv-1".into()))
        );
        assert_eq!(split_mapper_name("vg-lv-real"), None, "a hidden layer");
        assert_eq!(split_mapper_name("nodash"), None);
        assert_eq!(split_mapper_name("vg-"), None);
        assert_eq!(mapper_name("my-vg", "lv-1"), "my--vg-lv--1");
    }
}
