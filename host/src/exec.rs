//! The executor: runs a plan's stages, one resource after another or (parallel stages)
//! concurrently, each driver call on a blocking thread under its deadline, so the async
//! runtime never blocks. It reports what changed (for rollback) and what failed.

use crate::log;
use crate::plan::{Plan, Verb};
use crate::service::Service;
use abi_stable::std_types::{RResult, RStr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use svcmgr_plugin_api::abi::{error_kind, DriverError, ResourceBox};
use svcmgr_plugin_api::types::{format_duration, ActionReport, CallArgs};

/// How the action runs.
pub struct Options {
    /// The service action (`start`, `restart`, `rollback`, …), passed to drivers.
    pub action: String,
    pub force: bool,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Rids whose call changed their state, in completion order.
    pub changed: Vec<String>,
    /// Rids whose non-optional call failed.
    pub failed: Vec<String>,
}

/// One driver call, owning what it needs so it can run on any thread.
struct Step {
    rid: String,
    driver: Result<Arc<ResourceBox>, String>,
    /// The driver verb called (provision falls back to start when `provision = false`).
    verb: &'static str,
    timeout: Option<Duration>,
    optional: bool,
    skip_standby: bool,
    args: CallArgs,
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

/// A failed call: its message, and whether it changed the resource before failing.
struct Failure {
    message: String,
    changed: bool,
}

impl Step {
    fn new(svc: &Service, rid: &str, verb: Verb, opts: &Options) -> Step {
        let res = svc.resource(rid).expect("planned rids exist");
        let p = &res.def.props;
        let verb_name = match verb {
            Verb::Provision if !p.provision => "start",
            Verb::Unprovision if !p.unprovision => "stop",
            v => v.as_str(),
        };
        let timeout = p.timeouts.for_verb(verb_name);
        Step {
            rid: rid.to_string(),
            driver: res.driver.clone(),
            verb: verb_name,
            timeout,
            optional: p.optional,
            skip_standby: p.standby && !verb.ascending() && !opts.force,
            args: {
                let mut args = CallArgs::new(&opts.action);
                args.timeout_ms = timeout.map(|t| t.as_millis() as u64);
                args.force = opts.force;
                args
            },
        }
    }

    /// Call the driver; Ok(changed) or the failure.
    async fn call(&self) -> Result<bool, Failure> {
        let unchanged = |message: String| Failure {
            message,
            changed: false,
        };
        let handle = self.driver.clone().map_err(unchanged)?;
        let verb = self.verb;
        // The deadline starts when the call does, not when its stage was prepared.
        let mut args = self.args.clone();
        args.deadline_unix_ms = self.timeout.map(|t| {
            (SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                + t)
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
        let joined = match self.timeout {
            Some(t) => tokio::time::timeout(t, task).await.map_err(|_| Failure {
                message: timed_out(verb, t),
                changed: true,
            })?,
            None => task.await,
        };
        match joined.map_err(|e| unchanged(format!("{verb} aborted: {e}")))? {
            RResult::ROk(doc) => Ok(serde_json::from_str::<ActionReport>(doc.as_str())
                .map(|r| r.changed)
                .unwrap_or(true)),
            RResult::RErr(e) => Err(failure_of(verb, &e, self.timeout)),
        }
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
        match self.call().await {
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

/// Run one unit (a target and its linked resources) in order, stopping at a failure.
async fn run_unit(steps: Vec<Step>) -> Outcome {
    let mut out = Outcome::default();
    for step in &steps {
        let (changed, failed) = match step.run().await {
            StepResult::Done { changed } | StepResult::Ignored { changed } => (changed, false),
            StepResult::Failed { changed } => (changed, true),
        };
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
        let units: Vec<Vec<Step>> = stage
            .units
            .iter()
            .map(|u| {
                u.iter()
                    .map(|rid| Step::new(svc, rid, plan.verb, opts))
                    .collect()
            })
            .collect();
        let results: Vec<Outcome> = if stage.parallel {
            for unit in &units {
                log::info(
                    &unit[0].rid,
                    &format!("action {} started in parallel", plan.verb.as_str()),
                );
            }
            rt.block_on(async {
                let tasks: Vec<_> = units
                    .into_iter()
                    .map(|u| (u[0].rid.clone(), tokio::spawn(run_unit(u))))
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
            for unit in units {
                let out = rt.block_on(run_unit(unit));
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
