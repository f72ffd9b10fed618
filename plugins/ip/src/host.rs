//! `ip.host`: an address plumbed on a host interface, as an alias (`<ipdev>:<n>`) by default.

use crate::addr::Address;
use crate::iface::Link;
use crate::plan;
use crate::sys;
use std::net::IpAddr;
use svcmgr_plugin_api::{
    ActionReport, Ctx, Error, ResourceImpl, ResourceSpec, Result, Status, StatusReport,
};

pub struct IpHost {
    address: Address,
    /// The interface the address goes on.
    ipdev: String,
    /// `ipdev = eth0:3` forces that alias label.
    forced_label: Option<String>,
    alias: bool,
    check_carrier: bool,
    /// Tag `nonrouted`: no availability checks (the address is not reachable from here).
    pub(crate) nonrouted: bool,
    /// What the resource adds to its commands' environment.
    env: Vec<(String, String)>,
}

impl IpHost {
    /// Read and check the keywords; errors name the keyword.
    pub fn new(spec: &ResourceSpec) -> std::result::Result<IpHost, String> {
        let address = Address::from_keywords(spec.str("ipname"), spec.str("netmask"))?;
        let dev = spec
            .str("ipdev")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or("ipdev: a value is required")?;
        if dev.len() > plan::IFNAME_MAX {
            return Err(format!(
                "ipdev: '{dev}' is longer than {} characters",
                plan::IFNAME_MAX
            ));
        }
        let (ipdev, forced_label) = match dev.split_once(':') {
            Some((base, _)) => (base.to_string(), Some(dev.to_string())),
            None => (dev.to_string(), None),
        };
        Ok(IpHost {
            env: address.environment(&spec.rid, &ipdev),
            address,
            ipdev,
            forced_label,
            alias: spec.get("alias").and_then(|v| v.as_bool()).unwrap_or(true),
            check_carrier: spec
                .get("check_carrier")
                .and_then(|v| v.as_bool())
                .unwrap_or(true),
            nonrouted: spec.has_tag("nonrouted"),
        })
    }

    fn label_of(&self, addr: &str, prefix: Option<u8>) -> String {
        plan::host_label(addr, prefix, &self.ipdev, self.address.name())
    }

    /// The interface, or the error a start or stop reports when it is missing.
    fn ipdev_link(&self) -> Result<Link> {
        sys::host_link(&self.ipdev)?.ok_or_else(|| {
            Error::other(format!(
                "interface {} not found. Cannot stack over it.",
                self.ipdev
            ))
        })
    }

    fn resolve(&self) -> Result<IpAddr> {
        self.address.resolve().map_err(Error::other)
    }

    /// The alias label for a new address, chosen among the labels of `link` now in use.
    fn alias_label(&self, addr: IpAddr, link: &Link) -> Result<Option<String>> {
        // IPv6 addresses carry no label; alias = false plumbs on the interface itself.
        if addr.is_ipv6() || !self.alias {
            return Ok(None);
        }
        if let Some(l) = &self.forced_label {
            return Ok(Some(l.clone()));
        }
        let in_use: Vec<String> = link
            .addr_info
            .iter()
            .filter_map(|a| a.label.clone())
            .collect();
        plan::first_free_alias(&self.ipdev, &in_use)
            .map(Some)
            .map_err(Error::config)
    }
}

impl ResourceImpl for IpHost {
    fn label(&self) -> String {
        self.label_of(&self.address.shown(), self.address.netmask)
    }

    fn env(&self) -> Vec<(String, String)> {
        self.env.clone()
    }

    fn status(&self, _ctx: &Ctx) -> Result<StatusReport> {
        let addr = match self.resolve() {
            Ok(a) => a,
            Err(e) => return Ok(StatusReport::warn(e.message())),
        };
        let Some(link) = sys::host_link(&self.ipdev)? else {
            return Ok(StatusReport::new(Status::Down)
                .with_warn(format!("interface {} not found", self.ipdev)));
        };
        let prefix = self.address.prefix(addr, &link.addrs(), &self.ipdev).ok();
        let report = if link.holding(addr).is_none() {
            StatusReport::down(format!("{addr} is not plumbed on {}", self.ipdev))
        } else if self.check_carrier && !link.carrier {
            StatusReport::new(Status::Down)
                .with_warn(format!("interface {} has no carrier", self.ipdev))
        } else {
            StatusReport::up()
        };
        Ok(report.with_label(self.label_of(&addr.to_string(), prefix)))
    }

    fn start(&self, ctx: &Ctx) -> Result<ActionReport> {
        sys::require(&[&sys::IP])?;
        let addr = self.resolve()?;
        let mut link = self.ipdev_link()?;
        if link.holding(addr).is_some() {
            ctx.info(&format!("{addr} is already up on {}", self.ipdev));
            return Ok(ActionReport::unchanged());
        }
        let prefix = self
            .address
            .prefix(addr, &link.addrs(), &self.ipdev)
            .map_err(Error::config)?;
        if !link.up {
            sys::run(ctx, &plan::link_up(&self.ipdev))?;
            link = self.ipdev_link()?;
        }
        if self.check_carrier && !link.carrier {
            let msg = format!("interface {} no-carrier.", self.ipdev);
            if !ctx.force() {
                return Err(Error::other(msg));
            }
            ctx.warn(&format!("{msg} (--force: plumbing anyway)"));
        }
        if !self.nonrouted {
            sys::check_free(ctx, addr)?;
        }
        {
            let _lock = sys::name_lock()?;
            // The labels in use now, under the lock.
            let label = self.alias_label(addr, &self.ipdev_link()?)?;
            sys::run(
                ctx,
                &plan::host_plumb(addr, prefix, &self.ipdev, label.as_deref()),
            )?;
        }
        sys::announce(ctx, &self.ipdev, addr, None);
        Ok(ActionReport::changed())
    }

    fn stop(&self, ctx: &Ctx) -> Result<ActionReport> {
        let addr = self.resolve()?;
        let held = sys::host_link(&self.ipdev)?.and_then(|l| l.holding(addr).map(|a| a.prefixlen));
        let Some(prefix) = held else {
            ctx.info(&format!("{addr} is already down on {}", self.ipdev));
            return Ok(ActionReport::unchanged());
        };
        sys::require(&[&sys::IP])?;
        sys::run(ctx, &plan::host_unplumb(addr, prefix, &self.ipdev))?;
        if !self.nonrouted {
            sys::wait_gone(ctx, addr)?;
        }
        Ok(ActionReport::changed())
    }
}
