//! The side effects both ip drivers share: running plans through the SDK's command runner
//! (logged, no shell, under the call's deadline), reading interfaces (rtnetlink), the
//! availability checks and the announce, and the node-wide lock around choosing names and
//! plumbing.

use crate::arp;
use crate::iface::{DefaultRoute, Link};
use crate::netlink;
use crate::plan::{Argv, Step};
use std::fs::File;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;
use svcmgr_plugin_api::{Ctx, Error, Output, Result};

/// A tool a driver needs, and the Debian package shipping it.
pub struct Tool {
    pub name: &'static str,
    pub package: &'static str,
}

pub const IP: Tool = Tool {
    name: "ip",
    package: "iproute2",
};
pub const NSENTER: Tool = Tool {
    name: "nsenter",
    package: "util-linux",
};
pub const PING: Tool = Tool {
    name: "ping",
    package: "iputils-ping",
};

/// How many times the stop's availability check pings before giving up.
const DOWN_TRIES: usize = 15;
/// How long one availability ping waits for an answer.
const PING_WAIT: &str = "1";

fn in_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false)
}

/// Fail naming the package to install when a tool is missing.
pub fn require(tools: &[&Tool]) -> Result<()> {
    match tools.iter().find(|t| !in_path(t.name)) {
        Some(t) => Err(Error::other(format!(
            "{} not found in PATH: install the {} package",
            t.name, t.package
        ))),
        None => Ok(()),
    }
}

/// The last line the command wrote on stderr (the kernel's reason), else its exit code.
fn reason(out: &Output) -> String {
    out.stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .unwrap_or_else(|| format!("exit code {}", out.code))
}

/// Run a command, logged with its output; a non-zero exit is an error carrying the reason.
pub fn run(ctx: &Ctx, argv: &Argv) -> Result<Output> {
    let out = ctx.command(argv).run()?;
    if !out.success() {
        return Err(Error::other(format!(
            "{}: {}",
            argv.join(" "),
            reason(&out)
        )));
    }
    Ok(out)
}

/// Run plan steps in order. When one fails, the undo in force (what removes everything the
/// earlier steps did) runs before the error is returned; if that fails too, the error says
/// so and marks the resource changed, so the host's rollback stops it.
pub fn run_steps(ctx: &Ctx, steps: &[Step]) -> Result<()> {
    let mut undo: Option<&Argv> = None;
    for s in steps {
        if let Err(e) = run(ctx, &s.argv) {
            if let Some(u) = undo {
                ctx.info("removing what this start plumbed");
                if let Err(again) = run(ctx, u) {
                    return Err(Error::other(format!(
                        "{}; removing what was plumbed failed too: {}",
                        e.message(),
                        again.message()
                    ))
                    .changed());
                }
            }
            return Err(e);
        }
        if s.undo.is_some() {
            undo = s.undo.as_ref();
        }
    }
    Ok(())
}

/// A host interface with its addresses; None when it does not exist.
pub fn host_link(dev: &str) -> Result<Option<Link>> {
    let links =
        netlink::links(None).map_err(|e| Error::other(format!("reading interfaces: {e}")))?;
    Ok(links.into_iter().find(|l| l.ifname == dev))
}

/// A name is taken by a host interface.
pub fn host_has_link(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// The interfaces of the namespace at `ns_path`, with their addresses.
pub fn ns_links(ns_path: &str) -> Result<Vec<Link>> {
    netlink::links(Some(ns_path))
        .map_err(|e| Error::other(format!("reading the interfaces of {ns_path}: {e}")))
}

/// The default route for `addr`'s family in the namespace at `ns_path`.
pub fn ns_default_route(ns_path: &str, addr: IpAddr) -> Result<DefaultRoute> {
    netlink::default_route(Some(ns_path), addr)
        .map_err(|e| Error::other(format!("reading the routes of {ns_path}: {e}")))
}

/// Wait, at most `limit`, until the kernel has processed the carrier of `dev` in the
/// namespace at `ns_path` and of `port` on the host: a gratuitous ARP sent before a bridge
/// port forwards is lost, and the other hosts keep a stale neighbour entry.
pub fn wait_oper_up(ns_path: &str, dev: &str, port: Option<&str>, limit: Duration) {
    let end = std::time::Instant::now() + limit;
    let oper_up = |links: std::io::Result<Vec<Link>>, name: &str| {
        links.is_ok_and(|l| l.iter().any(|l| l.ifname == name && l.oper_up))
    };
    while std::time::Instant::now() < end {
        let inside = oper_up(netlink::links(Some(ns_path)), dev);
        if inside && port.is_none_or(|p| oper_up(netlink::links(None), p)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// One ping, one second: does something answer at `addr`?
fn answers(ctx: &Ctx, addr: IpAddr) -> Result<bool> {
    let a = addr.to_string();
    let out = ctx
        .command(&["ping", "-c", "1", "-W", PING_WAIT, "-n", "-q", &a])
        .quiet()
        .run()?;
    Ok(out.success())
}

/// Before plumbing: `checking <addr> availability`; an answer means another host holds it.
pub fn check_free(ctx: &Ctx, addr: IpAddr) -> Result<()> {
    require(&[&PING])?;
    ctx.info(&format!("checking {addr} availability"));
    if answers(ctx, addr)? {
        return Err(Error::other(format!(
            "{addr} is already up on another host"
        )));
    }
    Ok(())
}

/// After unplumbing: ping until nothing answers, at most 15 times.
pub fn wait_gone(ctx: &Ctx, addr: IpAddr) -> Result<()> {
    require(&[&PING])?;
    for _ in 0..DOWN_TRIES {
        ctx.info(&format!("checking {addr} availability"));
        if !answers(ctx, addr)? {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(Error::other(format!("{addr} refuse to go down")))
}

/// Announce an IPv4 address with a gratuitous ARP on `dev` (inside the namespace at
/// `ns_path` when given). Best effort: a failed send is a warning, the address is plumbed
/// either way.
pub fn announce(ctx: &Ctx, dev: &str, addr: IpAddr, ns_path: Option<&str>) {
    let IpAddr::V4(v4) = addr else { return };
    if v4.is_loopback() {
        return;
    }
    ctx.info(&format!(
        "send gratuitous arp to announce {addr} is at {dev}"
    ));
    if let Err(e) = arp::announce(dev, v4, ns_path) {
        ctx.warn(&format!("arp announce failed: {e}"));
    }
}

/// The node-wide lock held while a driver picks free names (alias labels, `eth<N>`) and
/// plumbs, so that two resources starting at once never pick the same. Kernel objects are
/// node-wide, hence a path outside the service's root.
pub struct NameLock {
    _held: nix::fcntl::Flock<File>,
}

const LOCK_FILE: &str = "/run/lock/svcmgr-ip.lock";

pub fn name_lock() -> Result<NameLock> {
    let path = Path::new(LOCK_FILE);
    let failed = |e: String| Error::other(format!("locking {LOCK_FILE}: {e}"));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| failed(e.to_string()))?;
    }
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| failed(e.to_string()))?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
        .map(|held| NameLock { _held: held })
        .map_err(|(_, errno)| failed(errno.to_string()))
}
