//! The gratuitous ARP announce, sent natively on a packet socket: one ARP announcement
//! (RFC 5227: a request whose sender and target are the address) telling the segment which
//! MAC now holds an address. Native rather than `arping`, which waits a second for answers
//! it does not need, and needs no extra package. Inside a container's namespace the frame is
//! sent from a thread that joined that namespace.

use crate::ns::{last_error, within};
use std::ffi::CString;
use std::io;
use std::mem::{size_of, zeroed};
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IP: u16 = 0x0800;
const BROADCAST: [u8; 6] = [0xff; 6];

/// The 42-byte Ethernet frame announcing that `mac` holds `addr`.
pub fn announcement(mac: [u8; 6], addr: Ipv4Addr) -> [u8; 42] {
    let mut f = [0u8; 42];
    f[0..6].copy_from_slice(&BROADCAST);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&ETH_P_ARP.to_be_bytes());
    f[14..16].copy_from_slice(&1u16.to_be_bytes()); // hardware: Ethernet
    f[16..18].copy_from_slice(&ETH_P_IP.to_be_bytes());
    f[18] = 6;
    f[19] = 4;
    f[20..22].copy_from_slice(&1u16.to_be_bytes()); // request
    f[22..28].copy_from_slice(&mac);
    f[28..32].copy_from_slice(&addr.octets());
    // Target hardware address left zero (RFC 5227), target protocol address = the address.
    f[38..42].copy_from_slice(&addr.octets());
    f
}

/// The interface's hardware address (SIOCGIFHWADDR), in the caller's namespace.
fn hwaddr(sock: &OwnedFd, dev: &CString) -> io::Result<[u8; 6]> {
    // SAFETY: ifreq is plain data; the name fits (checked by the caller) and is NUL-ended.
    let mut req: libc::ifreq = unsafe { zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(dev.as_bytes()) {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFHWADDR reads ifr_name and writes ifr_hwaddr of the ifreq we own.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFHWADDR, &mut req) } < 0 {
        return Err(last_error("SIOCGIFHWADDR"));
    }
    // SAFETY: the ioctl filled the hwaddr member of the union.
    let data = unsafe { req.ifr_ifru.ifru_hwaddr.sa_data };
    let mut mac = [0u8; 6];
    for (m, d) in mac.iter_mut().zip(data) {
        *m = d as u8;
    }
    Ok(mac)
}

/// Send the announcement of `addr` on `dev` in the caller's namespace.
fn send(dev: &str, addr: Ipv4Addr) -> io::Result<()> {
    let name = CString::new(dev).map_err(|_| io::Error::other("interface name holds a NUL"))?;
    if dev.len() >= libc::IFNAMSIZ {
        return Err(io::Error::other(format!("{dev}: interface name too long")));
    }
    // SAFETY: if_nametoindex reads a NUL-terminated string.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if index == 0 {
        return Err(last_error(dev));
    }
    // SAFETY: plain socket(2); the descriptor is owned right away.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            i32::from(ETH_P_ARP.to_be()),
        )
    };
    if fd < 0 {
        return Err(last_error("packet socket"));
    }
    // SAFETY: fd is a fresh descriptor nobody else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    let frame = announcement(hwaddr(&sock, &name)?, addr);
    // SAFETY: sockaddr_ll is plain data.
    let mut to: libc::sockaddr_ll = unsafe { zeroed() };
    to.sll_family = libc::AF_PACKET as u16;
    to.sll_protocol = ETH_P_ARP.to_be();
    to.sll_ifindex = index as i32;
    to.sll_halen = 6;
    to.sll_addr[..6].copy_from_slice(&BROADCAST);
    // SAFETY: the buffer and address outlive the call; their sizes are passed along.
    let sent = unsafe {
        libc::sendto(
            sock.as_raw_fd(),
            frame.as_ptr().cast(),
            frame.len(),
            0,
            (&to as *const libc::sockaddr_ll).cast(),
            size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    if sent < 0 {
        return Err(last_error("sendto"));
    }
    Ok(())
}

/// Announce `addr` on `dev`, inside the namespace at `ns_path` when given.
pub fn announce(dev: &str, addr: Ipv4Addr, ns_path: Option<&str>) -> io::Result<()> {
    within(ns_path, || send(dev, addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcement_frame() {
        let mac = [0x02, 0, 0, 0, 0, 0x2a];
        let f = announcement(mac, Ipv4Addr::new(198, 18, 3, 10));
        assert_eq!(&f[0..6], &[0xff; 6], "broadcast");
        assert_eq!(&f[6..12], &mac);
        assert_eq!(&f[12..14], &[0x08, 0x06], "ARP");
        assert_eq!(
            &f[14..22],
            &[0, 1, 0x08, 0, 6, 4, 0, 1],
            "Ethernet/IPv4 request"
        );
        assert_eq!(&f[22..28], &mac, "sender MAC");
        assert_eq!(&f[28..32], &[198, 18, 3, 10], "sender address");
        assert_eq!(&f[32..38], &[0; 6], "target MAC unknown");
        assert_eq!(&f[38..42], &[198, 18, 3, 10], "target address = sender");
    }

    #[test]
    fn errors_name_what_failed() {
        let a = Ipv4Addr::new(198, 18, 3, 10);
        let e = announce("nosuchdev0", a, None).unwrap_err();
        assert!(e.to_string().starts_with("nosuchdev0"), "{e}");
        let e = announce("eth0", a, Some("/nonexistent/ns")).unwrap_err();
        assert!(e.to_string().starts_with("/nonexistent/ns"), "{e}");
    }
}
