//! The plugin side of host callbacks: logging (including the plugin's own `tracing` events,
//! which would otherwise go nowhere since each `.so` has its own `tracing` globals) and queries.

use super::{Error, HostSide, Result};
use crate::abi::HostCallbacksRef;
use crate::types::Level;
use abi_stable::std_types::{RResult, RStr};
use std::cell::RefCell;
use std::sync::OnceLock;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};

static HOST: OnceLock<HostCallbacksRef> = OnceLock::new();

thread_local! {
    /// The resource a verb call is running for on this thread: untagged `tracing` events are
    /// logged under it.
    static CURRENT: RefCell<Option<(u64, String)>> = const { RefCell::new(None) };
}

/// Install the host callbacks and the tracing forwarder (once per library).
pub(crate) fn install(callbacks: HostCallbacksRef) {
    if HOST.set(callbacks).is_ok() {
        let subscriber = tracing_subscriber::registry().with(Forwarder);
        let _ = tracing::subscriber::set_global_default(subscriber);
        // A panic is reported by the SDK as an error of the resource; the default hook
        // would also print it raw on the host's stderr.
        std::panic::set_hook(Box::new(|info| {
            host_log(0, "", Level::Debug, &format!("driver panic: {info}"));
        }));
    }
}

fn host_log(token: u64, rid: &str, level: Level, msg: &str) {
    match HOST.get() {
        Some(cb) => (cb.log())(token, RStr::from(rid), level.wire(), RStr::from(msg)),
        None => eprintln!("{rid} {msg}"),
    }
}

/// The host, reached through the callbacks it passed to `init`.
pub(crate) struct AbiHost;

impl HostSide for AbiHost {
    fn log(&self, token: u64, rid: &str, level: Level, msg: &str) {
        host_log(token, rid, level, msg)
    }

    fn query(&self, token: u64, rid: &str, verb: &str, payload: &str) -> Result<String> {
        let cb = HOST
            .get()
            .ok_or_else(|| Error::other("driver not initialised by the host"))?;
        match (cb.query())(
            token,
            RStr::from(rid),
            RStr::from(verb),
            RStr::from(payload),
        ) {
            RResult::ROk(s) => Ok(s.into_string()),
            RResult::RErr(e) => Err(e.into()),
        }
    }
}

/// Marks the current thread as working for a resource until dropped.
pub(crate) struct CurrentGuard(Option<(u64, String)>);

impl CurrentGuard {
    pub(crate) fn set(token: u64, rid: &str) -> Self {
        CurrentGuard(CURRENT.with(|c| c.replace(Some((token, rid.to_string())))))
    }
}

impl Drop for CurrentGuard {
    fn drop(&mut self) {
        let prev = self.0.take();
        CURRENT.with(|c| *c.borrow_mut() = prev);
    }
}

struct Forwarder;

#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.insert_str(0, &format!("{value:?}"));
        } else {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.insert_str(0, value);
        } else {
            self.0.push_str(&format!(" {}={value}", field.name()));
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Forwarder {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let mut msg = Message::default();
        event.record(&mut msg);
        let lvl = match *event.metadata().level() {
            tracing::Level::ERROR => Level::Error,
            tracing::Level::WARN => Level::Warn,
            tracing::Level::INFO => Level::Info,
            _ => Level::Debug,
        };
        let (token, rid) = CURRENT
            .with(|c| c.borrow().clone())
            .unwrap_or((0, String::new()));
        host_log(token, &rid, lvl, &msg.0);
    }
}
