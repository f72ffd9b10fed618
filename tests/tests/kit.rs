//! The driver conformance kit, `svcmgr driver test`, through the binary: every first-party
//! driver passes it with a configuration set up here (so the test command fails when one
//! regresses), and the fixture driver's misbehaviours fail exactly the checks they break.
//!
//! Needs root; the container and ip.netns tests need `bash tests/setup/docker.sh`, the ip
//! tests `bash tests/setup/network.sh`, the storage ones `bash tests/setup/storage.sh`, the
//! ocf one `bash tests/setup/pacemaker.sh` (resource-agents). Their guards remove what the kit
//! could have left: the throwaway service's containers, the test bridge, mounts, the volume
//! group and the loop devices.

use serde_json::Value;
use std::collections::BTreeSet;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use svcmgr_tests::{
    attach_loop, need_images, quietly, remove_service_containers, service_containers, Env, Run,
};

const IMAGE: &str = "svcmgr-test/busybox:1";

/// `svcmgr driver test <args>` in `env`, run from its root (relative paths land there).
fn kit(env: &Env, args: &[&str]) -> Run {
    let mut cmd = env.cmd(["driver", "test"].iter().chain(args));
    Run::from(
        cmd.current_dir(env.root.path())
            .output()
            .expect("run svcmgr"),
    )
}

/// The kit's JSON report.
fn report(env: &Env, args: &[&str]) -> (Run, Value) {
    let mut args = args.to_vec();
    args.extend(["--format", "json"]);
    let run = kit(env, &args);
    let doc = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}):\n{}\n{}", run.stdout, run.stderr));
    (run, doc)
}

/// The ids of the checks with this result.
fn with_result(doc: &Value, result: &str) -> BTreeSet<String> {
    doc["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["result"] == result)
        .map(|c| c["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn detail<'a>(doc: &'a Value, id: &str) -> &'a str {
    doc["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == id))
        .and_then(|c| c["detail"].as_str())
        .unwrap_or_else(|| panic!("no check {id} in {doc:#}"))
}

/// The kit passes: exit 0, no failure, and these checks at least passed.
#[track_caller]
fn passes(env: &Env, args: &[&str], must_pass: &[&str]) -> Value {
    let (run, doc) = report(env, args);
    assert_passed(&run, &doc, must_pass);
    doc
}

#[track_caller]
fn assert_passed(run: &Run, doc: &Value, must_pass: &[&str]) {
    assert_eq!(
        with_result(doc, "fail"),
        BTreeSet::new(),
        "{doc:#}\n{}",
        run.stderr
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let passed = with_result(doc, "ok");
    for id in must_pass {
        assert!(passed.contains(*id), "{id} did not pass: {doc:#}");
    }
}

/// The kit passes and leaves no container of its throwaway service behind (removed anyway).
#[track_caller]
fn passes_leaving_no_container(env: &Env, args: &[&str], must_pass: &[&str]) -> Value {
    let (run, doc) = report(env, args);
    let left = Leftovers(doc["service"].as_str().unwrap().to_string());
    assert_passed(&run, &doc, must_pass);
    assert_eq!(
        service_containers(&left.0, true),
        Vec::<String>::new(),
        "containers left behind"
    );
    doc
}

/// The kit fails exactly `failing`, and exits 1 after a complete report.
#[track_caller]
fn fails_exactly(env: &Env, args: &[&str], failing: &[&str]) -> Value {
    let (run, doc) = report(env, args);
    let expected: BTreeSet<String> = failing.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        with_result(&doc, "fail"),
        expected,
        "{doc:#}\n{}",
        run.stderr
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(doc["checks"].as_array().unwrap().len(), 16, "{doc:#}");
    doc
}

// --- app ---------------------------------------------------------------------------------

/// An app.forking resource whose state is a flag file in the kit's working directory.
const FLAG_APP: [&str; 7] = [
    "app.forking",
    "--kw",
    "start=touch F",
    "--kw",
    "stop=rm -f F",
    "--kw",
    "check=test -f F",
];

#[test]
fn app_forking_passes_and_prints_one_line_per_check() {
    let env = Env::new(&["app"]);
    let run = kit(&env, &FLAG_APP).ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines[0].starts_with("driver test app.forking "),
        "{}",
        run.stdout
    );
    assert!(
        lines[0].ends_with(": app#1 of throwaway service kit-")
            || lines[0].contains(": app#1 of throwaway service kit-")
    );
    assert_eq!(lines.len(), 18, "{}", run.stdout);
    for line in &lines[1..17] {
        assert!(
            ["ok ", "FAIL ", "skip "]
                .iter()
                .any(|w| line.starts_with(w)),
            "{line}"
        );
    }
    assert!(
        lines.iter().any(|l| l.starts_with("ok    lifecycle ")
            && l.contains("start (already up)")
            && l.contains("stop (already down)")),
        "{}",
        run.stdout
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("skip  manifest.candidates ")
                && l.ends_with("no keyword declares candidates")),
        "{}",
        run.stdout
    );
    assert_eq!(lines[17], "13 passed, 0 failed, 3 skipped");
    assert!(!env.path("F").exists(), "the kit left its flag file up");
}

#[test]
fn app_forking_passes_every_check_given_slow_and_bad_values() {
    let env = Env::new(&["app"]);
    let args = [
        &FLAG_APP[..],
        &[
            "--slow-kw",
            "start=sleep 10",
            "--slow-kw",
            "stop=sleep 10",
            "--bad-kw",
            "user=no-such-user-kit",
            "--bad-kw",
            "environment=NOEQUALS",
        ],
    ]
    .concat();
    passes(
        &env,
        &args,
        &[
            "lifecycle",
            "status.read-only",
            "provision",
            "deadline.start",
            "deadline.stop",
            "errors.bad-value",
            "call.unknown-verb",
            "call.malformed",
            "status.log",
        ],
    );
}

#[test]
fn app_forking_with_a_stop_that_does_not_stop_fails_the_lifecycle() {
    let env = Env::new(&["app"]);
    let with_stop = |stop: &'static str| {
        [
            "app.forking",
            "--kw",
            "start=touch F",
            "--kw",
            stop,
            "--kw",
            "check=test -f F",
        ]
    };
    // `stop = true` alone asks for the app's script (OpenSVC's meaning, issue 11), which
    // there is none of: a config error naming the keyword, before anything runs.
    let doc = fails_exactly(&env, &with_stop("stop=true"), &["create"]);
    assert!(
        detail(&doc, "create").contains("[app#1] stop: 'true' runs the script"),
        "{doc:#}"
    );
    assert!(!env.path("F").exists());
    // The true command: a stop that does not stop.
    let args = with_stop("stop=/bin/true");
    let doc = fails_exactly(&env, &args, &["lifecycle"]);
    assert!(
        detail(&doc, "lifecycle").ends_with("stop: status is up, expected down"),
        "{doc:#}"
    );
    // The kit left its flag up (said by a warning): a second run finds the resource up,
    // and refuses to touch what it did not bring up itself.
    let again = fails_exactly(&env, &args, &["create"]);
    assert!(detail(&again, "create").contains("app#1 is up before the kit started it"));
    assert!(env.path("F").exists());
    std::fs::remove_file(env.path("F")).unwrap();
    let text = kit(&env, &args).code(1);
    assert!(
        text.stdout.contains("\nFAIL  lifecycle "),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.ends_with("11 passed, 1 failed, 4 skipped\n"),
        "{}",
        text.stdout
    );
    assert!(
        text.stderr
            .contains("warning: app#1 is still up after the kit's last unprovision"),
        "{}",
        text.stderr
    );
}

#[test]
fn a_resource_from_a_json_config_on_stdin() {
    let env = Env::new(&["app"]);
    let flag = env.path("flag");
    let flag = flag.display();
    let conf = format!(
        r#"{{"app#2": {{"type": "forking", "start": "touch {flag}", "stop": "rm -f {flag}",
            "check": "test -f {flag}"}}}}"#
    );
    let run = env.run_stdin("driver test app.forking --config - --format json", &conf);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"));
    assert_passed(&run, &doc, &["lifecycle", "provision"]);
    assert_eq!(doc["rid"], "app#2");
}

#[test]
fn app_simple_passes() {
    let env = Env::new(&["app"]);
    passes(
        &env,
        &[
            "app.simple",
            "--kw",
            "start=sleep 60",
            "--bad-kw",
            "user=no-such-user-kit",
        ],
        &[
            "lifecycle",
            "status.read-only",
            "provision",
            "errors.bad-value",
        ],
    );
}

#[test]
fn usage_errors_name_the_option() {
    let env = Env::new(&["app"]);
    let cases: [(&[&str], &str); 4] = [
        (&["app.nosuch"], "unknown driver app.nosuch"),
        (
            &["app.forking", "--bad-kw", "size=1"],
            "--bad-kw size: driver app.forking has no keyword 'size'",
        ),
        (
            &["app.forking", "--kw", "start"],
            "--kw 'start': expected keyword=value",
        ),
        (
            &["app.forking", "--rid", "fs#1"],
            "--rid fs#1: driver app.forking serves [app#N]",
        ),
    ];
    for (args, error) in cases {
        let run = kit(&env, args).code(1);
        assert!(run.stderr.contains(error), "{args:?}: {}", run.stderr);
    }
}

// --- the fixture's misbehaviours -----------------------------------------------------------

/// The fixture with slow variants and a bad value, plus `extra` keywords.
fn fixture(extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "app.fixture",
        "--slow-kw",
        "sleep=3s",
        "--slow-kw",
        "stop_sleep=3s",
        "--bad-kw",
        "size=-1",
    ]
    .map(String::from)
    .to_vec();
    for kw in extra {
        args.extend(["--kw".to_string(), kw.to_string()]);
    }
    args
}

fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// The fixture, misbehaving as the keyword `kw` tells it, fails exactly `failing`.
#[track_caller]
fn fixture_fails(kw: &str, failing: &[&str]) -> Value {
    let env = Env::new(&["fixture"]);
    fails_exactly(&env, &refs(&fixture(&[kw])), failing)
}

/// The checks that fail when a start or a status call breaks: each starts the resource and
/// reads its status.
const START_AND_STATUS: [&str; 4] = [
    "lifecycle",
    "status.read-only",
    "deadline.start",
    "deadline.stop",
];

#[test]
fn the_well_behaved_fixture_passes() {
    let env = Env::new(&["fixture"]);
    let doc = passes(
        &env,
        &refs(&fixture(&[])),
        &[
            "lifecycle",
            "status.read-only",
            "deadline.start",
            "deadline.stop",
            "errors.bad-value",
            "call.malformed",
        ],
    );
    assert!(detail(&doc, "call.malformed").starts_with("name, kit-no-such-verb answered"));
}

#[test]
fn a_stop_that_does_not_stop_fails_the_lifecycle_only() {
    let doc = fixture_fails("misbehave=stop-noop", &["lifecycle"]);
    // What needs the resource down first cannot run, and says why.
    assert!(detail(&doc, "deadline.start").contains("still up after a stop"));
}

#[test]
fn a_start_that_ignores_its_deadline_fails_the_deadline_check() {
    let doc = fixture_fails("misbehave=start-ignores-deadline", &["deadline.start"]);
    assert!(
        detail(&doc, "deadline.start").contains("had not answered 1s after its 1.0s deadline"),
        "{doc:#}"
    );
}

#[test]
fn a_status_that_changes_something_fails_the_read_only_check() {
    let doc = fixture_fails("misbehave=status-writes", &["status.read-only"]);
    assert!(
        detail(&doc, "status.read-only").contains("a status call changed ~"),
        "{doc:#}"
    );
    assert!(detail(&doc, "status.read-only").ends_with("app#1.status-count"));
}

#[test]
fn an_empty_label_fails_the_label_check() {
    fixture_fails("misbehave=no-label", &["label"]);
}

#[test]
fn a_keyword_without_help_fails_the_manifest_check() {
    let env = Env::new(&["fixture"]);
    let doc = fails_exactly(&env, &["app.nohelp"], &["manifest.help"]);
    assert_eq!(
        detail(&doc, "manifest.help"),
        "keyword 'undocumented' has no help text"
    );
}

#[test]
fn a_bad_value_that_panics_fails_the_errors_check() {
    let doc = fixture_fails("misbehave=size-panics", &["errors.bad-value"]);
    assert_eq!(
        detail(&doc, "errors.bad-value"),
        "size=-1: resource creation panicked: negative size"
    );
}

#[test]
fn a_panic_in_call_fails_the_call_checks() {
    let doc = fixture_fails("panic=call", &["call.unknown-verb", "call.malformed"]);
    assert!(detail(&doc, "call.malformed")
        .contains("'name' given an unexpected payload: name panicked"));
}

#[test]
fn a_panic_in_status_is_reported_and_the_kit_ends_normally() {
    let doc = fixture_fails("panic=status", &START_AND_STATUS);
    assert_eq!(
        detail(&doc, "status.read-only"),
        "status failed: status panicked: fixture app#1 told to panic on status"
    );
    assert_eq!(doc["passed"], 8);
}

#[test]
fn a_driver_that_aborts_the_process_is_reported_check_by_check() {
    let doc = fixture_fails("abort=start", &START_AND_STATUS);
    assert_eq!(
        detail(&doc, "lifecycle"),
        "the test process died in a start call: it was killed by signal 6 (SIGABRT)"
    );
    // The checks after each death ran in a new process.
    assert_eq!(with_result(&doc, "ok").len(), 9, "{doc:#}");
}

// --- docker ------------------------------------------------------------------------------

/// The containers of a throwaway service, removed on drop.
struct Leftovers(String);

impl Drop for Leftovers {
    fn drop(&mut self) {
        remove_service_containers(&self.0);
    }
}

#[test]
fn docker_passes_and_leaves_no_container() {
    need_images(&[IMAGE]);
    let env = Env::new(&["docker"]);
    let image = format!("image={IMAGE}");
    // The image's own command ends on TERM: each stop is immediate, not a 10 s grace
    // (`sleep` as PID 1 ignores TERM) ending in a kill; the same checks pass either way.
    passes_leaving_no_container(
        &env,
        &["container.docker", "--kw", &image],
        &[
            "lifecycle",
            "provision",
            "status.read-only",
            "call.malformed",
        ],
    );
}

// --- ip ------------------------------------------------------------------------------------

/// A bridge holding `198.19.X.1/24`, X unique to the test (198.18.X is the ip tests'),
/// removed on drop.
struct Bridge {
    name: String,
    range: String,
}

impl Bridge {
    fn new() -> Bridge {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let (pid, n) = (std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst));
        let b = Bridge {
            name: format!("skb{pid}{n}"),
            range: format!("198.19.{}", (pid * 7 + n) % 254 + 1),
        };
        let addr = format!("{}.1/24", b.range);
        for args in [
            vec!["link", "add", &b.name, "type", "bridge"],
            vec!["addr", "add", &addr, "dev", &b.name],
            vec!["link", "set", &b.name, "up"],
        ] {
            let out = Command::new("ip").args(&args).output().expect("ip");
            assert!(out.status.success(), "ip {args:?}: {out:?}");
        }
        b
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.name])
            .output();
    }
}

#[test]
fn ip_host_passes() {
    let br = Bridge::new();
    let env = Env::new(&["ip"]);
    let (ipdev, ipname) = (
        format!("ipdev={}", br.name),
        format!("ipname={}.10", br.range),
    );
    let doc = passes(
        &env,
        &[
            "ip.host",
            "--kw",
            &ipdev,
            "--kw",
            &ipname,
            "--kw",
            "netmask=24",
            "--bad-kw",
            "netmask=33",
        ],
        &["lifecycle", "status.read-only", "errors.bad-value"],
    );
    assert!(detail(&doc, "errors.bad-value").starts_with("netmask=33 refused (netmask: "));
    let addrs = Command::new("ip")
        .args(["-o", "addr", "show", "dev", &br.name])
        .output()
        .unwrap();
    let addrs = String::from_utf8_lossy(&addrs.stdout);
    assert!(
        !addrs.contains(&format!("{}.10/", br.range)),
        "left plumbed: {addrs}"
    );
}

#[test]
fn ip_netns_passes_from_a_config_with_its_container() {
    need_images(&[IMAGE]);
    let br = Bridge::new();
    let env = Env::new(&["ip", "docker"]);
    let conf = env.path("netns.conf");
    std::fs::write(
        &conf,
        format!(
            "[container#1]\ntype = docker\nimage = {IMAGE}\n\n\
             [ip#1]\ntype = netns\nnetns = container#1\nipdev = {}\nipname = {}.20\nnetmask = 24\n",
            br.name, br.range
        ),
    )
    .unwrap();
    let conf = conf.to_str().unwrap();
    let doc = passes_leaving_no_container(
        &env,
        &["ip.netns", "--config", conf, "--bad-kw", "mode=ovs"],
        &[
            "lifecycle",
            "status.read-only",
            "deadline.start",
            "errors.bad-value",
        ],
    );
    assert_eq!(doc["rid"], "ip#1");
    assert_eq!(
        detail(&doc, "create"),
        "ip#1 built from its keywords, with container#1 it is linked to"
    );
}

// --- storage -------------------------------------------------------------------------------

/// Loop devices on sparse images in the test's root, and what the kit could leave on them
/// (mounts under the root, a volume group), removed on drop.
struct Storage {
    env: Env,
    loops: Vec<String>,
    vg: Option<String>,
}

impl Storage {
    fn new(libs: &[&str]) -> Storage {
        Storage {
            env: Env::new(libs),
            loops: Vec::new(),
            vg: None,
        }
    }

    /// A loop device on a blank sparse image of `mb` MiB.
    fn loop_dev(&mut self, name: &str, mb: u64) -> String {
        let dev = attach_loop(&self.env.path(&format!("{name}.img")), mb);
        self.loops.push(dev.clone());
        dev
    }

    /// A folder of the root, as `key=<path>`.
    fn dir(&self, key: &str, name: &str) -> String {
        let dir = self.env.path(name);
        std::fs::create_dir_all(&dir).unwrap();
        format!("{key}={}", dir.display())
    }

    /// The mounts under the root.
    fn mounts(&self) -> Vec<String> {
        let root = self.env.root.path().to_string_lossy().into_owned();
        let table = std::fs::read_to_string("/proc/self/mounts").unwrap();
        table
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|m| m.starts_with(&root))
            .map(String::from)
            .collect()
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        for m in self.mounts().iter().rev() {
            quietly(&["umount", "-l", m]);
        }
        if let Some(vg) = &self.vg {
            quietly(&["vgremove", "-ff", vg]);
        }
        for dev in &self.loops {
            quietly(&["pvremove", "-qq", "-y", dev]);
            quietly(&["losetup", "-d", dev]);
        }
    }
}

#[test]
fn filesystems_pass_on_loop_devices() {
    let mut st = Storage::new(&["fs"]);
    // Each kind on a blank device: the kit provisions it (mkfs) before the other checks.
    for (kind, mb) in [("ext2", 64), ("ext3", 64), ("ext4", 64), ("xfs", 300)] {
        let dev = format!("dev={}", st.loop_dev(kind, mb));
        let mnt = st.dir("mnt", &format!("mnt-{kind}"));
        let id = format!("fs.{kind}");
        let doc = passes(
            &st.env,
            &[
                &id,
                "--kw",
                &dev,
                "--kw",
                &mnt,
                "--bad-kw",
                "mnt=relative/path",
            ],
            &[
                "create",
                "lifecycle",
                "status.read-only",
                "provision",
                "errors.bad-value",
            ],
        );
        assert!(detail(&doc, "create").ends_with(", provisioned"), "{doc:#}");
        assert_eq!(st.mounts(), Vec::<String>::new(), "{id} left mounted");
    }
    let (src, mnt) = (st.dir("dev", "bind-src"), st.dir("mnt", "bind-mnt"));
    passes(
        &st.env,
        &["fs.bind", "--kw", &src, "--kw", &mnt],
        &["lifecycle"],
    );
    let mnt = st.dir("mnt", "tmpfs-mnt");
    passes(
        &st.env,
        &["fs.tmpfs", "--kw", &mnt],
        &["lifecycle", "status.read-only"],
    );
    assert_eq!(st.mounts(), Vec::<String>::new());
}

#[test]
fn a_volume_group_passes_on_a_loop_device() {
    let mut st = Storage::new(&["disk"]);
    let pvs = format!("pvs={}", st.loop_dev("pv", 64));
    let vg = format!("kitvg{}", std::process::id());
    st.vg = Some(vg.clone());
    let name = format!("name={vg}");
    let doc = passes(
        &st.env,
        &["disk.vg", "--kw", &name, "--kw", &pvs],
        &["create", "lifecycle", "status.read-only", "provision"],
    );
    assert!(detail(&doc, "create").ends_with(", provisioned"), "{doc:#}");
    let vgs = Command::new("vgs").arg(&vg).output().unwrap();
    assert!(!vgs.status.success(), "the kit left {vg} behind");
}

// --- ocf -----------------------------------------------------------------------------------

#[test]
fn an_ocf_agent_passes() {
    let env = Env::new(&["ocf"]);
    let params = format!("params=state={}", env.path("dummy.state").display());
    let doc = passes(
        &env,
        &[
            "app.ocf",
            "--kw",
            "agent=heartbeat:Dummy",
            "--kw",
            &params,
            "--bad-kw",
            "agent=heartbeat:NoSuchAgent",
        ],
        &["lifecycle", "status.read-only", "errors.bad-value"],
    );
    assert!(
        detail(&doc, "errors.bad-value")
            .starts_with("agent=heartbeat:NoSuchAgent refused (agent: "),
        "{doc:#}"
    );
    assert!(!env.path("dummy.state").exists());
}
