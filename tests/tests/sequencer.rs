//! Issue 3, the sequencer, end to end through the `svcmgr` binary: order, parallel subsets,
//! links and dependency expansion, rollback, timeouts, locking, dry run, barriers, panics,
//! restart and standby. Resources are the test fixture driver, which records every call
//! (`<rid> <verb> <begin ms> <end ms> <ok|fail>`) so the order and overlap can be checked.

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use svcmgr_tests::{Env, Run};

const SVC: &str = "seq";

fn env() -> Env {
    Env::new(&["app", "fixture"])
}

fn record_path(env: &Env) -> PathBuf {
    env.path("calls.rec")
}

/// The service's var dir, where fixture resources keep their `<rid>.up` state file.
fn var_dir(env: &Env) -> PathBuf {
    env.path(&format!("var/lib/opensvc/{SVC}"))
}

fn is_up(env: &Env, rid: &str) -> bool {
    var_dir(env).join(format!("{rid}.up")).exists()
}

/// A fixture resource section recording its calls; `extra` holds more `key = value` lines.
fn fixture(env: &Env, rid: &str, extra: &str) -> String {
    format!(
        "[{rid}]\ntype = fixture\nrecord = {}\n{extra}\n",
        record_path(env).display()
    )
}

/// The v2 tutorial's "Complex Orchestration" service with fixture resources in place of the
/// containers, ip, vg and filesystems. `subset_group` is the group part of the subset section
/// names (`container`, or the legacy `container.fixture`).
fn tutorial_conf(env: &Env, subset_group: &str, appserver_extra: &str) -> String {
    let mut conf = String::from("[DEFAULT]\n");
    conf += &fixture(env, "ip#1", "");
    conf += &fixture(env, "disk#1", "");
    conf += &fixture(env, "fs#1", "mnt = /opt/busybox.opensvc.com");
    conf += &fixture(env, "fs#2", "mnt = /opt/busybox.opensvc.com/appdata");
    conf += &fixture(env, "container#1", "subset = 00database");
    for n in 2..=5 {
        let extra = format!("subset = 01appservers\n{appserver_extra}");
        conf += &fixture(env, &format!("container#{n}"), &extra);
    }
    conf += &format!("[subset#{subset_group}:01appservers]\nparallel = true\n\n");
    for n in 6..=7 {
        conf += &fixture(env, &format!("container#{n}"), "subset = 02webservers");
    }
    conf += &format!("[subset#{subset_group}:02webservers]\nparallel = false\n");
    conf
}

const TUTORIAL_RIDS: [&str; 11] = [
    "ip#1",
    "disk#1",
    "fs#1",
    "fs#2",
    "container#1",
    "container#2",
    "container#3",
    "container#4",
    "container#5",
    "container#6",
    "container#7",
];

const APPSERVERS: [&str; 4] = ["container#2", "container#3", "container#4", "container#5"];

/// One recorded driver call.
#[derive(Debug, Clone)]
struct Call {
    rid: String,
    verb: String,
    begin: u64,
    end: u64,
    ok: bool,
}

/// Every recorded call, in completion order (the fixture appends when a call ends).
fn calls(env: &Env) -> Vec<Call> {
    let text = std::fs::read_to_string(record_path(env)).unwrap_or_default();
    text.lines()
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(f.len(), 5, "malformed record line: {line}");
            Call {
                rid: f[0].into(),
                verb: f[1].into(),
                begin: f[2].parse().unwrap(),
                end: f[3].parse().unwrap(),
                ok: f[4] == "ok",
            }
        })
        .collect()
}

fn of_verb(calls: &[Call], verb: &str) -> Vec<Call> {
    calls.iter().filter(|c| c.verb == verb).cloned().collect()
}

fn rids(calls: &[Call]) -> Vec<String> {
    calls.iter().map(|c| c.rid.clone()).collect()
}

/// The rids of a concurrent stage, sorted (their completion order is not specified).
fn rid_set(calls: &[Call]) -> Vec<String> {
    let mut v = rids(calls);
    v.sort();
    v
}

/// Forget the calls recorded so far (between the actions of one test).
fn clear_calls(env: &Env) {
    let _ = std::fs::remove_file(record_path(env));
}

/// The stderr lines containing `needle`, whitespace collapsed (the name column's padding
/// depends on the longest rid).
fn logged(run: &Run, needle: &str) -> Vec<String> {
    run.lines_with(needle)
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// Position of the first stderr line containing `needle`.
fn line_index(run: &Run, needle: &str) -> usize {
    run.stderr
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with '{needle}' in:\n{}", run.stderr))
}

/// Checks a full start of the tutorial service: ip, disk, fs, the database, the four
/// appservers concurrently, then container#6 before container#7.
fn assert_tutorial_start(env: &Env, run: &Run) {
    let starts = of_verb(&calls(env), "start");
    assert_eq!(
        rids(&starts[..5]),
        ["ip#1", "disk#1", "fs#1", "fs#2", "container#1"],
        "{starts:#?}"
    );
    assert_eq!(rid_set(&starts[5..9]), APPSERVERS, "{starts:#?}");
    assert_eq!(rids(&starts[9..]), ["container#6", "container#7"]);
    let (db, app, web) = (&starts[4], &starts[5..9], &starts[9]);
    assert!(app.iter().all(|c| c.begin >= db.end), "{starts:#?}");
    assert!(app.iter().all(|c| c.end <= web.begin), "{starts:#?}");
    // Each appserver sleeps 500ms: run one after another they could not all overlap.
    let last_begin = app.iter().map(|c| c.begin).max().unwrap();
    let first_end = app.iter().map(|c| c.end).min().unwrap();
    assert!(
        last_begin < first_end,
        "appservers did not run concurrently: {app:#?}"
    );
    // Concurrent resources interleave their lines, but each line stays whole.
    let torn: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| !l.starts_with(&format!("node1.{SVC}")))
        .collect();
    assert!(torn.is_empty(), "torn log lines: {torn:?}");
    let parallel = run.lines_with("action start started in parallel");
    assert_eq!(parallel.len(), 4, "{}", run.stderr);
    for rid in APPSERVERS {
        assert!(
            parallel.iter().any(|l| l.contains(&format!(".{rid} "))),
            "{rid} did not log its parallel start:\n{}",
            run.stderr
        );
    }
}

/// Checks a full stop: the exact reverse of the start.
fn assert_tutorial_stop(env: &Env, run: &Run) {
    let stops = of_verb(&calls(env), "stop");
    assert_eq!(rids(&stops[..2]), ["container#7", "container#6"]);
    assert_eq!(rid_set(&stops[2..6]), APPSERVERS, "{stops:#?}");
    assert_eq!(
        rids(&stops[6..]),
        ["container#1", "fs#2", "fs#1", "disk#1", "ip#1"]
    );
    assert_eq!(run.lines_with("action stop started in parallel").len(), 4);
    assert!(TUTORIAL_RIDS.iter().all(|r| !is_up(env, r)));
}

fn tutorial_start_stop(subset_group: &str) {
    let env = env();
    env.write_conf(SVC, &tutorial_conf(&env, subset_group, "sleep = 500ms"));
    let run = env.run(&format!("-s {SVC} start")).ok();
    assert_tutorial_start(&env, &run);
    assert!(TUTORIAL_RIDS.iter().all(|r| is_up(&env, r)));
    clear_calls(&env);
    let run = env.run(&format!("-s {SVC} stop")).ok();
    assert_tutorial_stop(&env, &run);
}

#[test]
fn tutorial_orchestration_start_and_reverse_stop() {
    tutorial_start_stop("container");
}

#[test]
fn tutorial_orchestration_with_legacy_subset_sections() {
    tutorial_start_stop("container.fixture");
}

#[test]
fn natural_rid_order_both_directions() {
    let env = env();
    let mut conf = String::from("[DEFAULT]\n");
    for rid in ["container#10", "container#2", "container#1"] {
        conf += &fixture(&env, rid, "");
    }
    env.write_conf(SVC, &conf);
    env.run(&format!("-s {SVC} start")).ok();
    assert_eq!(
        rids(&of_verb(&calls(&env), "start")),
        ["container#1", "container#2", "container#10"]
    );
    env.run(&format!("-s {SVC} stop")).ok();
    assert_eq!(
        rids(&of_verb(&calls(&env), "stop")),
        ["container#10", "container#2", "container#1"]
    );
}

/// ip#1 linked to container#1, as ip.netns is to the container it lives in.
fn linked_conf(env: &Env) -> String {
    let mut conf = String::from("[DEFAULT]\n");
    conf += &fixture(env, "ip#1", "link = container#1");
    for n in 1..=3 {
        conf += &fixture(env, &format!("container#{n}"), "");
    }
    conf
}

#[test]
fn links_pull_dependencies_and_order_linked_resources() {
    let env = env();
    env.write_conf(SVC, &linked_conf(&env));
    env.run(&format!("-s {SVC} start")).ok();
    clear_calls(&env);

    let run = env.run(&format!("-s {SVC} stop --rid container")).ok();
    assert_eq!(
        logged(&run, "add rid ip#1 to satisfy dependencies"),
        [format!("node1.{SVC} add rid ip#1 to satisfy dependencies")]
    );
    assert_eq!(
        rids(&calls(&env)),
        ["container#3", "container#2", "ip#1", "container#1"]
    );
    clear_calls(&env);

    let run = env.run(&format!("-s {SVC} start --rid container")).ok();
    assert_eq!(
        run.lines_with("add rid ip#1 to satisfy dependencies").len(),
        1
    );
    assert_eq!(
        rids(&calls(&env)),
        ["container#1", "ip#1", "container#2", "container#3"]
    );
    clear_calls(&env);

    // Stopping the linked resource alone pulls nothing in.
    let run = env.run(&format!("-s {SVC} stop --rid ip#1")).ok();
    assert!(run.lines_with("add rid").is_empty(), "{}", run.stderr);
    assert_eq!(rids(&calls(&env)), ["ip#1"]);
    assert!(is_up(&env, "container#1"));
}

#[test]
fn rollback_stops_linked_resources_right_before_their_target() {
    let env = env();
    let conf = linked_conf(&env).replace("[container#2]\n", "[container#2]\nfail = start\n");
    env.write_conf(SVC, &conf);
    let run = env.run(&format!("-s {SVC} start")).code(1);
    assert_eq!(
        logged(&run, "trying to rollback"),
        [format!(
            "node1.{SVC} trying to rollback start on container#1, ip#1"
        )]
    );
    assert_eq!(
        rids(&of_verb(&calls(&env), "stop")),
        ["ip#1", "container#1"]
    );
    assert!(!is_up(&env, "container#3"));
}

/// ip#1, disk#1, fs#1 and container#1 (whose start may be told to fail), container#2.
fn failing_conf(env: &Env, default_extra: &str, container1_extra: &str) -> String {
    let mut conf = format!("[DEFAULT]\n{default_extra}\n");
    conf += &fixture(env, "ip#1", "");
    conf += &fixture(env, "disk#1", "");
    conf += &fixture(env, "fs#1", "");
    conf += &fixture(env, "container#1", container1_extra);
    conf += &fixture(env, "container#2", "");
    conf
}

/// Bring disk#1 up before the action under test, so rollback must leave it alone.
fn start_disk_first(env: &Env) {
    env.run(&format!("-s {SVC} start --rid disk#1")).ok();
    clear_calls(env);
}

#[test]
fn failed_start_rolls_back_what_it_started_in_reverse() {
    let env = env();
    env.write_conf(SVC, &failing_conf(&env, "", "fail = start"));
    start_disk_first(&env);
    let run = env.run(&format!("-s {SVC} start")).code(1);
    let all = calls(&env);
    assert_eq!(
        rids(&of_verb(&all, "start")),
        ["ip#1", "fs#1", "container#1"],
        "disk#1 was already up: its start is a no-op, not recorded"
    );
    assert!(!all.iter().find(|c| c.rid == "container#1").unwrap().ok);
    assert_eq!(rids(&of_verb(&all, "stop")), ["fs#1", "ip#1"]);
    assert_eq!(
        logged(&run, "trying to rollback start on"),
        [format!(
            "node1.{SVC} trying to rollback start on fs#1, ip#1"
        )]
    );
    assert!(is_up(&env, "disk#1"), "was up before the action");
    assert!(!is_up(&env, "ip#1") && !is_up(&env, "fs#1"));
    assert!(
        !is_up(&env, "container#2"),
        "after the failure: never started"
    );
}

fn assert_no_rollback(env: &Env, run: &Run, why: &str) {
    assert_eq!(
        logged(run, "skip rollback start"),
        [format!(
            "node1.{SVC} skip rollback start: as instructed by {why}"
        )]
    );
    assert!(run.lines_with("trying to rollback").is_empty());
    assert!(of_verb(&calls(env), "stop").is_empty());
    assert!(is_up(env, "ip#1") && is_up(env, "fs#1"));
}

#[test]
fn disable_rollback_flag_leaves_everything_up() {
    let env = env();
    env.write_conf(SVC, &failing_conf(&env, "", "fail = start"));
    let run = env
        .run(&format!("-s {SVC} start --disable-rollback"))
        .code(1);
    assert_no_rollback(&env, &run, "--disable-rollback");
}

#[test]
fn rollback_false_in_config_leaves_everything_up() {
    let env = env();
    env.write_conf(SVC, &failing_conf(&env, "rollback = false", "fail = start"));
    let run = env.run(&format!("-s {SVC} start")).code(1);
    assert_no_rollback(&env, &run, "DEFAULT.rollback=false");
}

#[test]
fn optional_failure_does_not_stop_the_sequence() {
    let env = env();
    env.write_conf(
        SVC,
        &failing_conf(&env, "", "fail = start\noptional = true"),
    );
    let run = env.run(&format!("-s {SVC} start")).ok();
    assert_eq!(
        run.lines_with("ignore start error on optional resource")
            .len(),
        1,
        "{}",
        run.stderr
    );
    assert_eq!(
        rids(&of_verb(&calls(&env), "start")),
        ["ip#1", "disk#1", "fs#1", "container#1", "container#2"]
    );
    assert!(is_up(&env, "container#2"));
    assert!(run.lines_with("rollback").is_empty());
}

#[test]
fn start_timeout_fails_fast_and_rolls_back() {
    let env = env();
    env.write_conf(
        SVC,
        &failing_conf(&env, "", "sleep = 30s\nstart_timeout = 1s"),
    );
    let began = Instant::now();
    let run = env.run(&format!("-s {SVC} start")).code(1);
    let took = began.elapsed();
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert_eq!(
        run.lines_with("start timed out after 1s").len(),
        1,
        "{}",
        run.stderr
    );
    assert!(
        line_index(&run, "start timed out after 1s")
            < line_index(&run, "trying to rollback start on")
    );
    assert!(!is_up(&env, "ip#1") && !is_up(&env, "fs#1"));
    assert!(!is_up(&env, "container#2"));
}

/// Every file (or link) below `dir`, sorted.
fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Kills the background svcmgr when the test ends, even on failure.
struct Background(Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn second_action_waits_for_the_lock_then_times_out_naming_the_holder() {
    let env = env();
    env.write_conf(SVC, &failing_conf(&env, "", "sleep = 4s"));
    let holder = Background(
        env.cmd(["-s", SVC, "start"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the lock holder"),
    );
    let pid = holder.0.id().to_string();
    // The holder writes its pid into the lock file once it holds the lock.
    let lock = var_dir(&env).join("lock");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&lock).is_ok_and(|t| t.contains(&pid)) {
        assert!(Instant::now() < deadline, "the holder never took the lock");
        std::thread::sleep(Duration::from_millis(20));
    }

    let began = Instant::now();
    let run = env.run(&format!("-s {SVC} start --waitlock 1s")).code(1);
    let waited = began.elapsed();
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(3),
        "waited {waited:?}"
    );
    let err = run.all();
    assert!(
        err.contains(&format!("pid {pid}")) && err.contains("'start'"),
        "the error names the holder's pid and action:\n{err}"
    );

    // With room to wait, the next action runs once the holder is done.
    let run = env.run(&format!("-s {SVC} stop --waitlock 30s")).ok();
    assert!(run.lines_with("timed out").is_empty());
    let all = calls(&env);
    let last_start = of_verb(&all, "start").iter().map(|c| c.end).max().unwrap();
    let stops = of_verb(&all, "stop");
    assert_eq!(stops.len(), 5, "{all:#?}");
    assert!(stops.iter().all(|c| c.begin >= last_start), "{all:#?}");
    let mut holder = holder;
    assert!(
        holder.0.wait().unwrap().success(),
        "the holder's start failed"
    );
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let env = env();
    env.write_conf(SVC, &tutorial_conf(&env, "container", ""));
    let run = env.run(&format!("-s {SVC} start --dry-run")).ok();
    let out = &run.stdout;
    for stage in [
        "stage ip\n",
        "stage disk\n",
        "stage fs\n",
        "stage container:00database\n",
        "stage container:01appservers (parallel)\n",
        "stage container:02webservers\n",
    ] {
        assert!(out.contains(stage), "missing '{stage}' in:\n{out}");
    }
    let planned: Vec<&str> = out
        .lines()
        .filter_map(|l| l.trim().split_once(". start ").map(|(_, rest)| rest))
        .map(|rest| rest.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(planned, TUTORIAL_RIDS, "{out}");
    assert!(out.contains("nothing to roll back"), "{out}");
    assert!(
        out.contains("on failure: stop what steps 1-4 changed"),
        "{out}"
    );
    assert!(!record_path(&env).exists(), "no driver call was made");
    // Not even the action log: only the config and the driver links exist.
    let written = files_under(env.root.path());
    let mut expected = vec![
        env.path(&format!("etc/opensvc/{SVC}.conf")),
        env.drivers.join("libsvcmgr_driver_app.so"),
        env.drivers.join("libsvcmgr_test_fixture.so"),
    ];
    expected.sort();
    assert_eq!(written, expected, "the dry run wrote files");

    let run = env
        .run(&format!("-s {SVC} start --dry-run --format json"))
        .ok();
    let doc: serde_json::Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", run.stdout));
    let stages = doc["stages"].as_array().expect("stages array");
    assert_eq!(stages.len(), 6, "{doc:#}");
    assert_eq!(stages[4]["name"], "container:01appservers");
    assert_eq!(stages[4]["parallel"], true);
    assert_eq!(stages[5]["parallel"], false);
    assert!(!record_path(&env).exists());
}

#[test]
fn upto_and_downto_barriers_cut_the_sequence() {
    let env = env();
    env.write_conf(SVC, &tutorial_conf(&env, "container", ""));
    let run = env.run(&format!("-s {SVC} start --upto fs#2")).ok();
    assert_eq!(rids(&calls(&env)), ["ip#1", "disk#1", "fs#1", "fs#2"]);
    assert_eq!(run.lines_with("reached 'up to fs#2' barrier").len(), 1);
    assert!(!is_up(&env, "container#1"));

    env.run(&format!("-s {SVC} start")).ok();
    clear_calls(&env);
    let run = env.run(&format!("-s {SVC} stop --downto fs#2")).ok();
    let stops = rids(&calls(&env));
    assert_eq!(stops.len(), 8, "{stops:?}");
    assert_eq!(stops.last().unwrap(), "fs#2");
    assert_eq!(run.lines_with("reached 'down to fs#2' barrier").len(), 1);
    assert!(is_up(&env, "fs#1") && is_up(&env, "disk#1") && is_up(&env, "ip#1"));
    clear_calls(&env);

    let run = env.run(&format!("-s {SVC} stop --downto nosuch#1")).code(1);
    assert!(run.all().contains("nosuch#1"), "{}", run.all());
    assert!(
        run.all().contains("--downto"),
        "names the flag: {}",
        run.all()
    );
    assert!(calls(&env).is_empty(), "an unknown barrier changes nothing");
}

#[test]
fn panic_in_parallel_subset_fails_and_rolls_back() {
    let env = env();
    let conf = tutorial_conf(&env, "container", "sleep = 300ms")
        .replace("[container#3]\n", "[container#3]\npanic = start\n");
    env.write_conf(SVC, &conf);
    let run = env.run(&format!("-s {SVC} start")).code(1);
    let panics = run.lines_with("panicked");
    assert!(
        panics
            .iter()
            .any(|l| l.starts_with(&format!("node1.{SVC}.container#3 "))
                && l.contains("container#3")),
        "{}",
        run.stderr
    );
    let all = calls(&env);
    // The siblings finished before the sequence stopped, and are rolled back with the rest.
    let mut started = rids(&of_verb(&all, "start"));
    started.sort();
    let mut stopped = rids(&of_verb(&all, "stop"));
    stopped.sort();
    assert_eq!(started.len(), 8, "{all:#?}");
    assert_eq!(started, stopped, "{all:#?}");
    assert!(!started.contains(&"container#3".to_string()));
    assert_eq!(run.lines_with("trying to rollback start on").len(), 1);
    assert!(TUTORIAL_RIDS.iter().all(|r| !is_up(&env, r)));
    assert!(!is_up(&env, "container#6"));
}

#[test]
fn restart_stops_then_starts() {
    let env = env();
    env.write_conf(SVC, &linked_conf(&env));
    env.run(&format!("-s {SVC} start")).ok();
    clear_calls(&env);
    let run = env.run(&format!("-s {SVC} restart")).ok();
    let verbs: Vec<String> = calls(&env).iter().map(|c| c.verb.clone()).collect();
    assert_eq!(
        verbs,
        ["stop", "stop", "stop", "stop", "start", "start", "start", "start"]
    );
    let ready = line_index(&run, "instance stopped, ready for restart.");
    let lines: Vec<&str> = run.stderr.lines().collect();
    let last_stop = lines
        .iter()
        .rposition(|l| l.contains("fixture stop"))
        .unwrap();
    assert!(ready > last_stop, "{}", run.stderr);
    assert!(ready < line_index(&run, "fixture start"));
}

#[test]
fn start_exits_1_when_avail_is_not_up_afterwards() {
    let env = env();
    env.write_conf(
        SVC,
        "[DEFAULT]\n[app#1]\nstart = /bin/true\ncheck = /bin/false\n",
    );
    let run = env.run(&format!("-s {SVC} start")).code(1);
    assert_eq!(
        run.lines_with("start action returned 0 but instance avail status is down")
            .len(),
        1,
        "{}",
        run.stderr
    );
    // A scoped start does not judge the whole instance.
    env.run(&format!("-s {SVC} start --rid app#1")).ok();
}

#[test]
fn standby_resources_stop_only_with_force() {
    let env = env();
    let mut conf = String::from("[DEFAULT]\n");
    conf += &fixture(&env, "container#1", "standby = true");
    conf += &fixture(&env, "container#2", "");
    env.write_conf(SVC, &conf);
    env.run(&format!("-s {SVC} start")).ok();
    assert!(is_up(&env, "container#1"));
    let run = env.run(&format!("-s {SVC} stop")).ok();
    assert_eq!(
        logged(
            &run,
            "skip 'stop' on standby resource (--force to override)"
        ),
        [format!(
            "node1.{SVC}.container#1 skip 'stop' on standby resource (--force to override)"
        )]
    );
    assert!(is_up(&env, "container#1") && !is_up(&env, "container#2"));
    let run = env.run(&format!("-s {SVC} stop --force")).ok();
    assert!(run.lines_with("standby").is_empty(), "{}", run.stderr);
    assert!(!is_up(&env, "container#1"));
}

#[test]
fn each_call_gets_its_full_timeout() {
    // Two 1s commands in one sequential stage, each allowed 1.5s: the second one's deadline
    // must count from its own start, not from the start of the stage.
    let env = env();
    let app = "start = sleep 1\nstart_timeout = 1500ms\n";
    env.write_conf(SVC, &format!("[DEFAULT]\n[app#1]\n{app}[app#2]\n{app}"));
    let run = env.run(&format!("-s {SVC} start")).ok();
    assert!(run.lines_with("timed out").is_empty(), "{}", run.stderr);
}

#[test]
fn a_start_that_failed_after_changing_things_is_rolled_back_too() {
    let env = env();
    let conf = format!(
        "{}\n{}",
        fixture(&env, "app#1", ""),
        fixture(&env, "app#2", "fail_after = start")
    );
    env.write_conf(SVC, &conf);
    let run = env.run(&format!("-s {SVC} start")).code(1);
    assert!(
        !logged(&run, "trying to rollback start on app#1, app#2").is_empty(),
        "{}",
        run.stderr
    );
    assert!(!is_up(&env, "app#1") && !is_up(&env, "app#2"));
}
