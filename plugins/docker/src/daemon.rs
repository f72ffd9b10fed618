//! A service's private docker daemon (`DEFAULT.container_data_dir` set; legacy spelling
//! `docker_data_dir`): its own socket, pid
//! file and data root, started before the service's first container and shut down when its
//! last running container stops.

use crate::engine::{block_on, Engine};
use crate::memo;
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use svcmgr_plugin_api::{Ctx, Error, ResourceSpec, Result};

/// Where daemons keep their runtime state. Short on purpose: the daemon puts unix sockets
/// (containerd's) under it, and a socket path may not exceed 107 bytes.
const EXEC_ROOT_BASE: &str = "/var/run/svcmgr-docker";
const SOCKET_PATH_MAX: usize = 107;
const SHUTDOWN_GRACE: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateDaemon {
    pub socket: PathBuf,
    pid_file: PathBuf,
    log_file: PathBuf,
    lock_file: PathBuf,
    data_dir: String,
    exec_root: String,
    /// The bridge the driver creates for this daemon, unless `docker_daemon_args` configure
    /// the daemon's network themselves.
    bridge: Option<String>,
    iptables_off: bool,
    args: Vec<String>,
}

impl PrivateDaemon {
    /// The service's private daemon, if `container_data_dir` asks for one.
    pub fn from_spec(spec: &ResourceSpec) -> Option<PrivateDaemon> {
        let data_dir = spec
            .service("container_data_dir")?
            .as_str()
            .filter(|s| !s.is_empty())?;
        let args: Vec<String> = match spec.service("docker_daemon_args") {
            Some(v) => v
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let var = Path::new(&spec.context.var_dir);
        let key = short_key(&spec.context.svc_id, &spec.context.svcname);
        let names_flag = |names: &[&str]| {
            args.iter().any(|a| {
                names
                    .iter()
                    .any(|n| a == n || a.starts_with(&format!("{n}=")))
            })
        };
        // Two daemons on one bridge would hand out the same addresses; `--bridge=none` is no
        // way out, as the daemon then deletes docker0 and breaks the system daemon. So each
        // private daemon gets a bridge of its own (the daemon picks a free subnet for it).
        let bridge = (!names_flag(&["-b", "--bridge", "--bip"])).then(|| format!("svcd{key}"));
        Some(PrivateDaemon {
            socket: var.join("docker.sock"),
            pid_file: var.join("docker.pid"),
            log_file: var.join("docker.log"),
            lock_file: var.join("lock.docker_start"),
            data_dir: data_dir.to_string(),
            exec_root: format!("{EXEC_ROOT_BASE}/{key}"),
            bridge,
            // A second daemon managing iptables flushes the chains the system daemon's
            // published ports live in.
            iptables_off: !names_flag(&["--iptables"]),
            args,
        })
    }

    pub fn socket_str(&self) -> String {
        self.socket.display().to_string()
    }

    /// `-H unix://<socket>`: what a docker client needs to talk to this daemon.
    pub fn host_args(&self) -> [String; 2] {
        ["-H".into(), format!("unix://{}", self.socket.display())]
    }

    pub fn command_line(&self) -> Vec<String> {
        let mut argv = vec!["dockerd".to_string()];
        argv.extend(self.host_args());
        argv.extend([
            "--data-root".into(),
            self.data_dir.clone(),
            "-p".into(),
            self.pid_file.display().to_string(),
            "--exec-root".into(),
            self.exec_root.clone(),
        ]);
        if let Some(br) = &self.bridge {
            argv.push(format!("--bridge={br}"));
        }
        if self.iptables_off {
            argv.push("--iptables=false".into());
        }
        argv.extend(self.args.iter().cloned());
        argv
    }

    /// The daemon's pid, if its pid file names a live dockerd.
    fn pid(&self) -> Option<Pid> {
        let pid: i32 = std::fs::read_to_string(&self.pid_file)
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
        exe.to_string_lossy()
            .contains("dockerd")
            .then(|| Pid::from_raw(pid))
    }

    fn answers(&self) -> bool {
        block_on(async { Engine::connect(&self.socket_str()).await?.ping().await }).is_ok()
    }

    /// Hold the start/stop lock (serialising parallel container starts, and processes).
    fn lock(&self, deadline: Instant) -> Result<Flock<File>> {
        let failed = |why: String| format!("could not lock {}: {why}", self.lock_file.display());
        let io_failed = |e: std::io::Error| Error::other(failed(e.to_string()));
        if let Some(dir) = self.lock_file.parent() {
            std::fs::create_dir_all(dir).map_err(io_failed)?;
        }
        let mut file = File::create(&self.lock_file).map_err(io_failed)?;
        loop {
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => return Ok(lock),
                Err((f, Errno::EWOULDBLOCK)) if Instant::now() < deadline => {
                    file = f;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err((_, Errno::EWOULDBLOCK)) => {
                    return Err(Error::timeout(failed(
                        "held by another start or stop".into(),
                    )))
                }
                Err((_, e)) => return Err(Error::other(failed(e.to_string()))),
            }
        }
    }

    /// Start the daemon unless it answers already, and wait until it does.
    pub fn ensure_started(&self, ctx: &Ctx, deadline: Instant) -> Result<()> {
        if self.socket_str().len() > SOCKET_PATH_MAX {
            return Err(Error::config(format!(
                "docker socket path {} is longer than the {SOCKET_PATH_MAX} bytes a unix socket allows",
                self.socket.display()
            )));
        }
        let _lock = self.lock(deadline)?;
        if self.answers() {
            return Ok(());
        }
        if self.pid().is_none() {
            if self.pid_file.exists() {
                ctx.warn(&format!(
                    "removing leftover pid file {}",
                    self.pid_file.display()
                ));
                std::fs::remove_file(&self.pid_file).map_err(|e| {
                    Error::other(format!("removing {}: {e}", self.pid_file.display()))
                })?;
            }
            ctx.info("starting docker daemon");
            if let Some(br) = &self.bridge {
                if !Path::new("/sys/class/net").join(br).exists() {
                    ctx.command(&["ip", "link", "add", br, "type", "bridge"])
                        .check()?;
                }
            }
            ctx.command(&self.command_line())
                .spawn_detached(Some(&self.log_file))?;
        }
        while !self.answers() {
            if Instant::now() >= deadline {
                return Err(Error::timeout(format!(
                    "docker daemon did not answer on {} in time (see {})",
                    self.socket.display(),
                    self.log_file.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// Shut the daemon down when none of its containers runs any more.
    pub fn stop_if_idle(&self, ctx: &Ctx, deadline: Instant) -> Result<()> {
        let _lock = self.lock(deadline)?;
        let Some(pid) = self.pid() else {
            return Ok(());
        };
        let running =
            block_on(async { Engine::connect(&self.socket_str()).await?.list(false).await });
        if !matches!(running, Ok(ref list) if list.is_empty()) {
            return Ok(());
        }
        ctx.info("no more container handled by docker daemon. shut it down");
        let _ = kill(pid, Signal::SIGTERM);
        if !wait_exit(pid, deadline.min(Instant::now() + SHUTDOWN_GRACE)) {
            ctx.warn("dockerd did not stop properly. send a kill signal");
            let _ = kill(pid, Signal::SIGKILL);
            wait_exit(pid, Instant::now() + Duration::from_secs(5));
        }
        memo::invalidate();
        if let Some(br) = &self.bridge {
            if Path::new("/sys/class/net").join(br).exists() {
                ctx.command(&["ip", "link", "del", br]).check()?;
            }
        }
        self.remove_exec_root(ctx)
    }

    /// The daemon is gone: its runtime state folder goes too, unless something is still
    /// mounted under it (a removal would then reach into that filesystem).
    fn remove_exec_root(&self, ctx: &Ctx) -> Result<()> {
        let root = Path::new(&self.exec_root);
        // `/var/run` is usually a link to `/run`, which is what the mount table says.
        let Ok(real) = std::fs::canonicalize(root) else {
            return Ok(());
        };
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        if let Some(mnt) = mounts_under(&mounts, &real).first() {
            ctx.warn(&format!(
                "{} left in place: {mnt} is still mounted under it",
                root.display()
            ));
            return Ok(());
        }
        std::fs::remove_dir_all(&real)
            .map_err(|e| Error::other(format!("removing {}: {e}", root.display())))
    }
}

/// The mount points of a `/proc/self/mounts` text that are `dir` or below it. (Mount points
/// there escape spaces and the like as octal; the exec roots compared are plain names.)
fn mounts_under<'a>(mounts: &'a str, dir: &Path) -> Vec<&'a str> {
    mounts
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter(|m| Path::new(m).starts_with(dir))
        .collect()
}

/// Wait for `pid` to exit (reaping it when it is our child). True if it did in time.
fn wait_exit(pid: Pid, deadline: Instant) -> bool {
    loop {
        let _ = waitpid(pid, Some(WaitPidFlag::WNOHANG));
        let gone =
            kill(pid, None).is_err() || std::fs::read_link(format!("/proc/{pid}/exe")).is_err();
        if gone {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// 8 characters identifying the service in short paths and interface names: the start of
/// its id, or a hash of its name when it has none.
fn short_key(svc_id: &str, svcname: &str) -> String {
    let id: String = svc_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect();
    if id.len() == 8 {
        return id.to_ascii_lowercase();
    }
    // FNV-1a: stable across processes and releases, unlike std's hasher.
    let hash = svcname.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{:08x}", hash as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use svcmgr_plugin_api::serde_json::{json, Map, Value};
    use svcmgr_plugin_api::types::ResourceContext;

    fn spec(service: Value) -> ResourceSpec {
        let Value::Object(service) = service else {
            panic!()
        };
        let mut context = ResourceContext::new(
            "busybox.opensvc.com",
            "/var/lib/opensvc/busybox.opensvc.com",
        );
        context.svc_id = "fd1196ad-fbf1-49bb-ab52-12ed2a1fbf0e".into();
        context.service = service;
        ResourceSpec::new("container.docker", "container#1", Map::new(), context)
    }

    #[test]
    fn only_with_a_data_dir() {
        assert_eq!(PrivateDaemon::from_spec(&spec(json!({}))), None);
        assert_eq!(
            PrivateDaemon::from_spec(&spec(json!({"container_data_dir": ""}))),
            None
        );
    }

    #[test]
    fn command_line() {
        let d = PrivateDaemon::from_spec(&spec(json!({
            "container_data_dir": "/opt/busybox.opensvc.com/appdata",
            "docker_daemon_args": ["--ip", "37.59.71.25"],
        })))
        .unwrap();
        assert_eq!(
            d.command_line().join(" "),
            "dockerd -H unix:///var/lib/opensvc/busybox.opensvc.com/docker.sock \
             --data-root /opt/busybox.opensvc.com/appdata \
             -p /var/lib/opensvc/busybox.opensvc.com/docker.pid \
             --exec-root /var/run/svcmgr-docker/fd1196ad --bridge=svcdfd1196ad \
             --iptables=false --ip 37.59.71.25"
        );
    }

    #[test]
    fn operator_network_settings_win() {
        let d = PrivateDaemon::from_spec(&spec(json!({
            "container_data_dir": "/d",
            "docker_daemon_args": ["--bridge=br0", "--iptables=true"],
        })))
        .unwrap();
        let line = d.command_line();
        assert!(!line.iter().any(|a| a.starts_with("--bridge=svcd")));
        assert!(!line.contains(&"--iptables=false".to_string()));
    }

    #[test]
    fn lock_errors_name_the_lock_file() {
        let mut spec = spec(json!({"container_data_dir": "/d"}));
        spec.context.var_dir = "/proc/svcmgr-absent".into();
        let d = PrivateDaemon::from_spec(&spec).unwrap();
        let err = d.lock(Instant::now()).unwrap_err();
        assert!(
            err.message()
                .starts_with("could not lock /proc/svcmgr-absent/lock.docker_start: "),
            "{err}"
        );
    }

    #[test]
    fn mounts_under_a_folder() {
        let mounts = "proc /proc proc rw 0 0\n\
                      nsfs /run/svcmgr-docker/ab/netns/x nsfs rw 0 0\n\
                      tmpfs /run/svcmgr-docker/abc tmpfs rw 0 0\n";
        let under = |d: &str| mounts_under(mounts, Path::new(d));
        assert_eq!(
            under("/run/svcmgr-docker/ab"),
            ["/run/svcmgr-docker/ab/netns/x"]
        );
        assert!(under("/run/svcmgr-docker/cd").is_empty());
    }

    #[test]
    fn short_keys() {
        assert_eq!(short_key("FD1196AD-fbf1", "x"), "fd1196ad");
        let a = short_key("", "svc-a");
        assert_eq!(a.len(), 8);
        assert_eq!(a, short_key("", "svc-a"));
        assert_ne!(a, short_key("", "svc-b"));
    }
}
