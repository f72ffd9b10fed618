//! The host's one way into a driver resource: every ABI call (creation, label, links,
//! `describe`, status, the action verbs, passthrough, `info`, queries) goes through a
//! [`Handle`], which serialises the arguments, gives the call its deadline, marks it in flight
//! (for the fatal-signal handler), matches the `RResult` and parses the answer.
//!
//! A call with a deadline runs on a thread of its own: past the deadline the caller gets
//! [`CallError::TimedOut`] and goes on; the call's thread is left to finish (a driver cannot be
//! cancelled), still marked in flight. Calls without one (creation, label, links, describe,
//! queries, which must not block) run on the caller's thread.

use super::in_flight::Mark;
use super::{DriverEntry, Registry};
use crate::plan::Verb;
use abi_stable::std_types::{RResult, RStr, RString};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use svcmgr_plugin_api::abi::{error_kind, DriverError, ResourceBox};
use svcmgr_plugin_api::types::{
    format_duration, ActionReport, CallArgs, ResourceContext, StatusReport,
};

/// When the host gives up on a call, and the timeout it came from (for messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    pub at: Instant,
    pub timeout: Duration,
}

impl Deadline {
    /// `timeout` from now.
    pub fn after(timeout: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + timeout,
            timeout,
        }
    }

    /// The earlier of the two; the timeout named is that of the one that wins.
    pub fn min(self, other: Deadline) -> Deadline {
        if other.at < self.at {
            other
        } else {
            self
        }
    }

    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    pub fn passed(&self) -> bool {
        Instant::now() >= self.at
    }

    /// `args` with this deadline, as the driver reads it (unix milliseconds).
    fn stamp(&self, mut args: CallArgs) -> CallArgs {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        args.deadline_unix_ms = Some((now + self.remaining()).as_millis() as u64);
        args.timeout_ms = Some(self.timeout.as_millis() as u64);
        args
    }
}

/// Why a call gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The driver's own error.
    #[error("{0}")]
    Driver(DriverError),
    /// The host's deadline passed first; the call may still be running.
    #[error("{verb} timed out after {}", format_duration(*.after))]
    TimedOut { verb: String, after: Duration },
    /// The answer is not the document the verb returns.
    #[error("invalid answer to '{verb}': {why}")]
    Invalid { verb: String, why: String },
}

/// The static facts a driver gives about a resource (`call("describe")`).
#[derive(Debug, Default, serde::Deserialize)]
pub struct Described {
    #[serde(default)]
    pub sort_key: Option<String>,
    /// Variables the driver adds to the environment of the resource's commands.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// One driver resource.
pub struct Handle {
    object: ResourceBox,
    driver: String,
    rid: String,
}

impl Handle {
    /// Create resource `rid` of `entry`'s driver from its converted keywords and context.
    pub fn create(
        reg: &Registry,
        entry: &DriverEntry,
        rid: &str,
        keywords: &Map<String, Value>,
        context: &ResourceContext,
    ) -> Result<Handle, DriverError> {
        let driver = entry.manifest.id.clone();
        let _mark = Mark::new(&driver, rid, "create");
        let object = reg.new_resource(entry, rid, &json(keywords), &json(context))?;
        Ok(Handle {
            object,
            driver,
            rid: rid.to_string(),
        })
    }

    pub fn driver(&self) -> &str {
        &self.driver
    }

    pub fn rid(&self) -> &str {
        &self.rid
    }

    /// Run `f` on the resource object, marked in flight as `verb`.
    fn marked<T>(&self, verb: &str, f: impl FnOnce(&ResourceBox) -> T) -> T {
        let _mark = Mark::new(&self.driver, &self.rid, verb);
        f(&self.object)
    }

    /// The label `print status` shows.
    pub fn label(&self) -> String {
        self.marked("label", |o| o.label().into_string())
    }

    /// The rids the resource is linked to.
    pub fn links(&self) -> Vec<String> {
        self.marked("links", |o| {
            o.links().into_iter().map(RString::into_string).collect()
        })
    }

    /// The SDK answers `describe`; an older or foreign driver may not (nothing then).
    pub fn describe(&self) -> Described {
        let args = json(&CallArgs::new("describe"));
        self.raw_call("describe", &args).map_or_else(
            |_| Described::default(),
            |doc| serde_json::from_str(&doc).unwrap_or_default(),
        )
    }

    /// Another resource's question, routed here by the host callbacks: `args` is the JSON
    /// [`CallArgs`] and the answer goes back as the driver wrote it.
    pub fn query(&self, verb: &str, payload: Value) -> Result<String, DriverError> {
        let args = json(&CallArgs::new("query").with_payload(payload));
        self.raw_call(verb, &args)
    }

    fn raw_call(&self, verb: &str, args: &str) -> Result<String, DriverError> {
        self.marked(verb, |o| ok_or(o.call(RStr::from(verb), RStr::from(args))))
    }

    /// The resource's status, before `deadline`.
    pub fn status(
        self: &Arc<Self>,
        args: CallArgs,
        deadline: Deadline,
    ) -> Result<StatusReport, CallError> {
        let args = json(&deadline.stamp(args));
        let answer = self.bounded("status", deadline, move |h| {
            h.marked("status", |o| ok_or(o.status(RStr::from(args.as_str()))))
        })?;
        parse("status", &answer.map_err(CallError::Driver)?)
    }

    /// One of the action verbs, before `deadline`: whether it changed the resource. An
    /// answer that does not parse counts as a change, so that a rollback undoes it.
    pub fn act(
        self: &Arc<Self>,
        verb: Verb,
        args: CallArgs,
        deadline: Deadline,
    ) -> Result<bool, CallError> {
        let args = json(&deadline.stamp(args));
        let answer = self.bounded(verb.as_str(), deadline, move |h| {
            h.marked(verb.as_str(), |o| {
                let a = RStr::from(args.as_str());
                ok_or(match verb {
                    Verb::Start => o.start(a),
                    Verb::Stop => o.stop(a),
                    Verb::Provision => o.provision(a),
                    Verb::Unprovision => o.unprovision(a),
                })
            })
        })?;
        let doc = answer.map_err(CallError::Driver)?;
        Ok(parse::<ActionReport>(verb.as_str(), &doc).map_or(true, |r| r.changed))
    }

    /// A `call` verb answered with a `T` document (passthrough, `info`), before `deadline`.
    pub fn call<T: DeserializeOwned>(
        self: &Arc<Self>,
        verb: &str,
        args: CallArgs,
        deadline: Deadline,
    ) -> Result<T, CallError> {
        let args = json(&deadline.stamp(args));
        let owned = verb.to_string();
        let answer = self.bounded(verb, deadline, move |h| h.raw_call(&owned, &args))?;
        parse(verb, &answer.map_err(CallError::Driver)?)
    }

    /// Run `f` on a thread of its own and wait for it until `deadline`.
    fn bounded<T: Send + 'static>(
        self: &Arc<Self>,
        verb: &str,
        deadline: Deadline,
        f: impl FnOnce(&Handle) -> T + Send + 'static,
    ) -> Result<T, CallError> {
        let timed_out = || CallError::TimedOut {
            verb: verb.to_string(),
            after: deadline.timeout,
        };
        if deadline.passed() {
            return Err(timed_out());
        }
        let (tx, rx) = mpsc::sync_channel(1);
        let me = Arc::clone(self);
        std::thread::Builder::new()
            .spawn(move || {
                let _ = tx.send(f(&me));
            })
            .map_err(|e| {
                CallError::Driver(DriverError::new(
                    error_kind::OTHER,
                    format!("cannot start a thread for the '{verb}' call: {e}"),
                ))
            })?;
        rx.recv_timeout(deadline.remaining()).map_err(|e| match e {
            mpsc::RecvTimeoutError::Timeout => timed_out(),
            mpsc::RecvTimeoutError::Disconnected => CallError::Driver(DriverError::new(
                error_kind::OTHER,
                format!("the '{verb}' call ended without an answer"),
            )),
        })
    }
}

fn ok_or(r: RResult<RString, DriverError>) -> Result<String, DriverError> {
    match r {
        RResult::ROk(s) => Ok(s.into_string()),
        RResult::RErr(e) => Err(e),
    }
}

fn parse<T: DeserializeOwned>(verb: &str, doc: &str) -> Result<T, CallError> {
    serde_json::from_str(doc).map_err(|e| CallError::Invalid {
        verb: verb.to_string(),
        why: e.to_string(),
    })
}

/// Serialising these documents cannot fail (string keys, no custom serialisers).
fn json<T: serde::Serialize>(doc: &T) -> String {
    serde_json::to_string(doc).unwrap_or_default()
}
