//! Issue 11 points 9–14 through the built `svcmgr` binary: `set` operators and keyword
//! spellings, references, `--rid` globs, the clap-defined command line and the OpenSVC habits
//! it keeps (abbreviations, `--color yes|no`, `print resource status`, `print devs`,
//! `shutdown`, `startstandby`, every service without `-s`), and the error prefix.

use svcmgr_tests::{Env, Run};

/// A service of fixture resources (test-only driver: `<group>.fixture`).
fn fixture_env(conf: &str) -> Env {
    let env = Env::new(&["fixture"]);
    env.write_conf("demo", conf);
    env
}

fn set(env: &Env, exprs: &[&str]) -> Run {
    let mut args = vec!["-s", "demo", "set"];
    for e in exprs {
        args.extend(["--kw", e]);
    }
    env.run_args(&args)
}

/// `<rid> <status>` of every row of `print resource status`.
fn resource_states(env: &Env) -> Vec<(String, String)> {
    env.run("-s demo print resource status")
        .ok()
        .stdout
        .lines()
        .map(|l| {
            let (rid, status) = l.split_once(' ').expect("rid and status");
            (rid.to_string(), status.trim().to_string())
        })
        .collect()
}

#[test]
fn set_list_operators_write_what_opensvc_writes() {
    let env = fixture_env("[DEFAULT]\nid = 1\n\n[env]\n# the list\nl = a  b\n");
    let after = |expr: &str| {
        set(&env, &[expr]).ok();
        env.read_conf("demo")
    };
    assert_eq!(
        after("env.l+=c"),
        "[DEFAULT]\nid = 1\n\n[env]\n# the list\nl = a b c\n"
    );
    assert!(after("env.l-=a").ends_with("# the list\nl = b c\n"));
    assert!(after("env.l|=c d b e").ends_with("# the list\nl = b c d e\n"));
    assert!(after("env.l[0]=z").ends_with("# the list\nl = z b c d e\n"));
    assert!(after("env.l[1]+=y").ends_with("# the list\nl = z y b c d e\n"));
    assert!(after("env.l[0]|=x z").ends_with("# the list\nl = x z y b c d e\n"));
    assert!(after("env.l-=nothere").ends_with("# the list\nl = x z y b c d e\n"));
    // Several expressions compose, in one write; an absent keyword starts empty.
    set(&env, &["env.m+=1", "env.m+=2", "env.m[0]=0"]).ok();
    assert!(env
        .read_conf("demo")
        .ends_with("l = x z y b c d e\nm = 0 1 2\n"));
}

#[test]
fn a_refused_operator_writes_nothing() {
    let conf = "[DEFAULT]\nid = 1\n\n[env]\nl = a b\n";
    let env = fixture_env(conf);
    for exprs in [
        &["env.l+=c", "env.l*=c"][..],
        &["env.foo+ =c"],
        &["env.l[9]=c"],
        &["env.l[x]=c"],
        &["env.l[0]-=a"],
        &["env.l"],
    ] {
        let r = set(&env, exprs).code(1);
        assert!(
            r.stderr.contains("--kw '") && !r.stderr.contains("error: error:"),
            "{exprs:?}: {}",
            r.stderr
        );
        assert_eq!(env.read_conf("demo"), conf, "{exprs:?} wrote something");
    }
    let r = set(&env, &["env.l*=c"]).code(1);
    assert!(
        r.stderr
            .contains("--kw 'env.l*=c': invalid keyword name 'l*'"),
        "{}",
        r.stderr
    );
    let r = env.run("-s demo unset --kw env.l+").code(1);
    assert!(
        r.stderr.contains("invalid keyword name 'l+'"),
        "{}",
        r.stderr
    );
}

#[test]
fn set_replaces_a_legacy_spelling_and_validate_warns_on_two() {
    let env = Env::new(&["docker"]);
    let conf = "[DEFAULT]\nid = 1\n\n[container#1]\ntype = docker\n# the image\n\
                run_image = busybox:1\nrm = true\n";
    env.write_conf("demo", conf);
    env.run("-s demo set --kw container#1.image=busybox:2").ok();
    assert_eq!(
        env.read_conf("demo"),
        conf.replace("run_image = busybox:1", "image = busybox:2")
    );
    assert_eq!(
        env.run("-s demo get --kw container#1.run_image")
            .ok()
            .stdout,
        "busybox:2\n",
        "get reads any spelling"
    );

    env.write_conf(
        "demo",
        "[DEFAULT]\nid = 1\n\n[container#1]\ntype = docker\nrun_image = a\nimage = b\n\
         run_command = x\ncommand = y\n",
    );
    let v = env.run("-s demo validate config").code(0);
    assert!(
        v.stdout.contains(
            "warning: {}: [container#1] image: 'run_image' is set too: two spellings of \
             'image', of which only one is read"
                .replace(
                    "{}",
                    &env.path("etc/opensvc/demo.conf").display().to_string()
                )
                .as_str()
        ),
        "{}",
        v.stdout
    );
    env.run("-s demo unset --kw container#1.command").ok();
    assert!(
        !env.read_conf("demo").contains("command"),
        "unset removes every spelling: {}",
        env.read_conf("demo")
    );
}

#[test]
fn word_counts_indexed_words_and_long_durations() {
    let env = fixture_env(
        "[DEFAULT]\nid = 1\nnodes = n1 n2 n3\nlock_timeout = 2w\n\n[env]\nlist = a b c\n\n\
         [app#1]\ntype = fixture\ncomment = {#env.list} {env.list[1]} {#nodes} {nodes[-1]}\n\
         stop_timeout = 1y\n",
    );
    env.run("-s demo validate config").code(0);
    assert_eq!(
        env.run("-s demo get --eval --kw app#1.comment").ok().stdout,
        "3 b 3 n3\n"
    );
}

#[test]
fn an_env_reference_loop_is_reported() {
    let env = fixture_env("[env]\na = {env.b}\nb = x{env.a}\nc = {env.c}\n");
    let v = env.run("-s demo validate config").code(2);
    let loops: Vec<&str> = v
        .stdout
        .lines()
        .filter(|l| l.contains("reference loop"))
        .collect();
    assert_eq!(loops.len(), 2, "{}", v.stdout);
    assert!(
        loops[0].ends_with("[env] a: reference loop: env.a -> env.b -> env.a"),
        "{}",
        v.stdout
    );
    let r = env.run("-s demo start").code(1);
    assert!(r.stderr.contains("reference loop"), "{}", r.stderr);
}

#[test]
fn rid_globs_take_character_classes() {
    let env = fixture_env(
        "[fs#1]\ntype = fixture\n[fs#2]\ntype = fixture\n[fs#3]\ntype = fixture\n\
         [app#12]\ntype = fixture\n",
    );
    // The plan's steps: `  <n>. start <rid>`.
    let rows = |rid: &str| -> Vec<String> {
        env.run(&format!("-s demo start --dry-run --rid {rid}"))
            .ok()
            .stdout
            .lines()
            .filter_map(|l| l.trim().split_once(". start "))
            .map(|(_, rest)| rest.split_whitespace().next().unwrap().to_string())
            .collect()
    };
    assert_eq!(rows("fs#[12]"), ["fs#1", "fs#2"]);
    assert_eq!(rows("fs#[!1],app#?2"), ["fs#2", "fs#3", "app#12"]);
    let r = env.run("-s demo start --rid fs#[1").code(1);
    assert!(
        r.stderr.contains("--rid fs#[1: invalid pattern"),
        "{}",
        r.stderr
    );
}

#[test]
fn one_definition_gives_help_abbreviations_and_usage_errors() {
    let env = fixture_env("[app#1]\ntype = fixture\n");
    // A library that cannot load would be warned about: no warning, no driver loaded.
    std::fs::write(env.drivers.join("libnotadriver.so"), b"not an ELF").unwrap();
    let help = env.run("--help").code(0);
    for line in [
        "  shutdown ",
        "  print resource status ",
        "  start<group>, stop<group> ",
    ] {
        assert!(help.stdout.contains(line), "{line:?}: {}", help.stdout);
    }
    assert!(help.stderr.is_empty(), "{}", help.stderr);
    let version = env.run("--version").code(0);
    assert!(version.stdout.starts_with("svcmgr "), "{}", version.stdout);
    let bad = env.run("-s demo start --bogus").code(1);
    assert!(
        bad.stderr.contains("unexpected argument '--bogus'")
            && !bad.stderr.contains("libnotadriver"),
        "{}",
        bad.stderr
    );
    let r = env.run("-s demo print resource status --help").code(0);
    assert!(r.stdout.contains("--refresh"), "{}", r.stdout);

    // Abbreviations of action words and of long options.
    env.run("-s demo val conf").code(0);
    let status = env.run("-s demo print stat --rid app#1").ok();
    assert!(status.stdout.contains("app#1"), "{}", status.stdout);
    let plan = env.run("-s demo start --dry").ok();
    assert!(plan.stdout.contains("start app#1"), "{}", plan.stdout);
    let r = env.run("-s demo sto").code(1);
    assert!(
        r.stderr
            .contains("ambiguous action 'sto': stop, stopcontainer"),
        "{}",
        r.stderr
    );
    let r = env.run("-s demo print").code(1);
    assert!(r.stderr.contains("requires a subcommand"), "{}", r.stderr);
    let r = env.run("-s demo startapp --dry-run").ok();
    assert!(r.stdout.contains("start app#1"), "{}", r.stdout);
}

#[test]
fn color_synonyms_refresh_and_resource_rows() {
    let env = fixture_env("[app#1]\ntype = fixture\n\n[app#2]\ntype = fixture\n");
    env.run("-s demo start --rid app#2").ok();
    assert_eq!(
        resource_states(&env),
        [
            ("app#1".to_string(), "down".to_string()),
            ("app#2".to_string(), "up".to_string())
        ]
    );
    let plain = env.run("-s demo print status --color no -r").ok();
    assert!(!plain.stdout.contains('\x1b'), "{}", plain.stdout);
    let coloured = env.run("-s demo print status --color yes --refresh").ok();
    assert!(coloured.stdout.contains('\x1b'), "{}", coloured.stdout);
    env.run("-s demo status -r").code(2);
    let json: serde_json::Value = serde_json::from_str(
        &env.run("-s demo print resource status --format json --rid app#2")
            .ok()
            .stdout,
    )
    .unwrap();
    assert_eq!(json, serde_json::json!({"app#2": "up"}));
}

#[test]
fn print_devs_shows_what_the_drivers_report() {
    let env = fixture_env(
        "[disk#1]\ntype = fixture\nexposed_devs = /dev/vg1/lv1 /dev/vg1/lv2\n\
         sub_devs = /dev/loop7\n\n[app#1]\ntype = fixture\n",
    );
    let text = env.run("-s demo print devs").ok();
    assert_eq!(
        text.stdout,
        "disk#1  exposed  /dev/vg1/lv1\ndisk#1  exposed  /dev/vg1/lv2\ndisk#1  sub      /dev/loop7\n"
    );
    let json: serde_json::Value =
        serde_json::from_str(&env.run("-s demo print devs --format json").ok().stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "app#1": {"type": "app.fixture", "exposed": [], "sub": [], "base": []},
            "disk#1": {"type": "disk.fixture", "exposed": ["/dev/vg1/lv1", "/dev/vg1/lv2"],
                       "sub": ["/dev/loop7"], "base": []},
        })
    );
    assert_eq!(env.run("-s demo print devs --rid app#1").ok().stdout, "");
}

#[test]
fn shutdown_stops_standby_resources_startstandby_starts_only_them() {
    let env = fixture_env(
        "[app#1]\ntype = fixture\n\n[app#2]\ntype = fixture\nstandby = true\n\n\
         [app#3]\ntype = fixture\nstandby = true\n",
    );
    let states =
        |env: &Env| -> Vec<String> { resource_states(env).into_iter().map(|(_, s)| s).collect() };
    env.run("-s demo startstandby").ok();
    assert_eq!(states(&env), ["down", "stdby up", "stdby up"]);
    env.run("-s demo start").ok();
    let stop = env.run("-s demo stop").ok();
    assert!(
        stop.stderr.contains("skip 'stop' on standby resource"),
        "{}",
        stop.stderr
    );
    assert_eq!(states(&env), ["down", "stdby up", "stdby up"]);
    env.run("-s demo shutdown").ok();
    assert_eq!(states(&env), ["down", "stdby down", "stdby down"]);
    env.run("-s demo startstandby --rid app#1,app#3").ok();
    assert_eq!(states(&env), ["down", "stdby down", "stdby up"]);
    let none = env.run("-s demo startstandby --rid app#1").ok();
    assert!(
        none.stderr.contains("no standby resource to start"),
        "{}",
        none.stderr
    );
}

#[test]
fn print_status_and_ls_without_a_service_cover_the_node() {
    let env = Env::new(&["fixture"]);
    env.write_conf("alpha", "[app#1]\ntype = fixture\n");
    env.write_conf("beta", "[app#1]\ntype = fixture\n");
    assert_eq!(env.run("ls").ok().stdout, "alpha\nbeta\n");
    let all = env.run("print status").ok();
    let tops: Vec<&str> = all
        .stdout
        .lines()
        .filter(|l| !l.starts_with([' ', '`', '|']))
        .collect();
    assert!(
        tops[0].starts_with("alpha ") && tops.iter().any(|l| l.starts_with("beta ")),
        "{}",
        all.stdout
    );
    let json: serde_json::Value =
        serde_json::from_str(&env.run("print status --format json").ok().stdout).unwrap();
    let names: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(names, ["alpha", "beta"]);
    let r = env.run("start").code(1);
    assert!(r.stderr.contains("no service given"), "{}", r.stderr);
}

#[test]
fn errors_are_prefixed_once() {
    let env = fixture_env("[app#1]\ntype = fixture\n");
    let r = set(&env, &["app#1.sleep=forever"]).code(1);
    assert!(
        r.stderr.starts_with("error: ") && !r.stderr.contains("error: error:"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("[app#1] sleep:"), "{}", r.stderr);
    env.write_conf("demo", "[app#1]\ntype = fixture\nsleep = forever\n");
    let r = env.run("-s demo start").code(1);
    assert!(!r.stderr.contains("error: error:"), "{}", r.stderr);
}
