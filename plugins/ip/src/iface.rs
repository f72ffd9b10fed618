//! Interfaces, addresses and default routes as the kernel reports them (see `netlink`).

use std::net::IpAddr;

/// One interface and its addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub ifname: String,
    /// Administratively up.
    pub up: bool,
    /// The link layer is up (a cable, a bridge port, a veth peer).
    pub carrier: bool,
    /// The kernel has processed the carrier (RFC 2863 operstate up, or unknown for devices
    /// that do not report it): from then on a bridge forwards what the interface sends.
    pub oper_up: bool,
    pub mtu: Option<u32>,
    pub addr_info: Vec<AddrInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrInfo {
    pub addr: IpAddr,
    pub prefixlen: u8,
    /// IPv4 only: the interface name, or an alias label such as `eth0:1`.
    pub label: Option<String>,
}

impl Link {
    /// Its addresses with their prefix lengths.
    pub fn addrs(&self) -> Vec<(IpAddr, u8)> {
        self.addr_info
            .iter()
            .map(|a| (a.addr, a.prefixlen))
            .collect()
    }
    /// The entry holding `addr`, if any.
    pub fn holding(&self, addr: IpAddr) -> Option<&AddrInfo> {
        self.addr_info.iter().find(|a| a.addr == addr)
    }
}

/// The interface holding `addr` and the entry, among `links`.
pub fn find_addr(links: &[Link], addr: IpAddr) -> Option<(&Link, &AddrInfo)> {
    links.iter().find_map(|l| l.holding(addr).map(|a| (l, a)))
}

/// What a namespace's default route looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultRoute {
    None,
    /// `default via <gateway>`.
    Via,
    /// `default dev <interface>` (on-link, no gateway).
    Dev,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_of_links() {
        let a = |s: &str, p, label: Option<&str>| AddrInfo {
            addr: s.parse().unwrap(),
            prefixlen: p,
            label: label.map(String::from),
        };
        let links = [
            Link {
                ifname: "lo".into(),
                up: true,
                carrier: true,
                oper_up: true,
                mtu: Some(65536),
                addr_info: vec![a("127.0.0.1", 8, Some("lo"))],
            },
            Link {
                ifname: "br0".into(),
                up: true,
                carrier: true,
                oper_up: true,
                mtu: Some(1500),
                addr_info: vec![
                    a("198.18.1.1", 24, Some("br0")),
                    a("198.18.1.5", 24, Some("br0:1")),
                ],
            },
        ];
        let five: IpAddr = "198.18.1.5".parse().unwrap();
        let (l, e) = find_addr(&links, five).unwrap();
        assert_eq!(
            (l.ifname.as_str(), e.label.as_deref()),
            ("br0", Some("br0:1"))
        );
        assert!(find_addr(&links, "198.18.1.6".parse().unwrap()).is_none());
        assert_eq!(
            links[1].addrs(),
            [("198.18.1.1".parse().unwrap(), 24), (five, 24)]
        );
    }
}
