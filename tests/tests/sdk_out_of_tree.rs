//! plugin-api as a vendor gets it: the crate folder alone, copied out of this workspace, with
//! its example driver (`plugin-api/examples/marker-driver`). The driver's unit tests (written
//! with the SDK's `testing` feature) pass with no host, and the library it builds runs in the
//! host.

use svcmgr_tests::{build_standalone_driver, cargo_standalone, copy_tree, workspace_root, Env};

#[test]
fn a_driver_builds_and_tests_against_a_copy_of_plugin_api_alone() {
    let tmp = tempfile::Builder::new()
        .prefix("svcmgr-vendor-")
        .tempdir()
        .unwrap();
    let sdk = tmp.path().join("plugin-api");
    copy_tree(&workspace_root().join("plugin-api"), &sdk);
    let manifest = sdk.join("examples/marker-driver/Cargo.toml");
    // The same dependency versions as the workspace (the copy carries no lock file).
    std::fs::copy(
        workspace_root().join("Cargo.lock"),
        sdk.join("examples/marker-driver/Cargo.lock"),
    )
    .unwrap();

    let tests = cargo_standalone(&manifest, &["test"]);
    let out = String::from_utf8_lossy(&tests.stdout);
    assert!(out.contains("test result: ok. 2 passed"), "{out}");

    let env = Env::new(&[]);
    build_standalone_driver(&manifest, "marker_driver", &env.drivers);
    let marker = env.path("marker");
    env.write_conf(
        "vend",
        &format!(
            "[DEFAULT]\nid = 1\n\n[app#1]\ntype = marker\npath = {}\ntext = hello\n",
            marker.display()
        ),
    );
    let start = env.run("-s vend start").ok();
    assert!(start.stderr.contains("write "), "{}", start.stderr);
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "hello");
    assert_eq!(env.run("-s vend status").code, 0, "up");
    std::fs::write(&marker, "bye").unwrap();
    let status = env.run("-s vend print status").ok();
    assert!(
        status
            .stdout
            .contains("warn: the marker holds 'bye', not 'hello'"),
        "{}",
        status.stdout
    );
    env.run("-s vend stop").ok();
    assert!(!marker.exists());
    // A config error names the keyword once, after the rid the host adds.
    env.write_conf(
        "vend",
        "[DEFAULT]\nid = 1\n\n[app#1]\ntype = marker\npath = rel\n",
    );
    let v = env.run("-s vend validate config");
    assert!(
        v.all().contains("[app#1] path: 'rel' is not absolute"),
        "{}",
        v.all()
    );
    // What the vendor's guide asks before shipping: the conformance kit passes.
    let path = format!("path={}", env.path("kit-marker").display());
    let kit = env
        .run_args(&[
            "driver",
            "test",
            "app.marker",
            "--kw",
            &path,
            "--bad-kw",
            "path=rel",
        ])
        .ok();
    assert!(
        kit.stdout.ends_with("\n12 passed, 0 failed, 4 skipped\n"),
        "{}",
        kit.stdout
    );
    assert!(
        kit.stdout
            .contains("ok    errors.bad-value     path=rel refused (path: 'rel' is not absolute)"),
        "{}",
        kit.stdout
    );
}
