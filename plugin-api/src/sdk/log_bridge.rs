//! The plugin side of host callbacks: logging (including the plugin's own `tracing` events,
//! which would otherwise go nowhere since each `.so` has its own `tracing` globals) and queries.

use super::{Error, HostSide, Result};
use crate::abi::HostCallbacksRef;
use crate::types::Level;
use abi_stable::std_types::{RResult, RStr};
use std::cell::RefCell;
use std::sync::{Arc, OnceLock};
use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::Metadata;
use tracing_subscriber::layer::{Context, SubscriberExt};

static HOST: OnceLock<HostCallbacksRef> = OnceLock::new();
/// The driver crate (the first segment of the module path where `export_plugin!` expands):
/// its `tracing` events are its records; those of its dependencies (an HTTP client's debug
/// chatter) are not, and are not forwarded.
static OWN_CRATE: OnceLock<&'static str> = OnceLock::new();

/// Remember the driver crate from the module path the export macro expands in.
pub(crate) fn set_own_crate(module_path: &'static str) {
    let _ = OWN_CRATE.set(crate_of(module_path));
}

fn crate_of(path: &str) -> &str {
    path.split("::").next().unwrap_or(path)
}

/// Whether an event of `target` (a module path, unless the event set one) is the driver's or
/// the SDK's own.
fn is_own(target: &str, own_crate: Option<&str>) -> bool {
    let krate = crate_of(target);
    krate == module_path!().split("::").next().unwrap_or_default() || Some(krate) == own_crate
}

thread_local! {
    /// The resource a verb call is running for on this thread: untagged `tracing` events are
    /// logged under it.
    /// Shared with the resource, not copied: label and links are asked of every resource.
    static CURRENT: RefCell<Option<(u64, Arc<str>)>> = const { RefCell::new(None) };
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
pub(crate) struct CurrentGuard(Option<(u64, Arc<str>)>);

impl CurrentGuard {
    pub(crate) fn set(token: u64, rid: &Arc<str>) -> Self {
        CurrentGuard(CURRENT.with(|c| c.replace(Some((token, rid.clone())))))
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
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        match is_own(meta.target(), OWN_CRATE.get().copied()) {
            true => Interest::always(),
            false => Interest::never(),
        }
    }

    fn enabled(&self, meta: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        is_own(meta.target(), OWN_CRATE.get().copied())
    }

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
            .unwrap_or((0, Arc::from("")));
        host_log(token, &rid, lvl, &msg.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_driver_and_the_sdk_are_heard() {
        let own = Some("svcmgr_driver_docker");
        assert!(is_own("svcmgr_driver_docker::engine", own));
        assert!(is_own("svcmgr_driver_docker", own));
        assert!(is_own("svcmgr_plugin_api::sdk::command", own));
        assert!(!is_own("hyper_util::client::legacy::pool", own));
        assert!(!is_own("bollard::docker", own));
        assert!(!is_own("svcmgr_driver_dockerx::a", own));
        assert!(!is_own("hyper_util::client", None));
    }
}
