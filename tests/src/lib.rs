//! Helpers for the end-to-end tests: each test gets its own `SVCMGR_ROOT` in a temp dir and
//! runs the real `svcmgr` binary with the workspace's driver libraries.
//!
//! The binaries come from the workspace's target dir (`cargo build --workspace` first; the
//! README's test command does it).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The target dir holding `svcmgr` and the driver `.so` files (target/debug or target/release).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test>-<hash>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .to_path_buf();
    assert!(
        dir.join("svcmgr").is_file(),
        "{} has no svcmgr binary: run `cargo build --workspace` before the tests",
        dir.display()
    );
    dir
}

/// One isolated svcmgr installation.
pub struct Env {
    pub root: tempfile::TempDir,
    pub drivers: PathBuf,
    pub nodename: String,
    extra_env: Vec<(String, String)>,
}

impl Env {
    /// A new root whose driver dir links the given libraries of the target dir
    /// (`"app"` → `libsvcmgr_driver_app.so`, `"fixture"` → `libsvcmgr_test_fixture.so`).
    pub fn new(libs: &[&str]) -> Env {
        let root = tempfile::Builder::new()
            .prefix("svcmgr-e2e-")
            .tempdir()
            .expect("temp root");
        let drivers = root.path().join("drivers");
        std::fs::create_dir(&drivers).unwrap();
        let target = target_dir();
        for lib in libs {
            let file = match *lib {
                "fixture" => "libsvcmgr_test_fixture.so".to_string(),
                name => format!("libsvcmgr_driver_{name}.so"),
            };
            let src = target.join(&file);
            assert!(
                src.is_file(),
                "{} missing: run `cargo build --workspace`",
                src.display()
            );
            std::os::unix::fs::symlink(&src, drivers.join(&file)).unwrap();
        }
        Env {
            root,
            drivers,
            nodename: "node1".into(),
            extra_env: Vec::new(),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    /// Set an environment variable for every later command.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.extra_env.push((key.into(), value.into()));
    }

    /// A `svcmgr` command with this root's environment.
    pub fn cmd<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd_as(&target_dir().join("svcmgr"), args)
    }

    /// `program` (svcmgr under another name: a link) with this root's environment.
    pub fn cmd_as<I, S>(&self, program: &Path, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env("SVCMGR_ROOT", self.root.path())
            .env("SVCMGR_DRIVER_PATH", &self.drivers)
            .env("SVCMGR_NODENAME", &self.nodename)
            .env_remove("SVCMGR_LOG_FORMAT")
            .env("COLUMNS", "200")
            .stdin(Stdio::null());
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Run `svcmgr <args>` (split on whitespace) and capture its output.
    pub fn run(&self, args: &str) -> Run {
        Run::from(
            self.cmd(args.split_whitespace())
                .output()
                .expect("run svcmgr"),
        )
    }

    /// Run with explicit arguments (for values containing spaces).
    pub fn run_args(&self, args: &[&str]) -> Run {
        Run::from(self.cmd(args).output().expect("run svcmgr"))
    }

    /// Run with `input` on stdin.
    pub fn run_stdin(&self, args: &str, input: &str) -> Run {
        self.run_args_stdin(&args.split_whitespace().collect::<Vec<_>>(), input)
    }

    /// Run with explicit arguments and `input` on stdin.
    pub fn run_args_stdin(&self, args: &[&str], input: &str) -> Run {
        use std::io::Write;
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn svcmgr");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        Run::from(child.wait_with_output().unwrap())
    }

    /// Write `<root>/etc/opensvc/<name>.conf`.
    pub fn write_conf(&self, name: &str, text: &str) {
        let dir = self.path("etc/opensvc");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.conf")), text).unwrap();
    }

    pub fn read_conf(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(&format!("etc/opensvc/{name}.conf"))).unwrap()
    }
}

/// A finished command: exit code and both streams as text.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Assert a zero exit, showing both streams otherwise.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
    /// Assert this exit code.
    #[track_caller]
    pub fn code(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "unexpected exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
    /// Both streams, for searching log lines.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
    /// Index of the first log line (stderr) holding all of `parts`.
    #[track_caller]
    pub fn line_index(&self, parts: &[&str]) -> usize {
        self.stderr
            .lines()
            .position(|l| parts.iter().all(|p| l.contains(p)))
            .unwrap_or_else(|| panic!("no log line with {parts:?} in:\n{}", self.stderr))
    }
    /// The `print status` line (stdout) of a resource.
    #[track_caller]
    pub fn status_line(&self, rid: &str) -> &str {
        self.stdout
            .lines()
            .find(|l| l.contains(&format!("{rid} ")))
            .unwrap_or_else(|| panic!("no {rid} in:\n{}", self.stdout))
    }
    /// Assert the `print status` line of a resource shows `state` (`up`, `down`, `undef`…)
    /// as a word of its own.
    #[track_caller]
    pub fn assert_state(&self, rid: &str, state: &str) -> &Self {
        let line = self.status_line(rid);
        assert!(
            line.split_whitespace().any(|w| w == state),
            "{rid} is not {state}:\n{}",
            self.stdout
        );
        self
    }
    /// The log lines (stderr) that contain `needle` once their whitespace is collapsed (the
    /// name column's padding depends on the longest rid), collapsed, in order.
    pub fn logged(&self, needle: &str) -> Vec<String> {
        self.stderr
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|l| l.contains(needle))
            .collect()
    }
    /// The log lines (stderr) that contain `needle`, in order.
    pub fn lines_with(&self, needle: &str) -> Vec<String> {
        self.stderr
            .lines()
            .filter(|l| l.contains(needle))
            .map(String::from)
            .collect()
    }
}

/// Run a system command that must succeed; its stdout. Panics showing both streams otherwise.
#[track_caller]
pub fn must(argv: &[&str]) -> String {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        // LVM warns on stderr of every descriptor it inherits.
        .env("LVM_SUPPRESS_FD_WARNINGS", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (run the scripts of tests/setup/)", argv[0]));
    assert!(
        out.status.success(),
        "{} failed ({})\nstdout:\n{}\nstderr:\n{}",
        argv.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run a system command for a teardown, whatever it does.
pub fn quietly(argv: &[&str]) {
    let _ = Command::new(argv[0])
        .args(&argv[1..])
        .env("LVM_SUPPRESS_FD_WARNINGS", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Attach a new loop device to a new sparse image file of `mb` MiB at `image`; its path.
/// The caller's guard detaches it.
pub fn attach_loop(image: &Path, mb: u64) -> String {
    std::fs::File::create(image)
        .unwrap()
        .set_len(mb << 20)
        .unwrap();
    must(&["losetup", "-f", "--show", image.to_str().unwrap()])
        .trim()
        .to_string()
}

/// The pid of a service's private docker daemon (its pid file in the var dir `var`), if that
/// process runs and is a dockerd.
pub fn private_daemon_pid(var: &Path) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(var.join("docker.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    exe.to_string_lossy().contains("dockerd").then_some(pid)
}

/// Stop the private docker daemon of the service with var dir `var` and id `id` (SIGTERM, then
/// SIGKILL after 15 s), and remove what it leaves behind: its exec root and its bridge.
pub fn remove_private_daemon(var: &Path, id: &str) {
    if let Some(pid) = private_daemon_pid(var) {
        let _ = Command::new("kill").arg(pid.to_string()).status();
        let end = Instant::now() + Duration::from_secs(15);
        while private_daemon_pid(var).is_some() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    }
    let key = &id[..8];
    let _ = std::fs::remove_dir_all(format!("/var/run/svcmgr-docker/{key}"));
    let _ = Command::new("ip")
        .args(["link", "del", &format!("svcd{key}")])
        .stderr(Stdio::null())
        .status();
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the workspace")
        .to_path_buf()
}

/// Run `cargo <args>` on a crate outside the workspace (`manifest` is its Cargo.toml), with
/// one target dir shared by every such build (`target/standalone`) so abi_stable and the other
/// dependencies compile once. Panics with cargo's output on failure.
pub fn cargo_standalone(manifest: &Path, args: &[&str]) -> Output {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .arg("--manifest-path")
        .arg(manifest)
        .env(
            "CARGO_TARGET_DIR",
            workspace_root().join("target/standalone"),
        )
        .env_remove("RUSTFLAGS")
        .stdin(Stdio::null())
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "cargo {args:?} {} failed:\n{}",
        manifest.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Build the cdylib of a standalone crate and copy it, mode 0755, to `dest_dir`; its path.
/// Give every crate built this way its own library name: cargo does not copy a fresh library
/// to `target/standalone/debug` again, so two crates sharing a name would hand out each
/// other's file.
pub fn build_standalone_driver(manifest: &Path, lib: &str, dest_dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    cargo_standalone(manifest, &["build", "--quiet"]);
    let file = format!("lib{lib}.so");
    let built = workspace_root().join("target/standalone/debug").join(&file);
    let dest = dest_dir.join(&file);
    std::fs::copy(&built, &dest).expect("copy the built library");
    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755)).unwrap();
    dest
}

/// Copy a folder tree (no symlinks followed), skipping `target` folders.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().unwrap();
        if kind.is_dir() && entry.file_name() != "target" {
            copy_tree(&src, &dst);
        } else if kind.is_file() {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// A folder for what a test process keeps until it ends (built libraries, packages, keys):
/// `target/test-scratch/<test binary>-<name>`, emptied on first use in each process. Under
/// `target/` rather than in a temp dir, since nothing would remove it at exit.
pub fn scratch_dir(name: &str) -> PathBuf {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};
    static MADE: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let exe = std::env::current_exe().expect("test executable path");
    let stem = exe.file_stem().unwrap_or_default().to_string_lossy();
    let binary = stem.split('-').next().unwrap_or_default();
    let dir = workspace_root()
        .join("target/test-scratch")
        .join(format!("{binary}-{name}"));
    let mut made = MADE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if made.insert(name.to_string()) {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
    }
    dir
}

/// The package of a first-party library of the target dir (`"app"` → the package of
/// `libsvcmgr_driver_app.so`), made once per test process with `svcmgr driver package`.
pub fn first_party_package(lib: &str) -> PathBuf {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static MADE: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let mut made = MADE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(p) = made.get(lib) {
        return p.clone();
    }
    let so = match lib {
        "fixture" => target_dir().join("libsvcmgr_test_fixture.so"),
        name => target_dir().join(format!("libsvcmgr_driver_{name}.so")),
    };
    let out = scratch_dir("packages").join(lib);
    let run = Run::from(
        Command::new(target_dir().join("svcmgr"))
            .args(["driver", "package"])
            .arg(&so)
            .arg("--output")
            .arg(&out)
            .output()
            .expect("run svcmgr driver package"),
    )
    .ok();
    let package = PathBuf::from(run.stdout.trim());
    made.insert(lib.to_string(), package.clone());
    package
}

impl Env {
    /// Install the packages of these first-party libraries under this root's
    /// `usr/lib/svcmgr/drivers` with `svcmgr driver install`, as an operator would.
    pub fn install_first_party(&self, libs: &[&str]) {
        let mut args = vec!["driver".to_string(), "install".to_string()];
        args.extend(
            libs.iter()
                .map(|l| first_party_package(l).display().to_string()),
        );
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run_args(&args).ok();
    }
}

/// A service of a test, in a root of its own: a name and an id no other test shares, here or
/// in another test process (other worktrees run the same tests side by side).
pub struct Service {
    pub env: Env,
    pub name: String,
    pub id: String,
}

impl Service {
    /// A service named `<prefix><pid>x<n>` in a new root linking these driver libraries. The
    /// id's first 8 hex digits name a private docker daemon's exec root and bridge: they mix
    /// the pid, the counter and the clock, so a daemon an earlier process of the same pid
    /// left behind is not taken for this one's.
    pub fn new(prefix: &str, libs: &[&str]) -> Service {
        use std::sync::atomic::{AtomicU32, Ordering};
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let key = (pid << 8) ^ n ^ nanos.rotate_left(13);
        Service {
            env: Env::new(libs),
            name: format!("{prefix}{pid}x{n}"),
            id: format!("{key:08x}-0000-4000-8000-{n:012x}"),
        }
    }

    /// Run `svcmgr -s <name> <args>` (split on whitespace).
    pub fn run(&self, args: &str) -> Run {
        self.env.run(&format!("-s {} {args}", self.name))
    }

    /// Write the service's config: a `[DEFAULT]` with its id, then `body`.
    pub fn write_conf(&self, body: &str) {
        self.env.write_conf(
            &self.name,
            &format!("[DEFAULT]\nid = {}\n\n{body}", self.id),
        );
    }

    /// The service's var dir.
    pub fn var(&self) -> PathBuf {
        self.env.path(&format!("var/lib/opensvc/{}", self.name))
    }

    /// The name of the docker container of `container#n`.
    pub fn container(&self, n: u32) -> String {
        format!("{}.container.{n}", self.name)
    }
}

/// `docker <args>` on the system daemon: whether it succeeded, and its stdout.
fn docker_cli(args: &[&str]) -> (bool, String) {
    let out = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("docker CLI");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Assert the engine has these local test images (no registry is reachable).
#[track_caller]
pub fn need_images(images: &[&str]) {
    for image in images {
        assert!(
            !docker_cli(&["images", "-q", image]).1.trim().is_empty(),
            "image {image} missing: run `bash tests/setup/docker.sh` as root first"
        );
    }
}

/// `field` (a Go template) of a container of the system daemon, None if it does not exist.
pub fn inspect(container: &str, field: &str) -> Option<String> {
    let (ok, out) = docker_cli(&["inspect", "-f", field, container]);
    ok.then(|| out.trim().to_string())
}

/// Whether a container of the system daemon runs.
pub fn running(container: &str) -> bool {
    inspect(container, "{{.State.Running}}").as_deref() == Some("true")
}

/// Ids of the containers of service `name` on the system daemon: all, or the running ones.
pub fn service_containers(name: &str, all: bool) -> Vec<String> {
    let filter = format!("label=com.opensvc.name={name}");
    let mut args = vec!["ps", "-q", "--filter", &filter];
    if all {
        args.push("-a");
    }
    docker_cli(&args)
        .1
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// Remove every container of service `name` from the system daemon (for test guards).
pub fn remove_service_containers(name: &str) {
    let ids = service_containers(name, true);
    if !ids.is_empty() {
        let mut args = vec!["rm", "-f"];
        args.extend(ids.iter().map(String::as_str));
        docker_cli(&args);
    }
}
