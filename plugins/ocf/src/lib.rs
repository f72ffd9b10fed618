//! The `ocf` drivers: any OCF resource agent (`heartbeat:IPaddr2`, `heartbeat:Filesystem`,
//! a vendor's own…) as a svcmgr resource. One implementation under every group an agent may
//! belong to (`app.ocf`, `ip.ocf`, `fs.ocf`, `disk.ocf`, `container.ocf`), so that an agent
//! takes its place in the group order: `[ip#1] type = ocf` starts before the containers.

mod agent;
mod cache;
mod codes;
mod meta;
mod params;
mod resource;

use svcmgr_plugin_api::{
    export_plugin, DriverDecl, Kw, Plugin, ResourceImpl, ResourceSpec, Result,
};

export_plugin!(plugin);

/// The groups whose sections may be `type = ocf`.
const GROUPS: &[&str] = &["app", "ip", "fs", "disk", "container"];

pub fn plugin() -> Plugin {
    let version = env!("CARGO_PKG_VERSION");
    GROUPS
        .iter()
        .fold(Plugin::new("ocf", version), |plugin, group| {
            plugin.driver(
                DriverDecl::new(&format!("{group}.ocf"), version, new_resource)
                    .help("An OCF resource agent: its start, stop and monitor actions.")
                    .capability("info")
                    .keyword(Kw::string("agent").required().help(
                        "The agent, provider:type (heartbeat:IPaddr2 runs \
                     <ocf_root>/resource.d/heartbeat/IPaddr2). \
                     `svcmgr driver info <id> --kw agent=…` lists its parameters.",
                    ))
                    .keyword(Kw::shlex("params").help(
                        "The agent's parameters, key=value words (quoted like a shell), \
                     passed as OCF_RESKEY_<key>.",
                    ))
                    .keyword(
                        Kw::string("ocf_root")
                            .default(resource::OCF_ROOT)
                            .help("Where the agents are installed (OCF_ROOT)."),
                    ),
            )
        })
}

fn new_resource(spec: &ResourceSpec) -> Result<Box<dyn ResourceImpl>> {
    Ok(Box::new(resource::Ocf::new(spec)?))
}
