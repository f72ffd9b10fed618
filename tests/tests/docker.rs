//! End-to-end tests of the container.docker driver through the `svcmgr` binary, on the real
//! docker engine. Needs root and `bash tests/setup/docker.sh` (engine + local test images).
//!
//! Every test uses its own service name and id, and its guard removes the service's containers
//! (and private daemon) even when the test fails.

use std::process::Command;
use svcmgr_tests::{
    inspect, need_images, remove_service_containers, running, service_containers, Service,
};

const IMAGE1: &str = "svcmgr-test/busybox:1";
const IMAGE2: &str = "svcmgr-test/busybox:2";

/// The system docker CLI; its stdout.
fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker CLI");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One service under test, cleaned up on drop.
struct Svc(Service);

impl std::ops::Deref for Svc {
    type Target = Service;
    fn deref(&self) -> &Service {
        &self.0
    }
}

impl Svc {
    fn new() -> Svc {
        need_images(&[IMAGE1, IMAGE2]);
        Svc(Service::new("dk", &["docker"]))
    }

    /// The pid of the service's private daemon, if it runs.
    fn daemon_pid(&self) -> Option<u32> {
        svcmgr_tests::private_daemon_pid(&self.var())
    }

    /// Ids of this service's containers on the system daemon (running only unless `all`).
    fn system_containers(&self, all: bool) -> Vec<String> {
        service_containers(&self.name, all)
    }
}

impl Drop for Svc {
    fn drop(&mut self) {
        svcmgr_tests::remove_private_daemon(&self.var(), &self.id);
        remove_service_containers(&self.name);
    }
}

/// Asserts that exactly `n` lines of `text` (a run's stdout or stderr) hold `needle`.
#[track_caller]
fn assert_lines(text: &str, needle: &str, n: usize) {
    let found = text.lines().filter(|l| l.contains(needle)).count();
    assert_eq!(found, n, "{n} lines with {needle:?} expected in:\n{text}");
}

fn v1_conf(svc: &Svc) -> String {
    let vol = svc.env.path("vol1");
    format!(
        "[container#1]\ntype = docker\nrun_image = {IMAGE1}\nrun_command = /bin/sh\n\
         tty = true\ninteractive = true\n\
         # an interactive shell ignores SIGTERM: the stop grace comes from this deadline\n\
         stop_timeout = 3s\n\n\
         [container#2]\ntype = docker\nrun_image = {IMAGE1}\n\
         run_args = -v {var}/docker.sock:/docker.sock -p 18888:8000\n\n\
         [container#3]\ntype = docker\nrun_image = {IMAGE1}\n\
         run_args = -v {vol}:/vol1:rw -p 42222:22\n",
        var = svc.var().display(),
        vol = vol.display(),
    )
}

#[test]
fn v1_service_status_start_and_docker_passthrough() {
    let svc = Svc::new();
    svc.write_conf(&v1_conf(&svc));

    let before = svc.run("print status").ok();
    for rid in ["container#1", "container#2", "container#3"] {
        before.assert_state(rid, "down");
    }
    assert_lines(&before.stdout, "can not find container id", 3);

    let start = svc.run("start").ok();
    let runs: Vec<usize> = (1..=3)
        .map(|n| start.line_index(&[&format!("container#{n} "), "docker run "]))
        .collect();
    assert!(runs[0] < runs[1] && runs[1] < runs[2], "{}", start.stderr);
    let line2 = &start.stderr.lines().nth(runs[1]).unwrap();
    assert!(
        line2.ends_with(&format!(
            "docker run -d --name={} -v {}/docker.sock:/docker.sock -p 18888:8000 {IMAGE1}",
            svc.container(2),
            svc.var().display()
        )),
        "{line2}"
    );
    assert!(start.stderr.contains(&format!(
        "docker run -t -i -d --name={} {IMAGE1} /bin/sh",
        svc.container(1)
    )));
    for n in 1..=3 {
        let id = inspect(&svc.container(n), "{{.Id}}").expect("container exists");
        let output = start.line_index(&[&format!("container#{n} "), "output:"]);
        assert!(start.stderr.lines().nth(output + 1).unwrap().ends_with(&id));
        assert!(running(&svc.container(n)));
    }
    assert_lines(&start.stderr, "wait for up status", 3);
    assert_lines(&start.stderr, "wait for container operational", 3);

    let after = svc.run("print status").ok();
    for n in 1..=3 {
        let line = after.status_line(&format!("container#{n}"));
        assert!(line.contains(" up "), "{line}");
        assert!(
            line.contains(&format!("docker container {}@{IMAGE1}", svc.container(n))),
            "{line}"
        );
    }
    assert!(!after.stdout.contains("can not find container id"));

    let ps = svc.run("docker ps -a").ok();
    for n in 1..=3 {
        assert!(ps.stdout.contains(&svc.container(n)), "{}", ps.stdout);
    }
    assert!(ps.stdout.contains("18888->8000/tcp"), "{}", ps.stdout);
    let id2 = inspect(&svc.container(2), "{{.Id}}").unwrap();
    let by_rid = svc
        .run("docker inspect --format={{.Id}} {container#2}")
        .ok();
    assert_eq!(by_rid.stdout.trim(), id2);
    svc.run("docker inspect no-such-container-svcmgr").code(1);

    let stop = svc.run("stop").ok();
    assert_lines(&stop.stderr, "docker stop", 3);
    assert!(svc.system_containers(false).is_empty());
}

#[test]
fn the_run_line_is_what_runs_and_the_log_holds_only_our_records() {
    let svc = Svc::new();
    svc.write_conf(&format!(
        "[container#1]\ntype = docker\nimage = {IMAGE1}\ncommand = sleep 300\n\
         hostname = kw\nenvironment = X=2\nrun_args = -h ra -e X=1 -e Y=1 -ti\ntty = false\n"
    ));
    let start = svc.run("start").ok();
    let run = &start.lines_with("docker run ")[0];
    assert!(
        run.ends_with(&format!(
            "docker run --tty=false -d --name={} --hostname=kw -e X=2 -e Y=1 -i {IMAGE1} sleep 300",
            svc.container(1)
        )),
        "the keywords' values replace the run_args flags they override: {run}"
    );
    let name = svc.container(1);
    assert_eq!(
        inspect(&name, "{{.Config.Hostname}}").as_deref(),
        Some("kw")
    );
    assert_eq!(inspect(&name, "{{.Config.Tty}}").as_deref(), Some("false"));
    assert_eq!(
        inspect(&name, "{{.Config.OpenStdin}}").as_deref(),
        Some("true")
    );
    let env = inspect(&name, "{{json .Config.Env}}").unwrap();
    assert!(
        env.contains("\"X=2\"") && env.contains("\"Y=1\"") && !env.contains("X=1"),
        "{env}"
    );
    let log = std::fs::read_to_string(svc.env.path(&format!("var/log/opensvc/{}.log", svc.name)))
        .unwrap();
    assert!(log.contains("docker run --tty=false -d --name="), "{log}");
    for chatter in ["handshake", "pool dropped", "connection is ready"] {
        assert!(
            !log.contains(chatter),
            "the docker client's own debug lines are not ours: {log}"
        );
    }
}

#[test]
fn stopcontainer_then_startcontainer_reuse_the_instances() {
    let svc = Svc::new();
    svc.write_conf(&format!(
        "[container#1]\nimage = {IMAGE1}\n\n[container#2]\ntype = docker\nimage = {IMAGE1}\n"
    ));
    svc.run("start").ok();
    let ids: Vec<String> = (1..=2)
        .map(|n| inspect(&svc.container(n), "{{.Id}}").unwrap())
        .collect();

    let stop = svc.run("stopcontainer").ok();
    for (n, id) in (1..=2).zip(&ids) {
        assert!(!running(&svc.container(n)));
        stop.line_index(&[&format!("container#{n} "), &format!("docker stop {id}")]);
    }
    let order: Vec<usize> = (1..=2)
        .map(|n| stop.line_index(&[&format!("container#{n} "), "docker stop"]))
        .collect();
    assert!(
        order[1] < order[0],
        "stop runs in reverse order:\n{}",
        stop.stderr
    );

    let start = svc.run("startcontainer").ok();
    assert_lines(&start.stderr, "docker run", 0);
    for (n, id) in (1..=2).zip(&ids) {
        start.line_index(&[&format!("container#{n} "), &format!("docker start {id}")]);
        assert_eq!(inspect(&svc.container(n), "{{.Id}}").as_ref(), Some(id));
        assert!(running(&svc.container(n)));
    }

    let again = svc.run("start").ok();
    assert_lines(&again.stderr, "already started", 2);
}

#[test]
fn stop_one_rid_then_upgrade_its_image() {
    let svc = Svc::new();
    svc.write_conf(&format!(
        "[container#1]\ntype = docker\nimage = {IMAGE1}\n\n[container#2]\ntype = docker\nimage = {IMAGE1}\n"
    ));
    svc.run("start").ok();
    let old_id = inspect(&svc.container(1), "{{.Id}}").unwrap();

    let stop = svc.run("stop --rid container#1").ok();
    assert_lines(&stop.stderr, "container#2", 0);
    assert!(!running(&svc.container(1)));
    assert!(running(&svc.container(2)));
    let status = svc.run("print status").ok();
    status.assert_state("container#1", "down");
    status.assert_state("container#2", "up");

    svc.run(&format!(
        "set --kw container#1.image={IMAGE2} --kw container#1.rm=true"
    ))
    .ok();
    let restart = svc.run("restart --rid container#1").ok();
    let rm = restart.line_index(&[&format!("docker rm {}", svc.container(1))]);
    let run = restart.line_index(&[&format!(
        "docker run -d --name={} {IMAGE2}",
        svc.container(1)
    )]);
    assert!(rm < run, "{}", restart.stderr);
    let new_id = inspect(&svc.container(1), "{{.Id}}").unwrap();
    assert_ne!(new_id, old_id);
    assert!(
        inspect(&old_id, "{{.Id}}").is_none(),
        "old instance removed"
    );
    assert_eq!(
        inspect(&svc.container(1), "{{.Config.Image}}").as_deref(),
        Some(IMAGE2)
    );
    assert!(running(&svc.container(1)));
    let status = svc.run("print status").ok();
    assert!(status
        .status_line("container#1")
        .contains(&format!("docker container {}@{IMAGE2}", svc.container(1))));
}

#[test]
fn running_container_of_another_image_warns() {
    let svc = Svc::new();
    svc.write_conf(&format!("[container#1]\nimage = {IMAGE1}\n"));
    svc.run("start").ok();
    svc.run(&format!("set --kw container#1.image={IMAGE2}"))
        .ok();
    let status = svc.run("print status").ok();
    let short = |image: &str| docker(&["images", "-q", image]).trim().to_string();
    assert!(
        status.stdout.contains(&format!(
            "the current container is based on image '{}' instead of '{}'",
            short(IMAGE1),
            short(IMAGE2)
        )),
        "{}",
        status.stdout
    );
    assert!(status.stdout.lines().next().unwrap().contains("warn"));
}

#[test]
fn v2_svc2_containers_share_the_first_ones_netns() {
    let svc = Svc::new();
    let config = format!(
        r#"{{
            "DEFAULT": {{"id": "{id}"}},
            "container#1": {{"image": "{IMAGE1}", "type": "docker"}},
            "container#2": {{"image": "{IMAGE1}", "netns": "container#1", "type": "docker"}},
            "container#3": {{"image": "{IMAGE2}", "netns": "container#1", "type": "docker"}}
        }}"#,
        id = svc.id
    );
    let created = svc
        .env
        .run_stdin(
            &format!("-s {} create --config=- --provision --local", svc.name),
            &config,
        )
        .ok();
    for n in 2..=3 {
        let line = format!(
            "docker run -d --name={} --net=container:{} svcmgr-test/busybox:",
            svc.container(n),
            svc.container(1)
        );
        assert!(created.stderr.contains(&line), "{}", created.stderr);
    }
    let netns: Vec<String> = (1..=3)
        .map(|n| {
            let pid = inspect(&svc.container(n), "{{.State.Pid}}").unwrap();
            std::fs::read_link(format!("/proc/{pid}/ns/net"))
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    assert_eq!(netns[0], netns[1]);
    assert_eq!(netns[0], netns[2]);
    let status = svc.run("print status").ok();
    for n in 1..=3 {
        status.assert_state(&format!("container#{n}"), "up");
    }
}

fn orchestration_conf(failing: Option<u32>) -> String {
    let mut conf = String::new();
    for (n, subset) in [
        (1, "00database"),
        (2, "01appservers"),
        (3, "01appservers"),
        (4, "01appservers"),
        (5, "01appservers"),
        (6, "02webservers"),
        (7, "02webservers"),
    ] {
        conf += &format!("[container#{n}]\ntype = docker\nimage = {IMAGE1}\nsubset = {subset}\n");
        if failing == Some(n) {
            conf += "command = /nonexistent\n";
        }
        conf += "\n";
    }
    conf + "[subset#container.docker:01appservers]\nparallel = true\n\n\
            [subset#container.docker:02webservers]\nparallel = false\n"
}

#[test]
fn complex_orchestration_start_order_and_parallel_subset() {
    let svc = Svc::new();
    svc.write_conf(&orchestration_conf(None));
    let start = svc.run("start").ok();
    let at = |n: u32, what: &str| start.line_index(&[&format!("container#{n} "), what]);
    let database_up = at(1, "wait for container operational");
    let appservers = 2..=5;
    for n in appservers.clone() {
        assert!(at(n, "action start started in parallel") > database_up);
        assert!(at(n, "docker run") > database_up);
        assert!(at(n, "wait for container operational") < at(6, "docker run"));
    }
    // In parallel: every appserver's run is logged before the last one is operational.
    let last_up = appservers
        .clone()
        .map(|n| at(n, "wait for container operational"))
        .max()
        .unwrap();
    assert!(appservers.clone().all(|n| at(n, "docker run") < last_up));
    assert!(at(6, "wait for container operational") < at(7, "docker run"));
    for n in 1..=7 {
        assert!(running(&svc.container(n)), "container#{n}");
    }
    let status = svc.run("print status").ok();
    assert!(status.stdout.contains("container:01appservers"));

    let stop = svc.run("stop").ok();
    let at = |n: u32| stop.line_index(&[&format!("container#{n} "), "docker stop"]);
    assert!(at(7) < at(6));
    assert!(appservers.clone().all(|n| at(6) < at(n) && at(n) < at(1)));
    assert!(svc.system_containers(false).is_empty());
}

#[test]
fn failing_appserver_rolls_back_the_whole_start() {
    let svc = Svc::new();
    svc.write_conf(&orchestration_conf(Some(3)));
    let start = svc.run("start").code(1);
    // The engine's error is shown, against the failing rid (the logged `docker run` line
    // names /nonexistent too, but unquoted).
    start.line_index(&["container#3 ", "\"/nonexistent\""]);
    start.line_index(&["trying to rollback start on"]);
    // The webservers never start.
    assert_lines(&start.stderr, "container#6", 0);
    assert!(
        svc.system_containers(false).is_empty(),
        "everything the start brought up is stopped"
    );
    for n in [1, 2, 4, 5] {
        start.line_index(&[&format!("container#{n} "), "docker stop"]);
    }
}

#[test]
fn missing_image_that_cannot_be_pulled_fails_the_start_naming_it() {
    let svc = Svc::new();
    svc.write_conf("[container#1]\nimage = svcmgr-test/absent:1\nstart_timeout = 20s\n");
    let start = svc.run("start").code(1);
    start.line_index(&["pulling docker image svcmgr-test/absent:1"]);
    start.line_index(&["image svcmgr-test/absent:1 not pullable"]);
    assert!(svc.system_containers(true).is_empty());
}

#[test]
fn unknown_run_args_flag_is_a_config_error() {
    let svc = Svc::new();
    svc.write_conf(&format!(
        "[container#1]\nimage = {IMAGE1}\n\n[container#2]\nimage = {IMAGE1}\nrun_args = -v /a:/b --bogus\n"
    ));
    let validate = svc.run("validate config");
    assert_ne!(validate.code, 0);
    assert!(
        validate
            .all()
            .contains("[container#2] run_args: unknown flag --bogus"),
        "{}",
        validate.all()
    );
    let start = svc.run("start").code(1);
    assert!(
        start.all().contains("unknown flag --bogus"),
        "{}",
        start.all()
    );
    assert!(
        svc.system_containers(true).is_empty(),
        "nothing was started"
    );
}

fn private_conf(svc: &Svc) -> String {
    format!(
        "[DEFAULT]\nid = {id}\ndocker_data_dir = {data}\n\n\
         [container#1]\ntype = docker\nimage = {IMAGE1}\n\n\
         [container#2]\ntype = docker\nimage = {IMAGE1}\n",
        id = svc.id,
        data = svc.env.path("appdata").display(),
    )
}

#[test]
fn private_daemon_not_running_shows_in_status() {
    let svc = Svc::new();
    svc.env.write_conf(&svc.name, &private_conf(&svc));
    let status = svc.run("print status").ok();
    assert_lines(&status.stdout, "docker daemon is not running", 2);
    assert!(
        svc.daemon_pid().is_none(),
        "status does not start the daemon"
    );
    let stop = svc.run("stop").ok();
    assert_lines(&stop.stderr, "already stopped", 2);
}

#[test]
fn private_daemon_runs_the_containers_and_stops_with_them() {
    let svc = Svc::new();
    svc.env.write_conf(&svc.name, &private_conf(&svc));
    // No registry: the private daemon gets the image from a saved archive.
    let archive = svc.env.path("image.tar");
    docker(&["save", "-o", archive.to_str().unwrap(), IMAGE1]);
    let load = svc
        .run(&format!("docker load -i {}", archive.display()))
        .ok();
    assert!(
        load.all().contains("starting docker daemon"),
        "{}",
        load.all()
    );
    assert!(load.stdout.contains(IMAGE1), "{}", load.stdout);
    let pid = svc.daemon_pid().expect("private daemon running");

    let start = svc.run("start").ok();
    let sock = svc.var().join("docker.sock");
    start.line_index(&[&format!(
        "docker -H unix://{} run -d --name={}",
        sock.display(),
        svc.container(1)
    )]);
    let ps = svc.run("docker ps").ok();
    for n in 1..=2 {
        assert!(ps.stdout.contains(&svc.container(n)), "{}", ps.stdout);
    }
    assert!(
        svc.system_containers(true).is_empty(),
        "nothing on the system daemon"
    );
    let status = svc.run("print status").ok();
    status.assert_state("container#1", "up");

    let stop = svc.run("stop").ok();
    let shutdown = stop.line_index(&["no more container handled by docker daemon. shut it down"]);
    assert!(stop.line_index(&["container#2 ", "docker -H"]) < shutdown);
    assert!(!std::path::Path::new(&format!("/proc/{pid}/exe")).exists());
    let exec_root = format!("/var/run/svcmgr-docker/{}", &svc.id[..8]);
    assert!(
        !std::path::Path::new(&exec_root).exists(),
        "the daemon's exec root goes with it"
    );
    let status = svc.run("print status").ok();
    assert_lines(&status.stdout, "docker daemon is not running", 2);

    // The instances stay in the daemon's data dir: the next start reuses them.
    let again = svc.run("start").ok();
    again.line_index(&["starting docker daemon"]);
    assert_lines(&again.stderr, "docker.sock start ", 2);
    assert_lines(&again.stderr, "docker run", 0);
    svc.run("stop").ok();
    assert!(svc.daemon_pid().is_none());

    // Unprovision removes the instances, which needs the daemon for a while.
    let unprov = svc.run("unprovision").ok();
    for n in 1..=2 {
        unprov.line_index(&[&format!("docker.sock rm {}", svc.container(n))]);
    }
    unprov.line_index(&["no more container handled by docker daemon"]);
    assert!(svc.daemon_pid().is_none());
}
