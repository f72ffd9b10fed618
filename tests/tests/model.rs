//! Issue 11 points 1–8, the OpenSVC resource model, end to end through the `svcmgr` binary:
//! triggers, `*_requires`, the `noaction`/`nostatus` tags, a broken section that blocks only
//! the actions on it, the environment of every command, `DEFAULT.nodes`, the app driver's
//! `script` keyword and sequence numbers, and the rollback of `app.simple`.

use svcmgr_tests::{Env, Run};

const SVC: &str = "mdl";

fn env() -> Env {
    Env::new(&["app", "fixture"])
}

/// The stderr lines, whitespace collapsed (the name column's padding depends on the longest
/// rid), that contain `needle`.
fn logged(run: &Run, needle: &str) -> Vec<String> {
    run.logged(needle)
}

fn assert_logged(run: &Run, line: &str) {
    assert!(
        !logged(run, line).is_empty(),
        "no log line with '{line}' in:\n{}",
        run.stderr
    );
}

/// Assert that `text` (a command's output) holds `needle`.
#[track_caller]
fn assert_has(text: &str, needle: &str) {
    assert!(text.contains(needle), "no '{needle}' in:\n{text}");
}

/// `<root>/<name>`, a marker file of the test.
fn mark(env: &Env, name: &str) -> String {
    env.path(name).display().to_string()
}

fn exists(env: &Env, name: &str) -> bool {
    env.path(name).exists()
}

/// A database that takes half a second to come up and a web app that can only start once
/// it is up, both in one parallel subset: only `start_requires` makes the web app wait.
fn web_db_conf(env: &Env, web_extra: &str) -> String {
    let d = env.root.path().display();
    format!(
        "[DEFAULT]\nid = 42\n\n\
         [app#db]\nsubset = p\nstart = sh -c 'sleep 0.5; touch {d}/db'\ncheck = test -f {d}/db\n\
         stop = rm -f {d}/db\n\n\
         [app#web]\nsubset = p\nstart = sh -c 'test -f {d}/db && touch {d}/web'\n\
         check = test -f {d}/web\nstop = rm -f {d}/web\n\
         start_requires = app#db(up) app#ghost\n\
         pre_start = sh -c 'echo \"$OPENSVC_RID $OPENSVC_ACTION\" > {d}/pre'\n\
         blocking_post_start = touch {d}/post\n{web_extra}\n\n\
         [subset#app:p]\nparallel = true\n"
    )
}

#[test]
fn dry_run_shows_triggers_and_requirements_and_runs_none() {
    let env = env();
    env.write_conf(SVC, &web_db_conf(&env, ""));
    let run = env.run(&format!("-s {SVC} start --dry-run")).ok();
    let d = env.root.path().display();
    for line in [
        "stage app:p (parallel)".to_string(),
        "start_requires: app#db(up) app#ghost(up,stdby up)".to_string(),
        format!("pre_start: sh -c 'echo \"$OPENSVC_RID $OPENSVC_ACTION\" > {d}/pre'"),
        format!("blocking_post_start: touch {d}/post"),
    ] {
        assert_has(&run.stdout, &line);
    }
    assert!(!exists(&env, "pre") && !exists(&env, "post") && !exists(&env, "db"));

    let run = env
        .run(&format!("-s {SVC} start --dry-run --format json"))
        .ok();
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        doc["hooks"]["app#web"][0],
        "start_requires: app#db(up) app#ghost(up,stdby up)"
    );
}

#[test]
fn a_parallel_resource_waits_for_what_it_requires_and_runs_its_triggers() {
    let env = env();
    env.write_conf(SVC, &web_db_conf(&env, ""));
    let run = env.run(&format!("-s {SVC} start")).ok();
    assert!(exists(&env, "db") && exists(&env, "web"), "{}", run.stderr);
    assert_eq!(run.lines_with("action start started in parallel").len(), 2);
    assert_logged(
        &run,
        &format!("node1.{SVC}.app#web wait for app#db (start_requires)"),
    );
    assert_logged(
        &run,
        &format!("node1.{SVC}.app#web W ignore requires on app#ghost: resource not found"),
    );
    assert_logged(&run, &format!("node1.{SVC}.app#web pre_start: sh -c"));
    assert_logged(
        &run,
        &format!("node1.{SVC}.app#web blocking_post_start: touch"),
    );
    // The trigger ran without a shell of ours, with the resource's environment.
    assert_eq!(
        std::fs::read_to_string(env.path("pre")).unwrap(),
        "app#web start\n"
    );
    assert!(exists(&env, "post"));
    env.run(&format!("-s {SVC} stop")).ok();
}

#[test]
fn a_non_blocking_trigger_failure_is_a_warning() {
    let env = env();
    env.write_conf(SVC, &web_db_conf(&env, "post_start = /bin/false"));
    let run = env.run(&format!("-s {SVC} start")).ok();
    assert_logged(
        &run,
        &format!("node1.{SVC}.app#web W post_start: /bin/false non-blocking error [1]"),
    );
    assert!(exists(&env, "web"));
    env.run(&format!("-s {SVC} stop")).ok();
}

#[test]
fn a_blocking_trigger_failure_fails_the_resource_and_rolls_back() {
    let env = env();
    env.write_conf(SVC, &web_db_conf(&env, "blocking_pre_start = /bin/false"));
    let run = env.run(&format!("-s {SVC} start")).code(1);
    assert_logged(
        &run,
        &format!("node1.{SVC}.app#web E blocking_pre_start: /bin/false blocking error [1]"),
    );
    assert_logged(&run, "trying to rollback start on app#db");
    assert!(!exists(&env, "web"), "the web app did not start");
    assert!(!exists(&env, "db"), "the database was rolled back");
}

#[test]
fn a_trigger_runs_under_the_resource_deadline() {
    let env = env();
    env.write_conf(
        SVC,
        "[DEFAULT]\n[app#1]\nstart = /bin/true\nstart_timeout = 300ms\nblocking_pre_start = sleep 30\n",
    );
    let run = env.run(&format!("-s {SVC} start")).code(1);
    assert_logged(&run, "the deadline has passed");
    // 128 + SIGKILL, as a shell reports a killed command.
    assert_logged(&run, "blocking_pre_start: sleep 30 blocking error [137]");
}

#[test]
fn an_unmet_requirement_fails_without_adding_the_required_resource() {
    let env = env();
    env.write_conf(SVC, &web_db_conf(&env, ""));
    let run = env.run(&format!("-s {SVC} start --rid app#web")).code(1);
    assert!(run.lines_with("add rid").is_empty(), "{}", run.stderr);
    assert_logged(
        &run,
        &format!(
            "node1.{SVC}.app#web E requires on resource app#db in state up, current state down"
        ),
    );
    assert!(!exists(&env, "pre") && !exists(&env, "web") && !exists(&env, "db"));
}

#[test]
fn requirements_waiting_for_each_other_are_refused_before_anything_runs() {
    let env = env();
    let conf = web_db_conf(&env, "").replace("[app#db]\n", "[app#db]\nstart_requires = app#web\n");
    env.write_conf(SVC, &conf);
    let run = env.run(&format!("-s {SVC} start")).code(1);
    assert_logged(
        &run,
        "start refused: app#db, app#web wait for each other through start_requires in a parallel subset",
    );
    assert!(!exists(&env, "db") && !exists(&env, "pre"));
}

/// The om3 sequence case (`testdata/svcapp1.conf`): sections in this file order, each
/// `script = /bin/echo {rid}`, `start` = true, 10, 30, 20, true, `stop = true`.
fn sequence_conf() -> String {
    let mut conf = String::from("[DEFAULT]\nid = 1\n");
    for (rid, start) in [
        ("rid5", "true"),
        ("rid1", "10"),
        ("rid2", "30"),
        ("rid3", "20"),
        ("rid4", "true"),
    ] {
        conf += &format!(
            "\n[app#{rid}]\ntype = forking\nstart = {start}\nstop = true\nscript = /bin/echo {{rid}}\n"
        );
    }
    conf
}

/// The rids whose script ran, in order (`/bin/echo app#ridN <arg>` command lines).
fn script_order(run: &Run) -> Vec<String> {
    run.stderr
        .lines()
        .filter_map(|l| l.split_once("/bin/echo app#"))
        .map(|(_, rest)| rest.split_whitespace().next().unwrap().to_string())
        .collect()
}

#[test]
fn app_sequence_numbers_order_the_apps_before_the_rids() {
    let env = env();
    env.write_conf(SVC, &sequence_conf());
    let run = env.run(&format!("-s {SVC} stop")).ok();
    assert_eq!(script_order(&run), ["rid5", "rid4", "rid2", "rid3", "rid1"]);
    let run = env
        .run(&format!("-s {SVC} start --rid app#rid1,app#rid2,app#rid3"))
        .ok();
    assert_eq!(script_order(&run), ["rid1", "rid3", "rid2"]);
    let run = env.run(&format!("-s {SVC} start")).ok();
    assert_eq!(script_order(&run), ["rid1", "rid3", "rid2", "rid4", "rid5"]);
    // The script's stdout is logged at info.
    assert_logged(&run, &format!("node1.{SVC}.app#rid1 app#rid1 start"));
}

#[test]
fn app_script_keyword() {
    let env = env();
    let scripts = env.path(&format!("etc/opensvc/{SVC}.d"));
    std::fs::create_dir_all(&scripts).unwrap();
    let state = mark(&env, "app.up");
    let script = scripts.join("myapp");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncase $1 in\n start) touch {state}; echo starting; echo careful >&2;;\n \
             stop) rm -f {state};;\n status) test -f {state};;\nesac\n"
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let conf = |stop: &str| {
        format!("[DEFAULT]\nid = 1\n\n[app#1]\nscript = myapp\nstart = true\nstop = {stop}\ncheck = true\n")
    };
    env.write_conf(SVC, &conf("no"));
    let run = env.run(&format!("-s {SVC} start")).ok();
    // A relative script is looked up in the service's script folder.
    assert_logged(
        &run,
        &format!("node1.{SVC}.app#1 {} start", script.display()),
    );
    assert_logged(&run, &format!("node1.{SVC}.app#1 starting"));
    assert_logged(&run, &format!("node1.{SVC}.app#1 W careful"));
    env.run(&format!("-s {SVC} status")).code(0);
    // A disabled stop succeeds and does nothing.
    let run = env.run(&format!("-s {SVC} stop")).ok();
    assert!(run.lines_with("myapp stop").is_empty(), "{}", run.stderr);
    assert!(exists(&env, "app.up"));
    env.write_conf(SVC, &conf("1"));
    env.run(&format!("-s {SVC} stop")).ok();
    assert!(!exists(&env, "app.up"));
    env.run(&format!("-s {SVC} status")).code(1);

    // `true` with no script is a configuration error naming the keyword.
    env.write_conf(SVC, "[DEFAULT]\nid = 1\n\n[app#1]\nstart = true\n");
    let v = env.run(&format!("-s {SVC} validate config")).code(1);
    assert_has(
        &v.stdout,
        "[app#1] start: 'true' runs the script, but the 'script' keyword is not set",
    );
}

#[test]
fn noaction_and_nostatus_tags() {
    let env = env();
    let d = env.root.path().display();
    env.write_conf(
        SVC,
        &format!(
            "[DEFAULT]\nid = 1\n\n[app#1]\ntags = noaction\nstart = touch {d}/1\ncheck = test -f {d}/1\n\n\
             [app#2]\ntags = nostatus\nstart = touch {d}/2\ncheck = test -f {d}/2\n"
        ),
    );
    let plan = env.run(&format!("-s {SVC} start --dry-run")).ok();
    assert_has(&plan.stdout, "noaction tag: not acted on");
    env.run(&format!("-s {SVC} start")).ok();
    assert!(!exists(&env, "1"), "a noaction resource is never started");
    assert!(exists(&env, "2"));
    let s = env.run(&format!("-s {SVC} print status")).ok();
    let row = |rid: &str| -> String {
        s.stdout
            .lines()
            .find(|l| l.contains(rid))
            .unwrap_or_else(|| panic!("no {rid} row in:\n{}", s.stdout))
            .to_string()
    };
    // noaction counts as optional (flag O); its status is still evaluated.
    assert!(
        row("app#1").contains("...O....") && row("app#1").contains("down"),
        "{}",
        s.stdout
    );
    assert!(row("app#2").contains("n/a"), "{}", s.stdout);
    assert_has(&s.stdout, "info: nostatus tag");
}

/// The v1 tutorial's configuration with fixture containers, and its ip, vg and fs sections
/// as written (no driver serves them in this test).
fn v1_conf(env: &Env) -> String {
    let record = mark(env, "calls.rec");
    let mut conf = String::from(
        "[DEFAULT]\nautostart_node = deb1.opensvc.com\napp = OSVCLAB\nservice_type = DEV\n\
         nodes = deb1.opensvc.com\ndocker_data_dir = /opt/app.opensvc.com/appdata\n\
         docker_daemon_args = --ip 37.59.71.25\n",
    );
    for n in 1..=3 {
        conf += &format!("\n[container#{n}]\ntype = fixture\nrecord = {record}\n");
    }
    conf += "\n[ip#1]\nipdev = eth0\nipname = app.opensvc.com\n\n[vg#1]\nvgname = vgapp\n\n\
             [fs#1]\nmnt_opt = rw\nmnt = /opt/app.opensvc.com\ndev = /dev/mapper/vgapp-lvapproot\ntype = ext4\n\n\
             [fs#2]\nmnt_opts = rw\nmnt = /opt/app.opensvc.com/appdata\ndev = /dev/mapper/vgapp-lvappdata\ntype = ext4\n";
    conf
}

#[test]
fn a_broken_section_blocks_only_the_actions_on_it() {
    let mut env = Env::new(&["app", "fixture", "docker"]);
    env.nodename = "deb1.opensvc.com".into();
    env.write_conf(SVC, &v1_conf(&env));
    let s = env.run(&format!("-s {SVC} print status")).ok();
    let vg = s.stdout.lines().find(|l| l.contains("vg#1")).unwrap();
    assert!(vg.contains("undef"), "{}", s.stdout);
    assert_has(&s.stdout, "error: unknown section group 'vg'");
    assert_has(&s.stdout, "error: type: unknown driver fs.ext4");

    let run = env.run(&format!("-s {SVC} startcontainer")).ok();
    assert_has(&run.stderr, "fixture start");
    let s = env.run(&format!("-s {SVC} print status")).ok();
    let c1 = s
        .stdout
        .lines()
        .find(|l| l.contains("container#1"))
        .unwrap();
    assert!(c1.contains(" up "), "{}", s.stdout);

    let _ = std::fs::remove_file(env.path("calls.rec"));
    let run = env.run(&format!("-s {SVC} start")).code(1);
    assert_has(
        &run.stderr,
        "start refused: the configuration of fs#1, fs#2, ip#1, vg#1 has errors",
    );
    assert_has(&run.stderr, "[vg#1] unknown section group 'vg'");
    assert!(
        !exists(&env, "calls.rec"),
        "a refused start calls no driver"
    );

    env.run(&format!("-s {SVC} stopcontainer")).ok();
    let v = env.run(&format!("-s {SVC} validate config"));
    let errors = v.stdout.lines().filter(|l| l.starts_with("error:")).count();
    assert_eq!(v.code as usize, errors, "{}", v.stdout);
    assert_eq!(errors, 4, "{}", v.stdout);

    // An error in [DEFAULT] blocks every action.
    let _ = std::fs::remove_file(env.path("calls.rec"));
    env.write_conf(
        SVC,
        &v1_conf(&env).replace("app = OSVCLAB\n", "app = OSVCLAB\nbogus = 1\n"),
    );
    let run = env.run(&format!("-s {SVC} startcontainer")).code(1);
    assert_has(&run.stderr, "[DEFAULT] bogus");
    assert!(!exists(&env, "calls.rec"));
}

#[test]
fn commands_and_triggers_get_the_opensvc_environment() {
    let env = env();
    let d = env.root.path().display();
    let scripts = env.path(&format!("etc/opensvc/{SVC}.d"));
    std::fs::create_dir_all(&scripts).unwrap();
    // A bare command name is found in the service's script folder, first on PATH.
    let hello = scripts.join("hello");
    std::fs::write(&hello, format!("#!/bin/sh\nenv > {d}/app.env\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hello, std::fs::Permissions::from_mode(0o755)).unwrap();
    env.write_conf(
        SVC,
        &format!(
            "[DEFAULT]\nid = 5f0c\n\n[app#1]\nstart = hello\n\n\
             [container#1]\ntype = fixture\npost_start = sh -c 'env > {d}/trigger.env'\n"
        ),
    );
    env.run(&format!("-s {SVC} start")).ok();
    let vars = |file: &str| -> Vec<String> {
        std::fs::read_to_string(env.path(file))
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    };
    for (file, rid) in [("app.env", "app#1"), ("trigger.env", "container#1")] {
        let got = vars(file);
        for want in [
            format!("OPENSVC_SVCNAME={SVC}"),
            format!("OPENSVC_SVCPATH={SVC}"),
            format!("OPENSVC_NAME={SVC}"),
            "OPENSVC_ID=5f0c".to_string(),
            "OPENSVC_SVC_ID=5f0c".to_string(),
            "OPENSVC_KIND=svc".to_string(),
            "OPENSVC_NAMESPACE=root".to_string(),
            "OPENSVC_ACTION=start".to_string(),
            format!("OPENSVC_RID={rid}"),
            "OPENSVC_LEADER=1".to_string(),
        ] {
            assert!(got.contains(&want), "{want} missing from {file}: {got:#?}");
        }
        let path = got.iter().find(|v| v.starts_with("PATH=")).unwrap();
        assert!(
            path.starts_with(&format!("PATH={}:", scripts.display())),
            "{path}"
        );
    }
    // What the driver adds through the ABI reaches the host's triggers.
    assert!(vars("trigger.env").contains(&"OPENSVC_FIXTURE_RID=container#1".to_string()));
}

#[test]
fn default_nodes_keeps_other_nodes_from_changing_the_service() {
    let mut env = env();
    let d = env.root.path().display();
    let conf = format!("[DEFAULT]\nid = 1\nnodes = node1 node2\n\n[app#1]\nstart = touch {d}/up\n");
    env.write_conf(SVC, &conf);
    env.nodename = "node3".into();
    for action in ["start", "stop", "restart --dry-run", "startapp"] {
        let run = env.run(&format!("-s {SVC} {action}")).code(1);
        assert_logged(
            &run,
            "refused: this node 'node3' is not one of DEFAULT.nodes (node1 node2) (--force to override)",
        );
    }
    assert!(!exists(&env, "up"));
    env.run(&format!("-s {SVC} print status")).ok();
    env.run(&format!("-s {SVC} validate config")).ok();
    env.run_args(&["-s", SVC, "set", "--kw", "DEFAULT.comment=x"])
        .ok();
    let run = env.run(&format!("-s {SVC} start --force")).ok();
    assert_logged(&run, "acting anyway, as --force says");
    assert!(exists(&env, "up"));
    env.nodename = "node2".into();
    env.run(&format!("-s {SVC} stop")).ok();
    env.write_conf(
        SVC,
        &conf.replace("nodes = node1 node2", "nodes = node1\ndrpnodes = node3"),
    );
    env.nodename = "node3".into();
    env.run(&format!("-s {SVC} start")).ok();
}

/// Whether a process runs (a zombie does not).
fn running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z"))
        .unwrap_or(false)
}

#[test]
fn rollback_of_a_simple_app_that_dies_on_term_does_not_kill_it() {
    let env = env();
    env.write_conf(
        SVC,
        "[DEFAULT]\n[app#1]\ntype = simple\nstart = sleep 300\n\n[app#2]\nstart = /bin/false\n",
    );
    let run = env.run(&format!("-s {SVC} start")).code(1);
    assert_logged(&run, "trying to rollback start on app#1");
    let term = run.lines_with("kill -TERM");
    assert_eq!(term.len(), 1, "{}", run.stderr);
    assert!(run.lines_with("kill -KILL").is_empty(), "{}", run.stderr);
    let pid: i32 = term[0].rsplit(' ').next().unwrap().parse().unwrap();
    assert!(!running(pid), "the app was stopped");
}

#[test]
fn rollback_of_a_simple_app_that_already_exited_is_already_down() {
    let env = env();
    env.write_conf(
        SVC,
        "[DEFAULT]\n[app#1]\ntype = simple\nstart = sleep 0.4\n\n\
         [app#2]\nstart = sh -c 'sleep 1; exit 1'\n",
    );
    let run = env.run(&format!("-s {SVC} start")).code(1);
    assert_logged(&run, "trying to rollback start on app#1");
    assert_logged(
        &run,
        &format!("node1.{SVC}.app#1 simple sleep 0.4 is already down"),
    );
    assert!(run.lines_with("kill -").is_empty(), "{}", run.stderr);
}
