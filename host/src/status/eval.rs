//! Live status evaluation: every resource's driver `status`, concurrently, then aggregation.

use super::monitor::{frozen_since, Monitor};
use super::state::State;
use super::{InstanceView, ResourceStatus};
use crate::service::{Resource, Service};
use abi_stable::std_types::{RResult, RStr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use svcmgr_plugin_api::types::{CallArgs, Level, LogEntry, StatusReport};

/// At most this many status calls at once (each may run a command).
const WORKERS: usize = 16;

/// Ask one resource's driver for its status.
pub fn resource_status(res: &Resource) -> ResourceStatus {
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
        return st;
    }
    if p.has_tag("nostatus") {
        st.status = State::NA;
        st.log.push(LogEntry::new(Level::Info, "nostatus tag"));
        return st;
    }
    let error = |msg: String| LogEntry::new(Level::Error, msg);
    match &res.driver {
        Err(problem) => st.log.push(error(problem.clone())),
        Ok(h) => {
            let args = serde_json::to_string(&CallArgs::new("status")).unwrap_or_default();
            match h.status(RStr::from(args.as_str())) {
                RResult::ROk(doc) => match serde_json::from_str::<StatusReport>(doc.as_str()) {
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
                    Err(e) => st.log.push(error(format!("invalid status document: {e}"))),
                },
                RResult::RErr(e) => st.log.push(error(format!("status failed: {e}"))),
            }
            if p.standby {
                st.status = st.status.as_standby();
            }
        }
    }
    st
}

/// Evaluate the statuses of `resources` concurrently, keeping their order.
pub fn statuses<'a>(resources: impl IntoIterator<Item = &'a Resource>) -> Vec<ResourceStatus> {
    let list: Vec<&Resource> = resources.into_iter().collect();
    let results: Vec<Mutex<Option<ResourceStatus>>> =
        list.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..WORKERS.min(list.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(res) = list.get(i) else { break };
                *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(resource_status(res));
            });
        }
    });
    results
        .into_iter()
        .filter_map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect()
}

/// The whole instance, live.
pub fn instance(svc: &Service) -> InstanceView {
    let resources = statuses(&svc.resources);
    let agg = super::aggregate_statuses(&resources);
    let var = svc.var_dir();
    InstanceView {
        svcname: svc.name.clone(),
        nodename: svc.paths.nodename.clone(),
        agg,
        frozen: frozen_since(&var),
        monitor: Monitor::load(&var),
        resources,
        subsets: svc.def.subsets.clone(),
        updated: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0),
    }
}

/// Evaluate, and cache the JSON document as `status.json` in the var dir.
pub fn refresh(svc: &Service) -> InstanceView {
    let view = instance(svc);
    let var = svc.var_dir();
    let doc = super::json::document(&view);
    let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    let _ = super::monitor::write_state(&var, "status.json", &text);
    view
}
