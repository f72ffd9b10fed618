//! Interfaces and addresses read from the kernel over rtnetlink (RTM_GETLINK and RTM_GETADDR
//! dumps), on the host or inside a namespace. `print status` reads a container's addresses
//! at every call: a socket round trip instead of spawning `nsenter ip …` (tens of ms here).
//! Changes still go through `ip`, whose command lines are logged.

use crate::iface::{AddrInfo, DefaultRoute, Link};
use crate::ns::{last_error, within};
use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

// Kernel ABI constants (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h, linux/if_addr.h).
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;
const RTA_GATEWAY: u16 = 5;
const RTA_TABLE: u16 = 15;
const RT_TABLE_MAIN: u32 = 254;
const RTN_UNICAST: u8 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_OPERSTATE: u16 = 16;
const IF_OPER_UNKNOWN: u8 = 0;
const IF_OPER_UP: u8 = 6;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_LABEL: u16 = 3;
const IFF_UP: u32 = 0x1;
const IFF_LOWER_UP: u32 = 0x10000;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
const NLMSG_HDRLEN: usize = 16;
/// `struct ifinfomsg`, `struct ifaddrmsg` and `struct rtmsg`.
const IFINFOMSG_LEN: usize = 16;
const IFADDRMSG_LEN: usize = 8;
const RTMSG_LEN: usize = 12;

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The messages of one datagram: (type, sequence number, payload).
fn messages(buf: &[u8]) -> Vec<(u16, u32, &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while let (Some(len), Some(kind), Some(seq)) =
        (u32_at(buf, at), u16_at(buf, at + 4), u32_at(buf, at + 8))
    {
        let len = len as usize;
        if len < NLMSG_HDRLEN || at + len > buf.len() {
            break;
        }
        out.push((kind, seq, &buf[at + NLMSG_HDRLEN..at + len]));
        at += align4(len);
    }
    out
}

/// The route attributes after a fixed header: (type, value).
fn attributes(payload: &[u8], header: usize) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    let mut at = header;
    while let (Some(len), Some(kind)) = (u16_at(payload, at), u16_at(payload, at + 2)) {
        let len = len as usize;
        if len < 4 || at + len > payload.len() {
            break;
        }
        // The top bits flag nested / byte-order attributes.
        out.push((kind & 0x3fff, &payload[at + 4..at + len]));
        at += align4(len);
    }
    out
}

fn text(value: &[u8]) -> String {
    let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
    String::from_utf8_lossy(&value[..end]).into_owned()
}

/// One RTM_NEWLINK payload: its index and the interface (without addresses).
fn parse_link(payload: &[u8]) -> Option<(u32, Link)> {
    let index = u32_at(payload, 4)?;
    let flags = u32_at(payload, 8)?;
    let mut link = Link {
        ifname: String::new(),
        up: flags & IFF_UP != 0,
        carrier: flags & IFF_LOWER_UP != 0,
        oper_up: false,
        mtu: None,
        addr_info: Vec::new(),
    };
    for (kind, value) in attributes(payload, IFINFOMSG_LEN) {
        match kind {
            IFLA_IFNAME => link.ifname = text(value),
            IFLA_MTU => link.mtu = u32_at(value, 0),
            IFLA_OPERSTATE => {
                link.oper_up = matches!(value.first(), Some(&IF_OPER_UP | &IF_OPER_UNKNOWN))
            }
            _ => {}
        }
    }
    Some((index, link))
}

fn ip_of(family: u8, value: &[u8]) -> Option<IpAddr> {
    match family {
        AF_INET => <[u8; 4]>::try_from(value)
            .ok()
            .map(|o| Ipv4Addr::from(o).into()),
        AF_INET6 => <[u8; 16]>::try_from(value)
            .ok()
            .map(|o| Ipv6Addr::from(o).into()),
        _ => None,
    }
}

/// One RTM_NEWADDR payload: the interface index and the address.
fn parse_addr(payload: &[u8]) -> Option<(u32, AddrInfo)> {
    let (family, prefixlen) = (*payload.first()?, *payload.get(1)?);
    let index = u32_at(payload, 4)?;
    let (mut local, mut address, mut label) = (None, None, None);
    for (kind, value) in attributes(payload, IFADDRMSG_LEN) {
        match kind {
            IFA_LOCAL => local = ip_of(family, value),
            IFA_ADDRESS => address = ip_of(family, value),
            IFA_LABEL => label = Some(text(value)),
            _ => {}
        }
    }
    // IFA_LOCAL is the interface's own address (IFA_ADDRESS is the peer's on point-to-point
    // links); IPv6 sends IFA_ADDRESS alone.
    let addr = local.or(address)?;
    Some((
        index,
        AddrInfo {
            addr,
            prefixlen,
            label,
        },
    ))
}

/// One RTM_NEWROUTE payload, if it is a default route of the main table.
fn parse_default(payload: &[u8]) -> Option<DefaultRoute> {
    let (dst_len, table, kind) = (*payload.get(1)?, *payload.get(4)?, *payload.get(7)?);
    let attrs = attributes(payload, RTMSG_LEN);
    let table = attrs
        .iter()
        .find(|(k, _)| *k == RTA_TABLE)
        .and_then(|(_, v)| u32_at(v, 0))
        .unwrap_or(u32::from(table));
    if dst_len != 0 || table != RT_TABLE_MAIN || kind != RTN_UNICAST {
        return None;
    }
    Some(match attrs.iter().any(|(k, _)| *k == RTA_GATEWAY) {
        true => DefaultRoute::Via,
        false => DefaultRoute::Dev,
    })
}

/// Join the addresses to their interfaces, in interface index order.
fn assemble(links: Vec<(u32, Link)>, addrs: Vec<(u32, AddrInfo)>) -> Vec<Link> {
    let mut by_index: BTreeMap<u32, Link> = links.into_iter().collect();
    for (index, a) in addrs {
        if let Some(l) = by_index.get_mut(&index) {
            l.addr_info.push(a);
        }
    }
    by_index.into_values().collect()
}

/// One dump request on `sock`: the payloads of every message of type `answer`.
fn dump(
    sock: &OwnedFd,
    request: u16,
    header_len: usize,
    family: u8,
    answer: u16,
) -> io::Result<Vec<Vec<u8>>> {
    let seq = request as u32;
    let len = NLMSG_HDRLEN + header_len;
    let mut req = vec![0u8; len];
    req[0..4].copy_from_slice(&(len as u32).to_ne_bytes());
    req[4..6].copy_from_slice(&request.to_ne_bytes());
    req[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    req[8..12].copy_from_slice(&seq.to_ne_bytes());
    // The family is the first byte of every request header (AF_UNSPEC: all of them).
    req[NLMSG_HDRLEN] = family;
    // SAFETY: the buffer outlives the call and its length is passed.
    if unsafe { libc::send(sock.as_raw_fd(), req.as_ptr().cast(), req.len(), 0) } < 0 {
        return Err(last_error("netlink send"));
    }
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // SAFETY: the buffer is ours and its length is passed.
        let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(last_error("netlink recv"));
        }
        for (kind, s, payload) in messages(&buf[..n as usize]) {
            if s != seq {
                continue;
            }
            match kind {
                NLMSG_DONE => return Ok(out),
                NLMSG_ERROR => {
                    let errno = u32_at(payload, 0).map(|e| -(e as i32)).unwrap_or(0);
                    if errno != 0 {
                        return Err(io::Error::from_raw_os_error(errno));
                    }
                }
                k if k == answer => out.push(payload.to_vec()),
                _ => {}
            }
        }
    }
}

fn socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the descriptor is owned right away.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if fd < 0 {
        return Err(last_error("netlink socket"));
    }
    // SAFETY: fd is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The interfaces of the caller's namespace, with their addresses.
fn read_links() -> io::Result<Vec<Link>> {
    let sock = socket()?;
    let links = dump(&sock, RTM_GETLINK, IFINFOMSG_LEN, 0, RTM_NEWLINK)?;
    let addrs = dump(&sock, RTM_GETADDR, IFADDRMSG_LEN, 0, RTM_NEWADDR)?;
    Ok(assemble(
        links.iter().filter_map(|p| parse_link(p)).collect(),
        addrs.iter().filter_map(|p| parse_addr(p)).collect(),
    ))
}

/// The interfaces, with their addresses, of the namespace at `ns_path` (the host's when None).
pub fn links(ns_path: Option<&str>) -> io::Result<Vec<Link>> {
    within(ns_path, read_links)
}

/// The default route for `addr`'s family in the namespace at `ns_path`.
pub fn default_route(ns_path: Option<&str>, addr: IpAddr) -> io::Result<DefaultRoute> {
    let family = if addr.is_ipv4() { AF_INET } else { AF_INET6 };
    within(ns_path, || {
        let routes = dump(&socket()?, RTM_GETROUTE, RTMSG_LEN, family, RTM_NEWROUTE)?;
        Ok(routes
            .iter()
            .find_map(|p| parse_default(p))
            .unwrap_or(DefaultRoute::None))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut v = ((4 + value.len()) as u16).to_ne_bytes().to_vec();
        v.extend(kind.to_ne_bytes());
        v.extend(value);
        v.resize(align4(v.len()), 0);
        v
    }

    fn message(kind: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let len = NLMSG_HDRLEN + payload.len();
        let mut v = (len as u32).to_ne_bytes().to_vec();
        v.extend(kind.to_ne_bytes());
        v.extend(0u16.to_ne_bytes());
        v.extend(seq.to_ne_bytes());
        v.extend(0u32.to_ne_bytes());
        v.extend(payload);
        v.resize(align4(v.len()), 0);
        v
    }

    fn link_payload(index: u32, flags: u32, name: &str, mtu: u32) -> Vec<u8> {
        let mut p = vec![0u8; IFINFOMSG_LEN];
        p[4..8].copy_from_slice(&index.to_ne_bytes());
        p[8..12].copy_from_slice(&flags.to_ne_bytes());
        p.extend(attr(IFLA_IFNAME, format!("{name}\0").as_bytes()));
        p.extend(attr(IFLA_MTU, &mtu.to_ne_bytes()));
        p.extend(attr(
            IFLA_OPERSTATE,
            &[if flags & IFF_LOWER_UP != 0 {
                IF_OPER_UP
            } else {
                2
            }],
        ));
        p
    }

    fn addr_payload(family: u8, prefix: u8, index: u32, attrs: &[(u16, &[u8])]) -> Vec<u8> {
        let mut p = vec![family, prefix, 0, 0];
        p.extend(index.to_ne_bytes());
        for (k, v) in attrs {
            p.extend(attr(*k, v));
        }
        p
    }

    #[test]
    fn dump_answers_become_links_with_addresses() {
        let mut datagram = message(RTM_NEWLINK, 18, &link_payload(1, 0x9, "lo", 65536));
        datagram.extend(message(
            RTM_NEWLINK,
            18,
            &link_payload(7, IFF_UP | IFF_LOWER_UP, "eth0", 1500),
        ));
        datagram.extend(message(NLMSG_DONE, 18, &[0; 4]));
        let msgs = messages(&datagram);
        assert_eq!(msgs.len(), 3);
        assert_eq!((msgs[2].0, msgs[2].1), (NLMSG_DONE, 18));
        let links: Vec<(u32, Link)> = msgs[..2].iter().filter_map(|m| parse_link(m.2)).collect();
        assert_eq!(links[1].0, 7);
        let eth0 = &links[1].1;
        assert_eq!(eth0.ifname, "eth0");
        assert_eq!(eth0.mtu, Some(1500));
        assert!(eth0.up && eth0.carrier && eth0.oper_up);
        assert!(links[0].1.up && !links[0].1.carrier && !links[0].1.oper_up);

        let v4 = addr_payload(
            AF_INET,
            24,
            7,
            &[
                (IFA_ADDRESS, &[198, 18, 0, 10]),
                (IFA_LOCAL, &[198, 18, 0, 10]),
                (IFA_LABEL, b"eth0:1\0"),
            ],
        );
        let six: Ipv6Addr = "fd00::a".parse().unwrap();
        let v6 = addr_payload(AF_INET6, 64, 7, &[(IFA_ADDRESS, &six.octets())]);
        let orphan = addr_payload(AF_INET, 8, 99, &[(IFA_LOCAL, &[10, 0, 0, 1])]);
        let addrs: Vec<(u32, AddrInfo)> = [v4, v6, orphan]
            .iter()
            .filter_map(|p| parse_addr(p))
            .collect();
        let all = assemble(links, addrs);
        assert_eq!(all.len(), 2);
        assert!(all[0].addr_info.is_empty());
        let a = &all[1].addr_info;
        assert_eq!(a.len(), 2, "the address of an unknown index is dropped");
        assert_eq!(a[0].addr, IpAddr::from([198, 18, 0, 10]));
        assert_eq!(
            (a[0].prefixlen, a[0].label.as_deref()),
            (24, Some("eth0:1"))
        );
        assert_eq!(
            (a[1].addr, a[1].prefixlen, a[1].label.as_deref()),
            (six.into(), 64, None)
        );
    }

    #[test]
    fn default_routes() {
        let route = |dst_len: u8, table: u8, kind: u8, gateway: bool| {
            let mut p = vec![AF_INET, dst_len, 0, 0, table, 3, 0, kind, 0, 0, 0, 0];
            p.extend(attr(RTA_TABLE, &u32::from(table).to_ne_bytes()));
            if gateway {
                p.extend(attr(RTA_GATEWAY, &[198, 18, 0, 1]));
            }
            p
        };
        assert_eq!(
            parse_default(&route(0, 254, 1, true)),
            Some(DefaultRoute::Via)
        );
        assert_eq!(
            parse_default(&route(0, 254, 1, false)),
            Some(DefaultRoute::Dev)
        );
        assert_eq!(
            parse_default(&route(24, 254, 1, false)),
            None,
            "not default"
        );
        assert_eq!(parse_default(&route(0, 255, 2, false)), None, "local table");
    }

    #[test]
    fn truncated_input_is_ignored() {
        let m = message(RTM_NEWLINK, 1, &link_payload(2, 0, "x", 1));
        assert!(messages(&m[..m.len() - 8]).is_empty());
        assert!(parse_addr(&[AF_INET]).is_none());
        assert!(attributes(&[8, 0, 3, 0, 1], 0).is_empty());
    }

    #[test]
    fn reads_this_namespace() {
        let here = links(None).unwrap();
        let lo = here.iter().find(|l| l.ifname == "lo").expect("lo");
        assert!(lo.up);
        assert!(lo.addrs().iter().any(|(a, p)| a.is_loopback() && *p == 8));
        assert!(links(Some("/nonexistent/ns"))
            .unwrap_err()
            .to_string()
            .starts_with("/nonexistent/ns"));
    }
}
