//! `type = ocf`: real OCF agents (heartbeat:Dummy, IPaddr2 on a bridge, Filesystem on a loop
//! device) run by svcmgr, config errors checked against the agents' meta-data, and a test
//! agent of our own for what real agents do not do on demand (hang, odd exit codes).

mod ocf_kit;

use ocf_kit::{alive, require_packages, wait_for, Bridge, LoopFs};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use svcmgr_tests::Env;

/// A test agent: up while its state file exists. `hang=<action>` makes that action hang
/// (with a child, to show the whole process group is killed); `monitor_rc=N` makes monitor
/// answer N with a reason. Every action records the environment it saw, and every
/// meta-data run is counted in `$OCF_ROOT/meta-data.runs`.
const TEST_AGENT: &str = r#"#!/bin/sh
case $1 in
meta-data)
	echo run >> "$OCF_ROOT/meta-data.runs"
	cat <<'XML'
<?xml version="1.0"?>
<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">
<resource-agent name="agent" version="1.0">
<version>1.1</version>
<longdesc lang="en">A test agent, up while its state file exists.</longdesc>
<shortdesc lang="en">Test agent</shortdesc>
<parameters>
<parameter name="state" unique="1" required="1">
<longdesc lang="en">The state file.</longdesc>
<shortdesc lang="en">State file</shortdesc>
<content type="string"/>
</parameter>
<parameter name="hang">
<longdesc lang="en">The action that hangs.</longdesc>
<shortdesc lang="en">Hanging action</shortdesc>
<content type="string" default=""/>
</parameter>
<parameter name="monitor_rc">
<longdesc lang="en">What monitor answers.</longdesc>
<shortdesc lang="en">Monitor exit code</shortdesc>
<content type="integer"/>
</parameter>
</parameters>
<actions>
<action name="start" timeout="20s"/>
<action name="stop" timeout="20s"/>
<action name="monitor" timeout="20s" interval="10s"/>
<action name="meta-data" timeout="5s"/>
</actions>
</resource-agent>
XML
	exit 0 ;;
esac
state=$OCF_RESKEY_state
env | grep '^OCF_' | sort > "$state.env.$1"
if [ "$OCF_RESKEY_hang" = "$1" ]; then
	sleep 600 &
	echo $! > "$state.child"
	wait
fi
case $1 in
start)
	echo "$(date '+%b %d %T') WARNING: starting slowly" >&2
	echo "agent output line"
	touch "$state" ;;
stop) rm -f "$state" ;;
monitor)
	if [ -n "$OCF_RESKEY_monitor_rc" ]; then
		echo "ocf-exit-reason:told to answer $OCF_RESKEY_monitor_rc" >&2
		exit "$OCF_RESKEY_monitor_rc"
	fi
	[ -f "$state" ] || exit 7 ;;
*) exit 3 ;;
esac
exit 0
"#;

/// An environment with the app and ocf drivers and the test agent under `<root>/ocf`.
fn env() -> Env {
    require_packages();
    let env = Env::new(&["app", "ocf"]);
    let dir = env.path("ocf/resource.d/test");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("agent"), TEST_AGENT).unwrap();
    std::fs::set_permissions(dir.join("agent"), std::fs::Permissions::from_mode(0o755)).unwrap();
    env
}

fn ocf_root(env: &Env) -> String {
    env.path("ocf").display().to_string()
}

fn json_status(env: &Env, svc: &str) -> Value {
    let run = env
        .run(&format!("-s {svc} print status --format json"))
        .ok();
    serde_json::from_str(&run.stdout).unwrap()
}

fn status_of(doc: &Value, rid: &str) -> String {
    doc["resources"][rid]["status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn dummy_agent_starts_stops_and_reports_status() {
    let env = env();
    let state = env.path("dummy.state");
    env.write_conf(
        "d1",
        &format!(
            "[DEFAULT]\nid = 1\n\n[app#1]\ntype = ocf\nagent = heartbeat:Dummy\nparams = state={}\n",
            state.display()
        ),
    );
    let doc = json_status(&env, "d1");
    assert_eq!(status_of(&doc, "app#1"), "down");
    assert_eq!(doc["resources"]["app#1"]["type"], "app.ocf");
    assert_eq!(
        doc["resources"]["app#1"]["label"],
        format!("ocf:heartbeat:Dummy state={}", state.display())
    );

    let run = env.run("-s d1 start").ok();
    run.line_index(&["app#1", "/usr/lib/ocf/resource.d/heartbeat/Dummy start"]);
    assert!(state.exists(), "Dummy keeps its state file");
    assert_eq!(status_of(&json_status(&env, "d1"), "app#1"), "up");
    env.run("-s d1 status").code(0);

    let run = env.run("-s d1 start").ok();
    run.line_index(&["app#1", "is already up"]);

    env.run("-s d1 stop").ok();
    assert!(!state.exists());
    env.run("-s d1 status").code(1);
}

#[test]
fn ip_fs_and_app_agents_take_their_group_order() {
    let env = env();
    let br = Bridge::new();
    let fs = LoopFs::new();
    let dummy = env.path("dummy.state");
    env.write_conf(
        "g1",
        &format!(
            "[DEFAULT]\nid = 1\n\n\
             [app#1]\ntype = ocf\nagent = heartbeat:Dummy\nparams = state={dummy}\n\n\
             [fs#1]\ntype = ocf\nagent = heartbeat:Filesystem\n\
             params = device={dev} directory={mnt} fstype=ext4\n\n\
             [ip#1]\ntype = ocf\nagent = heartbeat:IPaddr2\n\
             params = ip={ip} cidr_netmask=24 nic={nic}\n",
            dummy = dummy.display(),
            dev = fs.device,
            mnt = fs.mnt.display(),
            ip = br.ip,
            nic = br.name,
        ),
    );
    let doc = json_status(&env, "g1");
    assert_eq!(doc["resources"]["ip#1"]["type"], "ip.ocf");
    assert_eq!(doc["resources"]["fs#1"]["type"], "fs.ocf");
    assert_eq!(
        doc["resources"]["ip#1"]["label"],
        format!("ocf:heartbeat:IPaddr2 ip={}", br.ip)
    );
    assert_eq!(
        doc["resources"]["fs#1"]["label"],
        format!("ocf:heartbeat:Filesystem device={}", fs.device)
    );
    for rid in ["ip#1", "fs#1", "app#1"] {
        assert_eq!(status_of(&doc, rid), "down", "{rid}");
    }

    let run = env.run("-s g1 start").ok();
    let ip = run.line_index(&["ip#1", "IPaddr2 start"]);
    let mount = run.line_index(&["fs#1", "Filesystem start"]);
    let app = run.line_index(&["app#1", "Dummy start"]);
    assert!(ip < mount && mount < app, "start order:\n{}", run.stderr);
    assert!(
        br.has_ip(),
        "{} not on {}: {:?}",
        br.ip,
        br.name,
        br.addresses()
    );
    assert!(fs.mounted(), "{} not mounted", fs.mnt.display());
    let doc = json_status(&env, "g1");
    for rid in ["ip#1", "fs#1", "app#1"] {
        assert_eq!(status_of(&doc, rid), "up", "{rid}: {doc:#}");
    }
    assert_eq!(doc["overall"], "up");

    let run = env.run("-s g1 stop").ok();
    let app = run.line_index(&["app#1", "Dummy stop"]);
    let umount = run.line_index(&["fs#1", "Filesystem stop"]);
    let ip = run.line_index(&["ip#1", "IPaddr2 stop"]);
    assert!(app < umount && umount < ip, "stop order:\n{}", run.stderr);
    assert!(!br.has_ip(), "stop left {:?}", br.addresses());
    assert!(!fs.mounted());
    let doc = json_status(&env, "g1");
    for rid in ["ip#1", "fs#1", "app#1"] {
        assert_eq!(status_of(&doc, rid), "down", "{rid}");
    }
}

#[test]
fn config_errors_name_the_section_keyword_and_agent_parameters() {
    let env = env();
    env.write_conf(
        "bad",
        "[DEFAULT]\nid = 1\n\n\
         [app#1]\ntype = ocf\nagent = heartbeat:Dummy\nparams = state=/tmp/x bogus=1\n\n\
         [ip#1]\ntype = ocf\nagent = heartbeat:IPaddr2\nparams = nic=lo\n\n\
         [app#2]\ntype = ocf\nagent = heartbeat:NoSuchAgent\n\n\
         [app#3]\ntype = ocf\nagent = Dummy\n\n\
         [app#4]\ntype = ocf\nparams = a=1\n",
    );
    let run = env.run("-s bad validate config");
    assert_eq!(run.code, 5, "{}", run.stdout);
    let conf = env.path("etc/opensvc/bad.conf");
    let expect = [
        format!(
            "error: {}: [app#1] params: heartbeat:Dummy has no parameter 'bogus' (its parameters: state, fake)",
            conf.display()
        ),
        format!(
            "error: {}: [ip#1] params: heartbeat:IPaddr2 requires ip (its parameters: ip (required), ",
            conf.display()
        ),
        format!(
            "error: {}: [app#2] agent: heartbeat:NoSuchAgent not found: /usr/lib/ocf/resource.d/heartbeat/NoSuchAgent: No such file or directory",
            conf.display()
        ),
        format!(
            "error: {}: [app#3] agent: 'Dummy' is not provider:type (e.g. heartbeat:IPaddr2)",
            conf.display()
        ),
        format!(
            "error: {}: [app#4] agent: missing required keyword",
            conf.display()
        ),
    ];
    for line in &expect {
        assert!(
            run.stdout.lines().any(|l| l.starts_with(line.as_str())),
            "no line starting with {line:?}:\n{}",
            run.stdout
        );
    }
    // Bad input changes nothing: the start refuses before running anything.
    let run = env.run("-s bad start");
    assert_eq!(run.code, 1);
    assert!(!run.stderr.contains("Dummy start"), "{}", run.stderr);
    assert!(!std::path::Path::new("/tmp/x").exists());
}

#[test]
fn a_hanging_agent_is_killed_at_the_deadline_and_the_start_rolled_back() {
    let env = env();
    let dummy = env.path("dummy.state");
    let state = env.path("hang.state");
    env.write_conf(
        "h1",
        &format!(
            "[DEFAULT]\nid = 1\n\n\
             [ip#1]\ntype = ocf\nagent = heartbeat:Dummy\nparams = state={dummy}\n\n\
             [app#1]\ntype = ocf\nagent = test:agent\nocf_root = {root}\n\
             params = state={state} hang=start\nstart_timeout = 2s\n",
            dummy = dummy.display(),
            root = ocf_root(&env),
            state = state.display(),
        ),
    );
    let run = env.run("-s h1 start");
    assert_eq!(run.code, 1, "{}", run.stderr);
    let timeout = run.line_index(&["app#1", "start timed out after 2s"]);
    // Rollback, in stop order: the timed-out resource (killed before it made its state
    // file: nothing to stop), then what the start brought up before it.
    let stop_agent = run.line_index(&["app#1", "ocf:test:agent", "is already down"]);
    let stop_dummy = run.line_index(&["ip#1", "Dummy stop"]);
    assert!(
        timeout < stop_agent && stop_agent < stop_dummy,
        "{}",
        run.stderr
    );
    assert!(!dummy.exists(), "the rollback stops ip#1");
    // The agent's whole process group went with it.
    let child: u32 = std::fs::read_to_string(format!("{}.child", state.display()))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        wait_for(5, || !alive(child)),
        "the agent's child {child} outlived the deadline"
    );
    // What the agent was given: the instance, the deadline in ms, its parameters.
    let seen = std::fs::read_to_string(format!("{}.env.start", state.display())).unwrap();
    assert!(seen.contains("OCF_RESOURCE_INSTANCE=h1.app#1\n"), "{seen}");
    assert!(
        seen.contains(&format!("OCF_ROOT={}\n", ocf_root(&env))),
        "{seen}"
    );
    assert!(seen.contains("OCF_RESKEY_hang=start\n"), "{seen}");
    let ms: u64 = seen
        .lines()
        .find_map(|l| l.strip_prefix("OCF_RESKEY_CRM_meta_timeout="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(ms > 1000 && ms <= 2000, "CRM_meta_timeout {ms}");
    env.run("-s h1 status").code(1);
}

#[test]
fn agent_lines_keep_their_level_and_odd_monitor_codes_warn() {
    let env = env();
    let state = env.path("a.state");
    env.write_conf(
        "m1",
        &format!(
            "[DEFAULT]\nid = 1\n\n\
             [app#1]\ntype = ocf\nagent = test:agent\nocf_root = {root}\nparams = state={state}\n",
            root = ocf_root(&env),
            state = state.display(),
        ),
    );
    let run = env.run("-s m1 start").ok();
    let warn = &run
        .stderr
        .lines()
        .nth(run.line_index(&["starting slowly"]))
        .unwrap();
    assert!(warn.contains(" W "), "{warn}");
    let out = &run
        .stderr
        .lines()
        .nth(run.line_index(&["agent output line"]))
        .unwrap();
    assert!(!out.contains(" W ") && !out.contains(" E "), "{out}");

    env.run_args(&[
        "-s",
        "m1",
        "set",
        "--kw",
        &format!("app#1.params=state={} monitor_rc=6", state.display()),
    ])
    .ok();
    let doc = json_status(&env, "m1");
    assert_eq!(status_of(&doc, "app#1"), "warn", "{doc:#}");
    let log: Vec<&str> = doc["resources"]["app#1"]["log"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        log,
        [
            "warn: monitor: OCF_ERR_CONFIGURED (misconfigured)",
            "warn: told to answer 6"
        ]
    );
    env.run("-s m1 status").code(2);
}

#[test]
fn meta_data_runs_once_per_agent_file() {
    let env = env();
    let mut conf = String::from("[DEFAULT]\nid = 1\n");
    for i in 1..=5 {
        conf.push_str(&format!(
            "\n[app#{i}]\ntype = ocf\nagent = test:agent\nocf_root = {}\nparams = state={}\n",
            ocf_root(&env),
            env.path(&format!("s{i}")).display()
        ));
    }
    env.write_conf("c1", &conf);
    let runs = || {
        std::fs::read_to_string(env.path("ocf/meta-data.runs"))
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    env.run("-s c1 validate config").ok();
    assert_eq!(runs(), 1, "5 resources of one agent, one meta-data run");
    assert!(
        !env.path("var").exists(),
        "reading a config makes no var dir"
    );
    // The first print status makes the var dir (after creating the resources)…
    env.run("-s c1 print status").ok();
    // … where the next command writes the cache, which later ones read.
    env.run("-s c1 print status").ok();
    assert_eq!(runs(), 3);
    env.run("-s c1 print status").ok();
    env.run("-s c1 start").ok();
    assert_eq!(runs(), 3, "later commands read the cache in the var dir");
    assert!(env
        .path("var/lib/opensvc/c1/ocf-meta-data/test:agent.json")
        .is_file());
    // A new version of the agent file is read again.
    let agent = env.path("ocf/resource.d/test/agent");
    std::fs::write(&agent, format!("{TEST_AGENT}# v2\n")).unwrap();
    env.run("-s c1 print status").ok();
    assert_eq!(runs(), 4);
}

#[test]
fn driver_info_shows_an_agents_parameters() {
    let env = env();
    let run = env
        .run("driver info ip.ocf --kw agent=heartbeat:IPaddr2")
        .ok();
    assert!(run.stdout.starts_with(
        "ocf:heartbeat:IPaddr2 (/usr/lib/ocf/resource.d/heartbeat/IPaddr2), set with params = key=value …\n"
    ), "{}", run.stdout);
    let row = |name: &str| {
        run.stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} row:\n{}", run.stdout))
            .to_string()
    };
    assert!(row("ip").contains("(string, required)"), "{}", row("ip"));
    assert!(
        row("cidr_netmask").contains("(string)"),
        "{}",
        row("cidr_netmask")
    );

    let run = env
        .run_args(&[
            "driver",
            "info",
            "app.ocf",
            "--format",
            "json",
            "--kw",
            "agent=test:agent",
            "--kw",
            &format!("ocf_root={}", ocf_root(&env)),
        ])
        .ok();
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let names: Vec<&str> = doc["keywords"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["state", "hang", "monitor_rc"]);
    assert_eq!(doc["keywords"][0]["required"], true);
    assert_eq!(doc["keywords"][2]["type"], "int");

    let run = env
        .run("driver info ip.ocf --kw agent=heartbeat:Nope")
        .code(1);
    assert!(
        run.stderr
            .contains("agent: heartbeat:Nope not found: /usr/lib/ocf/resource.d/heartbeat/Nope"),
        "{}",
        run.stderr
    );
    let run = env.run("driver info app.forking --kw start=true").code(1);
    assert!(
        run.stderr
            .contains("driver app.forking tells nothing more for --kw"),
        "{}",
        run.stderr
    );
}
