//! Calling one verb of a driver's resource as the kit needs it: announced to the supervisor
//! (so that a call that kills the process is named), on a thread of its own (so that a call
//! that outlives its deadline does not hold the kit), timed, with the lines the driver logged
//! meanwhile.

use super::report::{emit, Record};
use crate::drivers::callbacks;
use crate::drivers::handle::{Handle, Late, Raw, Request};
use crate::plan::Verb as PlanVerb;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use svcmgr_plugin_api::abi::DriverError;
use svcmgr_plugin_api::types::Level;

/// A line a driver logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub rid: String,
    pub level: Level,
    pub message: String,
}

/// A call's answer, if it came in time.
#[derive(Debug)]
pub enum Reply {
    Done(Result<String, DriverError>),
    /// No answer before the kit stopped waiting; the call still runs.
    Late(Straggler),
}

/// A call the kit stopped waiting for.
pub type Straggler = Late;

/// One call: what came back, how long it took, what the resource logged meanwhile.
#[derive(Debug)]
pub struct Answer {
    pub reply: Reply,
    pub elapsed: Duration,
    pub logs: Vec<LogLine>,
}

impl Answer {
    /// The call's answer in words, for a check's detail.
    pub fn describe(&self) -> String {
        match &self.reply {
            Reply::Done(Ok(_)) => "succeeded".into(),
            Reply::Done(Err(e)) => format!("failed: {e}"),
            Reply::Late(_) => format!("had not answered after {:.1}s", secs(self.elapsed)),
        }
    }
}

pub fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// A resource verb: one of the vtable's, or a `call` verb.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verb {
    Status,
    Start,
    Stop,
    Provision,
    Unprovision,
    Call(String),
}

impl Verb {
    pub fn name(&self) -> &str {
        match self {
            Verb::Status => "status",
            Verb::Start => "start",
            Verb::Stop => "stop",
            Verb::Provision => "provision",
            Verb::Unprovision => "unprovision",
            Verb::Call(v) => v,
        }
    }

    fn request(&self) -> Request {
        match self {
            Verb::Status => Request::Status,
            Verb::Start => Request::Act(PlanVerb::Start),
            Verb::Stop => Request::Act(PlanVerb::Stop),
            Verb::Provision => Request::Act(PlanVerb::Provision),
            Verb::Unprovision => Request::Act(PlanVerb::Unprovision),
            Verb::Call(v) => Request::Call(v.clone()),
        }
    }
}

/// Calls resources and keeps what drivers log (installed once per process: every driver log
/// line of the process comes here instead of the host log).
#[derive(Clone)]
pub struct Probe {
    logs: Arc<Mutex<Vec<LogLine>>>,
}

impl Probe {
    pub fn install() -> Probe {
        let logs: Arc<Mutex<Vec<LogLine>>> = Arc::default();
        let sink = logs.clone();
        callbacks::capture_logs(Box::new(move |rid, level, message| {
            sink.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(LogLine {
                    rid: rid.to_string(),
                    level: Level::from_wire(level),
                    message: message.to_string(),
                })
        }));
        Probe { logs }
    }

    fn log_count(&self) -> usize {
        self.logs.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Call `verb` of resource `rid` with `args` (JSON, or deliberately not), waiting at most
    /// `patience` for the answer.
    pub fn call(
        &self,
        handle: &Arc<Handle>,
        rid: &str,
        verb: Verb,
        args: String,
        patience: Duration,
    ) -> Answer {
        emit(&Record::Call {
            verb: verb.name().to_string(),
        });
        let first_line = self.log_count();
        let began = Instant::now();
        let reply = match handle.raw(verb.request(), args, patience) {
            Raw::Done(answer) => Reply::Done(answer),
            Raw::Late(late) => Reply::Late(late),
        };
        let elapsed = began.elapsed();
        let logs = self.logs.lock().unwrap_or_else(|e| e.into_inner())[first_line..]
            .iter()
            .filter(|l| l.rid == rid)
            .cloned()
            .collect();
        Answer {
            reply,
            elapsed,
            logs,
        }
    }
}
