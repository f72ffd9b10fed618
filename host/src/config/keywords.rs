//! Keywords the host itself handles: generic resource keywords valid in every resource
//! section, `[DEFAULT]` service keywords, and subset section keywords.

use svcmgr_plugin_api::types::KwType;

pub struct HostKw {
    pub name: &'static str,
    pub kind: KwType,
    /// Older spellings, accepted with a warning naming `name`.
    pub aliases: &'static [&'static str],
    /// Accepted for compatibility but without effect here (said by `validate config`).
    pub ignored: bool,
}

const fn kw(name: &'static str, kind: KwType) -> HostKw {
    HostKw {
        name,
        kind,
        aliases: &[],
        ignored: false,
    }
}

use KwType::*;

/// Valid in every resource section, whatever the driver.
pub const RESOURCE: &[HostKw] = &[
    kw("type", String),
    kw("disable", Bool),
    kw("optional", Bool),
    kw("standby", Bool),
    kw("monitor", Bool),
    kw("restart", Int),
    kw("tags", List),
    kw("subset", String),
    kw("comment", String),
    kw("timeout", Duration),
    kw("start_timeout", Duration),
    kw("stop_timeout", Duration),
    kw("provision_timeout", Duration),
    kw("unprovision_timeout", Duration),
    kw("status_timeout", Duration),
    kw("provision", Bool),
    kw("unprovision", Bool),
    kw("driver_version", String),
    // Triggers and requirements (`crate::hooks`).
    kw("pre_start", Shlex),
    kw("blocking_pre_start", Shlex),
    kw("post_start", Shlex),
    kw("blocking_post_start", Shlex),
    kw("pre_stop", Shlex),
    kw("blocking_pre_stop", Shlex),
    kw("post_stop", Shlex),
    kw("blocking_post_stop", Shlex),
    kw("pre_provision", Shlex),
    kw("blocking_pre_provision", Shlex),
    kw("post_provision", Shlex),
    kw("blocking_post_provision", Shlex),
    kw("pre_unprovision", Shlex),
    kw("blocking_pre_unprovision", Shlex),
    kw("post_unprovision", Shlex),
    kw("blocking_post_unprovision", Shlex),
    kw("start_requires", String),
    kw("stop_requires", String),
    kw("provision_requires", String),
    kw("unprovision_requires", String),
];

/// Valid in `[DEFAULT]` (drivers may add their own through `service_keywords`).
pub const SERVICE: &[HostKw] = &[
    kw("id", String),
    kw("nodes", List),
    kw("drpnode", String),
    kw("drpnodes", List),
    kw("app", String),
    HostKw {
        name: "env",
        kind: String,
        aliases: &["service_type"],
        ignored: false,
    },
    kw("comment", String),
    kw("rollback", Bool),
    kw("lock_timeout", Duration),
    kw("disable", Bool),
    kw("show_disabled", Bool),
    kw("orchestrate", String),
    kw("topology", String),
    kw("placement", String),
    kw("priority", Int),
    kw("drivers", List),
    kw("timeout", Duration),
    kw("start_timeout", Duration),
    kw("stop_timeout", Duration),
    kw("provision_timeout", Duration),
    kw("unprovision_timeout", Duration),
    kw("status_timeout", Duration),
    HostKw {
        name: "autostart_node",
        kind: List,
        aliases: &[],
        ignored: true,
    },
];

/// Valid in `[subset#<group>:<name>]`.
pub const SUBSET: &[HostKw] = &[kw("parallel", Bool)];

/// Find a keyword by name or alias; the flag says whether an alias matched.
pub fn find<'a>(table: &'a [HostKw], key: &str) -> Option<(&'a HostKw, bool)> {
    table.iter().find_map(|k| {
        if k.name == key {
            Some((k, false))
        } else if k.aliases.contains(&key) {
            Some((k, true))
        } else {
            None
        }
    })
}
