//! The host side of driver callbacks: log lines go to the host logger, queries are routed to
//! the named resource's `call`.

use super::handle::Handle;
use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::std_types::{RResult, RStr, RString};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use svcmgr_plugin_api::abi::{error_kind, DriverError, HostCallbacks, HostCallbacksRef};

/// The resources of one service instance, by rid (Fx hashing: built for every service, of up
/// to 10,000s of resources, from a trusted config; rids are short, kept inline).
pub type ResourceTable = rustc_hash::FxHashMap<compact_str::CompactString, Arc<Handle>>;

fn routes() -> &'static Mutex<HashMap<u64, Arc<ResourceTable>>> {
    static ROUTES: OnceLock<Mutex<HashMap<u64, Arc<ResourceTable>>>> = OnceLock::new();
    ROUTES.get_or_init(Default::default)
}

/// Make the resources of the service identified by `token` reachable by queries.
pub fn register(token: u64, table: Arc<ResourceTable>) {
    routes()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(token, table);
}

/// Where driver log lines go instead of the host log: `(rid, level, message)`.
pub type LogSink = Box<dyn Fn(&str, u8, &str) + Send + Sync>;

static LOG_SINK: OnceLock<LogSink> = OnceLock::new();

/// Send every driver log line of this process to `sink` instead of the host log (the
/// conformance kit reads what a driver logs during each call). First call wins.
pub fn capture_logs(sink: LogSink) {
    let _ = LOG_SINK.set(sink);
}

pub fn host_callbacks() -> HostCallbacksRef {
    static CALLBACKS: OnceLock<HostCallbacksRef> = OnceLock::new();
    *CALLBACKS.get_or_init(|| HostCallbacks { log, query }.leak_into_prefix())
}

extern "C" fn log(_token: u64, rid: RStr<'_>, level: u8, msg: RStr<'_>) {
    match LOG_SINK.get() {
        Some(sink) => sink(rid.as_str(), level, msg.as_str()),
        None => crate::log::log(rid.as_str(), level, msg.as_str()),
    }
}

extern "C" fn query(
    token: u64,
    rid: RStr<'_>,
    verb: RStr<'_>,
    args: RStr<'_>,
) -> RResult<RString, DriverError> {
    let target = routes()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&token)
        .and_then(|t| t.get(rid.as_str()).cloned());
    let Some(resource) = target else {
        return RResult::RErr(DriverError::new(
            error_kind::NOT_FOUND,
            format!("resource {} does not exist in this service", rid.as_str()),
        ));
    };
    let payload = serde_json::from_str(args.as_str()).unwrap_or(serde_json::Value::Null);
    match resource.query(verb.as_str(), payload) {
        Ok(answer) => RResult::ROk(RString::from(answer)),
        Err(e) => RResult::RErr(e),
    }
}
