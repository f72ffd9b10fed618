//! The ip drivers: `ip.host` (an address on a host interface, the default for `[ip#N]`) and
//! `ip.netns` (an address inside a container's network namespace), both through iproute2
//! (decisions §10), every command logged and run without a shell.

mod addr;
mod arp;
mod host;
mod iface;
mod netlink;
mod netns;
mod ns;
mod plan;
mod sys;

use svcmgr_plugin_api::{
    export_plugin, DriverDecl, Error, Kw, Plugin, ResourceImpl, ResourceSpec, Result,
};

export_plugin!(plugin);

pub fn plugin() -> Plugin {
    Plugin::new("ip", env!("CARGO_PKG_VERSION"))
        .driver(host_declaration())
        .driver(netns_declaration())
}

fn boxed<T: ResourceImpl>(r: std::result::Result<T, String>) -> Result<Box<dyn ResourceImpl>> {
    r.map(|r| Box::new(r) as Box<dyn ResourceImpl>)
        .map_err(Error::config)
}

fn new_host(spec: &ResourceSpec) -> Result<Box<dyn ResourceImpl>> {
    boxed(host::IpHost::new(spec))
}

fn new_netns(spec: &ResourceSpec) -> Result<Box<dyn ResourceImpl>> {
    boxed(netns::IpNetns::new(spec))
}

/// The keywords both drivers share.
fn address_keywords(decl: DriverDecl) -> DriverDecl {
    decl.keyword(Kw::string("ipname").required().help(
        "The address: an IPv4 or IPv6 literal, or a name resolved with the system resolver \
         (/etc/hosts, DNS) at each action.",
    ))
    .keyword(Kw::string("netmask").help(
        "The prefix length (24) or dotted IPv4 mask (255.255.255.0). Unset: taken from the \
             address of ipdev in the same network.",
    ))
    .keyword(Kw::string("gateway").help(
        "ip.netns: the default route of the namespace. ip.host: accepted for compatibility, \
         unused (the node's routes are its own).",
    ))
}

fn host_declaration() -> DriverDecl {
    address_keywords(
        DriverDecl::new("ip.host", env!("CARGO_PKG_VERSION"), new_host)
            .help("An IP address plumbed on a host interface (ip addr add … label <ipdev>:<n>).")
            .default_for_group(),
    )
    .keyword(
        Kw::string("ipdev").required().help(
            "The host interface the address goes on (eth0), or a forced alias label (eth0:3).",
        ),
    )
    .keyword(Kw::bool("alias").default("true").help(
        "Plumb IPv4 addresses with the first free alias label <ipdev>:<n> (n >= 1); false: \
         on the interface itself.",
    ))
    .keyword(Kw::bool("check_carrier").default("true").help(
        "An interface without carrier makes the resource down and its start fail (unless \
         --force).",
    ))
}

fn netns_declaration() -> DriverDecl {
    address_keywords(
        DriverDecl::new("ip.netns", env!("CARGO_PKG_VERSION"), new_netns)
            .help(
                "An IP address plumbed inside the network namespace of a container resource, \
                 which it asks for its namespace (query netns).",
            )
            .type_alias("docker"),
    )
    .keyword(Kw::string("ipdev").required().help(
        "The host interface: the bridge (bridge mode), the parent (macvlan, ipvlan) or the \
         device moved into the namespace (dedicated).",
    ))
    .keyword(
        Kw::string("netns")
            .required()
            .alias("container_rid")
            .link("container")
            .help(
                "The container resource (container#N) whose namespace holds the address. The \
                 resource is linked to it: it starts right after it and stops right before it.",
            ),
    )
    .keyword(
        Kw::string("mode")
            .default("bridge")
            .candidates(plan::MODES)
            .help(
                "bridge: a veth pair, the host end in ipdev; macvlan: a macvlan (mode bridge) \
                 on ipdev; ipvlan-l2, ipvlan-l3: an ipvlan on ipdev; dedicated: ipdev itself \
                 moves into the namespace.",
            ),
    )
    .keyword(
        Kw::string("nsdev")
            .help("The interface name inside the namespace. Unset: the first free eth<N>."),
    )
    .keyword(
        Kw::string("macaddr").help(
            "The MAC address of the interface in the namespace (bridge, macvlan, dedicated).",
        ),
    )
    .keyword(Kw::int("mtu").help("The MTU of the created interface. Unset: that of ipdev."))
    .keyword(Kw::bool("del_net_route").default("false").help(
        "Remove the connected route to 'network' from the namespace once the address is set.",
    ))
    .keyword(
        Kw::string("network").help(
            "The network address whose route del_net_route removes (with the address's prefix).",
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest() {
        let (h, n) = (host_declaration(), netns_declaration());
        let (h, n) = (h.manifest(), n.manifest());
        assert_eq!((h.id.as_str(), n.id.as_str()), ("ip.host", "ip.netns"));
        assert!(h.default_for_group && !n.default_for_group);
        assert_eq!(n.type_aliases, ["docker"]);
        let kw = |m: &svcmgr_plugin_api::types::DriverManifest, name: &str| {
            m.keywords.iter().find(|k| k.name == name).unwrap().clone()
        };
        assert!(kw(h, "ipname").required && kw(n, "ipname").required);
        let netns = kw(n, "netns");
        assert!(netns.required);
        assert_eq!(netns.link.as_deref(), Some("container"));
        assert_eq!(netns.aliases, ["container_rid"]);
        assert_eq!(kw(n, "mode").candidates.unwrap(), plan::MODES);
        assert!(h.keywords.iter().all(|k| k.link.is_none()));
    }

    #[test]
    fn keywords_and_tags_reach_the_resources() {
        use svcmgr_plugin_api::testing;
        let host = |b: testing::Builder| host::IpHost::new(&b.spec().unwrap());
        let base = || {
            testing::resource(plugin, "ip.host", "ip#1")
                .keyword("ipname", "198.18.0.10")
                .keyword("ipdev", "br0")
        };
        assert!(!host(base()).unwrap().nonrouted);
        assert!(host(base().tag("nonrouted")).unwrap().nonrouted);
        let too_long = base().keyword("ipdev", "averylongbridge0");
        assert!(host(too_long).err().unwrap().starts_with("ipdev: "));
        let netns = |mode: &str| {
            let b = testing::resource(plugin, "ip.netns", "ip#1")
                .keyword("ipname", "198.18.0.10")
                .keyword("ipdev", "br0")
                .keyword("netns", "container#1")
                .keyword("mode", mode);
            netns::IpNetns::new(&b.spec().unwrap())
        };
        assert!(netns("bridge").is_ok());
        assert_eq!(
            netns("dedicated").err().unwrap(),
            "netmask: required in dedicated mode"
        );
    }
}
