//! `ip.netns`: an address plumbed inside the network namespace of a container resource of
//! the same service. The container is asked for its namespace through the host's `query`
//! callback (verb `netns`: `{"pid": …, "netns": "/proc/<pid>/ns/net"}`), so any container
//! driver that answers it works; this driver never talks to a container engine.

use crate::addr::Address;
use crate::iface::{self, Link};
use crate::plan::{self, Mode, NetnsPlumb, Step};
use crate::sys;
use std::net::IpAddr;
use std::time::Duration;
use svcmgr_plugin_api::serde_json::{json, Value};
use svcmgr_plugin_api::{
    ActionReport, Ctx, Error, ResourceImpl, ResourceSpec, Result, StatusReport,
};

/// How long a start waits for a new interface to come up before it announces the address.
const LINK_UP_WAIT: Duration = Duration::from_secs(2);

pub struct IpNetns {
    address: Address,
    ipdev: String,
    /// The container rid whose namespace holds the address (`netns`).
    container: String,
    mode: Mode,
    nsdev: Option<String>,
    macaddr: Option<String>,
    mtu: Option<u32>,
    gateway: Option<IpAddr>,
    /// `del_net_route` with `network`: the connected route to that network goes.
    drop_route_to: Option<IpAddr>,
    nonrouted: bool,
    /// What the resource adds to its commands' environment.
    env: Vec<(String, String)>,
}

/// A container's network namespace, as its driver answers `netns`.
struct Namespace {
    pid: u32,
    path: String,
}

fn parse_ip(kw: &str, text: Option<&str>) -> std::result::Result<Option<IpAddr>, String> {
    match text.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(t) => t
            .parse()
            .map(Some)
            .map_err(|_| format!("{kw}: '{t}' is not an IP address")),
    }
}

impl IpNetns {
    /// Read and check the keywords; errors name the keyword.
    pub fn new(spec: &ResourceSpec) -> std::result::Result<IpNetns, String> {
        let address = Address::from_keywords(spec.str("ipname"), spec.str("netmask"))?;
        let nonempty = |kw: &str| {
            spec.str(kw)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
        };
        let ipdev = nonempty("ipdev").ok_or("ipdev: a value is required")?;
        let container = nonempty("netns").ok_or("netns: a value is required")?;
        let mode_text = nonempty("mode").unwrap_or_else(|| "bridge".into());
        let mode = Mode::parse(&mode_text).ok_or_else(|| {
            format!(
                "mode: '{mode_text}' is not one of: {}",
                plan::MODES.join(", ")
            )
        })?;
        let macaddr = nonempty("macaddr");
        if macaddr.is_some() && matches!(mode, Mode::IpvlanL2 | Mode::IpvlanL3) {
            return Err("macaddr: ipvlan interfaces share the MAC address of ipdev".into());
        }
        // The device leaves the host: its addresses can not give the netmask afterwards.
        if mode == Mode::Dedicated && address.netmask.is_none() {
            return Err("netmask: required in dedicated mode".into());
        }
        let mtu = match spec.int("mtu") {
            None => None,
            Some(n) if (68..=65535).contains(&n) => Some(n as u32),
            Some(n) => return Err(format!("mtu: {n} is not between 68 and 65535")),
        };
        let network = parse_ip("network", spec.str("network"))?;
        let drop_route_to = match (spec.bool("del_net_route"), network) {
            (true, None) => return Err("del_net_route: needs the network keyword".into()),
            (true, net) => net,
            (false, _) => None,
        };
        Ok(IpNetns {
            env: address.environment(&spec.rid, &ipdev),
            address,
            ipdev,
            container,
            mode,
            nsdev: nonempty("nsdev"),
            macaddr,
            mtu,
            gateway: parse_ip("gateway", spec.str("gateway"))?,
            drop_route_to,
            nonrouted: spec.has_tag("nonrouted"),
        })
    }

    fn label_of(&self, addr: &str, prefix: Option<u8>) -> String {
        plan::netns_label(self.mode, addr, prefix, &self.ipdev, &self.container)
    }

    fn resolve(&self) -> Result<IpAddr> {
        self.address.resolve().map_err(Error::other)
    }

    /// The prefix length: the netmask, else that of `ipdev`'s address in the same network.
    fn prefix(&self, addr: IpAddr) -> Result<u8> {
        let on = match self.address.netmask {
            Some(_) => Vec::new(),
            None => sys::host_link(&self.ipdev)?
                .map(|l| l.addrs())
                .unwrap_or_default(),
        };
        self.address
            .prefix(addr, &on, &self.ipdev)
            .map_err(Error::config)
    }

    /// Ask the container resource for its namespace; an error when it is not running.
    fn namespace(&self, ctx: &Ctx) -> Result<Namespace> {
        let answer: Value = ctx.query(&self.container, "netns", &json!({}))?;
        let pid = answer["pid"]
            .as_u64()
            .and_then(|p| u32::try_from(p).ok())
            .filter(|&p| p > 0)
            .ok_or_else(|| Error::other(format!("{} answered no namespace pid", self.container)))?;
        let path = answer["netns"]
            .as_str()
            .filter(|p| !p.is_empty())
            .map(String::from)
            .unwrap_or_else(|| format!("/proc/{pid}/ns/net"));
        Ok(Namespace { pid, path })
    }

    /// Every command of the start after the checks: the mode's plumbing, then the routes.
    fn start_steps(&self, ns: &Namespace, addr: IpAddr, prefix: u8) -> Result<(String, Vec<Step>)> {
        let in_ns: Vec<String> = sys::ns_links(&ns.path)?
            .into_iter()
            .map(|l| l.ifname)
            .collect();
        let guest = plan::guest_name(
            self.nsdev.as_deref(),
            self.mode,
            ns.pid,
            &in_ns,
            &sys::host_has_link,
        )
        .map_err(Error::config)?;
        let mtu = match self.mtu {
            Some(m) => m,
            None => sys::host_link(&self.ipdev)?
                .and_then(|l| l.mtu)
                .unwrap_or(1500),
        };
        let plumb = NetnsPlumb {
            mode: self.mode,
            ipdev: &self.ipdev,
            guest: &guest,
            mtu,
            macaddr: self.macaddr.as_deref(),
            addr,
            prefix,
            pid: ns.pid,
            ns_path: &ns.path,
            host_pid: std::process::id(),
        };
        let current = sys::ns_default_route(&ns.path, addr)?;
        let mut steps = plumb.steps();
        let routes = plan::route_steps(
            &ns.path,
            &guest,
            self.gateway,
            current,
            self.drop_route_to.map(|n| (n, prefix)),
        );
        steps.extend(routes.into_iter().map(|argv| Step { argv, undo: None }));
        Ok((guest, steps))
    }
}

/// The interface of `links` holding `addr`, with the prefix it is plumbed with.
fn holder(links: &[Link], addr: IpAddr) -> Option<(String, u8)> {
    iface::find_addr(links, addr).map(|(l, a)| (l.ifname.clone(), a.prefixlen))
}

impl ResourceImpl for IpNetns {
    fn label(&self) -> String {
        self.label_of(&self.address.shown(), self.address.netmask)
    }

    fn env(&self) -> Vec<(String, String)> {
        self.env.clone()
    }

    fn status(&self, ctx: &Ctx) -> Result<StatusReport> {
        let addr = match self.resolve() {
            Ok(a) => a,
            Err(e) => return Ok(StatusReport::warn(e.message())),
        };
        let prefix = self.prefix(addr).ok();
        let report = match self.namespace(ctx) {
            Err(e) => StatusReport::down(e.message()),
            Ok(ns) => match sys::ns_links(&ns.path) {
                // The container went away between the two looks.
                Err(e) => StatusReport::down(e.message()),
                Ok(links) if holder(&links, addr).is_some() => StatusReport::up(),
                Ok(_) => StatusReport::down(format!(
                    "{addr} is not plumbed in the namespace of {}",
                    self.container
                )),
            },
        };
        Ok(report.with_label(self.label_of(&addr.to_string(), prefix)))
    }

    fn start(&self, ctx: &Ctx) -> Result<ActionReport> {
        sys::require(&[&sys::IP, &sys::NSENTER])?;
        let addr = self.resolve()?;
        if sys::host_link(&self.ipdev)?.is_none() {
            return Err(Error::other(format!(
                "interface {} not found. Cannot stack over it.",
                self.ipdev
            )));
        }
        let prefix = self.prefix(addr)?;
        let ns = self
            .namespace(ctx)
            .map_err(|e| Error::other(format!("{}: {}", self.container, e.message())))?;
        if let Some((intf, _)) = holder(&sys::ns_links(&ns.path)?, addr) {
            ctx.info(&format!(
                "{addr} is already up on {intf} in the namespace of {}",
                self.container
            ));
            return Ok(ActionReport::unchanged());
        }
        if !self.nonrouted {
            sys::check_free(ctx, addr)?;
        }
        let guest = {
            let _lock = sys::name_lock()?;
            let (guest, steps) = self.start_steps(&ns, addr, prefix)?;
            ctx.info(&format!("{} mode", self.mode.as_str()));
            sys::run_steps(ctx, &steps)?;
            guest
        };
        // Best effort: the announce goes out whether or not the link came up in time.
        let port =
            (self.mode == Mode::Bridge).then(|| self.mode.host_names(&guest, ns.pid)[0].clone());
        sys::wait_oper_up(
            &ns.path,
            &guest,
            port.as_deref(),
            LINK_UP_WAIT.min(ctx.remaining().unwrap_or(LINK_UP_WAIT)),
        );
        sys::announce(ctx, &guest, addr, Some(&ns.path));
        Ok(ActionReport::changed())
    }

    fn stop(&self, ctx: &Ctx) -> Result<ActionReport> {
        let addr = self.resolve()?;
        let ns = match self.namespace(ctx) {
            Ok(ns) => ns,
            // The namespace went with its container: nothing is left to undo.
            Err(e) => {
                ctx.info(&format!("{addr} is already down: {}", e.message()));
                return Ok(ActionReport::unchanged());
            }
        };
        sys::require(&[&sys::IP, &sys::NSENTER])?;
        let Some((intf, prefix)) = holder(&sys::ns_links(&ns.path)?, addr) else {
            ctx.info(&format!(
                "{addr} is already down in the namespace of {}",
                self.container
            ));
            return Ok(ActionReport::unchanged());
        };
        let commands = plan::netns_unplumb(
            self.mode,
            &ns.path,
            &intf,
            addr,
            prefix,
            &self.ipdev,
            std::process::id(),
        );
        for argv in &commands {
            sys::run(ctx, argv)?;
        }
        if !self.nonrouted {
            sys::wait_gone(ctx, addr)?;
        }
        Ok(ActionReport::changed())
    }
}
