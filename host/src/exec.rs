//! The executor: runs a plan's stages, one resource after another or (parallel stages)
//! concurrently. A resource's step checks its requirements (in a parallel stage, after the
//! required resources of the same stage are done), runs its pre triggers, calls its driver,
//! then runs its post triggers: commands and driver calls on blocking threads, so the async
//! runtime never blocks, all under the resource's deadline. It reports what changed (for
//! rollback) and what failed.

use crate::config::resolve::{Diag, Timeouts};
use crate::drivers::handle::{CallError, Deadline, Handle};
use crate::hooks::{Require, Trigger, When};
use crate::plan::{self, Plan, Verb};
use crate::rid::natural_cmp;
use crate::service::{Resource, Service};
use crate::signals::interrupted;
use crate::status::{eval, state::State};
use crate::{command, log};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use svcmgr_plugin_api::abi::{error_kind, level};
use svcmgr_plugin_api::types::CallArgs;
use tokio::sync::watch;

/// How the action runs.
pub struct Options {
    /// The service action (`start`, `restart`, `rollback`, …), passed to drivers.
    pub action: String,
    pub force: bool,
    /// Check the resources' requirements and run their triggers. A rollback does neither:
    /// it only undoes what the start did (OpenSVC has no rollback triggers).
    pub hooks: bool,
    /// Launch nothing more once SIGINT or SIGTERM arrived (a rollback runs to its end).
    pub interruptible: bool,
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
    driver: Result<Arc<Handle>, String>,
    /// The driver verb called (provision falls back to start when `provision = false`).
    verb: Verb,
    /// The action's verb, whose triggers and requirements apply.
    hook_verb: Verb,
    /// The timeouts of the resource: its step's deadline comes from them.
    timeouts: Timeouts,
    optional: bool,
    skip_standby: bool,
    /// Tagged `noaction`: never started nor stopped.
    noaction: bool,
    /// Not launched once the action is interrupted.
    interruptible: bool,
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
        let driver_verb = match verb {
            Verb::Provision if !p.provision => Verb::Start,
            Verb::Unprovision if !p.unprovision => Verb::Stop,
            v => v,
        };
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
        let mut env = res.env();
        env.push(("OPENSVC_ACTION".into(), opts.action.clone()));
        Step {
            rid: rid.to_string(),
            driver: res.driver.clone(),
            verb: driver_verb,
            hook_verb: verb,
            timeouts: p.timeouts.clone(),
            optional: p.optional,
            skip_standby: p.standby && !verb.ascending() && !opts.force,
            noaction: p.has_tag("noaction"),
            interruptible: opts.interruptible,
            args: {
                let mut args = CallArgs::new(&opts.action);
                args.force = opts.force;
                args
            },
            triggers,
            requires,
            env,
        }
    }

    /// Call the driver before `deadline`; Ok(changed) or the failure.
    async fn call(&self, deadline: Deadline) -> Result<bool, Failure> {
        let handle = self.driver.clone().map_err(Failure::unchanged)?;
        let (verb, args) = (self.verb, self.args.clone());
        if deadline.passed() {
            // Its requirements and triggers used the time up: the driver was not called.
            let e = CallError::TimedOut {
                verb: verb.as_str().to_string(),
                after: deadline.timeout,
            };
            return Err(Failure::unchanged(e.to_string()));
        }
        // Past the deadline the call keeps its thread (a driver cannot be cancelled) and
        // the runtime is shut down without waiting for it.
        let task = tokio::task::spawn_blocking(move || handle.act(verb, args, deadline));
        let answer = match tokio::time::timeout_at(deadline.at.into(), task).await {
            Ok(joined) => {
                joined.map_err(|e| Failure::unchanged(format!("{} aborted: {e}", verb.as_str())))?
            }
            Err(_) => Err(CallError::TimedOut {
                verb: verb.as_str().to_string(),
                after: deadline.timeout,
            }),
        };
        answer.map_err(|e| failure_of(verb, &e, deadline.timeout))
    }

    /// Check each requirement, after waiting (until the deadline) for a required resource
    /// of the same parallel stage to be done.
    async fn check_requires(&self, deadline: Deadline) -> Result<(), String> {
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
                    let verb = self.hook_verb.as_str();
                    let msg = format!("wait for {} ({verb}_requires)", r.req.rid);
                    log::info(&self.rid, &msg);
                }
                let wait = done.wait_for(|over| *over);
                // A closed signal (its unit ended early) ends the wait too.
                let _ = tokio::time::timeout_at(deadline.at.into(), wait).await;
            }
            // The status shares the step's deadline: a status that hangs cannot hold it.
            let state = tokio::task::spawn_blocking(move || {
                eval::resource_status(&target, Some(deadline)).status
            })
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
    async fn fire(&self, when: When, deadline: Deadline) -> Result<(), String> {
        for t in self.triggers.iter().filter(|t| t.when == when) {
            log::info(&self.rid, &t.line());
            let (rid, argv, env) = (self.rid.clone(), t.argv.clone(), self.env.clone());
            let ran = tokio::task::spawn_blocking(move || {
                command::run(&rid, &argv, &env, Some(deadline.at))
            })
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
        let deadline = Deadline::for_verb(&self.timeouts, self.verb.as_str());
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
                    self.verb.as_str()
                ),
            );
            return StepResult::Done { changed: false };
        }
        if self.noaction {
            let msg = format!("skip {}: tagged noaction", self.verb.as_str());
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
                        &format!("ignore {} error on optional resource", self.verb.as_str()),
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

/// A call's error as a failure. A call that timed out may have acted before it, so it is
/// rolled back with the others; when the driver noticed the deadline first, the message says
/// so as the host would, keeping the driver's detail.
fn failure_of(verb: Verb, e: &CallError, timeout: Duration) -> Failure {
    match e {
        CallError::Driver(d) if error_kind::base(d.kind) == error_kind::TIMEOUT => {
            let host_words = CallError::TimedOut {
                verb: verb.as_str().to_string(),
                after: timeout,
            };
            Failure {
                message: format!("{host_words} ({d})"),
                changed: true,
            }
        }
        CallError::Driver(d) => Failure {
            message: d.to_string(),
            changed: d.kind & error_kind::CHANGED != 0,
        },
        other => Failure {
            message: other.to_string(),
            changed: true,
        },
    }
}

/// Why a plan must not run at all (nothing is done then): a resource in it has
/// configuration errors, or requirements would make resources of a parallel stage wait for
/// each other forever.
pub fn refusal(svc: &Service, p: &Plan, action: &str) -> Option<String> {
    // Most configs have no error: the plan's rids are gathered only when one may concern them.
    let rids: BTreeSet<&str> = if svc.errors().next().is_some() {
        p.stages
            .iter()
            .flat_map(|s| s.units.iter().flatten())
            .map(String::as_str)
            .collect()
    } else {
        BTreeSet::new()
    };
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

/// Run one unit (a target and its linked resources) in order, stopping at a failure or an
/// interruption. Each step done sets its completion signal; the others close when the unit
/// ends.
async fn run_unit(steps: Vec<Step>, signals: Signals) -> Outcome {
    let mut out = Outcome::default();
    for step in &steps {
        if step.interruptible && interrupted() {
            break;
        }
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
    // One thread drives the steps: every driver call, trigger and status runs on a blocking
    // thread of its own, so a parallel stage is as parallel as before without the two idle
    // worker threads a multi-thread runtime starts.
    let rt = tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(1024)
        .enable_time()
        .build()
        .expect("tokio runtime");
    let mut total = Outcome::default();
    let stop_launching = || opts.interruptible && interrupted();
    for stage in &plan.stages {
        if stop_launching() {
            break;
        }
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
        if total.failed.is_empty() && !stop_launching() {
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
    use svcmgr_plugin_api::abi::DriverError;

    #[test]
    fn call_errors_become_failures() {
        let t = Duration::from_secs(5);
        let driver = |kind, msg: &str| CallError::Driver(DriverError::new(kind, msg));
        let f = failure_of(
            Verb::Start,
            &driver(error_kind::TIMEOUT, "waited too long for startup"),
            t,
        );
        assert_eq!(
            f.message,
            "start timed out after 5s (waited too long for startup)"
        );
        assert!(f.changed);
        let host = CallError::TimedOut {
            verb: "stop".into(),
            after: t,
        };
        let f = failure_of(Verb::Stop, &host, t);
        assert_eq!(
            (f.message.as_str(), f.changed),
            ("stop timed out after 5s", true)
        );
        assert!(!failure_of(Verb::Stop, &driver(error_kind::OTHER, "boom"), t).changed);
        let changed = driver(error_kind::OTHER | error_kind::CHANGED, "went down");
        let f = failure_of(Verb::Start, &changed, t);
        assert_eq!((f.message.as_str(), f.changed), ("went down", true));
    }
}
