//! The `ocf:svcmgr:service` agent: judged by `ocf-tester`, its exit codes one by one, then run
//! by a real one-node Corosync + Pacemaker cluster that the test starts without systemd.

mod ocf_kit;

use ocf_kit::{require_packages, wait_for, Bridge};
use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::io::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use svcmgr_tests::{must, target_dir, Env};

/// The agent in the tree.
fn agent_source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/ocf/service")
}

/// A copy of the agent that `nobody` can run (ocf-tester checks that as root), in a folder
/// that goes away with the guard.
fn agent_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("svcmgr-ocf-agent-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let agent = dir.path().join("service");
    std::fs::copy(agent_source(), &agent).unwrap();
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).unwrap();
    (dir, agent)
}

/// A svcmgr root as the agent sees it: Pacemaker passes agents no environment of ours, so
/// the drivers are installed under `<root>/usr/lib/svcmgr/drivers`.
fn agent_env() -> Env {
    require_packages();
    let env = Env::new(&[]);
    env.install_first_party(&["app"]);
    env
}

/// A service of two app resources, each up while its flag file exists. `stop_keeps_app2`:
/// app#2's stop does nothing, so the service stays partly up after a stop.
fn app_service(env: &Env, name: &str, stop_keeps_app2: bool) {
    let flag = |n: u32| env.path(&format!("{name}.flag{n}")).display().to_string();
    let stop2 = match stop_keeps_app2 {
        true => "/bin/true".to_string(),
        false => format!("rm -f {}", flag(2)),
    };
    env.write_conf(
        name,
        &format!(
            "[DEFAULT]\nid = {name}-id\n\n\
             [app#1]\nstart = touch {f1}\nstop = rm -f {f1}\ncheck = test -f {f1}\n\n\
             [app#2]\nstart = touch {f2}\nstop = {stop2}\ncheck = test -f {f2}\n",
            f1 = flag(1),
            f2 = flag(2),
        ),
    );
}

fn svcmgr_bin() -> String {
    target_dir().join("svcmgr").display().to_string()
}

/// ocf-tester on the agent against a new service `s1` of app resources: the environment, the
/// exit code and the report.
fn ocf_tester(stop_keeps_app2: bool) -> (Env, Option<i32>, String) {
    let env = agent_env();
    let (_dir, agent) = agent_copy();
    app_service(&env, "s1", stop_keeps_app2);
    let out = Command::new("ocf-tester")
        .args(["-n", "t1", "-o", "name=s1", "-o"])
        .arg(format!("root={}", env.root.path().display()))
        .arg("-o")
        .arg(format!("binary={}", svcmgr_bin()))
        .arg(&agent)
        .output()
        .expect("ocf-tester");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (env, out.status.code(), report)
}

#[test]
fn ocf_tester_passes_on_a_service_of_app_resources() {
    let (env, code, report) = ocf_tester(false);
    assert_eq!(code, Some(0), "{report}");
    assert!(report.contains("passed all tests"), "{report}");
    env.run("-s s1 status").code(1);
}

#[test]
fn ocf_tester_fails_when_stop_leaves_the_service_up() {
    let (_env, code, report) = ocf_tester(true);
    assert_eq!(code, Some(1), "{report}");
    assert!(report.contains("rc=1: Stop failed"), "{report}");
    assert!(
        report.contains("ocf-exit-reason:service s1 is warn after stop"),
        "{report}"
    );
}

/// Run one agent action with OCF_RESKEY_* parameters; (exit code, stderr).
fn action(agent: &Path, act: &str, params: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new(agent);
    cmd.arg(act)
        .env("OCF_ROOT", "/usr/lib/ocf")
        .env("OCF_RESOURCE_INSTANCE", "t1")
        .stdin(Stdio::null());
    for (k, v) in params {
        cmd.env(format!("OCF_RESKEY_{k}"), v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn agent_exit_codes_follow_the_ocf_standard() {
    let env = agent_env();
    let (_dir, agent) = agent_copy();
    app_service(&env, "s3", false);
    let root = env.root.path().display().to_string();
    let bin = svcmgr_bin();
    let params = |name: &'static str| vec![("name", name), ("root", &root), ("binary", &bin)];

    // A probe where the service is not configured: not running, not an error.
    assert_eq!(action(&agent, "monitor", &params("nowhere")).0, 7);
    assert_eq!(action(&agent, "stop", &params("nowhere")).0, 0);
    let (code, err) = action(&agent, "start", &params("nowhere"));
    assert_eq!(code, 5, "{err}");
    assert!(
        err.contains("ocf-exit-reason:service nowhere is not configured on this node"),
        "{err}"
    );

    assert_eq!(action(&agent, "monitor", &params("s3")).0, 7);
    let (code, err) = action(&agent, "start", &params("s3"));
    assert_eq!(code, 0, "{err}");
    // svcmgr's console lines reach the log, naming the service and resource.
    assert!(
        err.lines()
            .any(|l| l.contains("INFO: ") && l.contains(".s3.app#1") && l.contains("touch")),
        "{err}"
    );
    assert_eq!(action(&agent, "monitor", &params("s3")).0, 0);
    // Partly up (warn): a generic error, so that Pacemaker recovers it.
    std::fs::remove_file(env.path("s3.flag1")).unwrap();
    assert_eq!(action(&agent, "monitor", &params("s3")).0, 1);
    // One Pacemaker resource may own a part of the service.
    let mut part = params("s3");
    part.push(("rid", "app#2"));
    assert_eq!(action(&agent, "monitor", &part).0, 0);
    part[3] = ("rid", "app#1");
    assert_eq!(action(&agent, "monitor", &part).0, 7);
    assert_eq!(action(&agent, "stop", &params("s3")).0, 0);
    assert_eq!(action(&agent, "monitor", &params("s3")).0, 7);

    // svcmgr missing: not installed.
    let (code, err) = action(
        &agent,
        "monitor",
        &[
            ("name", "s3"),
            ("root", &root),
            ("binary", "/nonexistent/svcmgr"),
        ],
    );
    assert_eq!(code, 5);
    assert!(
        err.contains("svcmgr command '/nonexistent/svcmgr' not found"),
        "{err}"
    );
    // Bad parameters and a bad service config: not configured.
    assert_eq!(action(&agent, "validate-all", &params("")).0, 6);
    assert_eq!(action(&agent, "validate-all", &params("s3")).0, 0);
    env.write_conf("bad", "[DEFAULT]\nid = 1\n\n[app#1]\ntype = nosuchdriver\n");
    let (code, err) = action(&agent, "validate-all", &params("bad"));
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("ERROR: ") && err.contains("[app#1]"), "{err}");
    assert_eq!(action(&agent, "monitor", &params("bad")).0, 6);
    env.write_conf("broken", "[DEFAULT\n");
    let (code, err) = action(&agent, "monitor", &params("broken"));
    assert_eq!(code, 6, "{err}");

    assert_eq!(action(&agent, "usage", &[]).0, 0);
    assert_eq!(action(&agent, "promote", &params("s3")).0, 3);
}

#[test]
fn agent_on_a_node_not_in_default_nodes() {
    let env = agent_env();
    let (_dir, agent) = agent_copy();
    let root = env.root.path().display().to_string();
    let bin = svcmgr_bin();
    let params = [
        ("name", "far"),
        ("root", root.as_str()),
        ("binary", bin.as_str()),
    ];
    // app#1 up (its flag exists), app#2 down, app#3 without a driver on this node: here the
    // status would be warn, and the config broken.
    let flag = |n: u32| env.path(&format!("far.flag{n}")).display().to_string();
    std::fs::write(flag(1), "").unwrap();
    env.write_conf(
        "far",
        &format!(
            "[DEFAULT]\nid = far-id\nnodes = svcmgr-test-elsewhere1 svcmgr-test-elsewhere2\n\n\
             [app#1]\nstart = touch {f1}\nstop = rm -f {f1}\ncheck = test -f {f1}\n\n\
             [app#2]\nstart = touch {f2}\nstop = rm -f {f2}\ncheck = test -f {f2}\n",
            f1 = flag(1),
            f2 = flag(2),
        ),
    );
    // A probe is no failure: not running.
    let (code, err) = action(&agent, "monitor", &params);
    assert_eq!(code, 7, "{err}");
    // A start is refused as "not installed here", so that Pacemaker avoids the node.
    let (code, err) = action(&agent, "start", &params);
    assert_eq!(code, 5, "{err}");
    assert!(
        err.contains("ocf-exit-reason:service far may not run on this node"),
        "{err}"
    );
    assert!(!env.path("far.flag2").exists(), "nothing was started");
    // A section this node cannot serve does not make the probe a configuration error.
    let conf = env.read_conf("far") + "\n[app#3]\ntype = nosuchdriver\n";
    env.write_conf("far", &conf);
    assert_eq!(action(&agent, "monitor", &params).0, 7);
    // Up here all the same: said, so that Pacemaker stops it.
    std::fs::write(flag(2), "").unwrap();
    env.write_conf("far", &conf.replace("\n[app#3]\ntype = nosuchdriver\n", ""));
    assert_eq!(action(&agent, "monitor", &params).0, 0);
}

// ---- the cluster ----

/// Serialises cluster tests across processes (one cluster per machine: fixed port, shared
/// state folders); held for the cluster's whole life.
const LOCK: &str = "/run/svcmgr-test-pacemaker.lock";
const COROSYNC_CONF: &str = "/etc/corosync/corosync.conf";
const INSTALLED_AGENT: &str = "/usr/lib/ocf/resource.d/svcmgr/service";

/// A one-node Corosync + Pacemaker cluster on 127.0.0.1, started without systemd. Its Drop
/// stops pacemakerd (which stops the resources) then corosync, by PID, removes the CIB and
/// ring files, and puts back corosync.conf and the agent as they were, even after a failure.
struct Cluster {
    work: tempfile::TempDir,
    _lock: File,
    conf_before: Option<Vec<u8>>,
    agent_before: Option<Vec<u8>>,
    agent_dir_made: bool,
    corosync: Option<Child>,
    pacemakerd: Option<Child>,
}

impl Cluster {
    fn start() -> Cluster {
        let lock = File::create(LOCK).unwrap();
        // SAFETY: flock(2) on a descriptor we own; released when the file closes.
        assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
        if let Some(pid) = process_named("corosync") {
            panic!("a corosync this test did not start runs (pid {pid}): not touching it");
        }
        let agent_dir = Path::new(INSTALLED_AGENT).parent().unwrap();
        let mut c = Cluster {
            work: tempfile::Builder::new()
                .prefix("svcmgr-pcmk-")
                .tempdir()
                .unwrap(),
            _lock: lock,
            conf_before: std::fs::read(COROSYNC_CONF).ok(),
            agent_before: std::fs::read(INSTALLED_AGENT).ok(),
            agent_dir_made: !agent_dir.exists(),
            corosync: None,
            pacemakerd: None,
        };
        std::fs::create_dir_all(agent_dir).unwrap();
        std::fs::copy(agent_source(), INSTALLED_AGENT).unwrap();
        std::fs::set_permissions(INSTALLED_AGENT, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(COROSYNC_CONF, COROSYNC_ONE_NODE).unwrap();
        remove_state();
        c.seed_cib();
        c.corosync = Some(c.spawn("corosync", &["-f"], &[]));
        assert!(
            wait_for(30, || run_ok(&["corosync-quorumtool", "-s"])
                .is_some_and(|o| o.contains("Quorate:") && o.contains("Yes"))),
            "corosync is not quorate: {}",
            c.log("corosync.log")
        );
        let logfile = c.work.path().join("pacemaker.log");
        c.pacemakerd = Some(c.spawn(
            "pacemakerd",
            &[],
            &[("PCMK_logfile", logfile.to_str().unwrap())],
        ));
        c.expect("the node did not come online", || {
            crm_mon()
                .is_some_and(|o| o.contains("Online: [ node1 ]") && o.contains("Current DC: node1"))
        });
        c
    }

    /// An empty CIB, stonith off and a 2s DC election wait (20s by default), installed
    /// before the daemons start.
    fn seed_cib(&self) {
        let seed = self.work.path().join("cib-seed.xml");
        std::fs::write(&seed, must(&["cibadmin", "--empty"])).unwrap();
        for (name, value) in [("stonith-enabled", "false"), ("dc-deadtime", "2s")] {
            let ok = Command::new("crm_attribute")
                .args(["--type", "crm_config", "--name", name, "--update", value])
                .env("CIB_file", &seed)
                .status()
                .unwrap()
                .success();
            assert!(ok, "crm_attribute {name}");
        }
        must(&[
            "install",
            "-o",
            "hacluster",
            "-g",
            "haclient",
            "-m",
            "0600",
            seed.to_str().unwrap(),
            "/var/lib/pacemaker/cib/cib.xml",
        ]);
    }

    /// A daemon in the foreground of its own process group, its output in the work folder.
    fn spawn(&self, prog: &str, args: &[&str], env: &[(&str, &str)]) -> Child {
        let log = File::create(self.work.path().join(format!("{prog}.log"))).unwrap();
        Command::new(prog)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{prog}: {e}"))
    }

    fn log(&self, file: &str) -> String {
        let text = std::fs::read_to_string(self.work.path().join(file)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// What to show when a scenario fails: the cluster state and the end of its log.
    fn diag(&self) -> String {
        format!(
            "\n{}\n--- pacemaker.log (end) ---\n{}",
            crm_mon().unwrap_or_default(),
            self.log("pacemaker.log")
        )
    }

    /// Wait up to 60s for `cond`; fail naming `what`, with the cluster's state.
    #[track_caller]
    fn expect(&self, what: &str, cond: impl FnMut() -> bool) {
        assert!(wait_for(60, cond), "{what}{}", self.diag());
    }

    fn pacemaker_log(&self) -> String {
        std::fs::read_to_string(self.work.path().join("pacemaker.log")).unwrap_or_default()
    }
}

/// TERM, then up to 60s for the process to end, then KILL (with its process group).
fn stop_daemon(child: &mut Child) {
    let pid = child.id() as i32;
    // SAFETY: kill(2) of a process we started and have not reaped yet.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let ended = wait_for(60, || matches!(child.try_wait(), Ok(Some(_))));
    if !ended {
        // SAFETY: as above; the daemon leads its process group.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
        let _ = child.wait();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // pacemakerd first: it stops the resources and its own daemons.
        for mut child in [self.pacemakerd.take(), self.corosync.take()]
            .into_iter()
            .flatten()
        {
            stop_daemon(&mut child);
        }
        remove_state();
        match &self.conf_before {
            Some(text) => {
                let _ = std::fs::write(COROSYNC_CONF, text);
            }
            None => {
                let _ = std::fs::remove_file(COROSYNC_CONF);
            }
        }
        match &self.agent_before {
            Some(text) => {
                let _ = std::fs::write(INSTALLED_AGENT, text);
            }
            None => {
                let _ = std::fs::remove_file(INSTALLED_AGENT);
                if self.agent_dir_made {
                    let _ = std::fs::remove_dir(Path::new(INSTALLED_AGENT).parent().unwrap());
                }
            }
        }
    }
}

/// The CIB, the scheduler's inputs and corosync's ring ids: left by a run, read by the next.
fn remove_state() {
    for dir in ["/var/lib/pacemaker/cib", "/var/lib/pacemaker/pengine"] {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    for entry in std::fs::read_dir("/var/lib/corosync")
        .into_iter()
        .flatten()
        .flatten()
    {
        if entry.file_name().to_string_lossy().starts_with("ringid_") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

const COROSYNC_ONE_NODE: &str = "totem {
    version: 2
    cluster_name: svcmgrtest
    transport: knet
    crypto_cipher: none
    crypto_hash: none
}
nodelist {
    node {
        name: node1
        nodeid: 1
        ring0_addr: 127.0.0.1
    }
}
quorum {
    provider: corosync_votequorum
    expected_votes: 1
    wait_for_all: 0
}
logging {
    to_stderr: yes
    to_syslog: no
    timestamp: on
}
";

/// A process whose command name is `name`, if one runs.
fn process_named(name: &str) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
        (comm.trim() == name).then_some(pid)
    })
}

/// stdout of a command that succeeded.
fn run_ok(argv: &[&str]) -> Option<String> {
    let out = Command::new(argv[0]).args(&argv[1..]).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn crm_mon() -> Option<String> {
    run_ok(&["crm_mon", "-1"])
}

/// The `ocf:svcmgr:service` primitive of a service, monitored every 5s.
fn service_primitive(id: &str, env: &Env, name: &str) -> String {
    format!(
        r#"<primitive id="{id}" class="ocf" provider="svcmgr" type="service">
  <instance_attributes id="{id}-params">
    <nvpair id="{id}-name" name="name" value="{name}"/>
    <nvpair id="{id}-root" name="root" value="{root}"/>
    <nvpair id="{id}-binary" name="binary" value="{bin}"/>
  </instance_attributes>
  <operations>
    <op id="{id}-monitor" name="monitor" interval="5s" timeout="60s"/>
    <op id="{id}-start" name="start" interval="0" timeout="60s"/>
    <op id="{id}-stop" name="stop" interval="0" timeout="60s"/>
  </operations>
</primitive>"#,
        root = env.root.path().display(),
        bin = svcmgr_bin(),
    )
}

/// Add a primitive or group to the CIB's resources.
fn create_resource(xml: &str) {
    must(&[
        "cibadmin",
        "--create",
        "--scope",
        "resources",
        "--xml-text",
        xml,
    ]);
}

fn target_role(rsc: &str, role: &str) {
    must(&[
        "crm_resource",
        "--resource",
        rsc,
        "--meta",
        "--set-parameter",
        "target-role",
        "--parameter-value",
        role,
    ]);
}

fn fail_count(rsc: &str) -> Option<u32> {
    let out = run_ok(&[
        "crm_failcount",
        "--query",
        "--resource",
        rsc,
        "--node",
        "node1",
    ])?;
    out.split_whitespace()
        .find_map(|w| w.strip_prefix("value="))
        .and_then(|v| v.parse().ok())
}

/// Every cluster scenario, in one test so that one cluster serves them all (the cluster
/// takes seconds to form and only one may run on a machine).
#[test]
fn pacemaker_runs_svcmgr_services() {
    let env = agent_env();
    app_service(&env, "svc1", false);
    let br = Bridge::new();
    let flag = env.path("svc2.flag");
    let ip_seen = env.path("svc2.ip-at-stop");
    // svc2 comes up only if its address is already plumbed, and notes whether it still is
    // when it stops: the group's order, seen from inside the service.
    env.write_conf(
        "svc2",
        &format!(
            "[DEFAULT]\nid = svc2-id\n\n[app#1]\n\
             start = sh -c \"ip -o -4 addr show dev {br} | grep -q 'inet {ip}/' && touch {flag}\"\n\
             stop = sh -c \"ip -o -4 addr show dev {br} | grep -c 'inet {ip}/' > {seen}; rm -f {flag}\"\n\
             check = test -f {flag}\n",
            br = br.name,
            ip = br.ip,
            flag = flag.display(),
            seen = ip_seen.display(),
        ),
    );
    let up = |svc: &str| env.run(&format!("-s {svc} status")).code == 0;
    let down = |svc: &str| env.run(&format!("-s {svc} status")).code == 1;
    let cluster = Cluster::start();

    // A primitive with a 5s monitor: Pacemaker starts the service.
    create_resource(&service_primitive("svc1", &env, "svc1"));
    cluster.expect("svc1 not up", || up("svc1"));

    // target-role Stopped, then Started.
    target_role("svc1", "Stopped");
    cluster.expect("svc1 not down", || down("svc1"));
    target_role("svc1", "Started");
    cluster.expect("svc1 not up again", || up("svc1"));
    assert_eq!(fail_count("svc1").unwrap_or(0), 0);

    // A resource fails behind svcmgr's back: the monitor sees warn, Pacemaker recovers it.
    std::fs::remove_file(env.path("svc1.flag1")).unwrap();
    assert!(
        wait_for(60, || fail_count("svc1") == Some(1) && up("svc1")),
        "svc1 not recovered (fail count {:?}){}",
        fail_count("svc1"),
        cluster.diag()
    );
    let log = cluster.pacemaker_log();
    assert!(
        log.lines()
            .any(|l| l.contains(".svc1.app#1") && l.contains("touch")),
        "svcmgr's console lines are not in the cluster log{}",
        cluster.diag()
    );
    target_role("svc1", "Stopped");
    cluster.expect("svc1 not down", || down("svc1"));

    // A group: the address, then the service; stopped the other way round.
    let group = format!(
        r#"<group id="g1">
  <primitive id="g1-ip" class="ocf" provider="heartbeat" type="IPaddr2">
    <instance_attributes id="g1-ip-params">
      <nvpair id="g1-ip-ip" name="ip" value="{ip}"/>
      <nvpair id="g1-ip-mask" name="cidr_netmask" value="24"/>
      <nvpair id="g1-ip-nic" name="nic" value="{nic}"/>
    </instance_attributes>
    <operations><op id="g1-ip-monitor" name="monitor" interval="10s"/></operations>
  </primitive>
  {svc}
</group>"#,
        ip = br.ip,
        nic = br.name,
        svc = service_primitive("g1-svc", &env, "svc2"),
    );
    create_resource(&group);
    cluster.expect("svc2 not up: its start found no address?", || up("svc2"));
    assert!(
        br.has_ip(),
        "{} not on {}{}",
        br.ip,
        br.name,
        cluster.diag()
    );
    target_role("g1", "Stopped");
    cluster.expect("g1 not stopped", || down("svc2") && !br.has_ip());
    assert_eq!(
        std::fs::read_to_string(&ip_seen).unwrap().trim(),
        "1",
        "the service stops before its address"
    );
    drop(cluster);
    assert!(process_named("pacemakerd").is_none() && process_named("corosync").is_none());
}
