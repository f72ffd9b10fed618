//! Driver distribution (issue 10) and loader safety (issue 14 points 4, 15, 18, 19), through
//! the built binary: packages made by `svcmgr driver package`, installed, verified, removed;
//! the out-of-tree vendor driver from build to upgrade; bad packages and libraries refused
//! with one line and nothing written; the .deb installed on this machine and removed.

use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use svcmgr_tests::{
    build_standalone_driver, copy_tree, first_party_package, scratch_dir, target_dir,
    workspace_root, Env, Run,
};

/// A folder kept for the whole test process (built libraries, keys, packages).
fn scratch() -> PathBuf {
    scratch_dir("dist")
}

fn sh(cmd: &mut Command) -> Run {
    Run::from(cmd.output().expect("run a command"))
}

/// An ed25519 key pair made with openssl, as the README tells a vendor: (private, public).
fn keypair(name: &str) -> (PathBuf, PathBuf) {
    let (key, public) = (
        scratch().join(format!("{name}.key")),
        scratch().join(format!("{name}.pem")),
    );
    if !public.exists() {
        sh(Command::new("openssl")
            .args(["genpkey", "-algorithm", "ed25519", "-out"])
            .arg(&key))
        .ok();
        sh(Command::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(&key)
            .arg("-out")
            .arg(&public))
        .ok();
    }
    (key, public)
}

/// `svcmgr driver package` of a library, without any root: the package's path.
fn package(so: &Path, sign: Option<&Path>, out: &Path) -> PathBuf {
    let mut cmd = Command::new(target_dir().join("svcmgr"));
    cmd.args(["driver", "package"])
        .arg(so)
        .arg("--output")
        .arg(out);
    if let Some(key) = sign {
        cmd.arg("--sign").arg(key);
    }
    PathBuf::from(sh(&mut cmd).ok().stdout.trim())
}

/// The vendor driver built out of tree at `version`, once per test process: a copy of
/// packaging/examples/vendor-driver whose only change is its version (and the path of
/// plugin-api, absolute from the copy).
fn vendor_library(version: &str) -> PathBuf {
    static BUILT: OnceLock<std::sync::Mutex<Vec<(String, PathBuf)>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, p)) = built.iter().find(|(v, _)| v == version) {
        return p.clone();
    }
    let src = scratch().join(format!("vendor-{version}"));
    copy_tree(
        &workspace_root().join("packaging/examples/vendor-driver"),
        &src,
    );
    let manifest = src.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("version = \"1.0.0\"", &format!("version = \"{version}\""))
        .replace(
            "path = \"../../../plugin-api\"",
            &format!(
                "path = \"{}\"",
                workspace_root().join("plugin-api").display()
            ),
        );
    std::fs::write(&manifest, text).unwrap();
    std::fs::copy(workspace_root().join("Cargo.lock"), src.join("Cargo.lock")).unwrap();
    let out = scratch().join(format!("lib-{version}"));
    std::fs::create_dir_all(&out).unwrap();
    let so = build_standalone_driver(&manifest, "vendorfs_driver", &out);
    built.push((version.to_string(), so.clone()));
    so
}

/// Unmounts what a test mounted, even when it fails.
struct Mounts(Vec<PathBuf>);

impl Drop for Mounts {
    fn drop(&mut self) {
        for m in &self.0 {
            while mounted(m) {
                let _ = Command::new("umount").arg("-l").arg(m).status();
            }
        }
    }
}

fn mounted(path: &Path) -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(path.to_str().unwrap()))
}

/// `print status --format json` of a service, parsed.
fn status_json(env: &Env, svc: &str) -> Value {
    let out = env
        .run(&format!("-s {svc} print status --format json"))
        .ok();
    serde_json::from_str(&out.stdout).unwrap()
}

/// The `driver list --format json` rows.
fn driver_rows(env: &Env) -> Vec<Value> {
    let out = env.run("driver list --format json").ok();
    serde_json::from_str(&out.stdout).unwrap()
}

/// Trust a public key under this root.
fn trust(env: &Env, public: &Path, name: &str) {
    let dir = env.path("etc/svcmgr/trusted-keys");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(public, dir.join(format!("{name}.pem"))).unwrap();
}

/// `svcmgr driver install <package>` in `env`.
fn install(env: &Env, package: &Path) -> Run {
    env.run_args(&["driver", "install", package.to_str().unwrap()])
}

/// Installing `package` fails with an error holding `why` and writes nothing.
#[track_caller]
fn refused_leaving_nothing(env: &Env, package: &Path, why: &str) {
    let r = install(env, package).code(1);
    assert!(r.stderr.contains(why), "{}", r.stderr);
    assert_eq!(installed_tree(env), Vec::<String>::new(), "nothing written");
}

/// Every file and link under the installed drivers folder (the lock file aside).
fn installed_tree(env: &Env) -> Vec<String> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            if rel == ".lock" {
                continue;
            }
            out.push(rel);
            if e.file_type().unwrap().is_dir() {
                walk(&p, base, out);
            }
        }
    }
    let base = env.path("usr/lib/svcmgr/drivers");
    let mut out = Vec::new();
    walk(&base, &base, &mut out);
    out.sort();
    out
}

#[test]
fn the_vendor_flow_from_build_to_upgrade() {
    let env = Env::new(&[]);
    let (key, public) = keypair("vendor");
    trust(&env, &public, "vendor");
    let out = scratch().join("vendor-packages");
    let v1 = package(&vendor_library("1.0.0"), Some(&key), &out);
    assert!(
        v1.ends_with(format!("vendorfs-1.0.0-{}.tar.gz", host_target())),
        "{}",
        v1.display()
    );
    let installed = install(&env, &v1).ok();
    assert!(
        installed
            .stdout
            .contains("installed: fs.vendorfs 1.0.0 (vendorfs 1.0.0, signed by vendor)"),
        "{}",
        installed.all()
    );
    assert!(env
        .path("usr/lib/svcmgr/drivers/fs.vendorfs/1.0.0/libvendorfs_driver.so")
        .is_file());

    let (mnt_a, mnt_b) = (env.path("srv/a"), env.path("srv/b"));
    let _mounts = Mounts(vec![mnt_a.clone(), mnt_b.clone()]);
    env.write_conf(
        "a",
        &format!(
            "[DEFAULT]\nid = a\n\n[fs#1]\ntype = vendorfs\nmnt = {}\nsize = 8m\n",
            mnt_a.display()
        ),
    );
    let start = env.run("-s a start").ok();
    assert!(
        start
            .stderr
            .contains("mount -t tmpfs -o size=8m,mode=0755 vendorfs"),
        "{}",
        start.stderr
    );
    assert!(mounted(&mnt_a));
    assert_eq!(env.run("-s a status").code, 0, "up");
    let doc = status_json(&env, "a");
    assert_eq!(doc["resources"]["fs#1"]["driver_version"], "1.0.0");
    assert_eq!(doc["resources"]["fs#1"]["info"]["vendorfs_build"], "1.0.0");

    // 2.0 beside 1.0; `a` keeps 1.x by a pin, `b` pins 2.x in [DEFAULT].
    let v2 = package(&vendor_library("2.0.0"), Some(&key), &out);
    install(&env, &v2).ok();
    env.run_args(&["-s", "a", "set", "--kw", "fs#1.driver_version=^1"])
        .ok();
    env.write_conf(
        "b",
        &format!(
            "[DEFAULT]\nid = b\ndrivers = fs.vendorfs@^2\n\n[fs#1]\ntype = vendorfs\nmnt = {}\n",
            mnt_b.display()
        ),
    );
    env.run("-s b start").ok();
    assert!(mounted(&mnt_b));
    let (a, b) = (status_json(&env, "a"), status_json(&env, "b"));
    assert_eq!(a["resources"]["fs#1"]["driver_version"], "1.0.0");
    assert_eq!(a["resources"]["fs#1"]["info"]["vendorfs_build"], "1.0.0");
    assert_eq!(a["resources"]["fs#1"]["status"], "up");
    assert_eq!(b["resources"]["fs#1"]["driver_version"], "2.0.0");
    assert_eq!(b["resources"]["fs#1"]["info"]["vendorfs_build"], "2.0.0");
    assert_eq!(b["resources"]["fs#1"]["status"], "up");
    let rows = driver_rows(&env);
    let row = |v: &str| {
        rows.iter()
            .find(|r| r["id"] == "fs.vendorfs" && r["version"] == v)
            .unwrap_or_else(|| panic!("no fs.vendorfs {v} in {rows:?}"))
            .clone()
    };
    assert_eq!(row("2.0.0")["default"], true);
    assert_eq!(row("1.0.0")["default"], false);
    assert_eq!(
        row("1.0.0")["services"],
        serde_json::json!([{"service": "a", "pinned": true}])
    );
    assert_eq!(
        row("2.0.0")["services"],
        serde_json::json!([{"service": "b", "pinned": true}])
    );
    assert_eq!(row("1.0.0")["signed_by"], "vendor");
    let text = env.run("driver list").ok();
    let line = text
        .stdout
        .lines()
        .find(|l| l.starts_with("fs.vendorfs  1.0.0"))
        .unwrap();
    assert!(
        line.contains("vendor") && line.contains("a (pinned)"),
        "{line}"
    );

    // A pin nothing satisfies is a config error naming the installed versions.
    env.write_conf(
        "c",
        "[DEFAULT]\nid = c\n\n[fs#1]\ntype = vendorfs\nmnt = /srv/c\ndriver_version = ^3\n",
    );
    let v = env.run("-s c validate config").code(1);
    assert!(
        v.all().contains(
            "[fs#1] driver_version: no installed version of fs.vendorfs satisfies ^3 \
             (installed: 2.0.0, 1.0.0)"
        ),
        "{}",
        v.all()
    );
    std::fs::remove_file(env.path("etc/opensvc/c.conf")).unwrap();

    // The old version is pinned by `a`: refused, naming it; once `a` moves on, removed.
    let refused = env.run("driver remove fs.vendorfs@1.0.0").code(1);
    assert!(
        refused.stderr.contains("a pins fs.vendorfs 1.0.0"),
        "{}",
        refused.stderr
    );
    env.run("-s a stop").ok();
    env.run_args(&["-s", "a", "unset", "--kw", "fs#1.driver_version"])
        .ok();
    let removed = env.run("driver remove fs.vendorfs@1.0.0").ok();
    assert!(
        removed.stdout.contains("removed: fs.vendorfs 1.0.0"),
        "{}",
        removed.all()
    );
    assert!(!env
        .path("usr/lib/svcmgr/drivers/fs.vendorfs/1.0.0")
        .exists());
    env.run("-s a start").ok();
    assert_eq!(
        status_json(&env, "a")["resources"]["fs#1"]["driver_version"],
        "2.0.0"
    );
    env.run("-s a stop").ok();
    env.run("-s b stop").ok();
    assert!(!mounted(&mnt_a) && !mounted(&mnt_b));
    let verify = env.run("driver verify").ok();
    assert!(
        verify
            .stderr
            .contains("1 installed package(s) verified: no problem"),
        "{}",
        verify.stderr
    );
}

fn host_target() -> String {
    let out = sh(Command::new("rustc").arg("-vV")).ok();
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .unwrap()
        .to_string()
}

#[test]
fn signatures_when_trusted_keys_exist() {
    let env = Env::new(&[]);
    let (_, public) = keypair("trusted");
    let (other, _) = keypair("other");
    let unsigned = first_party_package("app");
    // No key configured: installed, with a warning.
    let first = install(&env, &unsigned).ok();
    assert!(
        first.stderr.contains("no trusted key in"),
        "{}",
        first.stderr
    );
    env.run("driver remove app.forking@1.0.0").ok();

    trust(&env, &public, "trusted");
    let refused = install(&env, &unsigned).code(1);
    assert!(
        refused
            .stderr
            .contains("refused: unsigned, and trusted keys are configured"),
        "{}",
        refused.stderr
    );
    let so = target_dir().join("libsvcmgr_driver_app.so");
    let badly = package(&so, Some(&other), &scratch().join("other-signed"));
    refused_leaving_nothing(&env, &badly, "its signature is not made by any trusted key");
}

#[test]
fn a_tampered_library_is_named_by_verify_and_refused_at_load() {
    let env = Env::new(&[]);
    env.install_first_party(&["app"]);
    env.write_conf(
        "s",
        "[DEFAULT]\nid = 1\n\n[app#1]\nstart = /bin/true\ncheck = /bin/true\n",
    );
    env.run("-s s print status").ok();
    assert!(env.run("driver verify").ok().stdout.is_empty());
    let so = env.path("usr/lib/svcmgr/drivers/app.forking/1.0.0/libsvcmgr_driver_app.so");
    let mut bytes = std::fs::read(&so).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&so, bytes).unwrap();
    let verify = env.run("driver verify app.simple@1.0.0").code(1);
    assert_eq!(verify.stdout.lines().count(), 1, "{}", verify.stdout);
    assert!(
        verify
            .stdout
            .contains(&format!("{}: sha256 ", so.display()))
            && verify.stdout.contains("the library was modified"),
        "{}",
        verify.stdout
    );
    let status = env.run("-s s print status").ok();
    status.assert_state("app#1", "undef");
    assert!(
        status
            .stderr
            .contains("refused: its sha256 is not the one its package recorded"),
        "{}",
        status.stderr
    );
    assert_ne!(env.run("-s s start").code, 0);
}

/// Repack a first-party package with its `driver.json` changed by `edit` (unsigned).
fn doctored(lib: &str, name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let dir = scratch().join(format!("doctored-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    sh(Command::new("tar")
        .arg("xzf")
        .arg(first_party_package(lib))
        .arg("-C")
        .arg(&dir))
    .ok();
    let mut m: Value =
        serde_json::from_slice(&std::fs::read(dir.join("driver.json")).unwrap()).unwrap();
    edit(&mut m);
    std::fs::write(
        dir.join("driver.json"),
        serde_json::to_vec_pretty(&m).unwrap(),
    )
    .unwrap();
    let pkg = scratch().join(format!("{name}.tar.gz"));
    let file = m["file"].as_str().unwrap().to_string();
    sh(Command::new("tar")
        .arg("czf")
        .arg(&pkg)
        .arg("-C")
        .arg(&dir)
        .args(["driver.json", &file]))
    .ok();
    pkg
}

#[test]
fn another_target_or_api_is_refused_naming_both() {
    let env = Env::new(&[]);
    let target = doctored("app", "aarch64", |m| {
        m["target"] = "aarch64-unknown-linux-gnu".into()
    });
    let r = install(&env, &target).code(1);
    assert!(
        r.stderr.contains(&format!(
            "refused: built for aarch64-unknown-linux-gnu, this svcmgr runs on {}",
            host_target()
        )),
        "{}",
        r.stderr
    );
    let api = doctored("app", "api7", |m| {
        m["api"] = serde_json::json!({"min": 7, "max": 9})
    });
    refused_leaving_nothing(
        &env,
        &api,
        "refused: speaks api versions 7..=9, this svcmgr speaks api 1",
    );
}

#[test]
fn bad_archives_are_refused_and_nothing_is_written() {
    let env = Env::new(&[]);
    let dir = scratch().join("bad-archives");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("in/sub")).unwrap();
    std::fs::write(dir.join("in/evil.so"), "x").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", dir.join("in/libx.so")).unwrap();
    sh(Command::new("mknod")
        .arg(dir.join("in/null.so"))
        .args(["c", "1", "3"]))
    .ok();
    let tar = |name: &str, cwd: &Path, args: &[&str]| {
        let pkg = dir.join(name);
        sh(Command::new("tar")
            .arg("-czPf")
            .arg(&pkg)
            .args(args)
            .current_dir(cwd))
        .ok();
        pkg
    };
    let evil = dir.join("in/evil.so").display().to_string();
    let cases = [
        (
            tar("dotdot.tar.gz", &dir.join("in/sub"), &["../evil.so"]),
            "entry '../evil.so' is not a plain file name",
        ),
        (
            tar("absolute.tar.gz", &dir, &[&evil]),
            "is not a plain file name",
        ),
        (
            tar("link.tar.gz", &dir.join("in"), &["libx.so"]),
            "entry 'libx.so' is not a plain file (Symlink)",
        ),
        (
            tar("device.tar.gz", &dir.join("in"), &["null.so"]),
            "entry 'null.so' is not a plain file (Char)",
        ),
    ];
    for (pkg, want) in &cases {
        let r = install(&env, pkg).code(1);
        assert!(r.stderr.contains(want), "{want}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    }
    // A truncated archive: a clear error, naming the file.
    let whole = std::fs::read(first_party_package("app")).unwrap();
    let cut = dir.join("cut.tar.gz");
    std::fs::write(&cut, &whole[..whole.len() / 3]).unwrap();
    refused_leaving_nothing(
        &env,
        &cut,
        &format!("{}: not a valid driver package", cut.display()),
    );
    assert!(!env.path("usr/lib/svcmgr/evil.so").exists() && !env.path("evil.so").exists());
}

#[test]
fn same_version_other_content_needs_force() {
    let env = Env::new(&[]);
    env.install_first_party(&["app"]);
    let again = env
        .run_args(&[
            "driver",
            "install",
            first_party_package("app").to_str().unwrap(),
        ])
        .ok();
    assert!(
        again.stdout.contains("already installed"),
        "{}",
        again.stdout
    );
    let other = doctored("app", "other-help", |m| {
        m["drivers"][0]["help"] = "changed".into()
    });
    let r = install(&env, &other).code(1);
    assert!(
        r.stderr
            .contains("app 1.0.0 is installed with another content")
            && r.stderr.contains("use --force"),
        "{}",
        r.stderr
    );
    let forced = env
        .run_args(&["driver", "install", "--force", other.to_str().unwrap()])
        .ok();
    assert!(forced.stdout.contains("replaced:"), "{}", forced.stdout);
    let info = env.run("driver info app.forking").ok();
    assert!(info.stdout.contains("changed"), "{}", info.stdout);
    env.run("driver verify").ok();
}

#[test]
fn concurrent_installs_all_land_whole() {
    let env = Env::new(&[]);
    let pkgs = [
        first_party_package("app"),
        first_party_package("fixture"),
        first_party_package("app"),
        first_party_package("fixture"),
    ];
    let children: Vec<_> = pkgs
        .iter()
        .map(|p| {
            env.cmd(["driver", "install", p.to_str().unwrap()])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        Run::from(c.wait_with_output().unwrap()).ok();
    }
    let tree = installed_tree(&env);
    let app_dir = "app.forking/1.0.0";
    for f in ["driver.json", "libsvcmgr_driver_app.so"] {
        assert!(tree.contains(&format!("{app_dir}/{f}")), "{tree:?}");
    }
    assert!(
        tree.iter()
            .all(|p| !p.starts_with('.') && !p.contains("/.")),
        "{tree:?}"
    );
    assert!(env.run("driver verify").ok().stdout.is_empty());
    let rows = driver_rows(&env);
    assert!(rows.iter().any(|r| r["id"] == "app.simple"));
    assert!(rows.iter().any(|r| r["id"] == "container.fixture"));
}

#[test]
fn a_folder_others_may_write_is_refused_at_load() {
    let env = Env::new(&[]);
    env.install_first_party(&["app"]);
    let dir = env.path("usr/lib/svcmgr/drivers/app.forking/1.0.0");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    env.write_conf("s", "[DEFAULT]\nid = 1\n\n[app#1]\nstart = /bin/true\n");
    let status = env.run("-s s print status").ok();
    assert!(
        status.stderr.contains("refused: its folder")
            && status.stderr.contains("is writable by group or others"),
        "{}",
        status.stderr
    );
    let verify = env.run("driver verify").code(1);
    assert!(verify.stdout.contains("mode 777"), "{}", verify.stdout);
}

/// The version of tests/fixture-driver, that of its drivers.
const FIXTURE_VERSION: &str = "0.1.0";

/// A copy of the fixture library cut in half, in a folder of its own.
fn truncated_library(env: &Env) -> PathBuf {
    let bytes = std::fs::read(target_dir().join("libsvcmgr_test_fixture.so")).unwrap();
    let cut = env.drivers.join("libcut.so");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    std::fs::set_permissions(&cut, std::fs::Permissions::from_mode(0o644)).unwrap();
    cut
}

#[test]
fn a_truncated_library_is_refused_in_one_line_and_parsing_loads_nothing() {
    let env = Env::new(&["app"]);
    let cut = truncated_library(&env);
    // Help, version and a bad flag are answered before any library is looked at.
    for (args, code) in [("--help", 0), ("--version", 0), ("--bogus", 1), ("ls", 0)] {
        let r = env.run(args).code(code);
        assert!(!r.stderr.contains("libcut.so"), "{args}: {}", r.stderr);
    }
    env.write_conf(
        "s",
        &format!(
            "[DEFAULT]\nid = 1\n\n[app#1]\nstart = touch {0}\nstop = rm -f {0}\ncheck = test -f {0}\n",
            env.path("flag").display()
        ),
    );
    let start = env.run("-s s start").ok();
    let lines = start.lines_with("libcut.so");
    assert_eq!(lines.len(), 1, "{}", start.stderr);
    assert!(
        lines[0].contains(&format!("{}: refused: truncated: ", cut.display())),
        "{}",
        lines[0]
    );
    assert!(env.path("flag").exists());
    env.run("-s s stop").ok();
}

#[test]
fn a_library_being_written_is_not_loaded() {
    let env = Env::new(&[]);
    let lib = env.drivers.join("libsvcmgr_test_fixture_copy.so");
    std::fs::copy(target_dir().join("libsvcmgr_test_fixture.so"), &lib).unwrap();
    std::fs::set_permissions(&lib, std::fs::Permissions::from_mode(0o644)).unwrap();
    let writer = std::fs::OpenOptions::new().append(true).open(&lib).unwrap();
    let list = env.run("driver list").ok();
    assert!(
        list.stderr.contains(&format!(
            "{}: refused: the file is being written",
            lib.display()
        )),
        "{}",
        list.stderr
    );
    assert!(!list.stdout.contains("app.fixture"));
    drop(writer);
    assert!(env.run("driver list").ok().stdout.contains("app.fixture"));
}

#[test]
fn a_service_loads_only_its_own_drivers() {
    let env = Env::new(&[]);
    env.install_first_party(&["app", "fixture"]);
    let fixture_so = env.path(&format!(
        "usr/lib/svcmgr/drivers/ip.fixture/{FIXTURE_VERSION}/libsvcmgr_test_fixture.so"
    ));
    // A broken fixture library: any load of it says so.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&fixture_so)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"x"))
        .unwrap();
    env.write_conf(
        "apps",
        "[DEFAULT]\nid = 1\n\n[app#1]\nstart = /bin/true\ncheck = /bin/true\n",
    );
    env.write_conf("fix", "[DEFAULT]\nid = 2\n\n[app#1]\ntype = fixture\n");
    let apps = env.run("-s apps print status").ok();
    assert!(!apps.stderr.contains("fixture"), "{}", apps.stderr);
    apps.assert_state("app#1", "up");
    let fix = env.run("-s fix print status").ok();
    assert!(
        fix.stderr.contains("libsvcmgr_test_fixture.so: refused"),
        "{}",
        fix.stderr
    );
    let list = env.run("driver list").ok();
    assert!(
        list.stderr.contains("libsvcmgr_test_fixture.so: refused"),
        "{}",
        list.stderr
    );
}

#[test]
fn discovery_does_not_follow_links_out_of_the_tree() {
    let env = Env::new(&[]);
    env.install_first_party(&["app"]);
    let drivers = env.path("usr/lib/svcmgr/drivers");
    std::os::unix::fs::symlink("/usr/lib", drivers.join("system")).unwrap();
    std::os::unix::fs::symlink(".", drivers.join("loop")).unwrap();
    std::os::unix::fs::symlink("..", drivers.join("app.forking/loop")).unwrap();
    std::os::unix::fs::symlink("/usr/lib", drivers.join("app.forking/2.0.0")).unwrap();
    let t = std::time::Instant::now();
    let list = env.run("driver list --format json").ok();
    assert!(t.elapsed() < std::time::Duration::from_secs(10));
    let rows: Vec<Value> = serde_json::from_str(&list.stdout).unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["app.forking", "app.simple"], "{}", list.stderr);
    assert!(
        list.stderr.contains("system: ignored: not a driver folder"),
        "{}",
        list.stderr
    );
}

#[test]
fn a_library_claiming_another_ones_section_name_is_refused() {
    let env = Env::new(&[]);
    env.install_first_party(&["app"]);
    let claim = doctored("fixture", "claims-app", |m| {
        m["drivers"][0]["section_aliases"] = serde_json::json!(["app"])
    });
    install(&env, &claim).ok();
    let flag = env.path("flag");
    env.write_conf(
        "s",
        &format!(
            "[DEFAULT]\nid = 1\n\n[app#1]\nstart = touch {}\n",
            flag.display()
        ),
    );
    let start = env.run("-s s start").ok();
    assert!(flag.exists(), "[app#1] is still served by app.forking");
    let warn = start.lines_with("claims the section name 'app'");
    assert_eq!(warn.len(), 1, "{}", start.stderr);
    assert!(
        warn[0].contains("libsvcmgr_test_fixture.so: refused: its driver ip.fixture")
            && warn[0].contains("already served by library app"),
        "{}",
        warn[0]
    );
}

#[test]
fn only_a_link_in_the_config_folder_is_a_service_name() {
    let env = Env::new(&["app"]);
    let bin = scratch().join("renamed");
    std::fs::create_dir_all(&bin).unwrap();
    let renamed = bin.join("mysvc");
    let _ = std::fs::remove_file(&renamed);
    std::os::unix::fs::symlink(target_dir().join("svcmgr"), &renamed).unwrap();
    let run = |prog: &Path, args: &[&str]| Run::from(env.cmd_as(prog, args).output().unwrap());
    // A renamed binary is svcmgr, not a service named after it.
    run(&renamed, &["ls"]).ok();
    run(
        &renamed,
        &["-s", "s1", "create", "--kw", "app#1.start=/bin/true"],
    )
    .ok();
    // The link `create` made dispatches to its service.
    let link = env.path("etc/opensvc/s1");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let status = run(&link, &["print", "status"]).ok();
    assert!(status.stdout.contains("s1"), "{}", status.stdout);
}

/// Runs `dpkg -r svcmgr` when dropped, so the machine is restored even when the test fails.
struct Dpkg;

impl Drop for Dpkg {
    fn drop(&mut self) {
        dpkg(&["-r", "svcmgr"]);
    }
}

/// dpkg, waiting while another dpkg (another test's apt-get) holds its lock.
fn dpkg(args: &[&str]) -> Run {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(180);
    loop {
        let r = sh(Command::new("dpkg").args(args));
        if r.code == 0 || !r.stderr.contains("lock") || std::time::Instant::now() > end {
            return r;
        }
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
}

#[test]
fn the_deb_installs_a_working_svcmgr_and_removes_cleanly() {
    let owned = sh(Command::new("dpkg").args(["-s", "svcmgr"]));
    let clash = [
        "/usr/bin/svcmgr",
        "/usr/lib/svcmgr",
        "/usr/lib/ocf/resource.d/svcmgr",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists());
    if owned.code == 0 || clash.is_some() || sh(Command::new("dpkg").arg("--version")).code != 0 {
        eprintln!(
            "skipped: dpkg unusable or svcmgr already on this machine ({})",
            clash.unwrap_or("package installed")
        );
        return;
    }
    let build = sh(Command::new("bash")
        .arg(workspace_root().join("packaging/build"))
        .arg("--debug"))
    .ok();
    let dist = workspace_root().join("target/dist");
    for lib in ["app", "disk", "docker", "fs", "ip", "ocf"] {
        assert!(
            build
                .stdout
                .contains(&format!("drivers/{lib}-1.0.0-{}.tar.gz", host_target())),
            "{}",
            build.stdout
        );
    }
    let deb = std::fs::read_dir(&dist)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .expect("a .deb");
    let _restore = Dpkg;
    dpkg(&["-i", deb.to_str().unwrap()]).ok();
    let svcmgr = |args: &[&str]| {
        sh(Command::new("/usr/bin/svcmgr")
            .args(args)
            .env_remove("SVCMGR_ROOT")
            .env_remove("SVCMGR_DRIVER_PATH"))
    };
    let list = svcmgr(&["driver", "list"]).ok();
    for id in [
        "app.forking",
        "container.docker",
        "fs.ext4",
        "ip.netns",
        "disk.vg",
        "app.ocf",
    ] {
        assert!(
            list.stdout
                .lines()
                .any(|l| l.starts_with(&format!("{id} "))),
            "{}",
            list.stdout
        );
    }
    assert!(list.stderr.is_empty(), "{}", list.stderr);
    svcmgr(&["driver", "verify"]).ok();
    assert!(svcmgr(&["--help"]).ok().stdout.contains("Usage"));
    let man = sh(Command::new("man")
        .args(["-P", "cat", "svcmgr"])
        .env("MANWIDTH", "100"))
    .ok();
    assert!(man.stdout.contains("svcmgr"), "{}", man.all());
    // Every action has its page, named in svcmgr(1), and completes.
    let man = sh(Command::new("man")
        .args(["-P", "cat", "svcmgr-driver-install"])
        .env("MANWIDTH", "100"))
    .ok();
    assert!(man.stdout.contains("--force"), "{}", man.all());
    let completion = sh(Command::new("bash").arg("-c").arg(
        "source /usr/share/bash-completion/completions/svcmgr && \
         COMP_WORDS=(svcmgr driver in) COMP_CWORD=2 COMP_LINE='svcmgr driver in' COMP_POINT=16 && \
         _svcmgr svcmgr in driver && echo \"${COMPREPLY[@]}\"",
    ))
    .ok();
    assert_eq!(
        completion.stdout.trim(),
        "info install",
        "{}",
        completion.all()
    );
    let completion = sh(Command::new("bash").arg("-c").arg(
        "source /usr/share/bash-completion/completions/svcmgr && \
         COMP_WORDS=(svcmgr --col) COMP_CWORD=1 COMP_LINE='svcmgr --col' COMP_POINT=12 && \
         _svcmgr svcmgr --col svcmgr && echo \"${COMPREPLY[@]}\"",
    ))
    .ok();
    assert!(
        completion.stdout.contains("--color"),
        "{}",
        completion.all()
    );
    assert!(Path::new("/usr/lib/ocf/resource.d/svcmgr/service").is_file());
    dpkg(&["-r", "svcmgr"]).ok();
    for p in [
        "/usr/bin/svcmgr",
        "/usr/lib/svcmgr",
        "/usr/lib/ocf/resource.d/svcmgr",
        "/var/cache/svcmgr",
    ] {
        assert!(!Path::new(p).exists(), "{p} left behind");
    }
}
