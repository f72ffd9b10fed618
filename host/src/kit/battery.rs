//! The battery: every check, in order, against one resource of the throwaway service. It runs
//! in a process of its own that the supervisor started (`supervise.rs`), and tells it each
//! check's beginning and verdict on stdout, so that a driver that kills the process still
//! gets a report.

use super::checks::{self, Reception, Refused, Snapshot, DEADLINE_GRACE};
use super::probe::{secs, Answer, Probe, Reply, Verb};
use super::report::{emit, fail, ok, skip, CheckResult, Outcome, Record, Verdict};
use super::setup;
use crate::config::ServiceConfig;
use crate::drivers::handle::Handle;
use crate::drivers::{DriverEntry, Registry};
use crate::exec;
use crate::paths::Paths;
use crate::plan::{self, Verb as PlanVerb};
use crate::service::{Resource, Service};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use svcmgr_plugin_api::types::{CallArgs, KwType, Status};

/// Every check, in the order they run.
pub const CHECKS: &[&str] = &[
    "manifest.id",
    "manifest.help",
    "manifest.defaults",
    "manifest.aliases",
    "manifest.candidates",
    "create",
    "label",
    "lifecycle",
    "status.read-only",
    "deadline.start",
    "deadline.stop",
    "provision",
    "errors.bad-value",
    "call.unknown-verb",
    "call.malformed",
    "status.log",
];

/// The checks the supervisor judges itself, over every battery process.
pub const SUPERVISED: &[&str] = &["status.log"];

/// The deadline the deadline checks give a slow start or stop.
pub const DEADLINE: Duration = Duration::from_secs(1);
/// How long the kit waits for a call given no deadline (the host would wait forever).
const PATIENCE: Duration = Duration::from_secs(300);
/// How long it waits for a `call` verb, which should answer at once.
const CALL_PATIENCE: Duration = Duration::from_secs(10);
/// How long it waits for a call that outlived its deadline to end, before going on.
const STRAGGLER_PATIENCE: Duration = Duration::from_secs(60);
/// A verb no driver declares.
const UNKNOWN_VERB: &str = "kit-no-such-verb";

/// What the supervisor hands a battery process (in the environment, as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// The throwaway root (`SVCMGR_ROOT` of the service).
    pub root: PathBuf,
    pub service: String,
    pub rid: String,
    /// The index in [`CHECKS`] to start at (after 0, a previous process died).
    pub from: usize,
    /// Bring the resource down first: a previous process died after creating it.
    pub recover: bool,
}

pub const JOB_ENV: &str = "SVCMGR_KIT_JOB";

/// Why the resource could not be brought down.
enum Unreached {
    /// Its status failed.
    Status(String),
    /// It stayed up, or the stop failed.
    State(String),
}

/// The variant of the resource a call goes to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Which {
    Normal,
    /// Built with `--slow-kw` on top (the normal one when none is given).
    Slow,
}

struct Bench<'a> {
    reg: &'a Registry,
    entry: &'a DriverEntry,
    paths: Paths,
    cfg: ServiceConfig,
    rid: String,
    slow_kw: &'a [(String, String)],
    bad_kw: &'a [(String, String)],
    probe: Probe,
    svc: Option<Service>,
    slow: Option<Service>,
    /// Why there is no resource to test, once creation failed.
    not_created: Option<String>,
    /// What the resource is linked to, provisioned by the kit.
    deps: BTreeSet<String>,
    /// Why the slow variant (`--slow-kw`) could not be created.
    slow_problem: Option<String>,
}

/// Run the job's checks; the process's exit code.
pub fn run(
    reg: &Registry,
    entry: &DriverEntry,
    paths: &Paths,
    job: &Job,
    slow_kw: &[(String, String)],
    bad_kw: &[(String, String)],
) -> anyhow::Result<i32> {
    let paths = Paths {
        root: job.root.clone(),
        ..paths.clone()
    };
    let cfg = ServiceConfig::load(&job.service, &paths.conf(&job.service))?;
    let mut bench = Bench {
        reg,
        entry,
        paths,
        cfg,
        rid: job.rid.clone(),
        slow_kw,
        bad_kw,
        probe: Probe::install(),
        svc: None,
        slow: None,
        not_created: None,
        deps: BTreeSet::new(),
        slow_problem: None,
    };
    let create_at = CHECKS.iter().position(|c| *c == "create").unwrap_or(0);
    if job.from > create_at && bench.build().is_ok() && job.recover {
        // A previous battery process died after the kit acted: bring down what it left up.
        bench.bring_down_blindly();
    }
    let own = CHECKS[job.from.min(CHECKS.len())..]
        .iter()
        .filter(|c| !SUPERVISED.contains(c));
    for id in own {
        emit(&Record::Begin { id: id.to_string() });
        let (verdict, detail) = bench.check(id);
        emit(&Record::Check(CheckResult::new(id, verdict, detail)));
    }
    for message in bench.clean_up() {
        emit(&Record::Warning { message });
    }
    emit(&Record::Done);
    Ok(0)
}

impl Bench<'_> {
    fn check(&mut self, id: &str) -> Outcome {
        let entry = self.entry;
        let m = &entry.manifest;
        match id {
            "manifest.id" => {
                let all: Vec<_> = self.reg.entries().map(|d| &d.manifest).collect();
                checks::manifest_id(m, &all)
            }
            "manifest.help" => checks::manifest_help(m),
            "manifest.defaults" => checks::manifest_defaults(m),
            "manifest.aliases" => checks::manifest_aliases(m),
            "manifest.candidates" => checks::manifest_candidates(m),
            "create" => self.create(),
            "errors.bad-value" => self.bad_values(),
            _ => match &self.not_created {
                Some(why) => skip(format!("no resource to test: {why}")),
                None => match id {
                    "label" => checks::label(&self.resource().label, &self.rid),
                    "status.read-only" => self.read_only(),
                    "lifecycle" => self.cycle(Verb::Start, Verb::Stop),
                    "provision" => self.provision(),
                    "deadline.start" => self.deadline(Verb::Start),
                    "deadline.stop" => self.deadline(Verb::Stop),
                    "call.unknown-verb" => self.unknown_verb(),
                    "call.malformed" => self.malformed(),
                    other => fail(format!("no such check '{other}'")),
                },
            },
        }
    }

    fn service(&self, which: Which) -> &Service {
        let normal = self
            .svc
            .as_ref()
            .expect("checks run once the resource is created");
        match which {
            Which::Slow => self.slow.as_ref().unwrap_or(normal),
            Which::Normal => normal,
        }
    }

    fn resource(&self) -> &Resource {
        self.under_test(Which::Normal)
    }

    fn handle(&self) -> Arc<Handle> {
        self.resource()
            .driver
            .clone()
            .expect("created resources have a driver object")
    }

    /// Build the service with the host's own path (config, resolution, the driver's
    /// factory), and provision what the resource is linked to. Ok(what was built).
    fn build(&mut self) -> Result<String, String> {
        let svc = Service::from_config(&self.paths, self.cfg.clone(), self.reg);
        let errors: Vec<String> = svc.errors().map(|d| d.render(&svc.cfg.path)).collect();
        let created = svc.resource(&self.rid).is_some_and(|r| r.driver.is_ok());
        self.svc = Some(svc);
        if !created || !errors.is_empty() {
            self.not_created = Some("it could not be created".into());
            return Err(match errors.is_empty() {
                true => format!("{} was not created", self.rid),
                false => errors.join("; "),
            });
        }
        if !self.slow_kw.is_empty() {
            match setup::variant(&self.cfg, &self.rid, self.slow_kw) {
                Ok(cfg) => {
                    let slow = Service::from_config(&self.paths, cfg, self.reg);
                    let errors: Vec<String> = slow.errors().map(|d| d.message.clone()).collect();
                    match errors.is_empty() {
                        true => self.slow = Some(slow),
                        false => self.slow_problem = Some(errors.join("; ")),
                    }
                }
                Err(e) => self.slow_problem = Some(e.to_string()),
            }
        }
        let mut built = format!("{} built from its keywords", self.rid);
        self.deps = self.linked_to();
        if !self.deps.is_empty() {
            let deps: Vec<String> = self.deps.iter().cloned().collect();
            let outcome = self.act_on(PlanVerb::Provision, &self.deps);
            if !outcome.failed.is_empty() {
                self.not_created = Some("what it is linked to could not be provisioned".into());
                return Err(format!(
                    "provisioning {} (which {} is linked to) failed",
                    outcome.failed.join(", "),
                    self.rid
                ));
            }
            built += &format!(", with {} it is linked to", deps.join(", "));
        }
        Ok(built)
    }

    /// Build, make sure the resource is not up already (the kit acts only on what it brings
    /// up itself), and provision it when the driver provisions, as `create --provision`
    /// would: the other checks start from a provisioned resource.
    fn create(&mut self) -> Outcome {
        let mut built = match self.build() {
            Ok(built) => built,
            Err(why) => return fail(why),
        };
        if let Ok(st @ (Status::Up | Status::Warn)) = self.status(Which::Normal) {
            self.not_created = Some("it was up before the kit started it".into());
            return fail(format!(
                "{} is {st} before the kit started it: the kit tests only what it brings up \
                 itself (give keywords naming something unused)",
                self.rid
            ));
        }
        if self.provisions() && self.resource().def.props.provision {
            let a = self.call(Which::Normal, Verb::Provision);
            if !matches!(a.reply, Reply::Done(Ok(_))) {
                return fail(format!("{built}; then provision {}", a.describe()));
            }
            built += ", provisioned";
        }
        match &self.slow_problem {
            Some(p) => fail(format!("{built}; but its slow variant (--slow-kw): {p}")),
            None => ok(built),
        }
    }

    /// The resources the one under test is linked to, and theirs.
    fn linked_to(&self) -> BTreeSet<String> {
        let svc = self.service(Which::Normal);
        let mut found = BTreeSet::new();
        let mut todo = vec![self.rid.clone()];
        while let Some(r) = todo.pop() {
            for l in svc
                .resource(&r)
                .map(|r| r.links.clone())
                .unwrap_or_default()
            {
                if l != self.rid && found.insert(l.clone()) {
                    todo.push(l);
                }
            }
        }
        found
    }

    /// Run an action on other resources of the service, with the host's planner and executor.
    fn act_on(&self, verb: PlanVerb, rids: &BTreeSet<String>) -> exec::Outcome {
        let svc = self.service(Which::Normal);
        let all = crate::cli::actions::plan_resources(svc);
        let parallel = |g: &str, s: &str| svc.subset_parallel(g, s);
        match plan::build(verb, Some(rids), &all, &parallel, None) {
            Ok(p) => exec::run(
                svc,
                &p,
                &exec::Options {
                    action: verb.as_str().to_string(),
                    force: false,
                    hooks: true,
                    interruptible: false,
                },
            ),
            Err(_) => exec::Outcome {
                failed: rids.iter().cloned().collect(),
                ..Default::default()
            },
        }
    }

    fn under_test(&self, which: Which) -> &Resource {
        self.service(which)
            .resource(&self.rid)
            .expect("the resource under test is in its service")
    }

    /// Call a verb as the host would: with the resource's own timeout for it, if any.
    fn call(&self, which: Which, verb: Verb) -> Answer {
        let res = self.under_test(which);
        let timeout = res.def.props.timeouts.configured(verb.name());
        self.invoke(res, verb, timeout)
    }

    fn call_with(&self, which: Which, verb: Verb, timeout: Option<Duration>) -> Answer {
        self.invoke(self.under_test(which), verb, timeout)
    }

    /// Call a verb of a created resource with this timeout; status answers go to the
    /// supervisor.
    fn invoke(&self, res: &Resource, verb: Verb, timeout: Option<Duration>) -> Answer {
        let handle = res
            .driver
            .clone()
            .expect("created resources have a driver object");
        let mut args = CallArgs::new(verb.name());
        if let Some(t) = timeout {
            args = args.with_timeout(t);
        }
        let patience = timeout.map_or(PATIENCE, |t| t + DEADLINE_GRACE);
        let is_status = verb == Verb::Status;
        let args = serde_json::to_string(&args).unwrap_or_default();
        let answer = self.probe.call(&handle, &self.rid, verb, args, patience);
        if let (true, Reply::Done(Ok(doc))) = (is_status, &answer.reply) {
            emit(&Record::Status { doc: doc.clone() });
        }
        answer
    }

    fn status(&self, which: Which) -> Result<Status, String> {
        let a = self.call(which, Verb::Status);
        match &a.reply {
            Reply::Done(Ok(doc)) => checks::status_of(doc),
            Reply::Done(Err(e)) => Err(format!("status failed: {e}")),
            Reply::Late(_) => Err(format!("status {}", a.describe())),
        }
    }

    /// Down, the state every stateful check starts from.
    fn bring_down(&self) -> Result<(), Unreached> {
        if self.status(Which::Normal).map_err(Unreached::Status)? == Status::Down {
            return Ok(());
        }
        let a = self.call(Which::Normal, Verb::Stop);
        if !matches!(a.reply, Reply::Done(Ok(_))) {
            return Err(Unreached::State(format!("stop {}", a.describe())));
        }
        match self.status(Which::Normal).map_err(Unreached::Status)? {
            Status::Down | Status::NA => Ok(()),
            other => Err(Unreached::State(format!("still {other} after a stop"))),
        }
    }

    /// After a battery process died: stop without asking the status first, the status being
    /// possibly what killed it.
    fn bring_down_blindly(&self) {
        if self.not_created.is_none() {
            self.call(Which::Normal, Verb::Stop);
        }
    }

    /// What undoes everything the kit did to the resource: unprovision when the driver
    /// provisions (and the config lets it), else stop.
    fn last_verb(&self) -> Verb {
        match self.provisions() && self.resource().def.props.unprovision {
            true => Verb::Unprovision,
            false => Verb::Stop,
        }
    }

    fn provisions(&self) -> bool {
        self.entry
            .manifest
            .capabilities
            .iter()
            .any(|c| c == "provision")
    }

    /// Down before a check: a status that fails fails the check; a resource that stays up
    /// skips it (the lifecycle check judges the stop).
    fn start_down(&self) -> Result<(), Outcome> {
        self.bring_down().map_err(|e| match e {
            Unreached::Status(e) => fail(e),
            Unreached::State(e) => skip(format!("could not bring the resource down first: {e}")),
        })
    }

    /// What a status call must not change: every file of the throwaway root, and the paths
    /// the resource's keywords name.
    fn snapshot(&self) -> Snapshot {
        let mut snap = Snapshot::new();
        walk(&self.paths.root, &mut snap);
        for path in keyword_paths(&self.resource().def.keywords.map()) {
            if !path.starts_with(&self.paths.root) {
                snap.insert(path.display().to_string(), describe_path(&path));
            }
        }
        snap
    }

    /// Two status calls in a row: what each said, and what changed meanwhile.
    fn status_twice(&self) -> Result<(String, String, Vec<String>), String> {
        let before = self.snapshot();
        let mut docs = Vec::new();
        for _ in 0..2 {
            let a = self.call(Which::Normal, Verb::Status);
            match a.reply {
                Reply::Done(Ok(doc)) => docs.push(doc),
                Reply::Done(Err(e)) => return Err(format!("status failed: {e}")),
                Reply::Late(_) => return Err(format!("status {}", a.describe())),
            }
        }
        let changed = checks::changes(&before, &self.snapshot());
        let second = docs.pop().unwrap_or_default();
        Ok((docs.pop().unwrap_or_default(), second, changed))
    }

    /// Two status calls in a row change nothing and agree, down and up; in whatever state the
    /// resource is stuck in when it cannot be brought down.
    fn read_only(&self) -> Outcome {
        let stuck = match self.bring_down() {
            Ok(()) => None,
            Err(Unreached::Status(e)) => return fail(e),
            Err(Unreached::State(e)) => Some(e),
        };
        let mut seen = Vec::new();
        loop {
            let state = match self.status(Which::Normal) {
                Ok(st) => st.as_str().to_string(),
                Err(e) => return fail(e),
            };
            let (first, second, changed) = match self.status_twice() {
                Ok(twice) => twice,
                Err(e) => return fail(format!("{state}: {e}")),
            };
            if !checks::same_answer(&first, &second) {
                return fail(format!(
                    "{state}: two status calls in a row answered {first} then {second}"
                ));
            }
            if !changed.is_empty() {
                return fail(format!(
                    "{state}: a status call changed {}",
                    changed.into_iter().take(5).collect::<Vec<_>>().join(", ")
                ));
            }
            seen.push(state);
            if stuck.is_some() || seen.len() == 2 {
                break;
            }
            let started = self.call(Which::Normal, Verb::Start);
            if !matches!(started.reply, Reply::Done(Ok(_))) {
                break;
            }
        }
        let mut detail = format!(
            "two status calls in a row answer the same and change nothing ({}; {} paths watched)",
            seen.join(", then "),
            self.snapshot().len()
        );
        if let Some(e) = stuck {
            detail += &format!("; down not checked: could not bring it down ({e})");
        }
        ok(detail)
    }

    /// From the state the resource is in: down → up → up again (already) → down → down again
    /// (already), each checked by status; from up, the same with the downs first.
    fn cycle(&self, up: Verb, down: Verb) -> Outcome {
        let ups = [(up.clone(), true, Status::Up), (up, false, Status::Up)];
        let downs = [
            (down.clone(), true, Status::Down),
            (down, false, Status::Down),
        ];
        let (state, steps) = match self.status(Which::Normal) {
            Ok(Status::Down) => (Status::Down, [ups, downs].concat()),
            Ok(Status::Up) => (Status::Up, [downs, ups].concat()),
            Ok(Status::NA) => {
                return skip(
                    "status is n/a: up and down cannot be told apart with these keywords \
                     (give the driver what it needs to tell, a check command for one)",
                )
            }
            Ok(other) => return fail(format!("status is {other} before any action")),
            Err(e) => return fail(e),
        };
        let mut trail = vec![state.as_str().to_string()];
        for (verb, first, want) in steps {
            let name = verb.name().to_string();
            let a = self.call(Which::Normal, verb);
            let problem = match (&a.reply, first) {
                (Reply::Done(Ok(doc)), _) => {
                    let changed = serde_json::from_str::<serde_json::Value>(doc)
                        .ok()
                        .and_then(|v| v["changed"].as_bool());
                    match (first, changed) {
                        (true, Some(false)) => Some(format!(
                            "{name} of a {} resource answered unchanged (a rollback would not \
                             undo it)",
                            if want == Status::Up { "down" } else { "up" }
                        )),
                        (false, Some(true)) => {
                            Some(format!("{name} again answered changed: not idempotent"))
                        }
                        (false, _) if !checks::says_already(&a.logs) => Some(format!(
                            "{name} again did not log that the resource was already {}",
                            want.as_str()
                        )),
                        _ => None,
                    }
                }
                (_, true) => Some(format!("{name} {}", a.describe())),
                (_, false) => Some(format!("{name} again {}", a.describe())),
            };
            trail.push(match first {
                true => name.clone(),
                false => format!("{name} (already {})", want.as_str()),
            });
            if let Some(p) = problem {
                return fail(format!("{}: {p}", trail.join(", ")));
            }
            match self.status(Which::Normal) {
                Ok(st) if st == want => trail.push(st.as_str().to_string()),
                Ok(st) => {
                    return fail(format!(
                        "{}: status is {st}, expected {}",
                        trail.join(", "),
                        want.as_str()
                    ))
                }
                Err(e) => return fail(format!("{}: {e}", trail.join(", "))),
            }
        }
        ok(trail.join(", "))
    }

    fn provision(&self) -> Outcome {
        if !self.provisions() {
            return skip("the driver declares no provisioner (capability 'provision')");
        }
        let props = &self.resource().def.props;
        if !props.provision || !props.unprovision {
            return skip("the config says provision = false or unprovision = false");
        }
        if let Err(skipped) = self.start_down() {
            return skipped;
        }
        self.cycle(Verb::Provision, Verb::Unprovision)
    }

    /// A start or a stop given [`DEADLINE`], by the slow variant; then a stop must clean up.
    fn deadline(&self, verb: Verb) -> Outcome {
        if self.slow_problem.is_some() {
            return skip("the slow variant could not be created (see create)");
        }
        if let Err(skipped) = self.start_down() {
            return skipped;
        }
        if verb == Verb::Stop {
            let a = self.call(Which::Normal, Verb::Start);
            if !matches!(a.reply, Reply::Done(Ok(_))) {
                return skip(format!(
                    "could not start the resource first: start {}",
                    a.describe()
                ));
            }
        }
        let name = verb.name().to_string();
        let answer = self.call_with(Which::Slow, verb, Some(DEADLINE));
        let (mut verdict, mut detail) = checks::deadline(&name, DEADLINE, &answer);
        if let Reply::Late(straggler) = answer.reply {
            let waited = secs(answer.elapsed + STRAGGLER_PATIENCE);
            detail += &match straggler.wait(STRAGGLER_PATIENCE) {
                Some(_) => "; it answered later".to_string(),
                None => format!("; still running after {waited:.0}s"),
            };
        }
        if let Err(Unreached::Status(e) | Unreached::State(e)) = self.bring_down() {
            detail += &format!("; then the stop did not clean up: {e}");
            verdict = Verdict::Fail;
        } else if verdict == Verdict::Ok {
            detail += "; a stop then brought it down";
        }
        (verdict, detail)
    }

    /// Values the driver must refuse: those of `--bad-kw`, and one of the wrong type for each
    /// typed keyword.
    fn bad_values(&self) -> Outcome {
        let mut values: Vec<(String, String)> = self.bad_kw.to_vec();
        for k in &self.entry.manifest.keywords {
            let word = match k.kind {
                KwType::Bool => "bool",
                KwType::Int => "number",
                KwType::Duration => "duration",
                _ => continue,
            };
            if !values.iter().any(|(name, _)| k.answers_to(name)) {
                values.push((k.name.clone(), format!("kit-not-a-{word}")));
            }
        }
        if values.is_empty() {
            return skip(
                "no value to try: no keyword of a checked type (bool, int, duration), and no \
                 --bad-kw key=value",
            );
        }
        let mut refused = Vec::new();
        let mut problems = Vec::new();
        for (key, value) in values {
            let cfg = match setup::variant(&self.cfg, &self.rid, &[(key.clone(), value.clone())]) {
                Ok(cfg) => cfg,
                Err(e) => {
                    problems.push(format!("{key}={value}: {e}"));
                    continue;
                }
            };
            let svc = Service::from_config(&self.paths, cfg, self.reg);
            match self.receive(&svc, &key, &value) {
                Ok(how) => refused.push((format!("{key}={value}"), how)),
                Err(problem) => problems.push(problem),
            }
        }
        match problems.is_empty() {
            true => ok(checks::refusals(&refused)),
            false => fail(problems.join("; ")),
        }
    }

    /// How the service built with a bad value received it.
    fn receive(&self, svc: &Service, key: &str, value: &str) -> Result<Refused, String> {
        let by_host = svc
            .errors()
            .any(|d| d.section == self.rid && d.keyword.as_deref() == Some(key));
        if by_host {
            return checks::bad_value(key, value, Reception::ByHost);
        }
        let Some(res) = svc.resource(&self.rid) else {
            return Err(format!(
                "{key}={value}: {} vanished from the config",
                self.rid
            ));
        };
        if let Err(msg) = &res.driver {
            return checks::bad_value(key, value, Reception::AtCreation(msg));
        }
        if let Some(why) = &self.not_created {
            return Err(format!(
                "{key}={value}: accepted when read (start not tried: {why})"
            ));
        }
        let started = self.invoke(res, Verb::Start, res.def.props.timeouts.configured("start"));
        let judged = checks::bad_value(key, value, Reception::AtStart(&started));
        if matches!(started.reply, Reply::Done(Ok(_))) {
            let _ = self.bring_down();
        }
        judged
    }

    fn unknown_verb(&self) -> Outcome {
        let args = serde_json::to_string(&CallArgs::new("kit")).unwrap_or_default();
        let a = self.probe.call(
            &self.handle(),
            &self.rid,
            Verb::Call(UNKNOWN_VERB.into()),
            args,
            CALL_PATIENCE,
        );
        checks::unknown_verb(UNKNOWN_VERB, &a)
    }

    /// The query verbs the driver declares, and an unknown one, given what they do not expect.
    fn malformed(&self) -> Outcome {
        let mut verbs: Vec<String> = self
            .entry
            .manifest
            .capabilities
            .iter()
            .filter_map(|c| c.strip_prefix("query:").map(String::from))
            .collect();
        verbs.push(UNKNOWN_VERB.into());
        let odd_payload = CallArgs::new("query")
            .with_payload(serde_json::json!({"kit": [null, -1.5, {"": []}], "name": 7}));
        let inputs = [
            ("malformed JSON", "{\"deadline_unix_ms\": ".to_string()),
            ("a JSON list", "[1, \"two\"]".to_string()),
            (
                "an unexpected payload",
                serde_json::to_string(&odd_payload).unwrap_or_default(),
            ),
        ];
        let handle = self.handle();
        let mut problems = Vec::new();
        for verb in &verbs {
            for (what, input) in &inputs {
                let a = self.probe.call(
                    &handle,
                    &self.rid,
                    Verb::Call(verb.clone()),
                    input.clone(),
                    CALL_PATIENCE,
                );
                problems.extend(checks::malformed(verb, what, &a));
            }
        }
        let what: Vec<&str> = inputs.iter().map(|(w, _)| *w).collect();
        match problems.is_empty() {
            true => ok(format!(
                "{} answered {} without a panic",
                verbs.join(", "),
                what.join(", ")
            )),
            false => fail(problems.join("; ")),
        }
    }

    /// Undo what the kit did: the resource down (unprovisioned if the driver provisions), and
    /// what it is linked to unprovisioned. What is left behind, said as warnings.
    fn clean_up(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.svc.is_some() && self.not_created.is_none() {
            let verb = self.last_verb();
            let name = verb.name().to_string();
            let a = self.call(Which::Normal, verb);
            if !matches!(a.reply, Reply::Done(Ok(_))) {
                warnings.push(format!(
                    "the kit's last {name} of {} {}",
                    self.rid,
                    a.describe()
                ));
            }
            if let Ok(st @ (Status::Up | Status::Warn)) = self.status(Which::Normal) {
                warnings.push(format!(
                    "{} is still {st} after the kit's last {name}: remove it by hand",
                    self.rid
                ));
            }
        }
        if !self.deps.is_empty() {
            let outcome = self.act_on(PlanVerb::Unprovision, &self.deps);
            for r in outcome.failed {
                warnings.push(format!("could not unprovision {r}: remove it by hand"));
            }
        }
        warnings
    }
}

/// Absolute paths among a resource's keyword values (text, or lists of words).
fn keyword_paths(keywords: &serde_json::Map<String, serde_json::Value>) -> Vec<PathBuf> {
    let words = keywords.values().flat_map(|v| match v {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(a) => a
            .iter()
            .filter_map(|w| w.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    });
    // A path may come as a value of its own or after `name=` (an agent's `state=/x`).
    words
        .filter_map(|w| match w.split_once("=/") {
            Some((_, rest)) if !w.starts_with('/') => Some(format!("/{rest}")),
            _ => w.starts_with('/').then_some(w),
        })
        .map(PathBuf::from)
        .collect()
}

/// A path as a snapshot records it. Folders by identity only: others may add entries to a
/// shared folder meanwhile.
fn describe_path(path: &Path) -> String {
    match std::fs::symlink_metadata(path) {
        Err(_) => "absent".into(),
        Ok(m) if m.is_dir() => format!("dir {}:{}", m.dev(), m.ino()),
        Ok(m) if m.file_type().is_symlink() => format!(
            "link to {}",
            std::fs::read_link(path).unwrap_or_default().display()
        ),
        Ok(m) => format!(
            "file {}:{} {} bytes, modified {}.{:09}",
            m.dev(),
            m.ino(),
            m.len(),
            m.mtime(),
            m.mtime_nsec()
        ),
    }
}

/// Every path under `dir`, recursively (a throwaway root: nobody else writes there).
fn walk(dir: &Path, snap: &mut Snapshot) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let record = describe_path(&path);
        let is_dir = record.starts_with("dir ");
        snap.insert(path.display().to_string(), record);
        if is_dir {
            walk(&path, snap);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_named_by_keywords() {
        let kw = serde_json::json!({
            "dev": "/dev/loop3",
            "mnt": "relative",
            "params": ["state=/tmp/dummy.state", "fake=1"],
            "start": ["touch", "/srv/flag"],
            "size": 3,
        });
        let paths = keyword_paths(kw.as_object().unwrap());
        let paths: Vec<&str> = paths.iter().filter_map(|p| p.to_str()).collect();
        assert_eq!(paths, ["/dev/loop3", "/tmp/dummy.state", "/srv/flag"]);
    }
}
