//! Calling one verb of a driver's resource as the kit needs it: announced to the supervisor
//! (so that a call that kills the process is named), on a thread of its own (so that a call
//! that outlives its deadline does not hold the kit), timed, with the lines the driver logged
//! meanwhile.

use super::report::{emit, Record};
use crate::drivers::callbacks;
use abi_stable::std_types::{RResult, RStr};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use svcmgr_plugin_api::abi::{error_kind, DriverError, ResourceBox};
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
#[derive(Debug)]
pub struct Straggler(pub(super) mpsc::Receiver<Result<String, DriverError>>);

impl Straggler {
    /// Wait up to `bound` more for the call to end; its answer if it did.
    pub fn wait(self, bound: Duration) -> Option<Result<String, DriverError>> {
        self.0.recv_timeout(bound).ok()
    }
}

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

    fn invoke(
        &self,
        h: &ResourceBox,
        args: RStr<'_>,
    ) -> RResult<abi_stable::std_types::RString, DriverError> {
        match self {
            Verb::Status => h.status(args),
            Verb::Start => h.start(args),
            Verb::Stop => h.stop(args),
            Verb::Provision => h.provision(args),
            Verb::Unprovision => h.unprovision(args),
            Verb::Call(v) => h.call(RStr::from(v.as_str()), args),
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
        handle: &Arc<ResourceBox>,
        rid: &str,
        verb: Verb,
        args: String,
        patience: Duration,
    ) -> Answer {
        emit(&Record::Call {
            verb: verb.name().to_string(),
        });
        let first_line = self.log_count();
        let (tx, rx) = mpsc::channel();
        let h = handle.clone();
        let began = Instant::now();
        std::thread::spawn(move || {
            let answer = match verb.invoke(&h, RStr::from(args.as_str())) {
                RResult::ROk(doc) => Ok(doc.into_string()),
                RResult::RErr(e) => Err(e),
            };
            let _ = tx.send(answer);
        });
        let reply = match rx.recv_timeout(patience) {
            Ok(answer) => Reply::Done(answer),
            Err(mpsc::RecvTimeoutError::Timeout) => Reply::Late(Straggler(rx)),
            // The thread ended without sending: something unwound past the call.
            Err(mpsc::RecvTimeoutError::Disconnected) => Reply::Done(Err(DriverError::new(
                error_kind::PANIC,
                "the call ended without an answer",
            ))),
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
