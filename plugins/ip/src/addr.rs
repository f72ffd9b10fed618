//! Addresses and netmasks: `ipname` resolution, `netmask` parsing (cidr or dotted), and the
//! prefix length taken from an interface when no netmask is set.

use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};

/// A netmask as written in the config: a prefix length (`24`, `/24`) or a dotted IPv4 mask
/// (`255.255.255.224`). Returns the prefix length.
pub fn parse_netmask(text: &str) -> Result<u8, String> {
    let t = text.trim();
    let digits = t.strip_prefix('/').unwrap_or(t);
    if let Ok(n) = digits.parse::<u8>() {
        return if n <= 128 {
            Ok(n)
        } else {
            Err(format!(
                "'{text}' is not a netmask (a prefix length is at most 128)"
            ))
        };
    }
    let mask: Ipv4Addr = t
        .parse()
        .map_err(|_| format!("'{text}' is not a netmask (write 24 or 255.255.255.0)"))?;
    let bits = u32::from(mask);
    let prefix = bits.leading_ones();
    if bits.checked_shl(prefix).unwrap_or(0) != 0 {
        return Err(format!(
            "'{text}' is not a netmask (its one bits are not contiguous)"
        ));
    }
    Ok(prefix as u8)
}

/// The prefix length fits the address family.
pub fn check_prefix(addr: IpAddr, prefix: u8) -> Result<(), String> {
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if prefix > max {
        return Err(format!("netmask /{prefix} is too long for {addr}"));
    }
    Ok(())
}

/// `ipname` as a literal address, if it is one.
pub fn literal(ipname: &str) -> Option<IpAddr> {
    ipname.trim().parse().ok()
}

/// Resolve `ipname`: a literal, or a name looked up with the system resolver (`/etc/hosts`,
/// DNS); the first answer wins.
pub fn resolve(ipname: &str) -> Result<IpAddr, String> {
    if let Some(a) = literal(ipname) {
        return Ok(a);
    }
    let mut answers = (ipname, 0)
        .to_socket_addrs()
        .map_err(|e| format!("can not resolve ipname {ipname}: {e}"))?;
    answers
        .next()
        .map(|s| s.ip())
        .ok_or_else(|| format!("can not resolve ipname {ipname}: no address"))
}

/// The network part of `addr` under `prefix` (as a number, for comparisons).
fn network(addr: IpAddr, prefix: u8) -> u128 {
    let (bits, width) = match addr {
        IpAddr::V4(a) => (u32::from(a) as u128, 32),
        IpAddr::V6(a) => (u128::from(a), 128),
    };
    let host_bits = width - u32::from(prefix.min(width as u8));
    if host_bits >= 128 {
        0
    } else {
        bits >> host_bits
    }
}

/// `a` lies in the network `b/prefix`.
pub fn same_network(a: IpAddr, b: IpAddr, prefix: u8) -> bool {
    a.is_ipv4() == b.is_ipv4() && network(a, prefix) == network(b, prefix)
}

/// The prefix length for `addr` when no netmask is set: that of the address of `on` (an
/// interface's addresses) whose network holds `addr`, else of its first address of the same
/// family.
pub fn prefix_from(addr: IpAddr, on: &[(IpAddr, u8)]) -> Option<u8> {
    let same_family = || on.iter().filter(|(a, _)| a.is_ipv4() == addr.is_ipv4());
    same_family()
        .find(|(a, p)| !a.is_loopback() && same_network(addr, *a, *p))
        .or_else(|| same_family().find(|(a, _)| !is_link_local(*a)))
        .map(|(_, p)| *p)
}

fn is_link_local(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(a) => a.is_link_local(),
        IpAddr::V6(a) => (a.segments()[0] & 0xffc0) == 0xfe80,
    }
}

/// The `ipname` and `netmask` keywords both drivers share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub ipname: String,
    pub netmask: Option<u8>,
}

impl Address {
    /// Read and check the keywords; errors name the keyword.
    pub fn from_keywords(ipname: Option<&str>, netmask: Option<&str>) -> Result<Address, String> {
        let ipname = ipname
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or("ipname: a value is required")?;
        let netmask = netmask
            .filter(|s| !s.trim().is_empty())
            .map(parse_netmask)
            .transpose()
            .map_err(|e| format!("netmask: {e}"))?;
        if let (Some(a), Some(p)) = (literal(ipname), netmask) {
            check_prefix(a, p).map_err(|e| format!("netmask: {e}"))?;
        }
        Ok(Address {
            ipname: ipname.to_string(),
            netmask,
        })
    }

    pub fn resolve(&self) -> Result<IpAddr, String> {
        resolve(&self.ipname)
    }

    /// `ipname` as labels show it before it is resolved: the address, or the name.
    pub fn shown(&self) -> String {
        literal(&self.ipname)
            .map(|a| a.to_string())
            .unwrap_or_else(|| self.ipname.clone())
    }

    /// `ipname` when it is a name rather than a literal address.
    pub fn name(&self) -> Option<&str> {
        literal(&self.ipname)
            .is_none()
            .then_some(self.ipname.as_str())
    }

    /// The variables resource `rid` adds to the environment of its commands and triggers, as
    /// OpenSVC exports them (reference notes §7.5): `OPENSVC_IPNAME`, `OPENSVC_IPDEV`,
    /// `OPENSVC_IPADDR`, `OPENSVC_NETMASK` (a prefix length) and `OPENSVC_IP<index>` =
    /// `"<ipname> <ipdev> <addr> <netmask>"`. The environment is built when the service is
    /// loaded, where a name is not resolved (the resolver may be slow or down; every action
    /// resolves it again): the address is known only when `ipname` is one, the netmask only
    /// when set. Unknown parts are left out, and read `unknown` in `OPENSVC_IP<index>`.
    pub fn environment(&self, rid: &str, ipdev: &str) -> Vec<(String, String)> {
        let addr = literal(&self.ipname).map(|a| a.to_string());
        let netmask = self.netmask.map(|p| p.to_string());
        let mut env = vec![
            ("OPENSVC_IPNAME".to_string(), self.ipname.clone()),
            ("OPENSVC_IPDEV".to_string(), ipdev.to_string()),
        ];
        for (name, value) in [("OPENSVC_IPADDR", &addr), ("OPENSVC_NETMASK", &netmask)] {
            if let Some(v) = value {
                env.push((name.to_string(), v.clone()));
            }
        }
        if let Some((_, index)) = rid.split_once('#') {
            let or_unknown = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
            let all = [
                self.ipname.clone(),
                ipdev.to_string(),
                or_unknown(&addr),
                or_unknown(&netmask),
            ];
            env.push((format!("OPENSVC_IP{index}"), all.join(" ")));
        }
        env
    }

    /// The prefix length of `addr`: the netmask, else taken from the addresses `on` of `dev`.
    pub fn prefix(&self, addr: IpAddr, on: &[(IpAddr, u8)], dev: &str) -> Result<u8, String> {
        match self.netmask {
            Some(p) => check_prefix(addr, p).map(|_| p),
            None => prefix_from(addr, on).ok_or_else(|| {
                let family = if addr.is_ipv4() { "IPv4" } else { "IPv6" };
                format!("netmask is not set and {dev} holds no {family} address to take it from")
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn netmasks() {
        assert_eq!(parse_netmask("255.255.255.224"), Ok(27));
        assert_eq!(parse_netmask("255.255.255.255"), Ok(32));
        assert_eq!(parse_netmask("0.0.0.0"), Ok(0));
        assert_eq!(parse_netmask("24"), Ok(24));
        assert_eq!(parse_netmask("/64"), Ok(64));
        assert!(parse_netmask("255.0.255.0")
            .unwrap_err()
            .contains("contiguous"));
        assert!(parse_netmask("129").unwrap_err().contains("at most 128"));
        assert!(parse_netmask("bogus")
            .unwrap_err()
            .contains("not a netmask"));
        assert!(check_prefix(ip("10.0.0.1"), 33).is_err());
        assert!(check_prefix(ip("fd00::1"), 64).is_ok());
    }

    #[test]
    fn resolution() {
        assert_eq!(resolve("198.18.0.10"), Ok(ip("198.18.0.10")));
        assert_eq!(resolve(" fd00::5 "), Ok(ip("fd00::5")));
        assert_eq!(resolve("localhost").map(|a| a.is_loopback()), Ok(true));
        assert!(resolve("no-such-host.invalid")
            .unwrap_err()
            .starts_with("can not resolve ipname no-such-host.invalid"));
        assert_eq!(literal("busybox.opensvc.com"), None);
    }

    #[test]
    fn keywords() {
        let a = Address::from_keywords(Some("198.18.0.10"), Some("255.255.255.0")).unwrap();
        assert_eq!((a.netmask, a.name()), (Some(24), None));
        let n = Address::from_keywords(Some("web.example"), None).unwrap();
        assert_eq!((n.netmask, n.name()), (None, Some("web.example")));
        let err = |ipname, mask| Address::from_keywords(ipname, mask).unwrap_err();
        assert_eq!(err(None, None), "ipname: a value is required");
        assert_eq!(err(Some(" "), None), "ipname: a value is required");
        assert!(err(Some("198.18.0.10"), Some("255.0.255.0")).starts_with("netmask: "));
        assert!(err(Some("198.18.0.10"), Some("64")).starts_with("netmask: "));
        let on = [(ip("198.18.0.1"), 24)];
        assert_eq!(n.prefix(ip("198.18.0.10"), &on, "br0"), Ok(24));
        assert_eq!(
            n.prefix(ip("fd00::1"), &on, "br0").unwrap_err(),
            "netmask is not set and br0 holds no IPv6 address to take it from"
        );
        assert_eq!(a.prefix(ip("198.18.0.10"), &[], "br0"), Ok(24));
    }

    #[test]
    fn the_environment_of_commands() {
        let a = Address::from_keywords(Some("198.18.0.10"), Some("255.255.255.0")).unwrap();
        assert_eq!(
            a.environment("ip#2", "br0"),
            [
                ("OPENSVC_IPNAME", "198.18.0.10"),
                ("OPENSVC_IPDEV", "br0"),
                ("OPENSVC_IPADDR", "198.18.0.10"),
                ("OPENSVC_NETMASK", "24"),
                ("OPENSVC_IP2", "198.18.0.10 br0 198.18.0.10 24"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        let n = Address::from_keywords(Some("web.example"), None).unwrap();
        assert_eq!(
            n.environment("ip#web", "eth0"),
            [
                ("OPENSVC_IPNAME", "web.example"),
                ("OPENSVC_IPDEV", "eth0"),
                ("OPENSVC_IPweb", "web.example eth0 unknown unknown"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
    }

    #[test]
    fn networks_and_default_prefix() {
        assert!(same_network(ip("5.196.34.151"), ip("5.196.34.158"), 27));
        assert!(!same_network(ip("5.196.34.151"), ip("5.196.34.160"), 27));
        assert!(same_network(ip("1.2.3.4"), ip("9.9.9.9"), 0));
        assert!(!same_network(ip("1.2.3.4"), ip("::1"), 0));
        let on = [
            (ip("fe80::1"), 64),
            (ip("10.1.0.1"), 16),
            (ip("198.18.7.1"), 24),
            (ip("fd00::1"), 48),
        ];
        assert_eq!(prefix_from(ip("198.18.7.9"), &on), Some(24));
        assert_eq!(
            prefix_from(ip("172.16.0.1"), &on),
            Some(16),
            "first of the family"
        );
        assert_eq!(
            prefix_from(ip("fd00::9"), &on),
            Some(48),
            "link-local skipped"
        );
        assert_eq!(prefix_from(ip("198.18.7.9"), &[]), None);
    }
}
