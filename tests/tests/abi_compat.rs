//! The ABI promise of plugin-api 1.x, kept by a test: a driver built against the ABI as
//! released in 1.0.0 (the frozen copy in `tests/abi-1.0/`) loads and runs in this host, and a
//! driver whose ABI really differs is refused in one line that says what to do.

use std::path::{Path, PathBuf};
use svcmgr_tests::{build_standalone_driver, copy_tree, workspace_root, Env, Run};

const DRIVER: &str = "svcmgr-abi10-fixture";

fn frozen() -> PathBuf {
    workspace_root().join("tests/abi-1.0")
}

/// An env whose driver dir holds the app drivers and the library `driver` built from `tree`.
fn env_with(tree: &Path, driver: &str) -> (Env, PathBuf) {
    let env = Env::new(&["app"]);
    let lib = driver.replace('-', "_");
    let so = build_standalone_driver(&tree.join("Cargo.toml"), &lib, &env.drivers);
    (env, so)
}

/// A copy of the frozen tree with one edit applied to a file of its plugin-api, its driver
/// renamed `<DRIVER>-<tag>` and its plugin-api folder `plugin-api-<tag>`. The renames keep the
/// builds apart in the shared target dir: cargo names a path crate's artifacts after its path
/// relative to its workspace, so two copies of one tree would overwrite each other's.
fn variant(tag: &str, file: &str, from: &str, to: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::Builder::new()
        .prefix("svcmgr-abi-variant-")
        .tempdir()
        .unwrap();
    let sdk = format!("plugin-api-{tag}");
    copy_tree(&frozen().join("plugin-api"), &dir.path().join(&sdk));
    copy_tree(&frozen().join("driver"), &dir.path().join("driver"));
    for f in ["Cargo.toml", "Cargo.lock"] {
        std::fs::copy(frozen().join(f), dir.path().join(f)).unwrap();
    }
    let name = format!("{DRIVER}-{tag}");
    let file = format!("{sdk}/{file}");
    for (file, from, to) in [
        (file.as_str(), from, to.to_string()),
        ("driver/Cargo.toml", DRIVER, name.clone()),
        ("driver/Cargo.toml", "../plugin-api", format!("../{sdk}")),
        ("Cargo.toml", "\"plugin-api\"", format!("\"{sdk}\"")),
    ] {
        let path = dir.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} no longer holds {from:?}");
        std::fs::write(&path, text.replacen(from, &to, 1)).unwrap();
    }
    (dir, name)
}

fn refusal_lines(run: &Run, so: &Path) -> Vec<String> {
    let name = so.file_name().unwrap().to_string_lossy().into_owned();
    run.lines_with(&name)
}

#[test]
fn a_driver_built_against_the_1_0_abi_runs_in_this_host() {
    let (env, _so) = env_with(&frozen(), DRIVER);
    let list = env.run("driver list").ok();
    let row = list
        .stdout
        .lines()
        .find(|l| l.starts_with("app.abi10 "))
        .unwrap_or_else(|| panic!("abi10 not listed:\n{}\n{}", list.stdout, list.stderr));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cells[1..5], ["1.0.0", "1-1", "1.0.0", "1"], "{row}");

    let flag = env.path("flag");
    env.write_conf(
        "old",
        &format!(
            "[DEFAULT]\nid = 1\n\n[app#1]\ntype = abi10\npath = {}\n",
            flag.display()
        ),
    );
    let start = env.run("-s old start").ok();
    assert!(start.stderr.contains("abi10 touched"), "{}", start.stderr);
    assert!(flag.exists());
    let status = env.run("-s old print status").ok();
    let row = status.stdout.lines().find(|l| l.contains("app#1")).unwrap();
    assert!(row.contains(" up "), "{}", status.stdout);
    assert!(status
        .stdout
        .contains("info: built against plugin-api 1.0.0"));
    env.run("-s old stop").ok();
    assert!(!flag.exists());
    assert_eq!(env.run("-s old status").code, 1, "down");

    // 1.0 let a driver send any status string: shown as undef, naming the word.
    env.write_conf(
        "old",
        &format!(
            "[DEFAULT]\nid = 1\n\n[app#1]\ntype = abi10\npath = {}\nword = sleepy\n",
            flag.display()
        ),
    );
    let status = env.run("-s old print status").ok();
    let row = status.stdout.lines().find(|l| l.contains("app#1")).unwrap();
    assert!(row.contains(" undef "), "{}", status.stdout);
    assert!(
        status
            .stdout
            .contains("error: the driver reported status 'sleepy', which is not a status"),
        "{}",
        status.stdout
    );
}

#[test]
fn a_driver_of_another_abi_major_is_refused_in_one_line() {
    let (tree, driver) = variant(
        "v2",
        "Cargo.toml",
        "version = \"1.0.0\"",
        "version = \"2.0.0\"",
    );
    let (env, so) = env_with(tree.path(), &driver);
    let run = env.run("driver list").ok();
    assert!(run.stdout.contains("app.forking"), "the others still load");
    assert!(!run.stdout.contains("app.abi10"));
    let lines = refusal_lines(&run, &so);
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(
        lines[0].ends_with(&format!(
            "{}: built against plugin-api 2.0.0 (abi 2), this host needs abi 1: rebuild the driver",
            so.display()
        )),
        "{}",
        lines[0]
    );
    // abi_stable's own report only with --debug.
    assert!(!run.stderr.contains("IncompatibleVersionNumber") && !run.stderr.contains("debug:"));
    let debug = env.run("driver list --debug").ok();
    assert!(debug.stderr.contains("debug: "), "{}", debug.stderr);
}

#[test]
fn a_driver_whose_abi_layout_differs_is_refused_in_one_line() {
    // Same version number, one field retyped: the log callback's level as u16.
    let (tree, driver) = variant(
        "retyped",
        "src/abi.rs",
        "pub log: extern \"C\" fn(token: u64, rid: RStr<'_>, level: u8, msg: RStr<'_>),",
        "pub log: extern \"C\" fn(token: u64, rid: RStr<'_>, level: u16, msg: RStr<'_>),",
    );
    let (env, so) = env_with(tree.path(), &driver);
    let run = env.run("driver list").ok();
    let lines = refusal_lines(&run, &so);
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(
        lines[0].ends_with(&format!(
            "{}: built against plugin-api 1.0.0 (abi 1), but its ABI layout is not the one of \
             abi 1 this host needs: rebuild the driver",
            so.display()
        )),
        "{}",
        lines[0]
    );
    assert!(lines[0].len() < 400, "no layout dump: {}", lines[0]);
    let debug = env.run("driver list --debug").ok();
    assert!(
        debug
            .stderr
            .lines()
            .any(|l| l.starts_with("debug: ") && l.contains("u16")),
        "the layout dump names the retyped field's type: {}",
        debug.stderr
    );
}
