//! Live status evaluation: every resource's driver `status`, concurrently, then aggregation.

use super::monitor::{frozen_since, Monitor};
use super::state::State;
use super::{InstanceView, ResourceStatus};
use crate::drivers::handle::{self, CallError, Deadline, Handle, StatusCall};
use crate::service::{Resource, Service};
use std::sync::Arc;
use svcmgr_plugin_api::types::{CallArgs, Level, LogEntry, StatusReport};

/// At most this many status calls at once (each may run a command).
const WORKERS: usize = 16;

/// A resource's status before its driver is asked, and the driver to ask (None: nothing to
/// ask: disabled, tagged `nostatus`, or no driver object).
fn prepare(res: &Resource) -> (ResourceStatus, Option<Arc<Handle>>) {
    let p = &res.def.props;
    let mut st = ResourceStatus {
        rid: res.def.rid.clone(),
        group: res.def.group.clone(),
        driver: res.def.driver.clone().unwrap_or_default(),
        status: State::Undef,
        label: res.label.clone(),
        log: Vec::new(),
        info: Default::default(),
        props: p.clone(),
        driver_version: res.def.driver_version.clone().unwrap_or_default(),
    };
    if p.disable {
        st.status = State::NA;
        return (st, None);
    }
    if p.has_tag("nostatus") {
        st.status = State::NA;
        st.log.push(LogEntry::new(Level::Info, "nostatus tag"));
        return (st, None);
    }
    match &res.driver {
        Err(problem) => {
            st.log.push(error(problem.clone()));
            (st, None)
        }
        Ok(h) => (st, Some(Arc::clone(h))),
    }
}

fn error(msg: String) -> LogEntry {
    LogEntry::new(Level::Error, msg)
}

/// Fill in the driver's answer.
fn apply(st: &mut ResourceStatus, answer: Result<StatusReport, CallError>) {
    match answer {
        Ok(report) => {
            st.status = State::parse(report.status.as_str()).unwrap_or(State::Undef);
            if let Some(label) = report.label.clone() {
                st.label = label;
            }
            if let Some(word) = report.unknown_status() {
                // An older or foreign driver: say what it sent.
                st.log.push(error(format!(
                    "the driver reported status '{word}', which is not a status"
                )));
            }
            st.log.extend(report.log);
            st.info = report.info;
        }
        Err(e @ CallError::TimedOut { .. }) => st.log.push(error(e.to_string())),
        Err(CallError::Invalid { why, .. }) => st
            .log
            .push(error(format!("invalid status document: {why}"))),
        Err(CallError::Driver(e)) => st.log.push(error(format!("status failed: {e}"))),
    }
    if st.props.standby {
        st.status = st.status.as_standby();
    }
}

/// Ask one resource's driver for its status, before its status timeout (`status_timeout`,
/// then `timeout`, then 1 min) or `bound` (a requirement check's own deadline), whichever
/// comes first.
pub fn resource_status(res: &Resource, bound: Option<Deadline>) -> ResourceStatus {
    let (mut st, handle) = prepare(res);
    if let Some(h) = handle {
        let own = Deadline::for_verb(&res.def.props.timeouts, "status");
        let deadline = bound.map_or(own, |b| own.min(b));
        apply(&mut st, h.status(CallArgs::new("status"), deadline));
    }
    st
}

/// Evaluate the statuses of `resources` concurrently, keeping their order.
pub fn statuses<'a>(resources: impl IntoIterator<Item = &'a Resource>) -> Vec<ResourceStatus> {
    let (mut out, mut asked, mut calls) = (Vec::new(), Vec::new(), Vec::new());
    for res in resources {
        let (st, handle) = prepare(res);
        if let Some(handle) = handle {
            asked.push(out.len());
            let deadline = Deadline::for_verb(&res.def.props.timeouts, "status");
            calls.push(StatusCall { handle, deadline });
        }
        out.push(st);
    }
    for (i, answer) in asked.into_iter().zip(handle::statuses(calls, WORKERS)) {
        apply(&mut out[i], answer);
    }
    out
}

/// The whole instance, live, with `monitor` as the record of the last action.
pub fn instance(svc: &Service, monitor: Monitor) -> InstanceView {
    let resources = statuses(&svc.resources);
    let agg = super::aggregate_statuses(&resources);
    let var = svc.var_dir();
    InstanceView {
        svcname: svc.name.clone(),
        nodename: svc.paths.nodename.clone(),
        agg,
        frozen: frozen_since(&var),
        monitor,
        resources,
        subsets: svc.def.subsets.clone(),
        updated: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0),
    }
}

/// Evaluate, and cache the JSON document as `status.json` in the var dir (not synced: a
/// cache, see [`super::monitor::write_status_cache`]).
pub fn refresh(svc: &Service, monitor: Monitor) -> InstanceView {
    let view = instance(svc, monitor);
    cache(svc, &view);
    view
}

/// Cache `view` as `status.json` in the var dir (best effort: a cache).
pub fn cache(svc: &Service, view: &InstanceView) {
    let doc = super::json::document(view);
    let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    let _ = super::monitor::write_status_cache(&svc.var_dir(), &text);
}
