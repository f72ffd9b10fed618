//! Keywords the host itself handles: generic resource keywords valid in every resource
//! section, `[DEFAULT]` service keywords, and subset section keywords.

use rustc_hash::FxHashMap;
use std::sync::OnceLock;
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
pub static RESOURCE: &[HostKw] = &[
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
pub static SERVICE: &[HostKw] = &[
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
pub static SUBSET: &[HostKw] = &[kw("parallel", Bool)];

/// Find a keyword by name or alias; the flag says whether an alias matched.
pub fn find<'a>(table: &'a [HostKw], key: &str) -> Option<(&'a HostKw, bool)> {
    // Every key of every section, and every keyword the host reads from each, is looked up
    // here: the tables of this module are indexed once instead of searched each time.
    type Index = FxHashMap<&'static str, (usize, bool)>;
    static INDEXES: [OnceLock<Index>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let tables: [&'static [HostKw]; 3] = [RESOURCE, SERVICE, SUBSET];
    let Some(slot) = tables.iter().position(|t| std::ptr::eq(*t, table)) else {
        return search(table, key);
    };
    let index = INDEXES[slot].get_or_init(|| {
        let mut index = Index::default();
        for (i, k) in tables[slot].iter().enumerate() {
            index.entry(k.name).or_insert((i, false));
            for alias in k.aliases {
                index.entry(alias).or_insert((i, true));
            }
        }
        index
    });
    index.get(key).map(|&(i, alias)| (&table[i], alias))
}

/// `find` by reading the table in order (the first entry naming `key` wins).
fn search<'a>(table: &'a [HostKw], key: &str) -> Option<(&'a HostKw, bool)> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_finds_what_a_search_finds() {
        for table in [RESOURCE, SERVICE, SUBSET] {
            let names = table
                .iter()
                .flat_map(|k| std::iter::once(&k.name).chain(k.aliases));
            for name in names.chain([&"nosuch", &""]) {
                let (found, searched) = (find(table, name), search(table, name));
                assert_eq!(
                    found.map(|(k, alias)| (k.name, alias)),
                    searched.map(|(k, alias)| (k.name, alias)),
                    "{name}"
                );
            }
        }
        assert!(find(SERVICE, "service_type").is_some_and(|(k, alias)| k.name == "env" && alias));
    }
}
