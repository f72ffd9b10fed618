//! The `run_args` keyword: `docker run` options in the docker CLI's syntax, checked when the
//! resource is created (so `validate config` reports them) and applied to the engine's create
//! request at start. An option the driver does not know is an error, never silently dropped.

use crate::ports;
use crate::units;
use bollard::models::{
    ContainerCreateBody, DeviceMapping, HostConfig, PortBinding, ResourcesUlimits, RestartPolicy,
    RestartPolicyNameEnum,
};
use svcmgr_plugin_api::types::parse_bool;

/// One recognised option, its value already checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Opt {
    Volume(String),
    Publish(Vec<ports::Published>),
    Env(String),
    EnvFile(String),
    Workdir(String),
    User(String),
    Hostname(String),
    Network(String),
    Privileged(bool),
    Tty(bool),
    Interactive(bool),
    Entrypoint(String),
    CapAdd(String),
    CapDrop(String),
    Label(String, String),
    Restart(RestartPolicy),
    Memory(i64),
    Cpus(i64),
    AddHost(String),
    Dns(String),
    Tmpfs(String, String),
    ReadOnly(bool),
    Init(bool),
    ShmSize(i64),
    Ulimit(ResourcesUlimits),
    Device(DeviceMapping),
    /// Tolerated: the driver always runs containers detached.
    Detach(bool),
}

/// The words of one option as written (kept to render the equivalent `docker run` line) and
/// what they mean. A cluster of short flags (`-ti`) is one item per flag (`-t`, `-i`), so that
/// one of them can be left out of the line.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub words: Vec<String>,
    pub opt: Opt,
}

impl Opt {
    /// Whether this option, given after `earlier`, replaces it: the same single-valued
    /// setting, or the same variable, mount destination, label, tmpfs or device path.
    pub fn replaces(&self, earlier: &Opt) -> bool {
        use Opt::*;
        let key = |e: &str| e.split('=').next().unwrap_or(e).to_string();
        let destination = |v: &str| v.split(':').nth(1).unwrap_or(v).to_string();
        match (self, earlier) {
            (Env(a), Env(b)) => key(a) == key(b),
            (Volume(a), Volume(b)) => destination(a) == destination(b),
            (Label(a, _), Label(b, _)) => a == b,
            (Tmpfs(a, _), Tmpfs(b, _)) => a == b,
            (Device(a), Device(b)) => a.path_in_container == b.path_in_container,
            (
                Publish(_) | EnvFile(_) | CapAdd(_) | CapDrop(_) | AddHost(_) | Dns(_) | Ulimit(_),
                _,
            ) => false,
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunArgs {
    pub items: Vec<Item>,
}

enum Kind {
    Value(fn(&str) -> Result<Opt, String>),
    Switch(fn(bool) -> Opt),
}

struct Flag {
    long: &'static [&'static str],
    short: Option<char>,
    kind: Kind,
}

impl Flag {
    const fn value(
        long: &'static [&'static str],
        short: Option<char>,
        make: fn(&str) -> Result<Opt, String>,
    ) -> Flag {
        Flag {
            long,
            short,
            kind: Kind::Value(make),
        }
    }

    const fn switch(
        long: &'static [&'static str],
        short: Option<char>,
        make: fn(bool) -> Opt,
    ) -> Flag {
        Flag {
            long,
            short,
            kind: Kind::Switch(make),
        }
    }
}

const FLAGS: &[Flag] = &[
    Flag::value(&["volume"], Some('v'), |v| Ok(Opt::Volume(v.into()))),
    Flag::value(&["publish"], Some('p'), |v| {
        ports::parse(v).map(Opt::Publish)
    }),
    Flag::value(&["env"], Some('e'), |v| Ok(Opt::Env(v.into()))),
    Flag::value(&["env-file"], None, |v| Ok(Opt::EnvFile(v.into()))),
    Flag::value(&["workdir"], Some('w'), |v| Ok(Opt::Workdir(v.into()))),
    Flag::value(&["user"], Some('u'), |v| Ok(Opt::User(v.into()))),
    Flag::value(&["hostname"], Some('h'), |v| Ok(Opt::Hostname(v.into()))),
    Flag::value(&["net", "network"], None, |v| Ok(Opt::Network(v.into()))),
    Flag::switch(&["privileged"], None, Opt::Privileged),
    Flag::switch(&["tty"], Some('t'), Opt::Tty),
    Flag::switch(&["interactive"], Some('i'), Opt::Interactive),
    Flag::value(&["entrypoint"], None, |v| Ok(Opt::Entrypoint(v.into()))),
    Flag::value(&["cap-add"], None, |v| Ok(Opt::CapAdd(v.into()))),
    Flag::value(&["cap-drop"], None, |v| Ok(Opt::CapDrop(v.into()))),
    Flag::value(&["label"], Some('l'), label),
    Flag::value(&["restart"], None, restart),
    Flag::value(&["memory"], Some('m'), |v| units::bytes(v).map(Opt::Memory)),
    Flag::value(&["cpus"], None, |v| units::nano_cpus(v).map(Opt::Cpus)),
    Flag::value(&["add-host"], None, add_host),
    Flag::value(&["dns"], None, |v| Ok(Opt::Dns(v.into()))),
    Flag::value(&["tmpfs"], None, |v| {
        let (path, opts) = v.split_once(':').unwrap_or((v, ""));
        Ok(Opt::Tmpfs(path.into(), opts.into()))
    }),
    Flag::switch(&["read-only"], None, Opt::ReadOnly),
    Flag::switch(&["init"], None, Opt::Init),
    Flag::value(&["shm-size"], None, |v| units::bytes(v).map(Opt::ShmSize)),
    Flag::value(&["ulimit"], None, ulimit),
    Flag::value(&["device"], None, device),
    Flag::switch(&["detach"], Some('d'), Opt::Detach),
];

/// Options that have a keyword of their own: the error says which.
const KEYWORD_OPTIONS: &[(&str, &str)] = &[("name", "name"), ("rm", "rm")];

impl RunArgs {
    /// Parse the words of `run_args`. Errors name the offending flag or value.
    pub fn parse(words: &[String]) -> Result<RunArgs, String> {
        let mut items = Vec::new();
        let mut rest = words.iter();
        while let Some(word) = rest.next() {
            if let Some(long) = word.strip_prefix("--").filter(|l| !l.is_empty()) {
                items.push(parse_long(word, long, &mut rest)?);
            } else if let Some(shorts) = word.strip_prefix('-').filter(|s| !s.is_empty()) {
                items.extend(parse_shorts(shorts, &mut rest)?);
            } else {
                return Err(format!(
                    "unexpected argument '{word}' (image and command have keywords of their own)"
                ));
            }
        }
        Ok(RunArgs { items })
    }

    pub fn opts(&self) -> impl Iterator<Item = &Opt> {
        self.items.iter().map(|i| &i.opt)
    }

    /// Leave out the options that one of `later` replaces (and `-d`, which the driver always
    /// adds): what remains, then `later`, is exactly what runs.
    pub fn without_replaced<'a>(&self, later: impl Iterator<Item = &'a Opt> + Clone) -> RunArgs {
        RunArgs {
            items: self
                .items
                .iter()
                .filter(|i| {
                    !matches!(i.opt, Opt::Detach(_)) && !later.clone().any(|l| l.replaces(&i.opt))
                })
                .cloned()
                .collect(),
        }
    }

    /// The words of the options, as written.
    pub fn words(&self) -> impl Iterator<Item = &String> {
        self.items.iter().flat_map(|i| &i.words)
    }
}

/// Apply options to an engine create request, later ones overriding earlier ones. Reads
/// `--env-file` files, hence the error (naming the file).
pub fn apply<'a>(
    opts: impl IntoIterator<Item = &'a Opt>,
    body: &mut ContainerCreateBody,
) -> Result<(), String> {
    for opt in opts {
        apply_one(opt, body)?;
    }
    Ok(())
}

fn flag_by_long(name: &str) -> Result<&'static Flag, String> {
    if let Some((_, kw)) = KEYWORD_OPTIONS.iter().find(|(f, _)| *f == name) {
        return Err(format!(
            "flag --{name} is not allowed, use the {kw} keyword"
        ));
    }
    FLAGS
        .iter()
        .find(|f| f.long.contains(&name))
        .ok_or_else(|| format!("unknown flag --{name}"))
}

fn parse_long<'a>(
    word: &str,
    long: &str,
    rest: &mut impl Iterator<Item = &'a String>,
) -> Result<Item, String> {
    let (name, inline) = match long.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (long, None),
    };
    let flag = flag_by_long(name)?;
    let mut words = vec![word.to_string()];
    let opt = match &flag.kind {
        Kind::Switch(make) => make(match inline {
            Some(v) => parse_bool(v).map_err(|e| format!("--{name}: {e}"))?,
            None => true,
        }),
        Kind::Value(make) => value_opt(&format!("--{name}"), *make, inline, rest, &mut words)?,
    };
    Ok(Item { words, opt })
}

/// `-t`, `-ti`, `-v /a:/b`, `-p8080:80`: a cluster of switches, possibly ended by one flag
/// taking a value (the rest of the cluster, or the next word), as the docker CLI reads them;
/// one item per flag.
fn parse_shorts<'a>(
    shorts: &str,
    rest: &mut impl Iterator<Item = &'a String>,
) -> Result<Vec<Item>, String> {
    let mut items = Vec::new();
    for (at, c) in shorts.char_indices() {
        let flag = FLAGS
            .iter()
            .find(|f| f.short == Some(c))
            .ok_or_else(|| format!("unknown flag -{c}"))?;
        match &flag.kind {
            Kind::Switch(make) => items.push(Item {
                words: vec![format!("-{c}")],
                opt: make(true),
            }),
            Kind::Value(make) => {
                let tail = &shorts[at + c.len_utf8()..];
                let mut words = vec![format!("-{c}{tail}")];
                let attached = Some(tail.trim_start_matches('=')).filter(|a| !a.is_empty());
                let opt = value_opt(&format!("-{c}"), *make, attached, rest, &mut words)?;
                items.push(Item { words, opt });
                break;
            }
        }
    }
    Ok(items)
}

/// The option of a flag taking a value: the value `attached` to the flag's word, or else the
/// next word (added to `words`). Errors name the flag as `shown`.
fn value_opt<'a>(
    shown: &str,
    make: fn(&str) -> Result<Opt, String>,
    attached: Option<&str>,
    rest: &mut impl Iterator<Item = &'a String>,
    words: &mut Vec<String>,
) -> Result<Opt, String> {
    let value = match attached {
        Some(v) => v,
        None => {
            let v = rest
                .next()
                .ok_or_else(|| format!("flag {shown} needs a value"))?;
            words.push(v.clone());
            v
        }
    };
    make(value).map_err(|e| format!("{shown}: {e}"))
}

fn label(v: &str) -> Result<Opt, String> {
    let (k, val) = v.split_once('=').unwrap_or((v, ""));
    if k.is_empty() {
        return Err(format!("invalid label '{v}'"));
    }
    Ok(Opt::Label(k.into(), val.into()))
}

fn restart(v: &str) -> Result<Opt, String> {
    let (name, max) = v.split_once(':').unwrap_or((v, ""));
    let policy = match name {
        "no" => RestartPolicyNameEnum::NO,
        "always" => RestartPolicyNameEnum::ALWAYS,
        "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
        "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
        _ => return Err(format!("invalid restart policy '{v}'")),
    };
    let maximum_retry_count = match max {
        "" => None,
        n if policy == RestartPolicyNameEnum::ON_FAILURE => Some(
            n.parse::<i64>()
                .map_err(|_| format!("invalid restart count in '{v}'"))?,
        ),
        _ => return Err(format!("restart policy '{name}' takes no count")),
    };
    Ok(Opt::Restart(RestartPolicy {
        name: Some(policy),
        maximum_retry_count,
    }))
}

fn add_host(v: &str) -> Result<Opt, String> {
    // `host:ip`; the ip may be IPv6 and hold colons, so only the first one separates.
    match v.split_once(':') {
        Some((h, ip)) if !h.is_empty() && !ip.is_empty() => Ok(Opt::AddHost(v.into())),
        _ => Err(format!("invalid host entry '{v}' (expected host:ip)")),
    }
}

fn ulimit(v: &str) -> Result<Opt, String> {
    let bad = || format!("invalid ulimit '{v}' (expected name=soft[:hard])");
    let (name, limits) = v.split_once('=').ok_or_else(bad)?;
    let (soft, hard) = limits.split_once(':').unwrap_or((limits, limits));
    let soft: i64 = soft.parse().map_err(|_| bad())?;
    let hard: i64 = hard.parse().map_err(|_| bad())?;
    if name.is_empty() || soft > hard {
        return Err(bad());
    }
    Ok(Opt::Ulimit(ResourcesUlimits {
        name: Some(name.into()),
        soft: Some(soft),
        hard: Some(hard),
    }))
}

/// `/dev/x`, `/dev/x:/dev/y`, `/dev/x:/dev/y:rw`, `/dev/x:rwm`.
fn device(v: &str) -> Result<Opt, String> {
    let is_perms = |p: &str| !p.is_empty() && p.chars().all(|c| "rwm".contains(c));
    let parts: Vec<&str> = v.split(':').collect();
    let (host, container, perms) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, p] if is_perms(p) => (*h, *h, *p),
        [h, c] => (*h, *c, "rwm"),
        [h, c, p] if is_perms(p) => (*h, *c, *p),
        _ => return Err(format!("invalid device '{v}'")),
    };
    if !host.starts_with('/') || !container.starts_with('/') {
        return Err(format!("invalid device '{v}' (paths must be absolute)"));
    }
    Ok(Opt::Device(DeviceMapping {
        path_on_host: Some(host.into()),
        path_in_container: Some(container.into()),
        cgroup_permissions: Some(perms.into()),
    }))
}

/// `KEY=value` is kept; a bare `KEY` takes the value of this process's environment, and is
/// dropped when unset, as the docker CLI does.
fn env_entry(entry: &str) -> Option<String> {
    if entry.contains('=') {
        return Some(entry.to_string());
    }
    std::env::var(entry).ok().map(|v| format!("{entry}={v}"))
}

fn read_env_file(path: &str) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("--env-file {path}: {e}"))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(env_entry)
        .collect())
}

fn push<T>(list: &mut Option<Vec<T>>, item: T) {
    list.get_or_insert_with(Vec::new).push(item);
}

fn apply_one(opt: &Opt, body: &mut ContainerCreateBody) -> Result<(), String> {
    let host: &mut HostConfig = body.host_config.get_or_insert_with(Default::default);
    match opt {
        // `src:dst[:opts]` is a bind mount; a lone path an anonymous volume.
        Opt::Volume(v) if v.contains(':') => push(&mut host.binds, v.clone()),
        Opt::Volume(v) => push(&mut body.volumes, v.clone()),
        Opt::Publish(list) => {
            for p in list {
                let exposed = body.exposed_ports.get_or_insert_with(Vec::new);
                if !exposed.contains(&p.container_port) {
                    exposed.push(p.container_port.clone());
                }
                let bindings = host.port_bindings.get_or_insert_with(Default::default);
                let binding = PortBinding {
                    host_ip: (!p.host_ip.is_empty()).then(|| p.host_ip.clone()),
                    host_port: Some(p.host_port.clone()),
                };
                bindings
                    .entry(p.container_port.clone())
                    .or_insert(None)
                    .get_or_insert_with(Vec::new)
                    .push(binding);
            }
        }
        Opt::Env(e) => {
            if let Some(e) = env_entry(e) {
                push(&mut body.env, e);
            }
        }
        Opt::EnvFile(path) => {
            for e in read_env_file(path)? {
                push(&mut body.env, e);
            }
        }
        Opt::Workdir(v) => body.working_dir = Some(v.clone()),
        Opt::User(v) => body.user = Some(v.clone()),
        Opt::Hostname(v) => body.hostname = Some(v.clone()),
        Opt::Network(v) => host.network_mode = Some(v.clone()),
        Opt::Privileged(b) => host.privileged = Some(*b),
        Opt::Tty(b) => body.tty = Some(*b),
        Opt::Interactive(b) => body.open_stdin = Some(*b),
        Opt::Entrypoint(v) => body.entrypoint = Some(vec![v.clone()]),
        Opt::CapAdd(v) => push(&mut host.cap_add, v.clone()),
        Opt::CapDrop(v) => push(&mut host.cap_drop, v.clone()),
        Opt::Label(k, v) => {
            body.labels
                .get_or_insert_with(Default::default)
                .insert(k.clone(), v.clone());
        }
        Opt::Restart(p) => host.restart_policy = Some(p.clone()),
        Opt::Memory(n) => host.memory = Some(*n),
        Opt::Cpus(n) => host.nano_cpus = Some(*n),
        Opt::AddHost(v) => push(&mut host.extra_hosts, v.clone()),
        Opt::Dns(v) => push(&mut host.dns, v.clone()),
        Opt::Tmpfs(path, opts) => {
            host.tmpfs
                .get_or_insert_with(Default::default)
                .insert(path.clone(), opts.clone());
        }
        Opt::ReadOnly(b) => host.readonly_rootfs = Some(*b),
        Opt::Init(b) => host.init = Some(*b),
        Opt::ShmSize(n) => host.shm_size = Some(*n),
        Opt::Ulimit(u) => push(&mut host.ulimits, u.clone()),
        Opt::Device(d) => push(&mut host.devices, d.clone()),
        Opt::Detach(_) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        shell_words::split(s).unwrap()
    }

    fn opts(s: &str) -> Vec<Opt> {
        RunArgs::parse(&words(s)).unwrap().opts().cloned().collect()
    }

    fn body(s: &str) -> ContainerCreateBody {
        let mut b = ContainerCreateBody::default();
        apply(RunArgs::parse(&words(s)).unwrap().opts(), &mut b).unwrap();
        b
    }

    #[test]
    fn both_value_forms_and_short_clusters() {
        assert_eq!(opts("-v /a:/b"), opts("--volume=/a:/b"));
        assert_eq!(opts("-v /a:/b"), opts("--volume /a:/b"));
        assert_eq!(opts("-v/a:/b"), opts("-v /a:/b"));
        assert_eq!(opts("-ti"), vec![Opt::Tty(true), Opt::Interactive(true)]);
        let ra = RunArgs::parse(&words("-itp80 -v=/a:/b")).unwrap();
        assert_eq!(
            ra.words().cloned().collect::<Vec<_>>(),
            words("-i -t -p80 -v=/a:/b"),
            "one item per flag of a cluster, each written as given"
        );
        assert_eq!(
            opts("-itp 80"),
            vec![
                Opt::Interactive(true),
                Opt::Tty(true),
                Opt::Publish(ports::parse("80").unwrap())
            ]
        );
        assert_eq!(opts("--net host"), opts("--network=host"));
        assert_eq!(opts("--privileged=false"), vec![Opt::Privileged(false)]);
        assert_eq!(opts("-d --detach"), vec![Opt::Detach(true); 2]);
    }

    #[test]
    fn unknown_flags_and_values_are_named() {
        let err = |s: &str| RunArgs::parse(&words(s)).unwrap_err();
        assert_eq!(err("-v /a:/b --bogus"), "unknown flag --bogus");
        assert_eq!(err("--bogus=1"), "unknown flag --bogus");
        assert_eq!(err("-tZ"), "unknown flag -Z");
        assert_eq!(err("-p"), "flag -p needs a value");
        assert_eq!(err("--memory"), "flag --memory needs a value");
        assert_eq!(err("--memory lots"), "--memory: invalid size 'lots'");
        assert_eq!(
            err("--restart sometimes"),
            "--restart: invalid restart policy 'sometimes'"
        );
        assert_eq!(err("--rm"), "flag --rm is not allowed, use the rm keyword");
        assert!(err("busybox").contains("unexpected argument 'busybox'"));
        assert_eq!(
            err("--privileged=maybe"),
            "--privileged: 'maybe' is not a boolean (true or false)"
        );
    }

    #[test]
    fn translation_to_the_create_request() {
        let b = body(
            "-v /srv:/data:ro -v /cache -p 127.0.0.1:8888:8000 -e A=1 -w /w -u 1000 -h box \
             --net=bridge --privileged -t -i --entrypoint /bin/sh --cap-add NET_ADMIN \
             --cap-drop MKNOD -l a=b --restart on-failure:3 -m 64m --cpus 0.5 \
             --add-host db:10.0.0.1 --dns 1.1.1.1 --tmpfs /run:size=1m --read-only --init \
             --shm-size 32m --ulimit nofile=10:20 --device /dev/fuse",
        );
        let h = b.host_config.clone().unwrap();
        assert_eq!(h.binds, Some(vec!["/srv:/data:ro".into()]));
        assert_eq!(b.volumes, Some(vec!["/cache".into()]));
        assert_eq!(b.exposed_ports, Some(vec!["8000/tcp".into()]));
        let pb = h.port_bindings.unwrap()["8000/tcp"].clone().unwrap();
        assert_eq!(pb[0].host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(pb[0].host_port.as_deref(), Some("8888"));
        assert_eq!(b.env, Some(vec!["A=1".into()]));
        assert_eq!(b.working_dir.as_deref(), Some("/w"));
        assert_eq!(b.user.as_deref(), Some("1000"));
        assert_eq!(b.hostname.as_deref(), Some("box"));
        assert_eq!(h.network_mode.as_deref(), Some("bridge"));
        assert_eq!(h.privileged, Some(true));
        assert_eq!((b.tty, b.open_stdin), (Some(true), Some(true)));
        assert_eq!(b.entrypoint, Some(vec!["/bin/sh".into()]));
        assert_eq!(h.cap_add, Some(vec!["NET_ADMIN".into()]));
        assert_eq!(h.cap_drop, Some(vec!["MKNOD".into()]));
        assert_eq!(b.labels.unwrap()["a"], "b");
        let rp = h.restart_policy.unwrap();
        assert_eq!(rp.name, Some(RestartPolicyNameEnum::ON_FAILURE));
        assert_eq!(rp.maximum_retry_count, Some(3));
        assert_eq!(h.memory, Some(64 << 20));
        assert_eq!(h.nano_cpus, Some(500_000_000));
        assert_eq!(h.extra_hosts, Some(vec!["db:10.0.0.1".into()]));
        assert_eq!(h.dns, Some(vec!["1.1.1.1".into()]));
        assert_eq!(h.tmpfs.unwrap()["/run"], "size=1m");
        assert_eq!(h.readonly_rootfs, Some(true));
        assert_eq!(h.init, Some(true));
        assert_eq!(h.shm_size, Some(32 << 20));
        let u = &h.ulimits.unwrap()[0];
        assert_eq!((u.soft, u.hard), (Some(10), Some(20)));
        let d = &h.devices.unwrap()[0];
        assert_eq!(d.path_in_container.as_deref(), Some("/dev/fuse"));
        assert_eq!(d.cgroup_permissions.as_deref(), Some("rwm"));
    }

    #[test]
    fn env_file_is_read_at_apply_time() {
        let dir = std::env::temp_dir().join(format!("svcmgr-envfile-{}", std::process::id()));
        std::fs::write(&dir, "# comment\nX=1\n\nY=two words\n").unwrap();
        let b = body(&format!("--env-file {}", dir.display()));
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(b.env, Some(vec!["X=1".into(), "Y=two words".into()]));
        let mut b = ContainerCreateBody::default();
        let ra = RunArgs::parse(&words("--env-file /nonexistent/env")).unwrap();
        let err = apply(ra.opts(), &mut b).unwrap_err();
        assert!(err.starts_with("--env-file /nonexistent/env: "), "{err}");
    }

    #[test]
    fn later_options_replace_earlier_ones() {
        let ra = RunArgs::parse(&words(
            "-d -ti -v /a:/b -v /c:/d:ro --net=host -p 80 -e A=1 -e B -h x --cap-add X",
        ))
        .unwrap();
        let shown = |later: &[Opt]| -> Vec<String> {
            ra.without_replaced(later.iter()).words().cloned().collect()
        };
        assert_eq!(
            shown(&[]),
            words("-t -i -v /a:/b -v /c:/d:ro --net=host -p 80 -e A=1 -e B -h x --cap-add X")
        );
        assert_eq!(
            shown(&[
                Opt::Network("none".into()),
                Opt::Tty(false),
                Opt::Volume("/e:/d".into()),
                Opt::Env("B=2".into()),
                Opt::Hostname("y".into()),
                Opt::CapAdd("X".into()),
            ]),
            words("-i -v /a:/b -p 80 -e A=1 --cap-add X")
        );
    }

    #[test]
    fn devices_ulimits_restart() {
        assert!(matches!(
            opts("--device /dev/a:/dev/b:r")[0],
            Opt::Device(DeviceMapping { ref cgroup_permissions, .. }) if cgroup_permissions.as_deref() == Some("r")
        ));
        assert!(RunArgs::parse(&words("--device dev/a")).is_err());
        assert!(RunArgs::parse(&words("--ulimit nofile=20:10")).is_err());
        assert!(RunArgs::parse(&words("--restart always:3")).is_err());
        assert!(RunArgs::parse(&words("--add-host nohost")).is_err());
    }
}
