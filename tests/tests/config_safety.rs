//! Issue 14 points 1, 2, 6, 7, 10, 11, 14, 16, 17, 20 and 21 through the built `svcmgr`:
//! what hostile or careless input, concurrent commands and odd files do to the configuration
//! and the service's files. Each test failed before its fix.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;
use svcmgr_tests::{Env, Run};

const SVC: &str = "demo";

fn fixture_env(conf: &str) -> Env {
    let env = Env::new(&["fixture", "app"]);
    env.write_conf(SVC, conf);
    env
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

// ---- point 1: names are checked against the grammar; what is written reads back ----

#[test]
fn names_that_would_inject_lines_are_refused_and_nothing_is_written() {
    let env = Env::new(&["fixture"]);
    // JSON keys and section names of `create --config -`.
    for json in [
        r#"{"app#1": {"type": "fixture", "comment\n[app#9]\ntype": "fixture"}}"#,
        r#"{"app#1]\n[app#9": {"type": "fixture"}}"#,
        r#"{"app#1": {"type": "fixture", "x=y": "1"}}"#,
        r#"{"app#1": {"type": "fixture", "tags@n1\u001b": "a"}}"#,
        r##"{"app#1": {"type": "fixture", "#c": "a"}}"##,
    ] {
        let r = env.run_args_stdin(&["-s", SVC, "create", "--config", "-"], json);
        assert_eq!(r.code, 1, "{json}: {}", r.stderr);
        assert!(r.stderr.contains("invalid"), "{json}: {}", r.stderr);
        assert!(!env.path("etc/opensvc/demo.conf").exists(), "{json}");
        assert!(
            !env.path("var/lib/opensvc/demo").exists(),
            "{json}: a lock folder left"
        );
    }
    env.run_args(&["-s", SVC, "create", "--kw", "app#1.type=fixture"])
        .ok();
    let before = env.read_conf(SVC);
    for kw in [
        "env.#c\n[app#9]\nstart=touch /tmp/pwned",
        "env.x\ny=1",
        "app#1]\n[app#9.type=fixture",
        "app#1.tags@n1\nx=a",
    ] {
        let r = env.run_args(&["-s", SVC, "set", "--kw", kw]).code(1);
        assert!(r.stderr.contains("invalid"), "{kw:?}: {}", r.stderr);
        assert_eq!(env.read_conf(SVC), before, "{kw:?} wrote something");
    }
    // A value with newlines is a value: continuation lines, read back whole.
    env.run_args(&[
        "-s",
        SVC,
        "set",
        "--kw",
        "app#1.comment=a\n[app#9]\ntype = fixture",
    ])
    .ok();
    assert_eq!(
        env.run("-s demo get --kw app#1.comment").ok().stdout,
        "a\n[app#9]\ntype = fixture\n"
    );
    env.run("-s demo validate config").code(0);
    assert!(!env
        .run("-s demo print status")
        .ok()
        .stdout
        .contains("app#9"));
    // A value line INI would read as a comment cannot be written.
    let r = env
        .run_args(&["-s", SVC, "set", "--kw", "app#1.comment=a\n# b"])
        .code(1);
    assert!(r.stderr.contains("comment"), "{}", r.stderr);
}

// ---- point 2: locked, atomic read-modify-write ----

#[test]
fn twenty_parallel_sets_keep_all_twenty_values() {
    let env = fixture_env("[DEFAULT]\nid = 1\n");
    let children: Vec<_> = (0..20)
        .map(|i| {
            env.cmd([
                "-s",
                SVC,
                "set",
                "--kw",
                &format!("app#{i}.type=fixture"),
                "--kw",
                &format!("app#{i}.comment=value {i}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let conf = env.read_conf(SVC);
    for i in 0..20 {
        assert!(conf.contains(&format!("comment = value {i}\n")), "{conf}");
    }
    // No temporary file is left behind.
    let left: Vec<_> = std::fs::read_dir(env.path("etc/opensvc"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "demo.conf")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Processes whose command line holds `marker`.
fn processes_with(marker: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
        })
        .collect()
}

/// Kills what a test started (by its marker), even when the test fails.
struct KillMarked(String);
impl Drop for KillMarked {
    fn drop(&mut self) {
        for pid in processes_with(&self.0) {
            // SAFETY: kill(2) on a pid whose command line this test made unique.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

#[test]
fn edit_config_installs_nothing_over_a_change_made_meanwhile() {
    let mut env = fixture_env("[DEFAULT]\nid = 1\n");
    let svcmgr = svcmgr_tests::target_dir().join("svcmgr");
    // The "editor" edits its file, while another command sets a keyword.
    env.set_env(
        "EDITOR",
        &format!(
            "sh -c '{} -s demo set --kw comment=meanwhile && echo nodes = n1 >> \"$0\"'",
            svcmgr.display()
        ),
    );
    let r = env.run("-s demo edit config").code(1);
    assert!(
        r.stderr.contains("changed while you edited it"),
        "{}",
        r.stderr
    );
    let conf = env.read_conf(SVC);
    assert!(
        conf.contains("comment = meanwhile") && !conf.contains("nodes"),
        "{conf}"
    );
    // Without a concurrent change, the edit is installed, 0600.
    env.set_env("EDITOR", "sh -c 'echo \"nodes = n1 node1\" >> \"$0\"'");
    env.run("-s demo edit config").ok();
    assert!(env.read_conf(SVC).contains("nodes = n1 node1"));
    assert_eq!(mode(&env.path("etc/opensvc/demo.conf")), 0o600);
}

#[test]
fn parallel_start_stop_status_delete_never_leave_a_resource_up_without_config() {
    let env = Env::new(&["app"]);
    // `sleep <n>.<pid>` is unique to this test run: its processes are found by it.
    let seconds = format!("3600.{}", std::process::id());
    let _guard = KillMarked(seconds.clone());
    let mut conf = String::from("[DEFAULT]\nid = 1\n");
    for i in 0..20 {
        conf += &format!("\n[app#{i}]\ntype = simple\nstart = sleep {seconds}\n");
    }
    for round in 0..3 {
        env.write_conf(SVC, &conf);
        let actions = ["start", "stop", "print status", "delete"];
        let children: Vec<_> = (0..20)
            .map(|i| {
                let mut args = vec!["-s", SVC];
                args.extend(actions[(i + round) % 4].split(' '));
                env.cmd(&args)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut c in children {
            c.wait().unwrap();
        }
        if !env.path("etc/opensvc/demo.conf").exists() {
            assert_eq!(
                processes_with(&seconds),
                Vec::<i32>::new(),
                "round {round}: resources up without a config"
            );
        } else {
            env.run("-s demo stop").ok();
        }
    }
}

#[test]
fn delete_refuses_a_service_that_is_up_and_removes_its_log() {
    let env = Env::new(&["app"]);
    let seconds = format!("3601.{}", std::process::id());
    let _guard = KillMarked(seconds.clone());
    env.write_conf(
        SVC,
        &format!("[DEFAULT]\nid = 1\n\n[app#1]\ntype = simple\nstart = sleep {seconds}\n"),
    );
    env.run("-s demo start").ok();
    let r = env.run("-s demo delete").code(1);
    assert!(r.stderr.contains("app#1"), "{}", r.stderr);
    assert!(env.path("etc/opensvc/demo.conf").exists());
    env.run("-s demo stop").ok();
    assert!(env.path("var/log/opensvc/demo.log").exists());
    env.run("-s demo delete").ok();
    assert!(!env.path("etc/opensvc/demo.conf").exists());
    assert!(!env.path("var/log/opensvc/demo.log").exists());
    assert!(!env.path("var/lib/opensvc/demo").exists());
}

// ---- point 6: file modes ----

#[test]
fn files_are_private_whatever_the_umask() {
    let env = Env::new(&["app"]);
    let run = |args: &[&str]| {
        let mut cmd = env.cmd(args);
        // SAFETY: umask(2) is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                libc::umask(0);
                Ok(())
            });
        }
        Run::from(cmd.output().unwrap())
    };
    run(&[
        "-s",
        SVC,
        "create",
        "--kw",
        "app#1.start=sleep 1",
        "--kw",
        "app#1.type=forking",
    ])
    .ok();
    run(&["-s", SVC, "set", "--kw", "comment=x"]).ok();
    run(&["-s", SVC, "start"]).ok();
    assert_eq!(mode(&env.path("etc/opensvc/demo.conf")), 0o600);
    assert!(mode(&env.path("etc/opensvc")) & 0o027 == 0);
    let var = env.path("var/lib/opensvc/demo");
    assert_eq!(mode(&var) & 0o077, 0, "var dir {:o}", mode(&var));
    for f in ["status.json", "monitor.json", "lock", "frozen"] {
        assert_eq!(
            mode(&var.join(f)) & 0o077,
            0,
            "{f}: {:o}",
            mode(&var.join(f))
        );
    }
    assert_eq!(mode(&env.path("var/log/opensvc/demo.log")) & 0o077, 0);

    // A config others may write, or owned by someone else, is refused.
    let conf = env.path("etc/opensvc/demo.conf");
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o666)).unwrap();
    let r = env.run("-s demo print status").code(1);
    assert!(r.stderr.contains("writable"), "{}", r.stderr);
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::chown(&conf, Some(65534), None).unwrap();
    let r = env.run("-s demo start").code(1);
    assert!(r.stderr.contains("owned by"), "{}", r.stderr);
    std::os::unix::fs::chown(&conf, Some(0), None).unwrap();
    env.run("-s demo print status").ok();
}

// ---- point 7: durations ----

#[test]
fn huge_durations_are_config_errors_naming_the_keyword() {
    let env = fixture_env(
        "[DEFAULT]\nid = 1\nstart_timeout = 1e300\n\n[app#1]\ntype = fixture\n\
         stop_timeout = 18446744073709551615ms\n",
    );
    let v = env.run("-s demo validate config").code(2);
    assert!(
        v.stdout.contains("[DEFAULT] start_timeout:"),
        "{}",
        v.stdout
    );
    assert!(v.stdout.contains("[app#1] stop_timeout:"), "{}", v.stdout);
    let r = env.run("-s demo start").code(1);
    assert!(r.stderr.contains("start_timeout"), "{}", r.stderr);
    // The set and unset that repair it work.
    env.run("-s demo unset --kw start_timeout").ok();
    env.run("-s demo set --kw app#1.stop_timeout=10y").ok();
    env.run("-s demo validate config").code(0);
    let r = env.run("-s demo start --waitlock 1e300").code(1);
    assert!(r.stderr.contains("--waitlock"), "{}", r.stderr);
    for d in ["1w1d", "1m30s", "2.5", "500ms", "1y", "0"] {
        env.run_args(&["-s", SVC, "set", "--kw", &format!("app#1.sleep={d}")])
            .ok();
    }
    env.run("-s demo start --waitlock 1h").ok();
}

// ---- point 10: references are expanded once each, and bounded ----

/// A chain of `levels` keywords, each referring twice to the next: 2^levels expansions
/// when each reference is expanded again.
fn doubling_chain(levels: usize, leaf: &str, form: &str) -> String {
    let mut conf = String::from("[DEFAULT]\nid = 1\n\n[env]\n");
    for i in 0..levels {
        conf += &format!("k{i} = {}\n", form.replace("N", &(i + 1).to_string()));
    }
    conf += &format!("k{levels} = {leaf}\n");
    conf
}

/// `svcmgr` with a bound on its run time: a hang fails the test instead of stalling it.
fn run_bounded(env: &Env, args: &str, limit: std::time::Duration) -> Run {
    let mut child = env
        .cmd(args.split_whitespace())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let end = std::time::Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            panic!("svcmgr {args} still ran after {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Run::from(child.wait_with_output().unwrap())
}

#[test]
fn reference_expansion_is_memoised_and_bounded() {
    let limit = std::time::Duration::from_secs(60);
    // Small values, exponentially many expansions: each reference is expanded once.
    let env = fixture_env(&doubling_chain(60, "x", "{#env.kN} {#env.kN}"));
    run_bounded(&env, "-s demo validate config", limit).code(0);
    // Exponentially large values: a clear error.
    env.write_conf(SVC, &doubling_chain(60, "x", "{env.kN}{env.kN}"));
    let v = run_bounded(&env, "-s demo validate config", limit);
    assert!(v.code >= 1, "{}", v.stdout);
    assert!(v.stdout.contains("[env] k0:"), "{}", v.stdout);
    assert!(v.stdout.contains("larger than"), "{}", v.stdout);
}

// ---- point 11 and 16: rids and service names ----

#[test]
fn rids_with_path_parts_are_refused() {
    let root_marker = format!("/tmp/svcmgr-traversal-{}", std::process::id());
    let env = Env::new(&["app"]);
    env.write_conf(
        SVC,
        &format!(
            "[DEFAULT]\nid = 1\n\n[app#../../../../..{root_marker}]\ntype = simple\nstart = sleep 1\n"
        ),
    );
    let v = env.run("-s demo validate config").code(1);
    assert!(v.stdout.contains("invalid resource id"), "{}", v.stdout);
    env.run("-s demo start").code(1);
    assert!(!Path::new(&root_marker).exists());
    let _ = std::fs::remove_dir_all(&root_marker);
    for rid in [
        "app#",
        "app#-x",
        "app#.x",
        "app#a/b",
        "#1",
        "a b#1",
        "app#x\u{1b}",
    ] {
        env.write_conf(SVC, &format!("[{rid}]\ntype = simple\nstart = true\n"));
        let v = env.run("-s demo validate config");
        assert!(v.code >= 1, "{rid:?}: {}", v.stdout);
    }
}

#[test]
fn unsafe_service_names_are_refused() {
    let env = Env::new(&["app"]);
    for name in [
        "a\nb",
        "a\tb",
        "a\u{1b}[2Jb",
        "$(touch x)",
        "-x",
        "a b",
        ".x",
        "a/b",
    ] {
        let r = env.run_args(&[&format!("-s={name}"), "create"]).code(1);
        assert!(
            r.stderr.contains("invalid service name"),
            "{name:?}: {}",
            r.stderr
        );
    }
    let dir = env.path("etc/opensvc");
    assert!(!dir.exists() || std::fs::read_dir(&dir).unwrap().next().is_none());
    env.run_args(&["-s", "web-1.prod_x", "create"]).ok();
}

#[test]
fn command_output_is_logged_with_control_characters_escaped() {
    let env = Env::new(&["app"]);
    env.write_conf(
        SVC,
        "[DEFAULT]\nid = 1\n\n[app#1]\nstart = printf 'a\\033[2Jb\\rc\\n'\ncheck = /bin/false\n",
    );
    let r = env.run("-s demo start --rid app#1");
    assert!(!r.stderr.contains('\u{1b}'), "{:?}", r.stderr);
    assert!(r.stderr.contains("a\\x1b[2Jb\\rc"), "{:?}", r.stderr);
    let log = std::fs::read_to_string(env.path("var/log/opensvc/demo.log")).unwrap();
    assert!(
        !log.contains('\u{1b}') && log.contains("a\\x1b[2Jb"),
        "{log:?}"
    );
}

// ---- point 14: validation gaps ----

#[test]
fn validation_finds_what_it_missed() {
    let env = fixture_env("[DEFAULT]\nid = 1\n");
    let validate = |conf: &str| {
        env.write_conf(SVC, conf);
        env.run("-s demo validate config")
    };
    let v = validate("[DEFAULT]\nid = 1\n\n[app#1]\ntype = fixture\ncomment = a\0b\n");
    assert!(v.code >= 1 && v.all().contains("NUL"), "{}", v.all());

    let v =
        validate("[DEFAULT]\nid = 1\n\n[app#1]\ntype = fixture\nsleep = 1\nmnt = /a\nsleep = 2\n");
    assert_eq!(v.code, 1, "{}", v.stdout);
    assert!(
        v.stdout.contains("[app#1] sleep:") && v.stdout.contains("lines 6 and 8"),
        "{}",
        v.stdout
    );

    let v = validate(
        "[DEFAULT]\nid = 1\n\n[app#1]\ntype = fixture\nlink = app#2\n\n\
         [app#2]\ntype = fixture\nlink = app#1\n",
    );
    assert!(
        v.code >= 1 && v.stdout.contains("link cycle"),
        "{}",
        v.stdout
    );
    let v = validate("[DEFAULT]\nid = 1\n\n[app#1]\ntype = fixture\nlink = app#1\n");
    assert!(
        v.code >= 1 && v.stdout.contains("link cycle"),
        "{}",
        v.stdout
    );

    // The generic value, hidden on this node by a scoped one, is checked all the same; so is
    // another node's.
    let v = validate(
        "[DEFAULT]\nid = 1\n\n[app#1]\ntype = fixture\nsleep = nonsense\nsleep@node1 = 1\n\
         size@node2 = x\n",
    );
    assert_eq!(v.code, 2, "{}", v.stdout);
    assert!(v.stdout.contains("[app#1] sleep:"), "{}", v.stdout);
    assert!(v.stdout.contains("[app#1] size@node2:"), "{}", v.stdout);

    let v = validate("[DEFAULT]\nid =\n");
    assert_eq!(v.code, 1, "{}", v.stdout);
    assert!(v.stdout.contains("[DEFAULT] id:"), "{}", v.stdout);

    // A FIFO or a device as config: refused at once, never waited on; larger than the cap:
    // refused without reading it all.
    let conf = env.path("etc/opensvc/demo.conf");
    let refused = |why: &str| {
        let r = run_bounded(
            &env,
            "-s demo print status",
            std::time::Duration::from_secs(30),
        );
        assert!(r.code == 1 && r.stderr.contains(why), "{why}: {}", r.stderr);
        std::fs::remove_file(&conf).unwrap();
    };
    std::fs::remove_file(&conf).unwrap();
    let made = std::process::Command::new("mkfifo").arg(&conf).status();
    assert!(made.unwrap().success());
    refused("not a regular file");
    std::os::unix::fs::symlink("/dev/zero", &conf).unwrap();
    refused("not a regular file");
    std::fs::File::create(&conf)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    refused("larger than");
}

// ---- point 17: references inside shell words ----

#[test]
fn a_reference_is_expanded_inside_its_word_never_split_again() {
    let mut env = Env::new(&["app"]);
    let marker = env.path("pwned");
    env.set_env("PORT", &format!("1 sh -c 'touch {}'", marker.display()));
    env.write_conf(
        SVC,
        "[DEFAULT]\nid = 1\n\n[app#1]\nstart = /usr/bin/env PORT={env.port} true\ncheck = /bin/false\n",
    );
    let r = env.run("-s demo start --rid app#1").ok();
    assert!(
        r.stderr.contains("/usr/bin/env PORT=1 sh -c"),
        "{}",
        r.stderr
    );
    assert!(!marker.exists(), "the value of PORT ran as a command");
}

// ---- point 20: a lock wait says who holds the lock ----

#[test]
fn a_lock_wait_names_the_holder_once() {
    let env = fixture_env("[DEFAULT]\nid = 1\n\n[app#1]\ntype = fixture\nsleep = 3\n");
    let holder = env
        .cmd(["-s", SVC, "start"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = holder.id();
    // The holder writes the lock file when it has the lock.
    let lock = env.path("var/lib/opensvc/demo/lock");
    let end = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !std::fs::read_to_string(&lock).is_ok_and(|t| t.contains(&pid.to_string())) {
        assert!(
            std::time::Instant::now() < end,
            "the first start took no lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let r = env.run("-s demo stop").ok();
    let waits = r.lines_with("waiting for the lock");
    assert_eq!(waits.len(), 1, "{}", r.stderr);
    assert!(
        waits[0].contains(&format!("held by pid {pid} (action start)")),
        "{}",
        r.stderr
    );
    let r = env.run_args(&["-s", SVC, "set", "--kw", "comment=x"]).ok();
    assert!(
        r.lines_with("waiting").is_empty(),
        "set waits for no action"
    );
    let mut holder = holder;
    holder.wait().unwrap();
}

// ---- point 21: messages, and nothing written when nothing is done ----

#[test]
fn errors_say_things_once_and_name_the_line() {
    let env = fixture_env("[DEFAULT]\nid = 1\n\n[app#1]\nbogus line\n");
    let r = env.run("-s demo print status").code(1);
    assert_eq!(r.stderr.matches("bogus line").count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("demo.conf: line 5:"), "{}", r.stderr);
    std::fs::write(
        env.path("etc/opensvc/demo.conf"),
        b"[DEFAULT]\nid = 1\ncomment = caf\xe9\n",
    )
    .unwrap();
    let r = env.run("-s demo print status").code(1);
    assert!(r.stderr.contains("line 3: not valid UTF-8"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
}

#[test]
fn an_action_that_does_nothing_writes_nothing() {
    let env = fixture_env("[DEFAULT]\nid = 1\n\n[app#1]\ntype = fixture\n");
    env.run("-s demo start").ok();
    let log = env.path("var/log/opensvc/demo.log");
    let lock = env.path("var/lib/opensvc/demo/lock");
    let (log_before, lock_before) = (
        std::fs::read_to_string(&log).unwrap(),
        std::fs::metadata(&lock).unwrap(),
    );
    std::thread::sleep(std::time::Duration::from_millis(20));
    let r = env.run("-s demo stop --rid nosuch").code(1);
    assert!(r.stderr.contains("no resource match"), "{}", r.stderr);
    let r = env.run("-s demo start --upto nosuch").code(1);
    assert!(r.stderr.contains("--upto"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&log).unwrap(), log_before);
    let lock_after = std::fs::metadata(&lock).unwrap();
    assert_eq!(
        (
            lock_after.mtime(),
            lock_after.mtime_nsec(),
            lock_after.size()
        ),
        (
            lock_before.mtime(),
            lock_before.mtime_nsec(),
            lock_before.size()
        )
    );
}

#[test]
fn print_status_reports_sections_it_cannot_show() {
    let env =
        fixture_env("[DEFAULT]\nid = 1\nbogus = 1\n\n[foo]\nx = 1\n\n[app#1]\ntype = fixture\n");
    let r = env.run("-s demo print status").code(1);
    assert!(r.stdout.contains("app#1"), "{}", r.stdout);
    assert!(r.stderr.contains("[foo]"), "{}", r.stderr);
    assert!(r.stderr.contains("[DEFAULT] bogus"), "{}", r.stderr);
}

#[test]
fn a_library_that_does_not_load_says_why_on_one_line() {
    let env = Env::new(&["app"]);
    let lib = env.drivers.join("libnotalib.so");
    std::fs::copy("/bin/true", &lib).unwrap();
    std::fs::set_permissions(&lib, std::fs::Permissions::from_mode(0o755)).unwrap();
    let r = env.run("driver list").ok();
    let warning = r
        .stderr
        .lines()
        .find(|l| l.contains("libnotalib.so"))
        .unwrap_or_else(|| panic!("no warning: {}", r.stderr));
    assert!(
        warning.contains("not a svcmgr driver library: ")
            && !warning.contains("Could not open library at")
            && !warning.ends_with(':')
            && warning.len() < 500,
        "{warning}"
    );
}
