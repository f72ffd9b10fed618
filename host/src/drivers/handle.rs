//! The host's one way into a driver resource: every ABI call (creation, label, links,
//! `describe`, status, the action verbs, passthrough, `info`, queries) goes through a
//! [`Handle`], which serialises the arguments, gives the call its deadline, marks it in flight
//! (for the fatal-signal handler), matches the `RResult` and parses the answer.
//!
//! A call with a deadline runs on a thread of its own (a batch of statuses on a pool of
//! workers: [`statuses`]; an action on the sequencer's blocking thread, which bounds the
//! wait itself): past the deadline the caller gets [`CallError::TimedOut`] and goes on; the
//! call's thread is left to finish (a driver cannot be cancelled), still marked in flight.
//! Calls without one (creation, label, links, describe, queries, which must not block) run
//! on the caller's thread.

use super::in_flight::Mark;
use super::{DriverEntry, Registry};
use crate::config::resolve::{Timeouts, DEFAULT_STATUS_TIMEOUT, DEFAULT_TIMEOUT};
use crate::plan::Verb;
use abi_stable::std_types::{RResult, RStr, RString};
use compact_str::CompactString;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{mpsc, Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use svcmgr_plugin_api::abi::{error_kind, DriverError, ResourceBox};
use svcmgr_plugin_api::types::{format_duration, ActionReport, CallArgs, StatusReport};

/// When the host gives up on a call, and the timeout it came from (for messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    pub at: Instant,
    pub timeout: Duration,
    /// No keyword set the timeout: the host's default (drivers may end sooner).
    pub by_default: bool,
}

impl Deadline {
    /// `timeout` from now, as the configuration set it.
    pub fn after(timeout: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + timeout,
            timeout,
            by_default: false,
        }
    }

    /// The host's default `timeout` from now.
    pub fn by_default(timeout: Duration) -> Deadline {
        Deadline {
            by_default: true,
            ..Deadline::after(timeout)
        }
    }

    /// The deadline of a `verb` call (`start`, …, `status`) of a resource with these
    /// timeouts: the one they set, else the host's default, 1 h (1 min for a status).
    pub fn for_verb(timeouts: &Timeouts, verb: &str) -> Deadline {
        match timeouts.configured(verb) {
            Some(t) => Deadline::after(t),
            None if verb == "status" => Deadline::by_default(DEFAULT_STATUS_TIMEOUT),
            None => Deadline::by_default(DEFAULT_TIMEOUT),
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

    /// The same timeout, counted from now.
    pub fn from_now(self) -> Deadline {
        Deadline {
            at: Instant::now() + self.timeout,
            ..self
        }
    }

    /// `args` with this deadline, as the driver reads it (unix milliseconds).
    fn stamp(&self, mut args: CallArgs) -> CallArgs {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        args.deadline_unix_ms = Some((now + self.remaining()).as_millis() as u64);
        args.timeout_ms = Some(self.timeout.as_millis() as u64);
        args.default_deadline = self.by_default;
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
    // Short: kept inline, not allocated for each of a service's resources.
    driver: CompactString,
    rid: CompactString,
}

impl Handle {
    /// Create resource `rid` of `entry`'s driver from its converted keywords (a JSON object)
    /// and context.
    pub fn create(
        reg: &Registry,
        entry: &DriverEntry,
        rid: &str,
        keywords: &str,
        context: &str,
    ) -> Result<Handle, DriverError> {
        let driver = CompactString::from(entry.manifest.id.as_str());
        let _mark = Mark::new(&driver, rid, "create");
        let object = reg.new_resource(entry, rid, keywords, context)?;
        Ok(Handle {
            object,
            driver,
            rid: rid.into(),
        })
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
        // The same arguments for every resource: serialised once, not per resource.
        static ARGS: OnceLock<String> = OnceLock::new();
        let args = ARGS.get_or_init(|| json(&CallArgs::new("describe")));
        self.raw_call("describe", args).map_or_else(
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
        self.invoke(&Request::Call(verb.to_string()), args)
    }

    /// Make one call through the vtable, marked in flight: the only place that does.
    fn invoke(&self, request: &Request, args: &str) -> Result<String, DriverError> {
        self.marked(request.name(), |o| {
            let a = RStr::from(args);
            ok_or(match request {
                Request::Status => o.status(a),
                Request::Act(Verb::Start) => o.start(a),
                Request::Act(Verb::Stop) => o.stop(a),
                Request::Act(Verb::Provision) => o.provision(a),
                Request::Act(Verb::Unprovision) => o.unprovision(a),
                Request::Call(verb) => o.call(RStr::from(verb.as_str()), a),
            })
        })
    }

    /// The resource's status, before `deadline`.
    pub fn status(
        self: &Arc<Self>,
        args: CallArgs,
        deadline: Deadline,
    ) -> Result<StatusReport, CallError> {
        let doc = self.bounded(Request::Status, &deadline.stamp(args), deadline)?;
        parse("status", &doc)
    }

    /// One of the action verbs, told its `deadline`, on the caller's thread: whether it
    /// changed the resource. An answer that does not parse counts as a change, so that a
    /// rollback undoes it. The caller bounds the wait: the sequencer already makes each call
    /// on a blocking thread of its own and stops waiting at the deadline, and a second
    /// thread per call only cost its creation.
    pub fn act(&self, verb: Verb, args: CallArgs, deadline: Deadline) -> Result<bool, CallError> {
        let doc = self
            .invoke(&Request::Act(verb), &json(&deadline.stamp(args)))
            .map_err(CallError::Driver)?;
        Ok(parse::<ActionReport>(verb.as_str(), &doc).map_or(true, |r| r.changed))
    }

    /// A `call` verb answered with a `T` document (passthrough, `info`), before `deadline`.
    pub fn call<T: DeserializeOwned>(
        self: &Arc<Self>,
        verb: &str,
        args: CallArgs,
        deadline: Deadline,
    ) -> Result<T, CallError> {
        let request = Request::Call(verb.to_string());
        let doc = self.bounded(request, &deadline.stamp(args), deadline)?;
        parse(verb, &doc)
    }

    /// Make `request` with `args` as given (a JSON [`CallArgs`], or deliberately not), waiting
    /// at most `patience`, and hand back the answer as the driver wrote it: the conformance
    /// kit's way in, which judges answers itself.
    pub fn raw(self: &Arc<Self>, request: Request, args: String, patience: Duration) -> Raw {
        let answer = match self.on_thread(request, args) {
            Ok(rx) => rx,
            Err(e) => return Raw::Done(Err(e)),
        };
        match answer.recv_timeout(patience) {
            Ok(answer) => Raw::Done(answer),
            Err(mpsc::RecvTimeoutError::Timeout) => Raw::Late(Late(answer)),
            Err(mpsc::RecvTimeoutError::Disconnected) => Raw::Done(Err(ended())),
        }
    }

    /// Make `request` on a thread of its own and wait for its answer until `deadline`.
    fn bounded(
        self: &Arc<Self>,
        request: Request,
        args: &CallArgs,
        deadline: Deadline,
    ) -> Result<String, CallError> {
        let timed_out = || CallError::TimedOut {
            verb: request.name().to_string(),
            after: deadline.timeout,
        };
        if deadline.passed() {
            return Err(timed_out());
        }
        let answer = self
            .on_thread(request.clone(), json(args))
            .map_err(CallError::Driver)?;
        match answer.recv_timeout(deadline.remaining()) {
            Ok(answer) => answer.map_err(CallError::Driver),
            Err(mpsc::RecvTimeoutError::Timeout) => Err(timed_out()),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(CallError::Driver(ended())),
        }
    }

    /// Start `request` on a thread of its own; its answer comes on the receiver.
    fn on_thread(self: &Arc<Self>, request: Request, args: String) -> Result<Answer, DriverError> {
        let (tx, rx) = mpsc::sync_channel(1);
        let me = Arc::clone(self);
        std::thread::Builder::new()
            .spawn(move || {
                let _ = tx.send(me.invoke(&request, &args));
            })
            .map_err(|e| {
                DriverError::new(
                    error_kind::OTHER,
                    format!("cannot start a thread for the call: {e}"),
                )
            })?;
        Ok(rx)
    }
}

/// One status call of [`statuses`]: the resource, and its deadline as a timeout (counted
/// from when the call starts).
pub struct StatusCall {
    pub handle: Arc<Handle>,
    pub deadline: Deadline,
}

/// What a worker of [`statuses`] reports.
enum Progress {
    Started(usize, Deadline),
    Answered(usize, Result<String, DriverError>),
}

/// The statuses of many resources, `workers` calls at a time, each before its deadline,
/// without a thread per call (`print status` makes one call per resource). The workers run
/// the calls on their own threads; past a call's deadline it is given up, its worker left to
/// it and another one started in its place, so a hanging driver costs the others nothing.
pub fn statuses(calls: Vec<StatusCall>, workers: usize) -> Vec<Result<StatusReport, CallError>> {
    let total = calls.len();
    let calls = Arc::new(calls);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    let worker = || {
        let (calls, next, tx) = (Arc::clone(&calls), Arc::clone(&next), tx.clone());
        std::thread::Builder::new().spawn(move || loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(call) = calls.get(i) else { break };
            let deadline = call.deadline.from_now();
            let _ = tx.send(Progress::Started(i, deadline));
            let args = json(&deadline.stamp(CallArgs::new("status")));
            let _ = tx.send(Progress::Answered(
                i,
                call.handle.invoke(&Request::Status, &args),
            ));
        })
    };
    let mut answers: Vec<Option<Result<StatusReport, CallError>>> =
        (0..total).map(|_| None).collect();
    let mut running: BTreeMap<usize, Deadline> = BTreeMap::new();
    for _ in 0..workers.min(total) {
        if let Err(e) = worker() {
            let why = DriverError::new(error_kind::OTHER, format!("no thread for a status: {e}"));
            return (0..total)
                .map(|_| Err(CallError::Driver(why.clone())))
                .collect();
        }
    }
    let mut left = total;
    while left > 0 {
        let wake = running.values().map(|d| d.remaining()).min();
        let progress = match wake {
            Some(w) => rx.recv_timeout(w),
            None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
        };
        match progress {
            Ok(Progress::Started(i, deadline)) => {
                running.insert(i, deadline);
            }
            Ok(Progress::Answered(i, answer)) => {
                if running.remove(&i).is_some() && answers[i].is_none() {
                    answers[i] = Some(
                        answer
                            .map_err(CallError::Driver)
                            .and_then(|doc| parse("status", &doc)),
                    );
                    left -= 1;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let late: Vec<usize> = running
                    .iter()
                    .filter(|(_, d)| d.passed())
                    .map(|(i, _)| *i)
                    .collect();
                for i in late {
                    let deadline = running.remove(&i).expect("running");
                    answers[i] = Some(Err(CallError::TimedOut {
                        verb: "status".into(),
                        after: deadline.timeout,
                    }));
                    left -= 1;
                    // The worker stays with its call: another takes its place.
                    let _ = worker();
                }
            }
            // Every worker is gone (none could be replaced): what is left has no answer.
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    answers
        .into_iter()
        .map(|a| a.unwrap_or_else(|| Err(CallError::Driver(ended()))))
        .collect()
}

/// A call through the vtable: the status, an action verb, or a `call` verb.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Status,
    Act(Verb),
    Call(String),
}

impl Request {
    pub fn name(&self) -> &str {
        match self {
            Request::Status => "status",
            Request::Act(verb) => verb.as_str(),
            Request::Call(verb) => verb,
        }
    }
}

type Answer = mpsc::Receiver<Result<String, DriverError>>;

/// What [`Handle::raw`] got.
#[derive(Debug)]
pub enum Raw {
    /// The driver's answer, as it wrote it.
    Done(Result<String, DriverError>),
    /// No answer within the patience; the call still runs.
    Late(Late),
}

/// A call its caller stopped waiting for.
#[derive(Debug)]
pub struct Late(pub(crate) Answer);

impl Late {
    /// Wait up to `bound` more for the call to end; its answer if it did.
    pub fn wait(self, bound: Duration) -> Option<Result<String, DriverError>> {
        self.0.recv_timeout(bound).ok()
    }
}

/// The call's thread ended without an answer: something unwound past the call.
fn ended() -> DriverError {
    DriverError::new(error_kind::PANIC, "the call ended without an answer")
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
