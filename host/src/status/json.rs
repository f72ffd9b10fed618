//! The `print status --format json` document (also cached as `status.json` in the var dir).
//! Versioned by `schema_version`; fields are documented in docs/status-json.md.

use super::InstanceView;
use crate::rid::natural_cmp;
use serde_json::{json, Map, Value};

pub const SCHEMA_VERSION: u32 = 1;

pub fn document(view: &InstanceView) -> Value {
    let mut resources: Vec<_> = view.resources.iter().collect();
    resources.sort_by(|a, b| natural_cmp(&a.rid, &b.rid));
    let resources: Map<String, Value> = resources
        .into_iter()
        .map(|r| {
            let doc = json!({
                "status": r.status.as_str(),
                "type": r.driver,
                "driver_version": r.driver_version,
                "group": r.group,
                "label": r.label,
                "flags": r.flags(),
                "log": r.log.iter().map(|l| format!("{}: {}", l.level, l.message)).collect::<Vec<_>>(),
                "info": r.info,
                "disable": r.props.disable,
                "optional": r.props.optional,
                "standby": r.props.standby,
                "monitor": r.props.monitor,
                "restart": r.props.restart,
                "tags": r.props.tags,
                "subset": r.props.subset,
            });
            (r.rid.clone(), doc)
        })
        .collect();
    let subsets: Map<String, Value> = view
        .subsets
        .iter()
        .map(|(k, parallel)| (k.clone(), json!({ "parallel": parallel })))
        .collect();
    let groups: Map<String, Value> = view
        .agg
        .groups
        .iter()
        .map(|(g, s)| (g.clone(), Value::from(s.as_str())))
        .collect();
    json!({
        "schema_version": SCHEMA_VERSION,
        "kind": "svc",
        "name": view.svcname,
        "nodename": view.nodename,
        "updated": view.updated,
        "avail": view.agg.avail.as_str(),
        "overall": view.agg.overall.as_str(),
        "optional": view.agg.optional.as_str(),
        "frozen": view.frozen.unwrap_or(0.0),
        "notices": view.notices(),
        "monitor": view.monitor,
        "status_group": groups,
        "subsets": subsets,
        "resources": resources,
    })
}
