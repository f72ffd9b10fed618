//! Issue 2 acceptance, through the built `svcmgr` binary: create/print/set/get/unset,
//! validate, start/stop/status with the app driver, driver loading problems, panics.

use svcmgr_tests::Env;

/// A scratch dir for the files an app resource creates.
fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("svcmgr-app-")
        .tempdir()
        .unwrap()
}

fn app_json(dir: &std::path::Path) -> String {
    let f = dir.join("a");
    format!(
        r#"{{"DEFAULT":{{}},"app#1":{{"start":"touch {f}","stop":"rm -f {f}","check":"test -f {f}"}}}}"#,
        f = f.display()
    )
}

#[test]
fn create_start_status_stop() {
    let env = Env::new(&["app"]);
    let dir = scratch();
    env.run_stdin("-s demo create --config=-", &app_json(dir.path()))
        .ok();
    let conf = env.read_conf("demo");
    assert!(conf.contains("[app#1]") && conf.contains("id = "), "{conf}");
    assert!(
        env.path("etc/opensvc/demo").is_symlink(),
        "create links the service name to svcmgr"
    );
    let printed = env.run("-s demo print config").ok();
    assert_eq!(printed.stdout, conf);

    env.run("-s demo start").ok();
    assert!(dir.path().join("a").exists());
    let status = env.run("-s demo print status").ok();
    let app = status
        .stdout
        .lines()
        .find(|l| l.contains("app#1"))
        .expect("app#1 row");
    assert!(app.contains(" up "), "{}", status.stdout);
    assert!(
        status.stdout.lines().next().unwrap().contains(" up"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("frozen, idle, started"),
        "{}",
        status.stdout
    );
    env.run("-s demo status").code(0);

    env.run("-s demo stop").ok();
    assert!(!dir.path().join("a").exists());
    env.run("-s demo status").code(1);
    let json: serde_json::Value =
        serde_json::from_str(&env.run("-s demo print status --format json").ok().stdout).unwrap();
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["resources"]["app#1"]["status"], "down");
    assert!(env.path("var/lib/opensvc/demo/status.json").is_file());
    let log = std::fs::read_to_string(env.path("var/log/opensvc/demo.log")).unwrap();
    assert!(
        log.contains("node1.demo.app#1") && log.contains("rm -f"),
        "{log}"
    );
}

#[test]
fn argv0_dispatch_runs_the_named_service() {
    let env = Env::new(&["app"]);
    let dir = scratch();
    env.run_stdin("-s demo create --config=-", &app_json(dir.path()))
        .ok();
    let out = std::process::Command::new(env.path("etc/opensvc/demo"))
        .args(["print", "status"])
        .env("SVCMGR_ROOT", env.root.path())
        .env("SVCMGR_DRIVER_PATH", &env.drivers)
        .env("SVCMGR_NODENAME", "node1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("demo "));
}

#[test]
fn set_get_unset_keep_comments() {
    let env = Env::new(&["app"]);
    env.write_conf("demo", "[DEFAULT]\nid = 1\n\n# written by hand\n[app#1]\nstart = /bin/true\n# about stop\nstop = /bin/true\n");
    env.run_args(&[
        "-s",
        "demo",
        "set",
        "--kw",
        "app#1.stop=false",
        "--kw",
        "DEFAULT.comment=x",
    ])
    .ok();
    assert_eq!(
        env.run("-s demo get --kw app#1.stop").ok().stdout,
        "false\n"
    );
    assert_eq!(env.run("-s demo get --kw comment").ok().stdout, "x\n");
    let conf = env.read_conf("demo");
    assert!(
        conf.contains("# written by hand\n[app#1]") && conf.contains("# about stop\nstop = false"),
        "{conf}"
    );
    env.run("-s demo unset --kw app#1.stop").ok();
    let conf = env.read_conf("demo");
    assert!(
        !conf.contains("stop =") && conf.contains("# about stop"),
        "{conf}"
    );
    assert_eq!(env.run("-s demo get --kw app#1.stop").ok().stdout, "None\n");
    assert_eq!(
        env.run("-s demo get --kw app#1.check_timeout").ok().stdout,
        "60s\n",
        "unset keywords print their default"
    );
}

#[test]
fn bad_keywords_are_refused_without_changes() {
    let env = Env::new(&["app"]);
    let dir = scratch();
    let f = dir.path().join("a");
    let text = format!(
        "[DEFAULT]\nid = 1\n\n[app#1]\nstart = touch {}\nbogus = 1\n",
        f.display()
    );
    env.write_conf("demo", &text);
    let v = env.run("-s demo validate config");
    assert_eq!(v.code, 1, "one error: {}", v.stdout);
    assert!(
        v.stdout.contains("[app#1] bogus: unknown keyword"),
        "{}",
        v.stdout
    );
    assert!(
        v.stdout.contains("demo.conf"),
        "names the file: {}",
        v.stdout
    );
    let s = env.run("-s demo start").code(1);
    assert!(s.stderr.contains("bogus"), "{}", s.stderr);
    assert!(!f.exists(), "a refused start changes nothing");
    assert!(!env.path("var/lib/opensvc/demo/status.json").exists());

    // A set that would bring an error writes nothing.
    env.write_conf("demo", "[app#1]\nstart = /bin/true\n");
    let r = env
        .run_args(&["-s", "demo", "set", "--kw", "app#1.check_timeout=soon"])
        .code(1);
    assert!(r.stderr.contains("[app#1] check_timeout"), "{}", r.stderr);
    assert_eq!(env.read_conf("demo"), "[app#1]\nstart = /bin/true\n");
}

#[test]
fn validate_reports_types_references_and_legacy_forms() {
    let env = Env::new(&["app"]);
    env.write_conf(
        "demo",
        "[DEFAULT]\nservice_type = DEV\na = {b}\nb = {a}\n\n[app#1]\nstart = /bin/true\noptional = maybe\n\n[bogus#1]\n",
    );
    let v = env.run("-s demo validate config");
    assert!(
        v.stdout.contains("warning:")
            && v.stdout
                .contains("[DEFAULT] service_type: legacy keyword, use 'env'"),
        "{}",
        v.stdout
    );
    assert!(
        v.stdout.contains("[DEFAULT] a: unknown keyword"),
        "{}",
        v.stdout
    );
    assert!(
        v.stdout
            .contains("[app#1] optional: 'maybe' is not a boolean"),
        "{}",
        v.stdout
    );
    assert!(
        v.stdout.contains("[bogus#1] unknown section group 'bogus'"),
        "{}",
        v.stdout
    );
    assert_eq!(
        v.code,
        v.stdout.lines().filter(|l| l.starts_with("error:")).count() as i32
    );

    env.write_conf(
        "loop",
        "[DEFAULT]\ncomment = {app#1.start}\n\n[app#1]\nstart = {DEFAULT.comment}\n",
    );
    let v = env.run("-s loop validate config");
    assert!(v.stdout.contains("reference loop:"), "{}", v.stdout);
}

#[test]
fn unknown_driver_is_undef_with_reason() {
    let env = Env::new(&["app"]);
    env.write_conf(
        "demo",
        "[DEFAULT]\nid = 1\n\n[container#1]\ntype = docker\nimage = x\n\n[app#1]\nstart = /bin/true\n",
    );
    let v = env.run("-s demo validate config");
    assert_eq!(v.code, 1, "one error: {}", v.stdout);
    assert!(
        v.stdout
            .contains("[container#1] type: unknown driver container.docker"),
        "{}",
        v.stdout
    );
    let s = env.run("-s demo print status").ok();
    let row = s
        .stdout
        .lines()
        .find(|l| l.contains("container#1"))
        .expect("row");
    assert!(row.contains("undef"), "{}", s.stdout);
    assert!(
        s.stdout
            .contains("error: type: unknown driver container.docker"),
        "{}",
        s.stdout
    );
}

#[test]
fn a_bad_library_is_one_warning_and_the_rest_still_loads() {
    let env = Env::new(&["app"]);
    std::fs::write(env.drivers.join("libnotadriver.so"), b"not an ELF").unwrap();
    let dir = scratch();
    env.run_stdin("-s demo create --config=-", &app_json(dir.path()))
        .ok();
    let r = env.run("-s demo start").ok();
    let warnings: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.contains("libnotadriver.so"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", r.stderr);
    assert!(dir.path().join("a").exists());
    let list = env.run("driver list").ok();
    assert!(
        list.stdout.contains("app.forking") && list.stdout.contains("app.simple"),
        "{}",
        list.stdout
    );

    // A world-writable library is refused with a clear reason.
    let copy = env.drivers.join("libcopy.so");
    std::fs::copy(env.drivers.join("libsvcmgr_driver_app.so"), &copy).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o666)).unwrap();
    let list = env.run("driver list --format json").ok();
    assert!(
        list.stderr.contains("libcopy.so: refused")
            && list.stderr.contains("writable by group or others"),
        "{}",
        list.stderr
    );
    let drivers: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(drivers.as_array().unwrap().len(), 2);
}

#[test]
fn a_panicking_driver_fails_its_resource_not_the_process() {
    let env = Env::new(&["app", "fixture"]);
    env.write_conf(
        "demo",
        "[DEFAULT]\nid = 1\n\n[app#1]\ntype = fixture\npanic = start\n",
    );
    let r = env.run("-s demo start").code(1);
    assert!(
        r.stderr
            .contains("app#1 E start panicked: fixture app#1 told to panic on start"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("node1.demo.app#1"),
        "the error is logged under the rid: {}",
        r.stderr
    );
    // Status of a resource whose status panics: undef with the reason, process fine.
    env.write_conf(
        "demo",
        "[DEFAULT]\nid = 1\n\n[app#1]\ntype = fixture\npanic = status\n",
    );
    let s = env.run("-s demo print status").ok();
    assert!(
        s.stdout.contains("undef") && s.stdout.contains("panicked"),
        "{}",
        s.stdout
    );
}

#[test]
fn simple_apps_run_detached_and_stop() {
    let env = Env::new(&["app"]);
    env.write_conf(
        "demo",
        "[DEFAULT]\nid = 1\n\n[app#1]\ntype = simple\nstart = sleep 300\n",
    );
    env.run("-s demo start").ok();
    env.run("-s demo status").code(0);
    let pid_file = std::fs::read_to_string(env.path("var/lib/opensvc/demo/app#1/pid")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&pid_file).unwrap();
    let pid = doc["pid"].as_i64().unwrap() as i32;
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    // Detached: a session of its own, so the operator's terminal closing does not hang it up.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    assert_eq!(fields[3], pid.to_string(), "session id of the app: {stat}");
    env.run("-s demo stop").ok();
    env.run("-s demo status").code(1);
    // The process may linger as a zombie of init for a moment; it must not be running sleep.
    let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z"))
        .unwrap_or(false);
    assert!(!alive, "the app process was stopped");
}

#[test]
fn app_commands_get_the_service_environment() {
    let env = Env::new(&["app"]);
    let dir = scratch();
    let out = dir.path().join("env");
    let conf = format!(
        "[DEFAULT]\nid = abc\n\n[app#web]\nstart = sh -c 'echo $OPENSVC_SVCNAME $OPENSVC_RID $OPENSVC_ID $FOO > {}'\nenvironment = FOO=bar\ncwd = /\n",
        out.display()
    );
    env.write_conf("demo", &conf);
    let r = env.run("-s demo start").ok();
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "demo app#web abc bar\n"
    );
    assert!(r.stderr.contains("node1.demo.app#web"), "{}", r.stderr);
}

#[test]
fn freeze_thaw_enable_disable_ls_delete() {
    let env = Env::new(&["app"]);
    env.write_conf("demo", "[DEFAULT]\nid = 1\n\n[app#1]\nstart = /bin/true\n");
    env.run("-s demo freeze").ok();
    assert!(env
        .run("-s demo print status")
        .ok()
        .stdout
        .contains("frozen"));
    env.run("-s demo thaw").ok();
    assert!(!env
        .run("-s demo print status")
        .ok()
        .stdout
        .contains("frozen"));
    env.run("-s demo disable --rid app#1").ok();
    assert!(env.read_conf("demo").contains("disable = true"));
    let s = env.run("-s demo print status").ok();
    assert!(
        s.stdout
            .lines()
            .any(|l| l.contains("app#1") && l.contains("..D.....") && l.contains("n/a")),
        "{}",
        s.stdout
    );
    env.run("-s demo enable --rid app#1").ok();
    assert!(!env.read_conf("demo").contains("disable"));
    assert_eq!(env.run("ls").ok().stdout, "demo\n");
    env.run("-s demo delete").ok();
    assert_eq!(env.run("ls").ok().stdout, "");
}

#[test]
fn cli_errors_name_the_flag_or_action() {
    let env = Env::new(&["app"]);
    env.write_conf("demo", "[app#1]\nstart = /bin/true\n");
    let cases: [(&str, &[&str]); 5] = [
        (
            "-s demo start --kw a=b",
            &["unexpected argument '--kw'", "Usage: svcmgr start"],
        ),
        ("-s demo explode", &["unknown action 'explode'"]),
        ("-s nosuch start", &["service nosuch does not exist"]),
        (
            "-s demo start --rid nothing#9",
            &["no resource match the given --rid, --subset and --tags specifiers"],
        ),
        ("-s demo start --bogus", &["--bogus"]),
    ];
    for (args, errors) in cases {
        let r = env.run(args).code(1);
        for error in errors {
            assert!(r.stderr.contains(error), "{args}: {}", r.stderr);
        }
    }
}

#[test]
fn classic_log_format() {
    let env = Env::new(&["app"]);
    env.write_conf("demo", "[app#1]\nstart = echo hello\n");
    let r = env.run("-s demo start --log-format classic").ok();
    let line = r
        .stderr
        .lines()
        .find(|l| l.contains("echo hello"))
        .expect("command line logged");
    assert!(line.contains(" INFO    DEMO.APP#1 "), "{line}");
    assert!(
        r.stderr.lines().any(|l| l.ends_with(" hello")),
        "{}",
        r.stderr
    );
}

#[test]
fn each_config_problem_is_reported_once() {
    let env = Env::new(&["app", "docker"]);
    env.write_conf(
        "demo",
        "[DEFAULT]\ncomment = {app#1.start}\ndocker_daemon_args = --ip '1\n\n\
         [app#1]\nstart = {DEFAULT.comment}\n\n\
         [container#1]\nimage = a\n\n[container#2]\nimage = b\n",
    );
    let v = env.run("-s demo validate config");
    let loops: Vec<&str> = v
        .stdout
        .lines()
        .filter(|l| l.contains("reference loop"))
        .collect();
    assert_eq!(
        loops,
        [format!(
            "error: {}: [app#1] start: reference loop: app#1.start -> DEFAULT.comment -> app#1.start",
            env.path("etc/opensvc/demo.conf").display()
        )],
        "{}",
        v.stdout
    );
    let args = v
        .stdout
        .lines()
        .filter(|l| l.contains("docker_daemon_args"))
        .count();
    assert_eq!(
        args, 1,
        "a [DEFAULT] driver keyword is judged once: {}",
        v.stdout
    );
    assert_eq!(v.code, 2);
    // Yet every resource of that driver is marked invalid; the [DEFAULT] error, which no row
    // shows, is said on stderr (exit 1).
    let s = env.run("-s demo print status").code(1);
    assert!(
        s.stderr.contains("[DEFAULT] docker_daemon_args"),
        "{}",
        s.stderr
    );
    for rid in ["container#1", "container#2"] {
        let row = s.stdout.lines().find(|l| l.contains(rid)).expect("row");
        assert!(row.contains("undef"), "{}", s.stdout);
    }
}
