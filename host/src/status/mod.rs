//! Status: evaluation (`eval`, calls drivers), the state algebra (`state`), the instance view
//! shared by the tree renderer (`render`) and the JSON document (`json`), and the record of
//! the last action (`monitor`).

pub mod eval;
pub mod json;
pub mod monitor;
pub mod render;
pub mod state;

use serde_json::{Map, Value};
use state::{Aggregate, State};
use std::collections::BTreeMap;
use svcmgr_plugin_api::types::LogEntry;

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
    pub disable: bool,
    pub optional: bool,
    pub standby: bool,
    pub monitor: bool,
    pub restart: i64,
    pub tags: Vec<String>,
    pub subset: Option<String>,
}

impl ResourceStatus {
    pub fn has_alert(&self) -> bool {
        self.log
            .iter()
            .any(|l| l.level == "warn" || l.level == "error")
    }

    /// The 8 flag characters: running, monitor, disabled, optional, encap, provisioned,
    /// standby, restart.
    pub fn flags(&self) -> String {
        let restart = match self.restart {
            n if n < 1 => '.',
            n if n >= 10 => '+',
            n => char::from_digit(n as u32, 10).unwrap_or('+'),
        };
        [
            '.',
            if self.monitor { 'M' } else { '.' },
            if self.disable { 'D' } else { '.' },
            if self.optional { 'O' } else { '.' },
            '.',
            '.',
            if self.standby { 'S' } else { '.' },
            restart,
        ]
        .iter()
        .collect()
    }
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
