//! Issue 14 points 3, 5, 8, 9, 12 and 13 through the `svcmgr` binary: deadlines of status
//! and action calls, `app.simple` pid files that name the process started, forking starts
//! whose background child keeps the output open, SIGINT/SIGTERM during an action, a driver
//! that kills the process, and output to a closed pipe or a full disk. The fixture driver's
//! `hang`, `crash` and `show_deadline` keywords play the misbehaving drivers.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use svcmgr_tests::{Env, Run};

const SVC: &str = "rt";

fn env() -> Env {
    Env::new(&["app", "fixture"])
}

/// How long any command of these tests may take: a hang shows as a failure, not as a test
/// run that never ends.
const WATCHDOG: Duration = Duration::from_secs(30);

/// A finished command: its exit status and output.
struct Done {
    status: ExitStatus,
    run: Run,
}

/// Run `svcmgr <args>` under the watchdog.
fn run_within(env: &Env, args: &[&str]) -> Done {
    let child = env
        .cmd(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn svcmgr");
    finish(child, args)
}

/// Wait for `child` under the watchdog (killed and failed past it).
fn finish(mut child: Child, what: &[&str]) -> Done {
    let end = Instant::now() + WATCHDOG;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > end {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "svcmgr {what:?} still running after {WATCHDOG:?}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    Done {
        status: out.status,
        run: Run::from(out),
    }
}

#[track_caller]
fn assert_logged(run: &Run, needle: &str) {
    assert!(
        !run.logged(needle).is_empty(),
        "no log line with '{needle}' in:\n{}",
        run.stderr
    );
}

fn var_dir(env: &Env) -> PathBuf {
    env.path(&format!("var/lib/opensvc/{SVC}"))
}

fn action_log(env: &Env) -> String {
    std::fs::read_to_string(env.path(&format!("var/log/opensvc/{SVC}.log"))).unwrap_or_default()
}

/// Stops the service when the test ends, even on failure: no app of a test outlives it.
struct StopOnDrop<'a>(&'a Env);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self
            .0
            .cmd(["-s", SVC, "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Kills, when the test ends, the processes whose pids a test's commands wrote to files.
struct KillPidsIn(Vec<PathBuf>);

impl Drop for KillPidsIn {
    fn drop(&mut self) {
        for file in &self.0 {
            if let Some(pid) = std::fs::read_to_string(file)
                .ok()
                .and_then(|t| t.trim().parse::<i32>().ok())
            {
                // SAFETY: kill(2) on a process this test started.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

// ---- point 3: deadlines ---------------------------------------------------------------

/// A resource whose status never returns, with a 1 s status timeout.
const HANGING_STATUS: &str = "[fs#1]\ntype = fixture\nhang = status\nstatus_timeout = 1s\n\n";

#[test]
fn a_status_that_hangs_is_undef_after_its_timeout_and_holds_up_nothing() {
    let env = env();
    env.write_conf(
        SVC,
        &format!(
            "[DEFAULT]\n{HANGING_STATUS}[fs#2]\ntype = fixture\n\n\
             [app#1]\nstart = /bin/true\ncheck = /bin/true\n"
        ),
    );
    let shown = run_within(&env, &["-s", SVC, "print", "status"]).run.ok();
    shown.assert_state("fs#1", "undef");
    assert!(
        shown.stdout.contains("status timed out after 1s"),
        "{}",
        shown.stdout
    );
    shown.assert_state("fs#2", "down");
    shown.assert_state("app#1", "up");

    // `status` answers; `start` and `stop` end (they hold the lock), and release it.
    let status = run_within(&env, &["-s", SVC, "status"]);
    assert!(status.status.code().is_some(), "{:?}", status.status);
    run_within(&env, &["-s", SVC, "start"]).run.ok();
    assert!(var_dir(&env).join("fs#2.up").exists());
    run_within(&env, &["-s", SVC, "stop"]).run.ok();
    assert!(!var_dir(&env).join("fs#2.up").exists());
    run_within(&env, &["-s", SVC, "start", "--waitlock", "0"])
        .run
        .ok();
}

#[test]
fn every_call_gets_a_deadline_by_default_and_the_keywords_change_it() {
    let env = env();
    let conf = |default: &str, section: &str| {
        format!("[DEFAULT]\n{default}\n[fs#1]\ntype = fixture\nshow_deadline = true\n{section}\n")
    };
    env.write_conf(SVC, &conf("", ""));
    let shown = run_within(&env, &["-s", SVC, "print", "status"]).run.ok();
    assert!(shown.stdout.contains("timeout 1m"), "{}", shown.stdout);
    let started = run_within(&env, &["-s", SVC, "start"]).run.ok();
    assert_logged(&started, "fs#1 timeout 1h");
    let stopped = run_within(&env, &["-s", SVC, "stop"]).run.ok();
    assert_logged(&stopped, "fs#1 timeout 1h");

    // status_timeout, then timeout (in the section or in [DEFAULT]).
    for (default, section, want) in [
        ("", "status_timeout = 10s", "timeout 10s"),
        ("timeout = 5m", "", "timeout 5m"),
        ("status_timeout = 2m", "timeout = 5m", "timeout 2m"),
    ] {
        env.write_conf(SVC, &conf(default, section));
        let shown = run_within(&env, &["-s", SVC, "print", "status"]).run.ok();
        assert!(
            shown.stdout.contains(want),
            "{default} {section}:\n{}",
            shown.stdout
        );
    }
}

#[test]
fn a_requirement_check_obeys_the_status_deadline() {
    let env = env();
    env.write_conf(
        SVC,
        &format!(
            "[DEFAULT]\n{HANGING_STATUS}\
             [app#web]\nstart = /bin/true\nstart_requires = fs#1(up)\n"
        ),
    );
    let began = Instant::now();
    let run = run_within(&env, &["-s", SVC, "start"]).run.code(1);
    assert!(
        began.elapsed() < Duration::from_secs(20),
        "the 1h default did not apply"
    );
    assert_logged(
        &run,
        "app#web E requires on resource fs#1 in state up, current state undef",
    );
    assert!(
        run.logged("/bin/true").is_empty(),
        "the web app never started"
    );
}

/// The JSON status document of the service.
fn status_doc(env: &Env) -> serde_json::Value {
    let run = run_within(env, &["-s", SVC, "print", "status", "--format", "json"]).run;
    serde_json::from_str(&run.ok().stdout).unwrap()
}

#[test]
fn an_app_check_ends_at_check_timeout_or_at_the_status_deadline() {
    let env = env();
    env.write_conf(
        SVC,
        "[DEFAULT]\n\
         [app#1]\nstart = /bin/true\ncheck = sleep 30\ncheck_timeout = 1s\n\n\
         [app#2]\nstart = /bin/true\ncheck = sleep 30\ncheck_timeout = 5m\nstatus_timeout = 1s\n",
    );
    let began = Instant::now();
    let doc = status_doc(&env);
    assert!(began.elapsed() < Duration::from_secs(20));
    for rid in ["app#1", "app#2"] {
        let res = &doc["resources"][rid];
        assert_eq!(res["status"], "undef", "{rid}: {res}");
        let log = res["log"].to_string();
        assert!(
            log.contains("killed at the call's deadline") || log.contains("timed out after 1s"),
            "{rid}: {log}"
        );
    }
}

// ---- point 5: app.simple pid files -------------------------------------------------------

/// A process unrelated to the service, leading a process group of its own (as an app
/// would), killed when the test ends.
struct Bystander(Child);

impl Bystander {
    fn spawn() -> Bystander {
        Bystander(
            Command::new("sleep")
                .arg("300")
                .process_group(0)
                .spawn()
                .unwrap(),
        )
    }

    fn alive(&mut self) -> bool {
        self.0.try_wait().unwrap().is_none()
    }
}

impl Drop for Bystander {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_simple_app_pid_file_names_its_process_and_a_stale_one_is_never_signalled() {
    let env = env();
    env.write_conf(
        SVC,
        "[DEFAULT]\n[app#1]\ntype = simple\nstart = sleep 300\n",
    );
    let _stop = StopOnDrop(&env);
    let pid_file = var_dir(&env).join("app#1/pid");
    run_within(&env, &["-s", SVC, "start"]).run.ok();
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&pid_file).unwrap()).unwrap();
    assert_eq!(doc["command"], serde_json::json!(["sleep", "300"]));
    let pid = doc["pid"].as_i64().unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let start_time = stat.rsplit(')').next().unwrap().split_whitespace().nth(19);
    assert_eq!(doc["start_time"].to_string(), start_time.unwrap());
    run_within(&env, &["-s", SVC, "stop"]).run.ok();
    assert!(!pid_file.exists());

    // A pid file naming a live process that is not the app: a bare pid (the old format),
    // then one whose start time differs.
    let mut other = Bystander::spawn();
    let mut forged = doc.clone();
    forged["pid"] = other.0.id().into();
    for stale in [format!("{}\n", other.0.id()), forged.to_string()] {
        std::fs::write(&pid_file, &stale).unwrap();
        let shown = run_within(&env, &["-s", SVC, "print", "status"]).run.ok();
        assert!(
            shown.status_line("app#1").contains("down"),
            "{stale}:\n{}",
            shown.stdout
        );
        let mut stop = || {
            run_within(&env, &["-s", SVC, "stop"]).run.ok();
            assert!(
                other.alive(),
                "stop signalled a process that is not the app"
            );
        };
        stop();
        std::fs::write(&pid_file, &stale).unwrap();
        let started = run_within(&env, &["-s", SVC, "start"]).run.ok();
        assert!(
            started.logged("already up").is_empty(),
            "{}",
            started.stderr
        );
        stop();
    }
}

#[test]
fn a_simple_app_that_dies_at_once_failed_to_start() {
    let env = env();
    env.write_conf(
        SVC,
        "[DEFAULT]\n[app#1]\ntype = simple\nstart = sh -c 'exit 3'\n",
    );
    let run = run_within(&env, &["-s", SVC, "start"]).run.code(1);
    assert_logged(&run, "app#1 E sh -c exit 3 exited at once with code 3");
    let shown = run_within(&env, &["-s", SVC, "print", "status"]).run.ok();
    shown.assert_state("app#1", "down");
}

// ---- point 8: a forking start whose background child keeps the output ----------------------

#[test]
fn a_forking_start_is_done_when_its_command_exits() {
    let env = env();
    let (bg, bg_pre) = (env.path("bg"), env.path("bg-pre"));
    let _kill = KillPidsIn(vec![bg.clone(), bg_pre.clone()]);
    env.write_conf(
        SVC,
        &format!(
            "[DEFAULT]\n[app#1]\n\
             start = sh -c 'sleep 30 & echo $! > {bg}; echo started'\n\
             check = test -s {bg}\nstart_timeout = 10s\n\
             pre_start = sh -c 'sleep 30 & echo $! > {pre}; echo pre done'\n",
            bg = bg.display(),
            pre = bg_pre.display()
        ),
    );
    let began = Instant::now();
    let run = run_within(&env, &["-s", SVC, "start"]).run.ok();
    assert!(
        began.elapsed() < Duration::from_secs(8),
        "the start waited for the background child: {:?}",
        began.elapsed()
    );
    assert_logged(&run, "app#1 started");
    assert_logged(&run, "app#1 pre done");
    assert!(run.logged("timed out").is_empty(), "{}", run.stderr);
}

// ---- point 9: SIGINT, SIGTERM ---------------------------------------------------------------

/// A service whose first app takes a second to start (marking when it began), and a second
/// app after it.
fn slow_conf(env: &Env) -> String {
    let d = env.root.path().display();
    format!(
        "[DEFAULT]\n\
         [app#1]\nstart = sh -c 'touch {d}/began; sleep 1; touch {d}/up1'\n\
         stop = rm -f {d}/up1\ncheck = test -f {d}/up1\n\n\
         [app#2]\nstart = touch {d}/up2\ncheck = test -f {d}/up2\n"
    )
}

/// `svcmgr start` of the slow service, returned once its first app's start began.
fn start_slow(env: &Env) -> Child {
    env.write_conf(SVC, &slow_conf(env));
    let child = env
        .cmd(["-s", SVC, "start"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let end = Instant::now() + WATCHDOG;
    while !env.path("began").exists() {
        assert!(Instant::now() < end, "the start never began");
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on the svcmgr this test started.
    unsafe { libc::kill(child.id() as i32, sig) };
}

#[test]
fn sigterm_during_start_waits_for_the_call_rolls_back_and_records_it() {
    let env = env();
    let child = start_slow(&env);
    signal(&child, libc::SIGTERM);
    let done = finish(child, &["start"]);
    assert_eq!(
        done.status.code(),
        Some(128 + libc::SIGTERM),
        "{}",
        done.run.stderr
    );
    let run = &done.run;
    assert_logged(run, "SIGTERM received: interrupted");
    assert_logged(run, "trying to rollback start on app#1");
    assert_logged(run, "start interrupted by SIGTERM");
    // The call in flight ended (then was rolled back); nothing after it was launched.
    assert!(!env.path("up1").exists(), "app#1 was rolled back");
    assert!(!env.path("up2").exists(), "app#2 was never started");
    let monitor = std::fs::read_to_string(var_dir(&env).join("monitor.json")).unwrap();
    assert!(monitor.contains("\"start interrupted\""), "{monitor}");
    assert!(action_log(&env).contains("start interrupted by SIGTERM"));
    let shown = run_within(&env, &["-s", SVC, "print", "status"]).run.ok();
    assert!(
        shown.stdout.contains("start interrupted"),
        "{}",
        shown.stdout
    );
}

#[test]
fn a_second_signal_exits_at_once_saying_so() {
    let env = env();
    let child = start_slow(&env);
    signal(&child, libc::SIGINT);
    std::thread::sleep(Duration::from_millis(100));
    let began = Instant::now();
    signal(&child, libc::SIGINT);
    let done = finish(child, &["start"]);
    assert!(
        began.elapsed() < Duration::from_millis(800),
        "did not exit at once"
    );
    assert_eq!(done.status.code(), Some(128 + libc::SIGINT));
    assert_logged(&done.run, "second signal (SIGINT): exiting at once");
    assert_logged(
        &done.run,
        "abandoning the 'start' call of driver app.forking on app#1",
    );
    // The abandoned command ends on its own; let it, before the root goes away.
    std::thread::sleep(Duration::from_millis(1200));
}

// ---- point 12: a driver that kills the process -----------------------------------------------

fn crashing(env: &Env, how: &str, args: &[&str]) -> Done {
    env.write_conf(
        SVC,
        &format!(
            "[DEFAULT]\n[fs#1]\ntype = fixture\ncrash = {how}\n\n[app#1]\nstart = /bin/true\n"
        ),
    );
    let mut all = vec!["-s", SVC];
    all.extend(args);
    run_within(env, &all)
}

#[test]
fn a_driver_that_kills_the_process_is_named_on_stderr_and_in_the_action_log() {
    let env = env();
    for (how, args, signal, verb) in [
        (
            "create:abort",
            &["print", "status"][..],
            Some(libc::SIGABRT),
            "create",
        ),
        (
            "status:segv",
            &["print", "status"][..],
            Some(libc::SIGSEGV),
            "status",
        ),
        ("start:segv", &["start"][..], Some(libc::SIGSEGV), "start"),
        ("start:exit", &["start"][..], None, "start"),
    ] {
        let done = crashing(&env, how, args);
        assert_eq!(done.status.signal(), signal, "{how}: {:?}", done.status);
        let named = format!("the '{verb}' call of driver fs.fixture on fs#1");
        let line = match signal {
            Some(libc::SIGABRT) => format!("svcmgr killed by SIGABRT during {named}"),
            Some(_) => format!("svcmgr killed by SIGSEGV during {named}"),
            None => format!("svcmgr exited during {named}: a driver ended the process"),
        };
        assert_logged(&done.run, &line);
        assert!(
            action_log(&env).contains(&line),
            "{how}: not in the action log"
        );
    }
}

// ---- point 13: output to a closed pipe, to a full disk ---------------------------------------

#[test]
fn a_closed_pipe_ends_quietly_and_a_full_disk_is_one_error() {
    let env = env();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let closed = env
        .cmd(["driver", "list"])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(closed.status.code(), Some(0), "{closed:?}");
    assert!(closed.stderr.is_empty(), "{closed:?}");

    env.write_conf(SVC, "[DEFAULT]\n[app#1]\nstart = /bin/true\n");
    let full = env
        .cmd(["-s", SVC, "print", "status"])
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(full.status.code(), Some(1), "{full:?}");
    let err = String::from_utf8_lossy(&full.stderr);
    assert_eq!(
        err.lines().collect::<Vec<_>>(),
        ["error: writing to stdout: No space left on device (os error 28)"]
    );
}

// ---- the record of the last action --------------------------------------------------------

#[test]
fn an_action_record_that_cannot_be_saved_is_one_error_naming_its_file_and_is_not_cached() {
    let env = env();
    env.write_conf(
        SVC,
        "[DEFAULT]\n[app#1]\nstart = /bin/true\ncheck = /bin/true\n",
    );
    run_within(&env, &["-s", SVC, "print", "status"]).run.ok();
    let cached = || std::fs::read_to_string(var_dir(&env).join("status.json")).unwrap();
    let before = cached();
    // A folder where the record goes: it cannot be replaced.
    let record = var_dir(&env).join("monitor.json");
    std::fs::create_dir(&record).unwrap();
    let done = run_within(&env, &["-s", SVC, "start"]);
    assert_eq!(done.status.code(), Some(1), "{}", done.run.stderr);
    let said = format!("saving {}", record.display());
    assert!(done.run.stderr.contains(&said), "{}", done.run.stderr);
    // The status cache still shows the record that is on disk, not the unsaved one.
    assert_eq!(cached(), before);
}

// ---- a data size limit ---------------------------------------------------------------------

#[test]
fn a_data_size_limit_that_the_work_fits_in_is_no_failure() {
    let env = env();
    env.write_conf(
        SVC,
        "[DEFAULT]\n[app#1]\nstart = /bin/true\ncheck = /bin/true\n",
    );
    let mut cmd = env.cmd(["-s", SVC, "print", "status"]);
    // SAFETY: setrlimit(2) only, in the child between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 48 << 20,
                rlim_max: 48 << 20,
            };
            match libc::setrlimit(libc::RLIMIT_DATA, &limit) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            }
        });
    }
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let done = finish(child, &["print", "status"]);
    assert_eq!(
        done.status.code(),
        Some(0),
        "{:?} {}",
        done.status,
        done.run.stderr
    );
    done.run.ok().assert_state("app#1", "up");
}
