//! The command lines the ip drivers run, as plain data: which interface names they pick, the
//! plumbing sequence of each ip.netns mode with what undoes it, the route setup, the host
//! alias, and the labels. No side effect here: the resources run these plans.

use crate::iface::DefaultRoute;
use std::net::IpAddr;

/// Interface names are at most this long (IFNAMSIZ - 1).
pub const IFNAME_MAX: usize = 15;

/// A command line, run without a shell.
pub type Argv = Vec<String>;

fn argv(words: &[&str]) -> Argv {
    words.iter().map(|w| w.to_string()).collect()
}

/// `nsenter --net=<path> <words…>`: a command run inside a network namespace.
pub fn in_ns(ns_path: &str, words: &[&str]) -> Argv {
    let mut v = vec!["nsenter".to_string(), format!("--net={ns_path}")];
    v.extend(words.iter().map(|w| w.to_string()));
    v
}

/// How ip.netns gives the namespace its interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A veth pair, the host end enslaved to `ipdev` (a bridge).
    Bridge,
    /// A macvlan (mode bridge) on `ipdev`.
    Macvlan,
    IpvlanL2,
    IpvlanL3,
    /// `ipdev` itself moves into the namespace.
    Dedicated,
}

pub const MODES: &[&str] = &["bridge", "macvlan", "ipvlan-l2", "ipvlan-l3", "dedicated"];

impl Mode {
    pub fn parse(text: &str) -> Option<Mode> {
        Some(match text {
            "bridge" => Mode::Bridge,
            "macvlan" => Mode::Macvlan,
            "ipvlan-l2" => Mode::IpvlanL2,
            "ipvlan-l3" => Mode::IpvlanL3,
            "dedicated" => Mode::Dedicated,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Bridge => "bridge",
            Mode::Macvlan => "macvlan",
            Mode::IpvlanL2 => "ipvlan-l2",
            Mode::IpvlanL3 => "ipvlan-l3",
            Mode::Dedicated => "dedicated",
        }
    }

    /// The names an interface plumbed for `guest` in the namespace of `pid` takes on the
    /// host (the first is the one that stays there, if any).
    pub fn host_names(self, guest: &str, pid: u32) -> Vec<String> {
        match self {
            Mode::Bridge => vec![format!("v{guest}pl{pid}"), format!("v{guest}pg{pid}")],
            Mode::Macvlan | Mode::IpvlanL2 | Mode::IpvlanL3 => vec![format!("ph{pid}{guest}")],
            Mode::Dedicated => Vec::new(),
        }
    }
}

fn check_ifname(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > IFNAME_MAX || name.contains(['/', ':', ' ']) {
        return Err(format!(
            "'{name}' is not a valid interface name (at most {IFNAME_MAX} characters, no '/', ':' or space)"
        ));
    }
    Ok(())
}

/// The interface name inside the namespace: `nsdev` when set, else the first `eth<N>` (N from
/// 0) used neither in the namespace nor, through its host-side names, on the host.
pub fn guest_name(
    nsdev: Option<&str>,
    mode: Mode,
    pid: u32,
    in_ns: &[String],
    taken_on_host: &dyn Fn(&str) -> bool,
) -> Result<String, String> {
    let fits = |g: &str| -> Result<(), String> {
        check_ifname(g)?;
        mode.host_names(g, pid)
            .iter()
            .try_for_each(|n| check_ifname(n))
    };
    if let Some(name) = nsdev {
        fits(name).map_err(|e| format!("nsdev: {e}"))?;
        return Ok(name.to_string());
    }
    let free = |g: &String| {
        !in_ns.contains(g) && !mode.host_names(g, pid).iter().any(|n| taken_on_host(n))
    };
    let name = (0..)
        .map(|n| format!("eth{n}"))
        .find(free)
        .expect("an unbounded range");
    fits(&name)?;
    Ok(name)
}

/// One plumbing command, and (once it succeeded) the command that removes everything done so
/// far; `None` keeps the previous one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub argv: Argv,
    pub undo: Option<Argv>,
}

fn step(argv: Argv, undo: Option<Argv>) -> Step {
    Step { argv, undo }
}

/// Everything the plumbing of an ip.netns address depends on.
#[derive(Debug, Clone)]
pub struct NetnsPlumb<'a> {
    pub mode: Mode,
    pub ipdev: &'a str,
    pub guest: &'a str,
    pub mtu: u32,
    pub macaddr: Option<&'a str>,
    pub addr: IpAddr,
    pub prefix: u8,
    /// The namespace: a process in it and its path (`/proc/<pid>/ns/net`).
    pub pid: u32,
    pub ns_path: &'a str,
    /// A process of the host namespace (svcmgr itself): where a dedicated device goes back.
    pub host_pid: u32,
}

impl NetnsPlumb<'_> {
    fn ns(&self, words: &[&str]) -> Argv {
        in_ns(self.ns_path, words)
    }

    /// Give a dedicated device back to the host under its own name.
    fn give_back(&self, dev: &str) -> Argv {
        let host = self.host_pid.to_string();
        self.ns(&["ip", "link", "set", dev, "netns", &host, "name", self.ipdev])
    }

    /// The commands up to the address being set and the interface up, in order.
    pub fn steps(&self) -> Vec<Step> {
        let (pid, mtu, guest, dev) = (
            self.pid.to_string(),
            self.mtu.to_string(),
            self.guest,
            self.ipdev,
        );
        let cidr = format!("{}/{}", self.addr, self.prefix);
        let mut steps = Vec::new();
        let host_names = self.mode.host_names(guest, self.pid);
        match self.mode {
            Mode::Bridge => {
                let (pl, pg) = (host_names[0].as_str(), host_names[1].as_str());
                // Deleting the host end deletes its peer, wherever it is.
                let undo = argv(&["ip", "link", "del", pl]);
                steps.push(step(
                    argv(&[
                        "ip", "link", "add", "name", pl, "mtu", &mtu, "type", "veth", "peer",
                        "name", pg, "mtu", &mtu,
                    ]),
                    Some(undo),
                ));
                steps.push(step(argv(&["ip", "link", "set", pl, "master", dev]), None));
                steps.push(step(argv(&["ip", "link", "set", pl, "up"]), None));
                steps.push(step(argv(&["ip", "link", "set", pg, "netns", &pid]), None));
                steps.push(step(
                    self.ns(&["ip", "link", "set", pg, "name", guest]),
                    None,
                ));
            }
            Mode::Macvlan | Mode::IpvlanL2 | Mode::IpvlanL3 => {
                let ph = host_names[0].as_str();
                let kind: &[&str] = match self.mode {
                    Mode::Macvlan => &["macvlan", "mode", "bridge"],
                    Mode::IpvlanL2 => &["ipvlan", "mode", "l2"],
                    _ => &["ipvlan", "mode", "l3"],
                };
                let mut add = argv(&["ip", "link", "add", "link", dev, "dev", ph, "mtu", &mtu]);
                add.push("type".into());
                add.extend(argv(kind));
                steps.push(step(add, Some(argv(&["ip", "link", "del", ph]))));
                steps.push(step(link_up(dev), None));
                steps.push(step(
                    argv(&["ip", "link", "set", ph, "netns", &pid]),
                    Some(self.ns(&["ip", "link", "del", ph])),
                ));
                steps.push(step(
                    self.ns(&["ip", "link", "set", ph, "name", guest]),
                    Some(self.ns(&["ip", "link", "del", guest])),
                ));
            }
            Mode::Dedicated => {
                steps.push(step(
                    argv(&["ip", "link", "set", dev, "netns", &pid, "name", guest]),
                    Some(self.give_back(guest)),
                ));
            }
        }
        if let Some(mac) = self.macaddr {
            steps.push(step(
                self.ns(&["ip", "link", "set", guest, "address", mac]),
                None,
            ));
        }
        steps.push(step(
            self.ns(&["ip", "addr", "add", &cidr, "dev", guest]),
            None,
        ));
        steps.push(step(self.ns(&["ip", "link", "set", guest, "up"]), None));
        steps
    }
}

/// The route setup inside the namespace once the interface is up: an existing `default via`
/// route is kept, as is a `default dev` one when no gateway is set; otherwise the default
/// route goes through `gateway`, or on-link through the interface. With `drop_net_route`
/// (`del_net_route` and `network`), the connected route to that network goes.
pub fn route_steps(
    ns_path: &str,
    guest: &str,
    gateway: Option<IpAddr>,
    current: DefaultRoute,
    drop_net_route: Option<(IpAddr, u8)>,
) -> Vec<Argv> {
    let mut out = Vec::new();
    match (current, gateway) {
        (DefaultRoute::Via, _) | (DefaultRoute::Dev, None) => {}
        (_, Some(gw)) => out.push(in_ns(
            ns_path,
            &["ip", "route", "replace", "default", "via", &gw.to_string()],
        )),
        (_, None) => out.push(in_ns(
            ns_path,
            &["ip", "route", "replace", "default", "dev", guest],
        )),
    }
    if let Some((net, prefix)) = drop_net_route {
        out.push(in_ns(
            ns_path,
            &[
                "ip",
                "route",
                "del",
                &format!("{net}/{prefix}"),
                "dev",
                guest,
            ],
        ));
    }
    out
}

/// The commands removing an ip.netns address plumbed on `intf`: the address, then the
/// interface (a dedicated device goes back to the host as `ipdev`).
pub fn netns_unplumb(
    mode: Mode,
    ns_path: &str,
    intf: &str,
    addr: IpAddr,
    prefix: u8,
    ipdev: &str,
    host_pid: u32,
) -> Vec<Argv> {
    let cidr = format!("{addr}/{prefix}");
    let del_addr = in_ns(ns_path, &["ip", "addr", "del", &cidr, "dev", intf]);
    let release = match mode {
        Mode::Dedicated => in_ns(
            ns_path,
            &[
                "ip",
                "link",
                "set",
                intf,
                "netns",
                &host_pid.to_string(),
                "name",
                ipdev,
            ],
        ),
        _ => in_ns(ns_path, &["ip", "link", "del", "dev", intf]),
    };
    vec![del_addr, release]
}

/// The first free alias label `<ipdev>:<n>`, n ≥ 1, among the labels in use.
pub fn first_free_alias(ipdev: &str, in_use: &[String]) -> Result<String, String> {
    let label = (1..)
        .map(|n| format!("{ipdev}:{n}"))
        .find(|l| !in_use.contains(l))
        .expect("an unbounded range");
    if label.len() > IFNAME_MAX {
        return Err(format!(
            "alias label {label} is longer than {IFNAME_MAX} characters (set alias = false)"
        ));
    }
    Ok(label)
}

/// `ip link set <dev> up`.
pub fn link_up(dev: &str) -> Argv {
    argv(&["ip", "link", "set", dev, "up"])
}

/// `ip addr add <addr>/<cidr> dev <ipdev> [label <label>]`.
pub fn host_plumb(addr: IpAddr, prefix: u8, ipdev: &str, label: Option<&str>) -> Argv {
    let mut v = argv(&[
        "ip",
        "addr",
        "add",
        &format!("{addr}/{prefix}"),
        "dev",
        ipdev,
    ]);
    if let Some(l) = label {
        v.extend(argv(&["label", l]));
    }
    v
}

/// `ip addr del <addr>/<cidr> dev <ipdev>`.
pub fn host_unplumb(addr: IpAddr, prefix: u8, ipdev: &str) -> Argv {
    argv(&[
        "ip",
        "addr",
        "del",
        &format!("{addr}/{prefix}"),
        "dev",
        ipdev,
    ])
}

/// `<addr>/<cidr>`, or the bare address when the prefix is not known yet.
fn with_prefix(addr: &str, prefix: Option<u8>) -> String {
    match prefix {
        Some(p) => format!("{addr}/{p}"),
        None => addr.to_string(),
    }
}

/// ip.host: `<addr>/<cidr> <ipdev>`, plus the name when `ipname` is one.
pub fn host_label(addr: &str, prefix: Option<u8>, ipdev: &str, name: Option<&str>) -> String {
    let mut label = format!("{} {ipdev}", with_prefix(addr, prefix));
    if let Some(n) = name {
        label = format!("{label} {n}");
    }
    label
}

/// ip.netns: `netns <mode> <addr>/<cidr> <ipdev>@<container rid>`.
pub fn netns_label(mode: Mode, addr: &str, prefix: Option<u8>, ipdev: &str, rid: &str) -> String {
    format!(
        "netns {} {} {ipdev}@{rid}",
        mode.as_str(),
        with_prefix(addr, prefix)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(v: &[Argv]) -> Vec<String> {
        v.iter().map(|a| a.join(" ")).collect()
    }

    fn plumb(mode: Mode) -> NetnsPlumb<'static> {
        NetnsPlumb {
            mode,
            ipdev: "eth0",
            guest: "eth0",
            mtu: 1500,
            macaddr: None,
            addr: "5.196.34.151".parse().unwrap(),
            prefix: 27,
            pid: 21982,
            ns_path: "/proc/21982/ns/net",
            host_pid: 77,
        }
    }

    fn commands(p: &NetnsPlumb) -> Vec<String> {
        lines(&p.steps().into_iter().map(|s| s.argv).collect::<Vec<_>>())
    }

    const NS: &str = "nsenter --net=/proc/21982/ns/net";

    #[test]
    fn ipvlan_l2_is_the_tutorial_sequence() {
        assert_eq!(
            commands(&plumb(Mode::IpvlanL2)),
            [
                "ip link add link eth0 dev ph21982eth0 mtu 1500 type ipvlan mode l2".to_string(),
                "ip link set eth0 up".into(),
                "ip link set ph21982eth0 netns 21982".into(),
                format!("{NS} ip link set ph21982eth0 name eth0"),
                format!("{NS} ip addr add 5.196.34.151/27 dev eth0"),
                format!("{NS} ip link set eth0 up"),
            ]
        );
        let l3 = commands(&plumb(Mode::IpvlanL3));
        assert!(l3[0].ends_with("type ipvlan mode l3"), "{}", l3[0]);
    }

    #[test]
    fn macvlan_and_its_mac_address() {
        let mut p = plumb(Mode::Macvlan);
        p.macaddr = Some("02:00:00:00:00:01");
        let c = commands(&p);
        assert_eq!(
            c[0],
            "ip link add link eth0 dev ph21982eth0 mtu 1500 type macvlan mode bridge"
        );
        assert_eq!(
            c[4],
            format!("{NS} ip link set eth0 address 02:00:00:00:00:01")
        );
        assert_eq!(c[5], format!("{NS} ip addr add 5.196.34.151/27 dev eth0"));
    }

    #[test]
    fn bridge_is_a_veth_pair_on_the_bridge() {
        let mut p = plumb(Mode::Bridge);
        p.ipdev = "br0";
        assert_eq!(
            commands(&p),
            [
                "ip link add name veth0pl21982 mtu 1500 type veth peer name veth0pg21982 mtu 1500"
                    .to_string(),
                "ip link set veth0pl21982 master br0".into(),
                "ip link set veth0pl21982 up".into(),
                "ip link set veth0pg21982 netns 21982".into(),
                format!("{NS} ip link set veth0pg21982 name eth0"),
                format!("{NS} ip addr add 5.196.34.151/27 dev eth0"),
                format!("{NS} ip link set eth0 up"),
            ]
        );
    }

    #[test]
    fn dedicated_moves_the_device() {
        let mut p = plumb(Mode::Dedicated);
        p.ipdev = "ens5";
        assert_eq!(
            commands(&p),
            [
                "ip link set ens5 netns 21982 name eth0".to_string(),
                format!("{NS} ip addr add 5.196.34.151/27 dev eth0"),
                format!("{NS} ip link set eth0 up"),
            ]
        );
    }

    /// The undo in force after each step: what a failure at the next step runs.
    fn undo_after_each(p: &NetnsPlumb) -> Vec<String> {
        let mut current = String::new();
        p.steps()
            .into_iter()
            .map(|s| {
                if let Some(u) = s.undo {
                    current = u.join(" ");
                }
                current.clone()
            })
            .collect()
    }

    #[test]
    fn every_step_knows_how_to_undo_what_was_done() {
        let u = undo_after_each(&plumb(Mode::Macvlan));
        assert_eq!(u[0], "ip link del ph21982eth0");
        assert_eq!(u[1], "ip link del ph21982eth0");
        assert_eq!(u[2], format!("{NS} ip link del ph21982eth0"));
        assert!(u[3..]
            .iter()
            .all(|x| *x == format!("{NS} ip link del eth0")));
        let u = undo_after_each(&plumb(Mode::Bridge));
        assert!(u.iter().all(|x| x == "ip link del veth0pl21982"), "{u:?}");
        let u = undo_after_each(&plumb(Mode::Dedicated));
        assert!(u
            .iter()
            .all(|x| *x == format!("{NS} ip link set eth0 netns 77 name eth0")));
    }

    #[test]
    fn routes() {
        let gw = Some("5.196.34.158".parse().unwrap());
        let p = "/proc/21982/ns/net";
        assert_eq!(
            lines(&route_steps(p, "eth0", gw, DefaultRoute::None, None)),
            [format!("{NS} ip route replace default via 5.196.34.158")]
        );
        assert_eq!(
            lines(&route_steps(p, "eth0", None, DefaultRoute::None, None)),
            [format!("{NS} ip route replace default dev eth0")]
        );
        assert!(route_steps(p, "eth0", gw, DefaultRoute::Via, None).is_empty());
        assert!(route_steps(p, "eth0", None, DefaultRoute::Dev, None).is_empty());
        assert_eq!(
            lines(&route_steps(p, "eth0", gw, DefaultRoute::Dev, None)),
            [format!("{NS} ip route replace default via 5.196.34.158")]
        );
        let net = Some(("5.196.34.128".parse().unwrap(), 27));
        assert_eq!(
            lines(&route_steps(p, "eth0", None, DefaultRoute::Via, net)),
            [format!("{NS} ip route del 5.196.34.128/27 dev eth0")]
        );
    }

    #[test]
    fn unplumbing() {
        let a = "5.196.34.151".parse().unwrap();
        let p = "/proc/21982/ns/net";
        assert_eq!(
            lines(&netns_unplumb(Mode::IpvlanL2, p, "eth0", a, 27, "eth0", 9)),
            [
                format!("{NS} ip addr del 5.196.34.151/27 dev eth0"),
                format!("{NS} ip link del dev eth0"),
            ]
        );
        assert_eq!(
            lines(&netns_unplumb(Mode::Dedicated, p, "eth1", a, 27, "ens5", 9))[1],
            format!("{NS} ip link set eth1 netns 9 name ens5")
        );
    }

    #[test]
    fn guest_names() {
        let none = |_: &str| false;
        let ns = vec!["lo".to_string(), "eth0".to_string()];
        assert_eq!(
            guest_name(None, Mode::Bridge, 42, &ns, &none),
            Ok("eth1".into())
        );
        let host_has = |n: &str| n == "veth1pl42";
        assert_eq!(
            guest_name(None, Mode::Bridge, 42, &ns, &host_has),
            Ok("eth2".into())
        );
        let host_has = |n: &str| n == "ph42eth1";
        assert_eq!(
            guest_name(None, Mode::Macvlan, 42, &ns, &host_has),
            Ok("eth2".into())
        );
        assert_eq!(
            guest_name(None, Mode::Dedicated, 42, &ns, &host_has),
            Ok("eth1".into())
        );
        assert_eq!(
            guest_name(Some("web0"), Mode::Bridge, 42, &ns, &none),
            Ok("web0".into())
        );
        let long = guest_name(Some("averylongname"), Mode::Bridge, 4194304, &ns, &none);
        assert!(long
            .unwrap_err()
            .starts_with("nsdev: 'vaverylongnamepl4194304'"));
    }

    #[test]
    fn host_commands_and_labels() {
        let a: IpAddr = "198.18.3.10".parse().unwrap();
        let used = vec!["br0".to_string(), "br0:1".to_string(), "br0:3".to_string()];
        assert_eq!(first_free_alias("br0", &used), Ok("br0:2".into()));
        assert!(first_free_alias("averylongbridge", &[]).is_err());
        assert_eq!(
            host_plumb(a, 24, "br0", Some("br0:2")).join(" "),
            "ip addr add 198.18.3.10/24 dev br0 label br0:2"
        );
        assert_eq!(
            host_plumb("fd00::a".parse().unwrap(), 64, "br0", None).join(" "),
            "ip addr add fd00::a/64 dev br0"
        );
        assert_eq!(
            host_unplumb(a, 24, "br0").join(" "),
            "ip addr del 198.18.3.10/24 dev br0"
        );
        assert_eq!(
            host_label("198.18.3.10", Some(24), "br0", Some("web.example")),
            "198.18.3.10/24 br0 web.example"
        );
        assert_eq!(
            host_label("198.18.3.10", None, "br0", None),
            "198.18.3.10 br0"
        );
        assert_eq!(
            netns_label(
                Mode::IpvlanL2,
                "5.196.34.151",
                Some(27),
                "eth0",
                "container#1"
            ),
            "netns ipvlan-l2 5.196.34.151/27 eth0@container#1"
        );
        assert_eq!(Mode::parse("ipvlan-l3"), Some(Mode::IpvlanL3));
        assert!(MODES.iter().all(|m| Mode::parse(m).unwrap().as_str() == *m));
        assert_eq!(Mode::parse("ovs"), None);
    }
}
