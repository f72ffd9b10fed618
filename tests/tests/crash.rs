//! The crash test of issue 14: `kill -9` at random points of the `start` of 20 `app.simple`
//! resources, 50 times. After each, no resource runs twice, a full `start` brings each up
//! exactly once, and `stop` leaves no process of the service running.
//!
//! Five apps start one after another, fifteen in a parallel subset, so that the kill lands
//! in serial steps as well as in concurrent spawns. The random points come from a seed
//! printed by the test (`CRASH_SEED=<n>` replays a run).

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use svcmgr_tests::Env;

const APPS: usize = 20;
const SERIAL: usize = 5;
const ROUNDS: usize = 50;

/// The processes of service `svc` that run an app (not a fork of svcmgr before its exec):
/// their count by rid. Found by the environment every command of a resource gets.
fn app_processes(svc: &str) -> BTreeMap<String, Vec<i32>> {
    let name = format!("OPENSVC_SVCNAME={svc}");
    let mut found: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        let vars: Vec<&[u8]> = environ.split(|b| *b == 0).collect();
        if !vars.contains(&name.as_bytes()) {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z'))
        });
        let program = cmdline.split(|b| *b == 0).next().unwrap_or_default();
        if !program.ends_with(b"sleep") || zombie {
            continue;
        }
        let rid = vars
            .iter()
            .find_map(|v| v.strip_prefix(b"OPENSVC_RID="))
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .unwrap_or_default();
        found.entry(rid).or_default().push(pid);
    }
    found
}

/// Stops the service, then kills what is left of it, when the test ends.
struct Cleanup<'a> {
    env: &'a Env,
    svc: &'a str,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = self
            .env
            .cmd(["-s", self.svc, "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        for pid in app_processes(self.svc).values().flatten() {
            // SAFETY: kill(2) on a process of this test's own service.
            unsafe { libc::kill(*pid, libc::SIGKILL) };
        }
    }
}

/// A small deterministic generator (xorshift), so that a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

#[test]
fn kill_9_during_start_never_leaves_an_app_untracked_or_doubled() {
    let env = Env::new(&["app"]);
    let svc = format!("crash{}", std::process::id());
    let mut conf = String::from("[DEFAULT]\n[subset#app:p]\nparallel = true\n");
    for i in 1..=APPS {
        let subset = if i > SERIAL { "subset = p\n" } else { "" };
        conf += &format!("[app#{i}]\ntype = simple\nstart = sleep 3600\n{subset}");
    }
    env.write_conf(&svc, &conf);
    let _cleanup = Cleanup {
        env: &env,
        svc: &svc,
    };
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    println!("CRASH_SEED={seed}");
    let mut rng = Rng(seed);

    let full_start = || {
        let began = Instant::now();
        let run = env.run(&format!("-s {svc} start"));
        assert_eq!(run.code, 0, "a start after a crash failed:\n{}", run.stderr);
        let running = app_processes(&svc);
        assert_eq!(running.len(), APPS, "not every app runs: {running:?}");
        assert!(
            running.values().all(|p| p.len() == 1),
            "an app runs twice: {running:?}"
        );
        began.elapsed()
    };
    let stop = || {
        let run = env.run(&format!("-s {svc} stop"));
        assert_eq!(run.code, 0, "{}", run.stderr);
        let left = app_processes(&svc);
        assert!(left.is_empty(), "stop left processes running: {left:?}");
    };
    // How long a whole start takes here: the kills land anywhere in it.
    let span = full_start();
    stop();
    let span_us = (span.as_micros() as u64 * 6 / 5).max(1);

    for round in 0..ROUNDS {
        let mut child = env
            .cmd(["-s", &svc, "start"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng.below(span_us)));
        let _ = child.kill();
        let _ = child.wait();
        let running = app_processes(&svc);
        assert!(
            running.values().all(|p| p.len() == 1),
            "round {round}: an app runs twice after the kill: {running:?}"
        );
        full_start();
        stop();
    }
}
