//! Status: evaluation (`eval`, calls drivers), the state algebra (`state`), the instance view
//! shared by the tree renderer (`render`) and the JSON document (`json`), and the record of
//! the last action (`monitor`).

pub mod eval;
pub mod json;
pub mod monitor;
pub mod render;
pub mod state;

use crate::config::resolve::Props;
use serde_json::{Map, Value};
use state::{aggregate, Aggregate, Contribution, State};
use std::collections::BTreeMap;
use svcmgr_plugin_api::types::{Level, LogEntry};

/// One resource's evaluated status with the properties the views show.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceStatus {
    pub rid: String,
    pub group: String,
    /// Driver id, or empty when no driver serves the section.
    pub driver: String,
    pub status: State,
    pub label: String,
    pub log: Vec<LogEntry>,
    pub info: Map<String, Value>,
    /// The generic keywords, as configured.
    pub props: Props,
    /// The version of the driver that served the resource (empty: no driver).
    pub driver_version: String,
}

impl ResourceStatus {
    pub fn has_alert(&self) -> bool {
        self.log.iter().any(|l| l.level >= Level::Warn)
    }

    /// The 8 flag characters: running, monitor, disabled, optional, encap, provisioned,
    /// standby, restart.
    pub fn flags(&self) -> String {
        let p = &self.props;
        let restart = match p.restart {
            n if n < 1 => '.',
            n if n >= 10 => '+',
            n => char::from_digit(n as u32, 10).unwrap_or('+'),
        };
        [
            '.',
            if p.monitor { 'M' } else { '.' },
            if p.disable { 'D' } else { '.' },
            if p.optional { 'O' } else { '.' },
            '.',
            '.',
            if p.standby { 'S' } else { '.' },
            restart,
        ]
        .iter()
        .collect()
    }
}

/// The instance aggregate of evaluated resources.
pub fn aggregate_statuses(resources: &[ResourceStatus]) -> Aggregate {
    aggregate(resources.iter().map(|r| Contribution {
        group: &r.group,
        status: r.status,
        optional: r.props.optional,
        disabled: r.props.disable,
        has_alert: r.has_alert(),
    }))
}

/// Everything `print status` shows of one instance.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceView {
    pub svcname: String,
    pub nodename: String,
    pub agg: Aggregate,
    /// Unix time the frozen flag was set, if frozen.
    pub frozen: Option<f64>,
    pub monitor: monitor::Monitor,
    pub resources: Vec<ResourceStatus>,
    /// `<group>:<subset>` → parallel.
    pub subsets: BTreeMap<String, bool>,
    pub updated: f64,
}

impl InstanceView {
    /// Instance notices in order: `frozen`, the last action's outcome, `started`.
    pub fn notices(&self) -> Vec<String> {
        let mut n = Vec::new();
        if self.frozen.is_some() {
            n.push("frozen".to_string());
        }
        if !self.monitor.status.is_empty() {
            n.push(self.monitor.status.clone());
        }
        if !self.monitor.local_expect.is_empty() {
            n.push(self.monitor.local_expect.clone());
        }
        n
    }

    pub fn overall(&self) -> State {
        self.agg.overall
    }
}
