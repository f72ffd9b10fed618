//! What the kernel says, through iproute2's JSON output (`ip -j addr show`, `ip -j route
//! show`): interfaces, their flags, MTU and addresses, and the default route.

use serde::Deserialize;
use std::net::IpAddr;

/// One interface of `ip -j addr show`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Link {
    pub ifname: String,
    #[serde(default)]
    pub flags: Vec<String>,
    #[serde(default)]
    pub mtu: Option<u32>,
    #[serde(default)]
    pub addr_info: Vec<AddrInfo>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct AddrInfo {
    /// `inet` or `inet6`.
    pub family: String,
    #[serde(default)]
    pub local: Option<String>,
    #[serde(default)]
    pub prefixlen: u8,
    /// IPv4 only: `eth0`, or an alias label such as `eth0:1`.
    #[serde(default)]
    pub label: Option<String>,
}

impl AddrInfo {
    pub fn addr(&self) -> Option<IpAddr> {
        self.local.as_deref()?.parse().ok()
    }
}

impl Link {
    fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }
    /// Administratively up.
    pub fn is_up(&self) -> bool {
        self.flag("UP")
    }
    /// The link layer is up (a cable, a bridge port, a veth peer).
    pub fn has_carrier(&self) -> bool {
        self.flag("LOWER_UP")
    }
    /// Its addresses with their prefix lengths.
    pub fn addrs(&self) -> Vec<(IpAddr, u8)> {
        self.addr_info
            .iter()
            .filter_map(|a| a.addr().map(|ip| (ip, a.prefixlen)))
            .collect()
    }
    /// The entry holding `addr`, if any.
    pub fn holding(&self, addr: IpAddr) -> Option<&AddrInfo> {
        self.addr_info.iter().find(|a| a.addr() == Some(addr))
    }
}

/// Parse `ip -j addr show` (or `ip -j link show`) output.
pub fn parse_links(json: &str) -> Result<Vec<Link>, String> {
    if json.trim().is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_str(json).map_err(|e| format!("unexpected 'ip -j' output: {e}"))
}

/// The interface holding `addr` and the entry, among `links`.
pub fn find_addr(links: &[Link], addr: IpAddr) -> Option<(&Link, &AddrInfo)> {
    links.iter().find_map(|l| l.holding(addr).map(|a| (l, a)))
}

/// What a namespace's default route looks like (`ip -j route show default`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultRoute {
    None,
    /// `default via <gateway>`.
    Via,
    /// `default dev <interface>` (on-link, no gateway).
    Dev,
}

pub fn parse_default_route(json: &str) -> Result<DefaultRoute, String> {
    #[derive(Deserialize)]
    struct Route {
        #[serde(default)]
        gateway: Option<String>,
    }
    if json.trim().is_empty() {
        return Ok(DefaultRoute::None);
    }
    let routes: Vec<Route> =
        serde_json::from_str(json).map_err(|e| format!("unexpected 'ip -j route' output: {e}"))?;
    Ok(match routes.first() {
        None => DefaultRoute::None,
        Some(r) if r.gateway.is_some() => DefaultRoute::Via,
        Some(_) => DefaultRoute::Dev,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BRIDGE: &str = r#"[{"ifindex":10,"ifname":"br0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"operstate":"UNKNOWN","addr_info":[{"family":"inet","local":"198.18.251.1","prefixlen":24,"scope":"global","label":"br0"},{"family":"inet","local":"198.18.251.5","prefixlen":24,"scope":"global","secondary":true,"label":"br0:1"},{"family":"inet6","local":"fe80::5434:44ff:fe1e:c367","prefixlen":64,"scope":"link"}]},
        {"ifindex":12,"link":"vy","ifname":"vx","flags":["BROADCAST","MULTICAST","NO-CARRIER","UP"],"mtu":1400,"addr_info":[]}]"#;

    #[test]
    fn links_and_addresses() {
        let links = parse_links(BRIDGE).unwrap();
        let (br, vx) = (&links[0], &links[1]);
        assert!(br.is_up() && br.has_carrier());
        assert!(vx.is_up() && !vx.has_carrier());
        assert_eq!((br.mtu, vx.mtu), (Some(1500), Some(1400)));
        assert_eq!(br.addrs().len(), 3);
        let five: IpAddr = "198.18.251.5".parse().unwrap();
        let (l, a) = find_addr(&links, five).unwrap();
        assert_eq!(
            (l.ifname.as_str(), a.label.as_deref()),
            ("br0", Some("br0:1"))
        );
        assert_eq!(a.prefixlen, 24);
        assert!(find_addr(&links, "198.18.251.6".parse().unwrap()).is_none());
        assert!(parse_links("").unwrap().is_empty());
        assert!(parse_links("Device \"x\" does not exist.").is_err());
    }

    #[test]
    fn default_routes() {
        assert_eq!(parse_default_route(""), Ok(DefaultRoute::None));
        assert_eq!(parse_default_route("[]"), Ok(DefaultRoute::None));
        assert_eq!(
            parse_default_route(r#"[{"dst":"default","gateway":"192.0.2.1","dev":"eth0"}]"#),
            Ok(DefaultRoute::Via)
        );
        assert_eq!(
            parse_default_route(r#"[{"dst":"default","dev":"eth0","scope":"link"}]"#),
            Ok(DefaultRoute::Dev)
        );
    }
}
