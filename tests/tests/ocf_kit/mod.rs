//! What the OCF driver tests and the Pacemaker tests share: kernel objects made for one test
//! (a bridge, a loop device with an ext4 filesystem), each removed by its Drop even when the
//! test fails, and small command helpers.

#![allow(dead_code)] // each test file uses part of the kit

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use svcmgr_tests::{attach_loop, must, quietly};

/// Poll `cond` every 200ms until it holds or `secs` pass; false on timeout.
pub fn wait_for(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A name unique to this process and call (`<prefix><pid><n>`), at most 15 characters so
/// that it fits a network interface.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "{prefix}{}{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    assert!(name.len() <= 15, "{name} is too long for an interface");
    name
}

/// The OCF agents Debian's resource-agents installs.
pub const HEARTBEAT: &str = "/usr/lib/ocf/resource.d/heartbeat";

/// Fail with the setup script to run when the cluster packages are missing.
pub fn require_packages() {
    assert!(
        Path::new(HEARTBEAT).join("IPaddr2").is_file(),
        "resource-agents is not installed: run tests/setup/pacemaker.sh"
    );
}

/// A bridge with no port, up, for addresses nothing outside this machine can see.
pub struct Bridge {
    pub name: String,
    /// An address in 198.18.0.0/15 (the benchmarking range), unique to this process.
    pub ip: String,
}

impl Bridge {
    pub fn new() -> Bridge {
        let name = unique("ocfbr");
        must(&["ip", "link", "add", "name", &name, "type", "bridge"]);
        static HOST: AtomicU32 = AtomicU32::new(10);
        let br = Bridge {
            ip: format!(
                "198.18.{}.{}",
                std::process::id() % 250 + 1,
                HOST.fetch_add(1, Ordering::Relaxed)
            ),
            name,
        };
        must(&["ip", "link", "set", &br.name, "up"]);
        br
    }

    /// The addresses plumbed on the bridge (`198.18.1.10/24`…).
    pub fn addresses(&self) -> Vec<String> {
        must(&["ip", "-o", "-4", "addr", "show", "dev", &self.name])
            .lines()
            .filter_map(|l| {
                let mut words = l.split_whitespace();
                words.find(|w| *w == "inet")?;
                words.next().map(String::from)
            })
            .collect()
    }

    pub fn has_ip(&self) -> bool {
        self.addresses()
            .iter()
            .any(|a| a.starts_with(&format!("{}/", self.ip)))
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        quietly(&["ip", "link", "del", &self.name]);
    }
}

/// A 64 MiB sparse file on a loop device, formatted ext4, and a mount point for it.
pub struct LoopFs {
    pub dir: tempfile::TempDir,
    pub device: String,
    pub mnt: PathBuf,
}

impl LoopFs {
    pub fn new() -> LoopFs {
        let dir = tempfile::Builder::new()
            .prefix("svcmgr-ocf-fs-")
            .tempdir()
            .unwrap();
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        let device = attach_loop(&dir.path().join("disk.img"), 64);
        let fs = LoopFs { dir, device, mnt };
        must(&["mkfs.ext4", "-q", "-F", &fs.device]);
        fs
    }

    pub fn mounted(&self) -> bool {
        let mnt = self.mnt.to_str().unwrap();
        std::fs::read_to_string("/proc/self/mounts")
            .unwrap()
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some(mnt))
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        while self.mounted() {
            quietly(&["umount", "-l", self.mnt.to_str().unwrap()]);
        }
        quietly(&["losetup", "-d", &self.device]);
    }
}

/// Whether a process is alive (a zombie is not).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().to_string())
        })
        .is_some_and(|rest| !rest.starts_with('Z'))
}
