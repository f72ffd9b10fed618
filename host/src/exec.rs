//! The executor: runs a plan's stages, one resource after another or (parallel stages)
//! concurrently. A resource's step checks its requirements (in a parallel stage, after the
//! required resources of the same stage are done), runs its pre triggers, calls its driver,
//! then runs its post triggers: commands and driver calls on blocking threads, so the async
//! runtime never blocks, all under the resource's deadline. It reports what changed (for
//! rollback) and what failed.

use crate::config::resolve::Diag;
use crate::hooks::{Require, Trigger, When};
use crate::plan::{self, Plan, Verb};
use crate::rid::natural_cmp;
use crate::service::{Resource, Service};
use crate::status::{eval, state::State};
use crate::{command, log};
use abi_stable::std_types::{RResult, RStr};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use svcmgr_plugin_api::abi::{error_kind, level, DriverError, ResourceBox};
use svcmgr_plugin_api::types::{format_duration, ActionReport, CallArgs};
use tokio::sync::watch;

/// How the action runs.
pub struct Options {
    /// The service action (`start`, `restart`, `rollback`, …), passed to drivers.
    pub action: String,
    pub force: bool,
    /// Check the resources' requirements and run their triggers. A rollback does neither:
    /// it only undoes what the start did (OpenSVC has no rollback triggers).
    pub hooks: bool,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Rids whose call changed their state, in completion order.
    pub changed: Vec<String>,
    /// Rids whose non-optional call failed.
    pub failed: Vec<String>,
}

/// One resource's part of the action, owning what it needs so it can run on any thread.
struct Step {
    rid: String,
    driver: Result<Arc<ResourceBox>, String>,
    /// The driver verb called (provision falls back to start when `provision = false`).
    verb: &'static str,
    /// The action's verb, whose triggers and requirements apply.
    hook_verb: &'static str,
    timeout: Option<Duration>,
    optional: bool,
    skip_standby: bool,
    /// Tagged `noaction`: never started nor stopped.
    noaction: bool,
    args: CallArgs,
    /// This verb's triggers, in running order (none without hooks).
    triggers: Vec<Trigger>,
    requires: Vec<Requirement>,
    /// The environment of the triggers.
    env: Vec<(String, String)>,
}

/// One `<verb>_requires` entry, ready to check.
struct Requirement {
    req: Require,
    /// The required resource (None: the service has no such resource).
    target: Option<Resource>,
    /// Set when the required resource runs in another unit of the same parallel stage: it
    /// turns true (or closes) when that resource's step is over.
    done: Option<watch::Receiver<bool>>,
}

enum StepResult {
    Done {
        changed: bool,
    },
    /// A non-optional failure.
    Failed {
        changed: bool,
    },
    /// An optional resource's failure, logged and ignored.
    Ignored {
        changed: bool,
    },
}

/// A failed step: its message, and whether it changed the resource before failing.
struct Failure {
    message: String,
    changed: bool,
}

impl Failure {
    fn unchanged(message: String) -> Failure {
        Failure {
            message,
            changed: false,
        }
    }
}

impl Step {
    /// `done_signal(rid)`: the completion signal of a resource this step may wait for.
    fn new(
        svc: &Service,
        rid: &str,
        verb: Verb,
        opts: &Options,
        done_signal: &dyn Fn(&str) -> Option<watch::Receiver<bool>>,
    ) -> Step {
        let res = svc.resource(rid).expect("planned rids exist");
        let p = &res.def.props;
        let verb_name = match verb {
            Verb::Provision if !p.provision => "start",
            Verb::Unprovision if !p.unprovision => "stop",
            v => v.as_str(),
        };
        let timeout = p.timeouts.for_verb(verb_name);
        let (triggers, requires) = match opts.hooks {
            true => (
                [When::Pre, When::Post]
                    .into_iter()
                    .flat_map(|w| p.triggers(verb.as_str(), w).cloned())
                    .collect(),
                p.requires(verb.as_str())
                    .iter()
                    .map(|req| Requirement {
                        req: req.clone(),
                        target: svc.resource(&req.rid).cloned(),
                        done: done_signal(&req.rid),
                    })
                    .collect(),
            ),
            false => (Vec::new(), Vec::new()),
        };
        let mut env = res.env.clone();
        env.push(("OPENSVC_ACTION".into(), opts.action.clone()));
        Step {
            rid: rid.to_string(),
            driver: res.driver.clone(),
            verb: verb_name,
            hook_verb: verb.as_str(),
            timeout,
            optional: p.optional,
            skip_standby: p.standby && !verb.ascending() && !opts.force,
            noaction: p.has_tag("noaction"),
            args: {
                let mut args = CallArgs::new(&opts.action);
                args.timeout_ms = timeout.map(|t| t.as_millis() as u64);
                args.force = opts.force;
                args
            },
            triggers,
            requires,
            env,
        }
    }

    /// Call the driver before `deadline`; Ok(changed) or the failure.
    async fn call(&self, deadline: Option<Instant>) -> Result<bool, Failure> {
        let handle = self.driver.clone().map_err(Failure::unchanged)?;
        let verb = self.verb;
        let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if let (Some(r), Some(t)) = (remaining, self.timeout) {
            if r.is_zero() {
                return Err(Failure::unchanged(timed_out(verb, t)));
            }
        }
        let mut args = self.args.clone();
        args.deadline_unix_ms = remaining.map(|r| {
            (SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                + r)
                .as_millis() as u64
        });
        let args = serde_json::to_string(&args).unwrap_or_default();
        let task = tokio::task::spawn_blocking(move || {
            let a = RStr::from(args.as_str());
            match verb {
                "start" => handle.start(a),
                "stop" => handle.stop(a),
                "provision" => handle.provision(a),
                _ => handle.unprovision(a),
            }
        });
        let joined = match (remaining, self.timeout) {
            (Some(r), Some(t)) => tokio::time::timeout(r, task).await.map_err(|_| Failure {
                message: timed_out(verb, t),
                changed: true,
            })?,
            _ => task.await,
        };
        match joined.map_err(|e| Failure::unchanged(format!("{verb} aborted: {e}")))? {
            RResult::ROk(doc) => Ok(serde_json::from_str::<ActionReport>(doc.as_str())
                .map(|r| r.changed)
                .unwrap_or(true)),
            RResult::RErr(e) => Err(failure_of(verb, &e, self.timeout)),
        }
    }

    /// Check each requirement, after waiting (until the deadline) for a required resource
    /// of the same parallel stage to be done.
    async fn check_requires(&self, deadline: Option<Instant>) -> Result<(), String> {
        for r in &self.requires {
            let Some(target) = r.target.clone() else {
                log::warn(
                    &self.rid,
                    &format!("ignore requires on {}: resource not found", r.req.rid),
                );
                continue;
            };
            if let Some(mut done) = r.done.clone() {
                if !*done.borrow() {
                    let msg = format!("wait for {} ({}_requires)", r.req.rid, self.hook_verb);
                    log::info(&self.rid, &msg);
                }
                let wait = done.wait_for(|over| *over);
                // A closed signal (its unit ended early) ends the wait too.
                let _ = match deadline {
                    Some(d) => tokio::time::timeout_at(d.into(), wait).await.ok(),
                    None => Some(wait.await),
                };
            }
            let state = tokio::task::spawn_blocking(move || eval::resource_status(&target).status)
                .await
                .unwrap_or(State::Undef);
            if !r.req.met_by(state) {
                return Err(r.req.unmet(state));
            }
        }
        Ok(())
    }

    /// Run the triggers of `when`: a blocking one's failure is the step's error, another's a
    /// warning.
    async fn fire(&self, when: When, deadline: Option<Instant>) -> Result<(), String> {
        for t in self.triggers.iter().filter(|t| t.when == when) {
            log::info(&self.rid, &t.line());
            let (rid, argv, env) = (self.rid.clone(), t.argv.clone(), self.env.clone());
            let ran =
                tokio::task::spawn_blocking(move || command::run(&rid, &argv, &env, deadline))
                    .await
                    .unwrap_or_else(|e| Err(e.to_string()));
            let rc = match ran {
                Ok(0) => continue,
                Ok(rc) => rc,
                Err(why) => {
                    log::log(&self.rid, level_of(t.blocking), &why);
                    127
                }
            };
            if t.blocking {
                return Err(format!("{} blocking error [{rc}]", t.line()));
            }
            log::warn(
                &self.rid,
                &format!("{} non-blocking error [{rc}]", t.line()),
            );
        }
        Ok(())
    }

    /// Requirements, pre triggers, the driver, post triggers; Ok(changed) or the failure.
    async fn act(&self) -> Result<bool, Failure> {
        let deadline = self.timeout.map(|t| Instant::now() + t);
        self.check_requires(deadline)
            .await
            .map_err(Failure::unchanged)?;
        self.fire(When::Pre, deadline)
            .await
            .map_err(Failure::unchanged)?;
        let changed = self.call(deadline).await?;
        self.fire(When::Post, deadline)
            .await
            .map_err(|message| Failure { message, changed })?;
        Ok(changed)
    }

    async fn run(&self) -> StepResult {
        if self.skip_standby {
            log::info(
                &self.rid,
                &format!(
                    "skip '{}' on standby resource (--force to override)",
                    self.verb
                ),
            );
            return StepResult::Done { changed: false };
        }
        if self.noaction {
            let msg = format!("skip {}: tagged noaction", self.verb);
            log::log(&self.rid, level::DEBUG, &msg);
            return StepResult::Done { changed: false };
        }
        match self.act().await {
            Ok(changed) => StepResult::Done { changed },
            Err(Failure { message, changed }) => {
                log::error(&self.rid, &message);
                if self.optional {
                    log::warn(
                        &self.rid,
                        &format!("ignore {} error on optional resource", self.verb),
                    );
                    StepResult::Ignored { changed }
                } else {
                    StepResult::Failed { changed }
                }
            }
        }
    }
}

fn level_of(blocking: bool) -> u8 {
    if blocking {
        level::ERROR
    } else {
        level::WARN
    }
}

/// `<verb> timed out after <d>`: what a call past its host deadline fails with.
fn timed_out(verb: &str, t: Duration) -> String {
    format!("{verb} timed out after {}", format_duration(t))
}

/// A driver's error as a failure. A call that timed out may have acted before it, so it is
/// rolled back with the others; when the host's deadline was the one hit, the message says so
/// as the host would, keeping the driver's detail.
fn failure_of(verb: &str, e: &DriverError, timeout: Option<Duration>) -> Failure {
    let is_timeout = error_kind::base(e.kind) == error_kind::TIMEOUT;
    let message = match (is_timeout, timeout) {
        (true, Some(t)) => format!("{} ({e})", timed_out(verb, t)),
        _ => e.to_string(),
    };
    Failure {
        message,
        changed: is_timeout || e.kind & error_kind::CHANGED != 0,
    }
}

/// Why a plan must not run at all (nothing is done then): a resource in it has
/// configuration errors, or requirements would make resources of a parallel stage wait for
/// each other forever.
pub fn refusal(svc: &Service, p: &Plan, action: &str) -> Option<String> {
    let rids: BTreeSet<&str> = p
        .stages
        .iter()
        .flat_map(|s| s.units.iter().flatten())
        .map(String::as_str)
        .collect();
    let errors: Vec<&Diag> = svc.errors_of(&rids).collect();
    if !errors.is_empty() {
        let mut broken: Vec<&str> = errors.iter().map(|d| d.section.as_str()).collect();
        broken.sort_by(|a, b| natural_cmp(a, b));
        broken.dedup();
        let lines: Vec<String> = errors.iter().map(|d| d.render(&svc.cfg.path)).collect();
        return Some(format!(
            "{action} refused: the configuration of {} has errors (nothing was done, see 'validate config'):\n{}",
            broken.join(", "),
            lines.join("\n")
        ));
    }
    let verb = p.verb.as_str();
    let requires = |rid: &str| -> Vec<String> {
        svc.resource(rid).map_or(Vec::new(), |r| {
            let reqs = r.def.props.requires(verb);
            reqs.iter().map(|q| q.rid.clone()).collect()
        })
    };
    plan::wait_loop(p, &requires).map(|l| {
        format!(
            "{action} refused: {} wait for each other through {verb}_requires in a parallel subset",
            l.join(", ")
        )
    })
}

/// The completion signals of a unit's resources, by rid.
type Signals = HashMap<String, watch::Sender<bool>>;

/// Run one unit (a target and its linked resources) in order, stopping at a failure. Each
/// step done sets its completion signal; the others close when the unit ends.
async fn run_unit(steps: Vec<Step>, signals: Signals) -> Outcome {
    let mut out = Outcome::default();
    for step in &steps {
        let (changed, failed) = match step.run().await {
            StepResult::Done { changed } | StepResult::Ignored { changed } => (changed, false),
            StepResult::Failed { changed } => (changed, true),
        };
        if let Some(signal) = signals.get(&step.rid) {
            signal.send_replace(true);
        }
        if changed {
            out.changed.push(step.rid.clone());
        }
        if failed {
            out.failed.push(step.rid.clone());
            break;
        }
    }
    out
}

/// Run a plan. Stops after the first stage with a non-optional failure (a parallel stage
/// finishes first).
pub fn run(svc: &Service, plan: &Plan, opts: &Options) -> Outcome {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(1024)
        .enable_time()
        .build()
        .expect("tokio runtime");
    let mut total = Outcome::default();
    for stage in &plan.stages {
        // Completion signals of a parallel stage's resources, so that one may wait for what
        // it requires (units of a serial stage run one after another: nothing to wait for).
        let mut signals: Vec<Signals> = Vec::new();
        let mut done: HashMap<&str, (usize, watch::Receiver<bool>)> = HashMap::new();
        for (i, unit) in stage.units.iter().enumerate() {
            let mut senders = HashMap::new();
            for rid in unit.iter().filter(|_| stage.parallel) {
                let (tx, rx) = watch::channel(false);
                senders.insert(rid.clone(), tx);
                done.insert(rid, (i, rx));
            }
            signals.push(senders);
        }
        let units: Vec<(Vec<Step>, Signals)> = stage
            .units
            .iter()
            .zip(signals)
            .enumerate()
            .map(|(i, (u, senders))| {
                let of_other_unit = |rid: &str| {
                    done.get(rid)
                        .filter(|(unit, _)| *unit != i)
                        .map(|(_, rx)| rx.clone())
                };
                let steps = u
                    .iter()
                    .map(|rid| Step::new(svc, rid, plan.verb, opts, &of_other_unit))
                    .collect();
                (steps, senders)
            })
            .collect();
        let results: Vec<Outcome> = if stage.parallel {
            for (unit, _) in &units {
                log::info(
                    &unit[0].rid,
                    &format!("action {} started in parallel", plan.verb.as_str()),
                );
            }
            rt.block_on(async {
                let tasks: Vec<_> = units
                    .into_iter()
                    .map(|(u, s)| (u[0].rid.clone(), tokio::spawn(run_unit(u, s))))
                    .collect();
                let mut outs = Vec::new();
                for (rid, t) in tasks {
                    // A unit whose task died (a host bug) failed; it must not pass for a success.
                    outs.push(t.await.unwrap_or_else(|e| {
                        log::error(&rid, &format!("{} aborted: {e}", plan.verb.as_str()));
                        Outcome {
                            changed: Vec::new(),
                            failed: vec![rid],
                        }
                    }));
                }
                outs
            })
        } else {
            let mut outs = Vec::new();
            for (unit, s) in units {
                let out = rt.block_on(run_unit(unit, s));
                let failed = !out.failed.is_empty();
                outs.push(out);
                if failed {
                    break;
                }
            }
            outs
        };
        for r in results {
            total.changed.extend(r.changed);
            total.failed.extend(r.failed);
        }
        if !total.failed.is_empty() {
            break;
        }
    }
    if let Some(b) = &plan.barrier {
        if total.failed.is_empty() {
            let word = if plan.verb.ascending() {
                "up to"
            } else {
                "down to"
            };
            log::info("", &format!("reached '{word} {b}' barrier"));
        }
    }
    // Calls that outlived their deadline keep their thread; do not wait for them.
    rt.shutdown_background();
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_errors_become_failures() {
        let timeout = DriverError::new(error_kind::TIMEOUT, "waited too long for startup");
        let f = failure_of("start", &timeout, Some(Duration::from_secs(5)));
        assert_eq!(
            f.message,
            "start timed out after 5s (waited too long for startup)"
        );
        assert!(f.changed);
        let f = failure_of("start", &timeout, None);
        assert_eq!(
            f.message, "waited too long for startup",
            "no made-up 'after 0s'"
        );
        let plain = DriverError::new(error_kind::OTHER, "boom");
        assert!(!failure_of("stop", &plain, None).changed);
        let changed = DriverError::new(error_kind::OTHER | error_kind::CHANGED, "went down");
        let f = failure_of("start", &changed, None);
        assert_eq!((f.message.as_str(), f.changed), ("went down", true));
    }
}
