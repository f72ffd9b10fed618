//! End-to-end tests of the fs drivers and disk.vg through the `svcmgr` binary, on real kernel
//! objects: sparse image files on loop devices, real mkfs/e2fsck/mount, LVM physical volumes
//! and volume groups on loop devices. This kernel has no device-mapper, so volume groups have
//! no logical volumes here (the test that needs them says so and is skipped). Needs root and
//! `bash tests/setup/storage.sh`; the v1 test also `bash tests/setup/docker.sh`.
//!
//! Every test owns a `Lab`: uniquely named loop devices, VGs and mount points under its own
//! temp root. Its drop stops the processes it started, unmounts everything under the root
//! (deepest first), removes its VGs and detaches its loop devices, whether the test passed or
//! not.

use std::cell::RefCell;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use svcmgr_plugin_api::sdk::mountinfo;
use svcmgr_tests::{attach_loop, must, quietly, Run, Service};

/// The mounts at or below `dir`.
fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let table = mountinfo::read().unwrap();
    let mut points: Vec<PathBuf> = mountinfo::mounts_at(&table, dir)
        .into_iter()
        .chain(mountinfo::mounts_under(&table, dir))
        .map(|m| m.mount_point.clone())
        .collect();
    points.dedup();
    points
}

fn is_mountpoint(path: &Path) -> bool {
    !mountinfo::mounts_at(&mountinfo::read().unwrap(), path).is_empty()
}

/// The tags of a VG (empty when it has none).
fn vg_tags(vg: &str) -> Vec<String> {
    must(&["vgs", "--noheadings", "-o", "vg_tags", vg])
        .trim()
        .split(',')
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect()
}

fn vg_exists(vg: &str) -> bool {
    Command::new("vgs")
        .arg(vg)
        .env("LVM_SUPPRESS_FD_WARNINGS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// `blkid -p` TYPE of a device, None when it holds no signature.
fn fs_type(dev: &str) -> Option<String> {
    let out = Command::new("blkid")
        .args(["-p", "-o", "value", "-s", "TYPE", dev])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Asserts that `run` logged each `(rid, text)` step, in this order.
#[track_caller]
fn assert_in_order(run: &Run, steps: &[(&str, &str)]) {
    let at: Vec<usize> = steps
        .iter()
        .map(|(rid, what)| run.line_index(&[rid, what]))
        .collect();
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "{steps:?} at {at:?} in:\n{}",
        run.stderr
    );
}

/// One test's kernel objects and service, all removed on drop.
struct Lab {
    svc: Service,
    loops: RefCell<Vec<String>>,
    vgs: RefCell<Vec<String>>,
    children: RefCell<Vec<Child>>,
}

impl Lab {
    fn new(libs: &[&str]) -> Lab {
        Lab {
            svc: Service::new("stg", libs),
            loops: RefCell::new(Vec::new()),
            vgs: RefCell::new(Vec::new()),
            children: RefCell::new(Vec::new()),
        }
    }

    fn root(&self) -> &Path {
        self.env.root.path()
    }

    /// A path under the lab's root.
    fn path(&self, rel: &str) -> PathBuf {
        self.env.path(rel)
    }

    /// A sparse image file of `mb` MiB in the root (not attached).
    fn image(&self, name: &str, mb: u64) -> PathBuf {
        let path = self.path(name);
        std::fs::File::create(&path)
            .unwrap()
            .set_len(mb << 20)
            .unwrap();
        path
    }

    /// A new loop device on a blank 64 MiB image, detached on drop.
    fn loop_dev(&self, name: &str) -> String {
        self.loop_of_size(name, 64)
    }

    fn loop_of_size(&self, name: &str, mb: u64) -> String {
        let dev = attach_loop(&self.path(&format!("{name}.img")), mb);
        self.loops.borrow_mut().push(dev.clone());
        dev
    }

    /// A VG name of this lab, removed on drop.
    fn vg_name(&self, tag: &str) -> String {
        let vg = format!("{}{tag}", self.name);
        self.vgs.borrow_mut().push(vg.clone());
        vg
    }

    /// A process with its cwd in `dir`, killed on drop if still alive.
    fn busy(&self, dir: &Path) -> u32 {
        let child = Command::new("sleep")
            .arg("600")
            .current_dir(dir)
            .spawn()
            .unwrap();
        let pid = child.id();
        self.children.borrow_mut().push(child);
        pid
    }

    /// Whether the process `pid` this lab started has ended (reaped here).
    fn ended(&self, pid: u32) -> bool {
        let mut children = self.children.borrow_mut();
        let child = children.iter_mut().find(|c| c.id() == pid).unwrap();
        child.try_wait().unwrap().is_some()
    }
}

impl std::ops::Deref for Lab {
    type Target = Service;
    fn deref(&self) -> &Service {
        &self.svc
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        svcmgr_tests::remove_private_daemon(&self.var(), &self.id);
        for child in self.children.borrow_mut().iter_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // mounts_under lists the deepest first; stacked mounts need several passes.
        for _ in 0..3 {
            for point in mounts_under(self.root()).into_iter().rev() {
                quietly(&["umount", point.to_str().unwrap()]);
            }
        }
        for point in mounts_under(self.root()) {
            quietly(&["umount", "-l", point.to_str().unwrap()]);
        }
        for vg in self.vgs.borrow().iter() {
            if vg_exists(vg) {
                quietly(&["vgremove", "-ff", vg]);
            }
        }
        for dev in self.loops.borrow().iter() {
            quietly(&["pvremove", "-qq", "-y", dev]);
            quietly(&["losetup", "-d", dev]);
        }
    }
}

/// `[fs#N]` of `kind` with `dev` on `mnt` (relative to the lab root), plus `extra` lines.
fn fs_section(lab: &Lab, rid: &str, kind: &str, dev: &str, mnt: &str, extra: &str) -> String {
    format!(
        "[{rid}]\ntype = {kind}\ndev = {dev}\nmnt = {}\n{extra}\n",
        lab.path(mnt).display()
    )
}

#[test]
fn validate_config_names_missing_keywords_and_unknown_type() {
    let lab = Lab::new(&["fs", "disk"]);
    let tmp = lab.path("t");
    lab.write_conf(&format!(
        "[fs#1]\ntype = ext4\ndev = /dev/null\n\n\
         [fs#2]\ntype = ext4\nmnt = /srv/x\n\n\
         [fs#3]\ntype = ext9\ndev = /dev/null\nmnt = /srv/y\n\n\
         [vg#1]\npvs = /dev/null\n\n\
         [fs#4]\ntype = tmpfs\nmnt = {}\n",
        tmp.display()
    ));
    let v = lab.run("validate config");
    let all = v.all();
    for needle in [
        "[fs#1] mnt: missing required keyword",
        "[fs#2] dev: missing required keyword",
        "[fs#3] type: unknown driver fs.ext9",
        "[vg#1] name: missing required keyword",
    ] {
        assert!(all.contains(needle), "{needle:?} in:\n{all}");
    }
    assert!(!all.contains("[fs#4]"), "tmpfs needs no dev:\n{all}");
    assert_eq!(v.code, 4, "{all}");
    let start = lab.run("start").code(1);
    assert!(start.all().contains("nothing was done"), "{}", start.all());
    assert!(!is_mountpoint(&tmp));
}

#[test]
fn rids_named_against_the_mount_order_mount_the_parent_first() {
    let lab = Lab::new(&["fs"]);
    let (a, b) = (lab.loop_dev("a"), lab.loop_dev("b"));
    // fs#1 is the child: mounted inside fs#2's mount point.
    lab.write_conf(&format!(
        "{}{}",
        fs_section(&lab, "fs#1", "ext4", &a, "app/data", ""),
        fs_section(&lab, "fs#2", "ext4", &b, "app", "")
    ));
    let (app, data) = (lab.path("app"), lab.path("app/data"));
    let prov = lab.run("provision").ok();
    let parent = prov.line_index(&["fs#2 ", "mount -t ext4", &b]);
    let child = prov.line_index(&["fs#1 ", "mount -t ext4", &a]);
    assert!(parent < child, "{}", prov.stderr);
    assert_eq!(mounts_under(&app), [app.clone(), data.clone()]);
    let status = lab.run("print status").ok();
    status.assert_state("fs#1", "up");
    assert!(status
        .status_line("fs#2")
        .contains(&format!("{b}@{}", app.display())));

    let stop = lab.run("stop").ok();
    let child = stop.line_index(&["fs#1 ", &format!("umount {}", data.display())]);
    let parent = stop.line_index(&["fs#2 ", &format!("umount {}", app.display())]);
    assert!(child < parent, "{}", stop.stderr);
    assert!(mounts_under(lab.root()).is_empty());

    let start = lab.run("start").ok();
    assert!(start.line_index(&["fs#2 ", "mount -t"]) < start.line_index(&["fs#1 ", "mount -t"]));
    // e2fsck before each mount.
    assert!(start.line_index(&["fs#2 ", "e2fsck -p", &b]) < start.line_index(&["fs#2 ", "mount"]));
    let again = lab.run("start").ok();
    again.line_index(&[
        "fs#1 ",
        &format!("{a}@{} is already mounted", data.display()),
    ]);
    lab.run("stop").ok();
    let again = lab.run("stop").ok();
    again.line_index(&["fs#2 ", "is already umounted"]);
}

#[test]
fn busy_mount_fails_the_stop_unless_kill_procs() {
    let lab = Lab::new(&["fs"]);
    let dev = lab.loop_dev("busy");
    let mnt = lab.path("busy");
    lab.write_conf(&fs_section(&lab, "fs#1", "ext4", &dev, "busy", ""));
    lab.run("provision").ok();
    let pid = lab.busy(&mnt);

    let stop = lab.run("stop").code(1);
    stop.line_index(&["fs#1 ", &format!("failed to umount {}", mnt.display())]);
    let tries = stop
        .stderr
        .lines()
        .filter(|l| l.ends_with(&format!(" umount {}", mnt.display())) && !l.contains("failed"))
        .count();
    assert_eq!(tries, 3, "{}", stop.stderr);
    assert!(!stop.stderr.contains("fuser"));
    assert!(is_mountpoint(&mnt));
    assert!(!lab.ended(pid), "processes are not killed by default");
    let status = lab.run("print status").ok();
    status.assert_state("fs#1", "up");

    lab.run("set --kw fs#1.kill_procs=true").ok();
    let stop = lab.run("stop").ok();
    stop.line_index(&["fs#1 ", &format!("fuser -k -m {}", mnt.display())]);
    stop.line_index(&["fs#1 ", &format!("killed {pid}")]);
    assert!(!is_mountpoint(&mnt));
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(lab.ended(pid));
}

#[test]
fn provision_never_reformats_a_device_holding_a_filesystem() {
    let lab = Lab::new(&["fs"]);
    let (dev, other) = (lab.loop_dev("data"), lab.loop_dev("other"));
    must(&["mkfs.ext4", "-q", &dev]);
    let by_hand = lab.path("by-hand");
    std::fs::create_dir(&by_hand).unwrap();
    must(&["mount", &dev, by_hand.to_str().unwrap()]);
    std::fs::write(by_hand.join("precious"), "data written before").unwrap();
    must(&["umount", by_hand.to_str().unwrap()]);
    // Another filesystem type than the resource's: left alone too.
    must(&["mkfs.ext2", "-q", &other]);

    lab.write_conf(&format!(
        "{}{}",
        fs_section(&lab, "fs#1", "ext4", &dev, "data", ""),
        fs_section(&lab, "fs#2", "ext3", &other, "other", "")
    ));
    let prov = lab.run("provision --rid fs#1").ok();
    prov.line_index(&["fs#1 ", "already provisioned"]);
    assert!(!prov.stderr.contains("mkfs"), "{}", prov.stderr);
    assert_eq!(
        std::fs::read_to_string(lab.path("data/precious")).unwrap(),
        "data written before"
    );
    let prov = lab.run("provision --rid fs#2");
    prov.line_index(&[
        "fs#2 ",
        &format!("{other} holds ext2, not ext3: left as it is"),
    ]);
    assert!(!prov.stderr.contains("mkfs"), "{}", prov.stderr);
    assert_eq!(fs_type(&other).as_deref(), Some("ext2"));
}

#[test]
fn missing_dev_fails_the_start_and_rolls_back_the_earlier_mounts() {
    let lab = Lab::new(&["fs"]);
    let dev = lab.loop_dev("ok");
    let missing = lab.path("no-such-device");
    lab.write_conf(&format!(
        "{}{}",
        fs_section(&lab, "fs#1", "ext4", &dev, "app", ""),
        fs_section(
            &lab,
            "fs#2",
            "ext4",
            missing.to_str().unwrap(),
            "app/data",
            ""
        )
    ));
    lab.run("provision --rid fs#1").ok();
    lab.run("stop").ok();

    let start = lab.run("start").code(1);
    start.line_index(&[
        "fs#2 ",
        &format!("device does not exist {}", missing.display()),
    ]);
    start.line_index(&["trying to rollback start on fs#1"]);
    start.line_index(&["fs#1 ", "umount"]);
    assert!(mounts_under(lab.root()).is_empty(), "nothing left mounted");
}

#[test]
fn the_device_is_recognised_under_its_other_names() {
    let lab = Lab::new(&["fs"]);
    // An image file: mount(8) attaches it to a loop device, which status recognises.
    let image = lab.image("file.img", 64);
    // Unique per run: a test running elsewhere on this kernel must not share it.
    let uuid = format!("5b0f0c2e-7d1a-4e25-9a61-{:012x}", std::process::id());
    let uuid = uuid.as_str();
    let (by_uuid, by_link) = (lab.loop_dev("uuid"), lab.loop_dev("link"));
    must(&["mkfs.ext4", "-q", "-U", uuid, &by_uuid]);
    must(&["mkfs.ext4", "-q", &by_link]);
    let link = lab.path("disk-link");
    std::os::unix::fs::symlink(&by_link, &link).unwrap();
    let link_mnt = lab.path("link");
    std::fs::create_dir(&link_mnt).unwrap();
    // Mounted by hand under its kernel name; the config names it through a symlink.
    must(&["mount", &by_link, link_mnt.to_str().unwrap()]);
    lab.write_conf(&format!(
        "{}{}{}",
        fs_section(&lab, "fs#1", "ext4", image.to_str().unwrap(), "file", ""),
        fs_section(&lab, "fs#2", "ext4", &format!("UUID={uuid}"), "uuid", ""),
        fs_section(&lab, "fs#3", "ext4", link.to_str().unwrap(), "link", ""),
    ));
    let prov = lab.run("provision").ok();
    prov.line_index(&["fs#1 ", "mkfs.ext4 -q", image.to_str().unwrap()]);
    prov.line_index(&["fs#2 ", "mount -t ext4", &by_uuid]);
    prov.line_index(&["fs#3 ", "is already mounted"]);
    let status = lab.run("print status").ok();
    for rid in ["fs#1", "fs#2", "fs#3"] {
        status.assert_state(rid, "up");
    }
    let loops_of_image = || must(&["losetup", "-j", image.to_str().unwrap()]);
    assert!(!loops_of_image().is_empty());
    lab.run("stop").ok();
    assert!(mounts_under(lab.root()).is_empty());
    // The kernel detaches an auto-cleared loop device once its last user is gone.
    let detached = (0..40).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        loops_of_image().is_empty()
    });
    assert!(detached, "the loop device went with the umount");
}

#[test]
fn unprovision_wipes_the_filesystem_only_when_explicitly_asked() {
    let lab = Lab::new(&["fs"]);
    let dev = lab.loop_dev("wipe");
    let unprovision = |extra: &str| {
        lab.write_conf(&fs_section(&lab, "fs#1", "ext4", &dev, "wipe", extra));
        lab.run("provision").ok();
        lab.run("unprovision").ok()
    };
    let default = unprovision("");
    default.line_index(&["fs#1 ", "keeps its filesystem"]);
    assert_eq!(fs_type(&dev).as_deref(), Some("ext4"));

    // `unprovision = false`: the host stops the resource instead.
    let off = unprovision("unprovision = false");
    assert!(!off.stderr.contains("wipefs"), "{}", off.stderr);
    assert_eq!(fs_type(&dev).as_deref(), Some("ext4"));

    let asked = unprovision("unprovision = true");
    let umount = asked.line_index(&["fs#1 ", "umount"]);
    assert!(umount < asked.line_index(&["fs#1 ", &format!("wipefs -a {dev}")]));
    assert_eq!(fs_type(&dev), None);
}

#[test]
fn every_formatted_type_provisions_mounts_and_stops() {
    let lab = Lab::new(&["fs"]);
    let xfs_here = std::fs::read_to_string("/proc/filesystems")
        .unwrap()
        .split_whitespace()
        .any(|w| w == "xfs");
    let mut kinds = vec!["ext2", "ext3"];
    if xfs_here {
        kinds.push("xfs");
    } else {
        eprintln!("xfs skipped: the kernel has no xfs (not in /proc/filesystems)");
    }
    let mut conf = String::new();
    let mut devs = Vec::new();
    for (i, kind) in kinds.iter().enumerate() {
        // xfs wants 300 MiB at least; sparse, so it costs nothing.
        let dev = lab.loop_of_size(kind, if *kind == "xfs" { 320 } else { 64 });
        conf += &fs_section(
            &lab,
            &format!("fs#{}", i + 1),
            kind,
            &dev,
            kind,
            "mnt_opt = noatime",
        );
        devs.push(dev);
    }
    lab.write_conf(&conf);
    let prov = lab.run("provision").ok();
    for (i, (kind, dev)) in kinds.iter().zip(&devs).enumerate() {
        let rid = format!("fs#{} ", i + 1);
        prov.line_index(&[&rid, &format!("mkfs.{kind} -q {dev}")]);
        prov.line_index(&[&rid, &format!("mount -t {kind} -o noatime {dev}")]);
        assert_eq!(fs_type(dev).as_deref(), Some(*kind));
        let fsck = prov
            .lines_with("e2fsck -p")
            .into_iter()
            .filter(|l| l.contains(&rid));
        assert_eq!(fsck.count(), usize::from(*kind != "xfs"), "{}", prov.stderr);
    }
    let status = lab.run("print status").ok();
    for i in 1..=kinds.len() {
        status.assert_state(&format!("fs#{i}"), "up");
    }
    lab.run("stop").ok();
    assert!(mounts_under(lab.root()).is_empty());
}

#[test]
fn tmpfs_and_bind_mounts() {
    let lab = Lab::new(&["fs"]);
    let src = lab.path("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("hello"), "bound").unwrap();
    lab.write_conf(&format!(
        "[fs#1]\ntype = tmpfs\nmnt = {}\nmnt_opt = size=8m\n\n{}",
        lab.path("tmp").display(),
        fs_section(&lab, "fs#2", "bind", src.to_str().unwrap(), "tmp/bound", "")
    ));
    let start = lab.run("start").ok();
    start.line_index(&[
        "fs#1 ",
        &format!(
            "mount -t tmpfs -o size=8m tmpfs {}",
            lab.path("tmp").display()
        ),
    ]);
    start.line_index(&["fs#2 ", &format!("mount -o bind {}", src.display())]);
    assert_eq!(
        std::fs::read_to_string(lab.path("tmp/bound/hello")).unwrap(),
        "bound"
    );
    let status = lab.run("print status").ok();
    assert!(status
        .status_line("fs#1")
        .contains(&format!("tmpfs@{}", lab.path("tmp").display())));
    status.assert_state("fs#2", "up");
    lab.run("stop").ok();
    assert!(mounts_under(lab.root()).is_empty());
    let status = lab.run("print status").ok();
    status.assert_state("fs#2", "down");
}

#[test]
fn mount_point_owner_and_a_failing_write_test() {
    let lab = Lab::new(&["fs"]);
    let dev = lab.loop_dev("own");
    let mnt = lab.path("own");
    lab.write_conf(&fs_section(
        &lab,
        "fs#1",
        "ext4",
        &dev,
        "own",
        "user = nobody\ngroup = nogroup\nperm = 750",
    ));
    let prov = lab.run("provision").ok();
    prov.line_index(&["fs#1 ", &format!("set {} user to nobody", mnt.display())]);
    prov.line_index(&["fs#1 ", &format!("set {} perm to 750", mnt.display())]);
    let meta = std::fs::metadata(&mnt).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o750);
    assert_ne!(meta.uid(), 0);
    assert_ne!(meta.gid(), 0);

    // An immutable root directory refuses the status write test.
    must(&["chattr", "+i", mnt.to_str().unwrap()]);
    let status = lab.run("print status");
    must(&["chattr", "-i", mnt.to_str().unwrap()]);
    let line = status.status_line("fs#1");
    assert!(line.contains(" warn "), "{}", status.stdout);
    assert!(
        status.stdout.contains("fs is not writable"),
        "{}",
        status.stdout
    );
    let status = lab.run("print status").ok();
    status.assert_state("fs#1", "up");
    assert_eq!(
        std::fs::read_dir(&mnt).unwrap().count(),
        1,
        "only lost+found"
    );
}

#[test]
fn vg_provision_start_stop_unprovision() {
    let lab = Lab::new(&["disk"]);
    let (pv, other_pv) = (lab.loop_dev("pv"), lab.loop_dev("pv2"));
    let (vg, other, refused) = (lab.vg_name("vg"), lab.vg_name("other"), lab.vg_name("no"));
    must(&["pvcreate", "-q", &other_pv]);
    must(&["vgcreate", "-q", &other, &other_pv]);
    lab.write_conf(&format!(
        "[vg#1]\nvgname = {vg}\npvs = {pv}\noptions = -s 8m\n\n[disk#2]\ntype = vg\nname = {refused}\npvs = {other_pv}\n"
    ));
    let before = lab.run("print status").ok();
    assert!(
        before.stdout.contains(&format!("vg {vg} not found")),
        "{}",
        before.stdout
    );

    let prov = lab.run("provision --rid vg#1").ok();
    prov.line_index(&["vg#1 ", &format!("pvcreate {pv}")]);
    prov.line_index(&["vg#1 ", &format!("vgcreate -s 8m {vg} {pv}")]);
    prov.line_index(&["vg#1 ", &format!("vgchange --addtag @node1 {vg}")]);
    prov.line_index(&["vg#1 ", &format!("vgchange -a y {vg}")]);
    assert_eq!(vg_tags(&vg), ["node1"]);
    let status = lab.run("print status").ok();
    let line = status.status_line("vg#1");
    assert!(
        line.contains(" up ") && line.trim_end().ends_with(&vg),
        "{line}"
    );

    let again = lab.run("provision --rid vg#1").ok();
    again.line_index(&["vg#1 ", &format!("vg {vg} already exists")]);
    again.line_index(&["vg#1 ", &format!("{vg} is already up")]);

    let refusal = lab.run("provision --rid disk#2").code(1);
    refusal.line_index(&["disk#2 ", &format!("pv {other_pv} in use by vg {other}")]);
    assert!(!refusal.stderr.contains("pvcreate"), "{}", refusal.stderr);
    assert!(!vg_exists(&refused));

    let stop = lab.run("stop --rid vg#1").ok();
    let down = stop.line_index(&["vg#1 ", &format!("vgchange -a n {vg}")]);
    assert!(down < stop.line_index(&["vg#1 ", &format!("vgchange --deltag @node1 {vg}")]));
    assert!(vg_tags(&vg).is_empty());
    let again = lab.run("stop --rid vg#1").ok();
    again.line_index(&["vg#1 ", &format!("{vg} is already down")]);
    let status = lab.run("print status").ok();
    status.assert_state("vg#1", "down");
    assert!(
        status.stdout.contains("not tagged @node1"),
        "{}",
        status.stdout
    );

    lab.run("start --rid vg#1").ok();
    let unprov = lab.run("unprovision --rid vg#1").ok();
    unprov.line_index(&["vg#1 ", &format!("vgremove -ff {vg}")]);
    assert!(!vg_exists(&vg));
    assert!(vg_exists(&other), "only the VG of the resource is removed");
}

#[test]
fn print_devs_shows_the_devices_of_filesystems_and_volume_groups() {
    let lab = Lab::new(&["disk", "fs"]);
    let (pv, fs_dev) = (lab.loop_dev("pv"), lab.loop_dev("fs"));
    // An image file mounted through the loop device it is attached to.
    let attached = lab.loop_dev("img");
    let image = lab.path("img.img");
    let vg = lab.vg_name("vg");
    must(&["pvcreate", "-q", &pv]);
    must(&["vgcreate", "-q", &vg, &pv]);
    lab.write_conf(&format!(
        "[vg#1]\nname = {vg}\n\n{}{}{}",
        fs_section(&lab, "fs#1", "ext4", &fs_dev, "m1", ""),
        fs_section(&lab, "fs#2", "ext4", image.to_str().unwrap(), "m2", ""),
        fs_section(&lab, "fs#3", "tmpfs", "tmpfs", "m3", ""),
    ));
    let text = lab.run("print devs").ok();
    let rows: Vec<Vec<&str>> = text
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    // No logical volume on this kernel (no device-mapper): vg#1 exposes none here.
    assert_eq!(
        rows,
        [
            ["fs#1", "sub", &fs_dev],
            ["fs#1", "base", &fs_dev],
            ["fs#2", "sub", &attached],
            ["fs#2", "base", &attached],
            ["vg#1", "sub", &pv],
            ["vg#1", "base", &pv],
        ],
        "{}",
        text.stdout
    );
    let json = lab.run("print devs --format json").ok();
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        doc["vg#1"],
        serde_json::json!({"type": "disk.vg", "exposed": [], "sub": [pv], "base": [pv]})
    );
    assert_eq!(doc["fs#1"]["type"], "fs.ext4");
    assert_eq!(doc["fs#3"]["sub"], serde_json::json!([]));
    assert_eq!(
        lab.run("print devs --rid vg#1").ok().stdout.lines().count(),
        2
    );
}

#[test]
fn vg_tagged_by_another_node_is_taken_over() {
    let lab = Lab::new(&["disk"]);
    let pv = lab.loop_dev("pv");
    let vg = lab.vg_name("vg");
    must(&["pvcreate", "-q", &pv]);
    must(&["vgcreate", "-q", &vg, &pv]);
    must(&["vgchange", "-q", "--addtag", "@othernode", &vg]);
    lab.write_conf(&format!("[vg#1]\nname = {vg}\n"));
    let status = lab.run("print status").ok();
    status.assert_state("vg#1", "down");

    let start = lab.run("start").ok();
    let del = start.line_index(&["vg#1 ", &format!("vgchange --deltag @othernode {vg}")]);
    let add = start.line_index(&["vg#1 ", &format!("vgchange --addtag @node1 {vg}")]);
    assert!(del < add, "{}", start.stderr);
    assert_eq!(vg_tags(&vg), ["node1"]);
    lab.run("print status").ok().assert_state("vg#1", "up");
    lab.run("stop").ok();
    assert!(vg_tags(&vg).is_empty(), "stop drops this node's tag");
}

#[test]
fn vg_logical_volumes_are_activated_by_start() {
    // The lvm2 package creates /dev/mapper/control even where the kernel has no driver.
    let misc = std::fs::read_to_string("/proc/misc").unwrap_or_default();
    if !misc.lines().any(|l| l.ends_with(" device-mapper")) {
        eprintln!(
            "skipped: no device-mapper in this kernel (not in /proc/misc), so logical volumes \
             can be neither created nor activated; the command sequence is covered by the disk \
             driver's unit tests"
        );
        return;
    }
    let lab = Lab::new(&["disk"]);
    let pv = lab.loop_dev("pv");
    let vg = lab.vg_name("vg");
    must(&["pvcreate", "-q", &pv]);
    must(&["vgcreate", "-q", &vg, &pv]);
    must(&["lvcreate", "-q", "-an", "-Zn", "-L", "8m", "-n", "lv1", &vg]);
    lab.write_conf(&format!("[vg#1]\nname = {vg}\n"));
    let start = lab.run("start").ok();
    start.line_index(&["vg#1 ", &format!("vgchange -a y {vg}")]);
    assert!(Path::new(&format!("/dev/{vg}/lv1")).exists());
    lab.run("print status").ok().assert_state("vg#1", "up");
    lab.run("stop").ok();
    assert!(!Path::new(&format!("/dev/mapper/{vg}-lv1")).exists());
    lab.run("print status").ok().assert_state("vg#1", "down");
}

const IMAGE: &str = "svcmgr-test/busybox:1";

/// The v1 tutorial's service on loop devices: `[vg#1]` on a loop PV, `fs#1` and `fs#2` (inside
/// fs#1) on two other loop devices, the private docker daemon's data on fs#2, three containers.
#[test]
fn v1_service_on_loop_devices_with_the_docker_data_on_fs2() {
    let images = Command::new("docker")
        .args(["images", "-q", IMAGE])
        .output()
        .expect("docker CLI");
    assert!(
        !String::from_utf8_lossy(&images.stdout).trim().is_empty(),
        "image {IMAGE} missing: run `bash tests/setup/docker.sh` as root first"
    );
    let lab = Lab::new(&["fs", "disk", "docker"]);
    let (pv, root_dev, data_dev) = (
        lab.loop_dev("pv"),
        lab.loop_dev("root"),
        lab.loop_dev("data"),
    );
    let vg = lab.vg_name("vgapp");
    let (app, data) = (lab.path("opt/app"), lab.path("opt/app/appdata"));
    lab.env.write_conf(
        &lab.name,
        &format!(
            "[DEFAULT]\nid = {id}\ndocker_data_dir = {data}\n\n\
             [container#1]\ntype = docker\nrun_image = {IMAGE}\nrun_command = /bin/sh\n\
             tty = true\ninteractive = true\nstop_timeout = 3s\n\n\
             [container#2]\ntype = docker\nrun_image = {IMAGE}\n\n\
             [container#3]\ntype = docker\nrun_image = {IMAGE}\n\
             run_args = -v {app}/vol1:/vol1:rw\n\n\
             [vg#1]\nvgname = {vg}\npvs = {pv}\n\n\
             [fs#1]\nmnt_opt = rw\nmnt = {app}\ndev = {root_dev}\ntype = ext4\n\n\
             [fs#2]\nmnt_opts = rw\nmnt = {data}\ndev = {data_dev}\ntype = ext4\n",
            id = lab.id,
            app = app.display(),
            data = data.display(),
        ),
    );

    // Provision the storage on blank devices, then load the image into the private daemon,
    // which keeps it on fs#2 (no registry here).
    let prov = lab.run("provision --rid vg,fs").ok();
    for (rid, dev) in [("fs#1 ", &root_dev), ("fs#2 ", &data_dev)] {
        prov.line_index(&[rid, &format!("mkfs.ext4 -q {dev}")]);
    }
    assert_eq!(mounts_under(&app), [app.clone(), data.clone()]);
    let archive = lab.path("image.tar");
    must(&["docker", "save", "-o", archive.to_str().unwrap(), IMAGE]);
    lab.run(&format!("docker load -i {}", archive.display()))
        .ok();
    let first = lab.run("start").ok();
    first.line_index(&["vg#1 ", "is already up"]);
    first.line_index(&["fs#2 ", "is already mounted"]);

    let status = lab.run("print status").ok();
    let vg_line = status.status_line("vg#1");
    assert!(
        vg_line.contains(" up ") && vg_line.trim_end().ends_with(&vg),
        "{vg_line}"
    );
    let fs1 = status.status_line("fs#1");
    assert!(
        fs1.contains(" up ") && fs1.contains(&format!("{root_dev}@{}", app.display())),
        "{fs1}"
    );
    for rid in ["fs#2", "container#1", "container#2", "container#3"] {
        status.assert_state(rid, "up");
    }
    // The private daemon's data really is on fs#2.
    let data_rdev = std::fs::metadata(&data_dev).unwrap().rdev();
    let on_fs2 = std::fs::read_dir(&data)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name() != "lost+found");
    let mut entries = 0;
    for entry in on_fs2 {
        assert_eq!(
            entry.metadata().unwrap().dev(),
            data_rdev,
            "{}",
            entry.path().display()
        );
        entries += 1;
    }
    assert!(
        entries > 0,
        "the daemon wrote nothing in {}",
        data.display()
    );

    let stop = lab.run("stop").ok();
    assert_in_order(
        &stop,
        &[
            ("container#3 ", "docker -H"),
            ("container#2 ", "docker -H"),
            ("container#1 ", "docker -H"),
            ("fs#2 ", "umount"),
            ("fs#1 ", "umount"),
            ("vg#1 ", "vgchange -a n"),
            ("vg#1 ", "vgchange --deltag @node1"),
        ],
    );
    assert!(
        mounts_under(lab.root()).is_empty(),
        "nothing mounted after stop"
    );
    assert!(!vg_tags(&vg).contains(&"node1".to_string()));
    assert!(svcmgr_tests::private_daemon_pid(&lab.var()).is_none());

    let start = lab.run("start").ok();
    assert_in_order(
        &start,
        &[
            ("vg#1 ", "vgchange --addtag @node1"),
            ("vg#1 ", "vgchange -a y"),
            ("fs#1 ", "mount -t ext4 -o rw"),
            ("fs#2 ", "mount -t ext4 -o rw"),
            ("", "starting docker daemon"),
            ("container#1 ", "docker -H"),
            ("container#2 ", "docker -H"),
            ("container#3 ", "docker -H"),
        ],
    );
    lab.run("stop").ok();
    assert!(mounts_under(lab.root()).is_empty());
}
