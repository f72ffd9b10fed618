//! The command line, defined once as a clap `Command`: every action is a subcommand (multi-word
//! actions are nested: `print status`) with its own options, so `--help`, shell completions and
//! the man page all come from [`command`]. Action words and long options may be abbreviated
//! (`print stat`, `val conf`, `--dry`); an unknown first word is kept verbatim with what follows
//! it, for a driver's passthrough (`docker ps -a`). Parsing needs no driver.
//!
//! `svcmgr -s NAME <action words…> [options]`, or `NAME <action…>` when called through the
//! `<root>/etc/opensvc/NAME` link.

use clap::builder::EnumValueParser;
use clap::{Arg, ArgAction, ArgMatches, Command, ValueEnum};

/// The options given, whichever action took them (unset for the others).
#[derive(Debug, Default, Clone)]
pub struct Args {
    pub service: Option<String>,
    pub rid: Option<String>,
    pub tags: Option<String>,
    pub subsets: Option<String>,
    pub upto: Option<String>,
    pub downto: Option<String>,
    pub dry_run: bool,
    pub disable_rollback: bool,
    pub force: bool,
    pub local: bool,
    pub format: Option<OutputFormat>,
    pub color: ColorMode,
    pub debug: bool,
    pub waitlock: Option<String>,
    pub kw: Vec<String>,
    pub eval: bool,
    pub config: Option<String>,
    pub provision: bool,
    pub log_format: Option<LogFormat>,
    /// Accepted for compatibility: status is always evaluated live.
    pub refresh: bool,
    /// `driver test`: `keyword=value` making the resource slower than a deadline.
    pub slow_kw: Vec<String>,
    /// `driver test`: `keyword=value` the driver must refuse.
    pub bad_kw: Vec<String>,
    /// `driver package`: sign the package with this ed25519 key (PKCS#8 PEM).
    pub sign: Option<String>,
    /// `driver package`: the folder to write the package to (default: the current one).
    pub output: Option<String>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Json,
    Text,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorMode {
    #[default]
    Auto,
    #[value(alias = "yes")]
    Always,
    #[value(alias = "no")]
    Never,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Default,
    Classic,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// An action by its words (`print status`), and its positional arguments (`driver info
    /// <id>`, `driver install <pkg>…`).
    Named(String, Vec<String>),
    /// `start<group>` / `stop<group>`: the action and the groups it is restricted to.
    Legacy(&'static str, &'static [&'static str]),
    /// A word that names no action, and the words after it, verbatim: a driver's passthrough
    /// (`docker ps -a`) if a driver declares the word.
    External(String, Vec<String>),
}

#[derive(Debug, Clone)]
pub struct Parsed {
    pub args: Args,
    pub action: Action,
}

/// Legacy `start<group>`/`stop<group>` verbs and the driver groups they act on.
pub const LEGACY_GROUPS: &[(&str, &[&str])] = &[
    ("container", &["container"]),
    ("ip", &["ip"]),
    ("fs", &["disk", "fs"]),
    ("disk", &["disk"]),
    ("app", &["app"]),
    ("share", &["share"]),
    ("sync", &["sync"]),
    ("task", &["task"]),
];

fn value(name: &'static str, value_name: &'static str, help: &'static str) -> Arg {
    Arg::new(name).long(name).value_name(value_name).help(help)
}

fn flag(name: &'static str, help: &'static str) -> Arg {
    Arg::new(name)
        .long(name)
        .action(ArgAction::SetTrue)
        .help(help)
}

fn select() -> Vec<Arg> {
    vec![
        value(
            "rid",
            "RIDS",
            "Resources: rids, driver ids, section prefixes or globs, comma-separated",
        ),
        value("tags", "TAGS", "Resource tags: a+b,c = (a and b) or c"),
        value("subsets", "SUBSETS", "Subset names, comma-separated").alias("subset"),
    ]
}

fn format() -> Arg {
    value("format", "FORMAT", "Output format").value_parser(EnumValueParser::<OutputFormat>::new())
}

fn refresh() -> Arg {
    flag(
        "refresh",
        "Accepted for compatibility: status is always evaluated live",
    )
    .short('r')
}

fn kw(help: &'static str) -> Arg {
    value("kw", "EXPR", help).action(ArgAction::Append)
}

fn waitlock() -> Arg {
    value(
        "waitlock",
        "DURATION",
        "How long to wait for another action's lock (default DEFAULT.lock_timeout, 60s)",
    )
}

fn disable_rollback() -> Arg {
    flag("disable-rollback", "Do not roll back a failed start")
}

/// The options of the actions that change resources.
fn run_opts() -> Vec<Arg> {
    let mut args = select();
    args.extend([
        value(
            "upto",
            "RID|GROUP",
            "Stop a start-like action after this rid or group",
        )
        .conflicts_with("downto"),
        value(
            "downto",
            "RID|GROUP",
            "Stop a stop-like action after this rid or group",
        ),
        flag("dry-run", "Print the plan; change nothing"),
        disable_rollback(),
        flag("force", "Also act on standby resources"),
        waitlock(),
        format(),
    ]);
    args
}

fn action(name: &'static str, about: &'static str) -> Command {
    Command::new(name).about(about)
}

/// An action word that takes further words (`print` → `print status`).
fn group(name: &'static str, about: &'static str) -> Command {
    action(name, about)
        .subcommand_required(true)
        .infer_subcommands(true)
}

fn actions() -> Vec<Command> {
    let run = |name, about| action(name, about).defer(|c| c.args(run_opts()));
    vec![
        run("start", "Start the resources, in start order"),
        run(
            "stop",
            "Stop the resources, in stop order (standby ones with --force)",
        ),
        run("restart", "Stop, then start"),
        run("shutdown", "Stop every resource, standby ones included"),
        run("startstandby", "Start the standby resources only"),
        run("provision", "Create the resources, then start them"),
        run("unprovision", "Stop the resources, then destroy them"),
        action(
            "status",
            "Print nothing: the exit code is the overall status",
        )
        .args(select())
        .arg(refresh()),
        group("print", "Show the status, the config, the devices").subcommands([
            action("status", "The status tree (of every service without -s)")
                .args(select())
                .args([format(), refresh()]),
            group("resource", "Per-resource views").subcommand(
                action("status", "One row per resource: rid, status")
                    .args(select())
                    .args([format(), refresh()]),
            ),
            action("config", "The configuration file").arg(format()),
            action(
                "devs",
                "The devices each resource exposes, and those it uses",
            )
            .args(select())
            .arg(format()),
        ]),
        group("validate", "Check the configuration").subcommand(action(
            "config",
            "Report every problem; the exit code is the number of errors",
        )),
        group("edit", "Edit the configuration").subcommand(
            action(
                "config",
                "Edit the configuration with $EDITOR; install it only if it is valid",
            )
            .arg(waitlock()),
        ),
        action("set", "Set keywords (one validated write)").args([
            kw("section.keyword=value, or +=, -=, |=, [index]= on lists; repeatable")
                .required(true),
            waitlock(),
        ]),
        action("get", "Print keywords' values (their default when unset)").args([
            kw("section.keyword; repeatable").required(true),
            flag("eval", "Print the value with references expanded"),
        ]),
        action("unset", "Remove keywords (one validated write)")
            .args([kw("section.keyword; repeatable").required(true), waitlock()]),
        action("create", "Create the service's configuration (frozen)").args([
            value(
                "config",
                "FILE",
                "The configuration: a file or - for stdin (JSON or INI)",
            ),
            kw("section.keyword=value to add; repeatable"),
            flag("provision", "Provision the new service right away"),
            waitlock(),
            disable_rollback(),
        ]),
        action(
            "delete",
            "Delete the service, or only the sections of --rid",
        )
        .args([
            value("rid", "RIDS", "The sections to delete, comma-separated"),
            flag(
                "force",
                "Delete even what is up (its resources keep running)",
            ),
            waitlock(),
        ]),
        action("freeze", "Set the frozen flag"),
        action("thaw", "Clear the frozen flag"),
        action(
            "enable",
            "Clear disable on the selected sections (DEFAULT without one)",
        )
        .args(select())
        .arg(waitlock()),
        action(
            "disable",
            "Set disable on the selected sections (DEFAULT without one)",
        )
        .args(select())
        .arg(waitlock()),
        action("ls", "List the services of this node").arg(format()),
        group("driver", "The driver libraries and packages").subcommands([
            action(
                "list",
                "Every version of every driver: api, source, signer, default, services",
            )
            .arg(format()),
            action("info", "A driver's keywords (at a version: ID@VERSION)")
                .arg(operand("DRIVER").required(true))
                .args([
                    format(),
                    kw("key=value: the driver's answer for that configuration; repeatable"),
                ]),
            action(
                "test",
                "The conformance kit: a driver's resources through every verb",
            )
            .arg(operand("DRIVER").required(true))
            .args([
                kw("key=value of the resource under test; repeatable"),
                value(
                    "config",
                    "FILE",
                    "A service configuration holding the resource (with --rid)",
                ),
                value("rid", "RID", "The resource of --config to test"),
                value(
                    "slow-kw",
                    "EXPR",
                    "key=value making the resource slower than a deadline; repeatable",
                )
                .action(ArgAction::Append),
                value(
                    "bad-kw",
                    "EXPR",
                    "key=value the driver must refuse; repeatable",
                )
                .action(ArgAction::Append),
                format(),
            ]),
            action(
                "install",
                "Install driver packages, each checked, atomically",
            )
            .args([
                operand("PKG").required(true).num_args(1..),
                flag(
                    "force",
                    "Replace an installed version whose content differs",
                ),
            ]),
            action(
                "verify",
                "Re-check the installed packages' digests, signatures and modes",
            )
            .arg(operand("DRIVER[@VERSION]")),
            action(
                "remove",
                "Remove an installed version no service pins or needs",
            )
            .args([
                operand("DRIVER@VERSION").required(true),
                flag("force", "Remove it even if services pin or need it"),
            ]),
            action("package", "Make a driver package of a library").args([
                operand("LIBRARY").required(true),
                value(
                    "sign",
                    "KEYFILE",
                    "Sign the package with this ed25519 key (PKCS#8 PEM)",
                ),
                value(
                    "output",
                    "DIR",
                    "The folder to write the package to (default: the current one)",
                ),
            ]),
        ]),
    ]
}

/// The positional arguments of an action (`driver info <DRIVER>`, `driver install <PKG>…`).
fn operand(value_name: &'static str) -> Arg {
    Arg::new("operand").value_name(value_name)
}

/// The hidden `start<group>`/`stop<group>` verbs.
fn legacy_actions() -> impl Iterator<Item = Command> {
    LEGACY_GROUPS.iter().flat_map(|(group, _)| {
        ["start", "stop"].map(|verb| {
            Command::new(format!("{verb}{group}"))
                .about(format!("{verb} restricted to the {group} resources"))
                .hide(true)
                .defer(|c| c.args(run_opts()))
        })
    })
}

/// An option every action takes, listed after the action's own in its help.
fn global(arg: Arg) -> Arg {
    arg.global(true).display_order(100)
}

/// `svcmgr --version`: the host's version and the driver interface it speaks.
fn version_line() -> String {
    use svcmgr_plugin_api::{ABI_VERSION, API_VERSION, VERSION};
    format!(
        "{} (plugin-api {VERSION}, abi {ABI_VERSION}, api {API_VERSION})",
        env!("CARGO_PKG_VERSION")
    )
}

/// The whole command line.
pub fn command() -> Command {
    let cmd = Command::new("svcmgr")
        .version(version_line())
        .about("Start, stop and watch a service made of resources driven by plugins.")
        .override_usage(
            "svcmgr -s <NAME> <ACTION> [OPTIONS]\n       \
             <NAME> <ACTION> [OPTIONS]    (through the <root>/etc/opensvc/<NAME> link)",
        )
        .arg_required_else_help(true)
        .disable_help_subcommand(true)
        .infer_subcommands(true)
        .infer_long_args(true)
        .allow_external_subcommands(true)
        .external_subcommand_value_parser(clap::value_parser!(String))
        .args([
            global(
                Arg::new("service")
                    .short('s')
                    .long("service")
                    .value_name("NAME")
                    .help("The service to act on"),
            )
            .display_order(99),
            global(
                value(
                    "color",
                    "WHEN",
                    "Colour the output: auto (on a terminal), always (yes), never (no)",
                )
                .value_parser(EnumValueParser::<ColorMode>::new())
                .default_value("auto"),
            ),
            global(flag("debug", "Also show debug log lines")),
            global(flag(
                "local",
                "Accepted for compatibility: there is no cluster daemon",
            )),
            global(
                value(
                    "log-format",
                    "FORMAT",
                    "Console log layout (also SVCMGR_LOG_FORMAT)",
                )
                .value_parser(EnumValueParser::<LogFormat>::new()),
            ),
        ])
        .subcommands(actions())
        .subcommands(legacy_actions());
    let listing = action_lines(&cmd);
    cmd.help_template(format!(
        "{{about-with-newline}}\n{{usage-heading}} {{usage}}\n\nActions:\n{listing}\n\
         Options:\n{{options}}{{after-help}}"
    ))
}

/// One line per action (multi-word ones spelled out), then the legacy and passthrough forms.
fn action_lines(cmd: &Command) -> String {
    fn walk(cmd: &Command, prefix: &str, out: &mut Vec<(String, String)>) {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let words = format!("{prefix}{}", sub.get_name());
            if sub.has_subcommands() {
                walk(sub, &format!("{words} "), out);
            } else {
                let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
                out.push((words, about));
            }
        }
    }
    let mut lines = Vec::new();
    walk(cmd, "", &mut lines);
    let groups: Vec<&str> = LEGACY_GROUPS.iter().map(|(g, _)| *g).collect();
    lines.push((
        "start<group>, stop<group>".into(),
        format!("start, stop restricted to a group: {}", groups.join(", ")),
    ));
    lines.push((
        "<word> <args...>".into(),
        "A driver's passthrough (docker ps -a): the words go verbatim to the driver".into(),
    ));
    let width = lines.iter().map(|(w, _)| w.len()).max().unwrap_or(0);
    lines
        .iter()
        .map(|(w, about)| format!("  {w:<width$}  {about}\n"))
        .collect()
}

/// The options of the matched action, read by id: each action defines only its own.
fn read_args(m: &ArgMatches) -> Args {
    let text = |id: &str| m.try_get_one::<String>(id).ok().flatten().cloned();
    let on = |id: &str| m.try_get_one::<bool>(id).ok().flatten() == Some(&true);
    let many = |id: &str| -> Vec<String> {
        m.try_get_many::<String>(id)
            .ok()
            .flatten()
            .map(|v| v.cloned().collect())
            .unwrap_or_default()
    };
    Args {
        service: text("service"),
        rid: text("rid"),
        tags: text("tags"),
        subsets: text("subsets"),
        upto: text("upto"),
        downto: text("downto"),
        dry_run: on("dry-run"),
        disable_rollback: on("disable-rollback"),
        force: on("force"),
        local: on("local"),
        format: m.try_get_one("format").ok().flatten().copied(),
        color: m
            .try_get_one("color")
            .ok()
            .flatten()
            .copied()
            .unwrap_or_default(),
        debug: on("debug"),
        waitlock: text("waitlock"),
        kw: many("kw"),
        eval: on("eval"),
        config: text("config"),
        provision: on("provision"),
        log_format: m.try_get_one("log-format").ok().flatten().copied(),
        refresh: on("refresh"),
        slow_kw: many("slow-kw"),
        bad_kw: many("bad-kw"),
        sign: text("sign"),
        output: text("output"),
    }
}

/// The action's words, its matches and its positional arguments.
fn leaf(m: &ArgMatches) -> (Vec<String>, &ArgMatches) {
    let mut words = Vec::new();
    let mut at = m;
    while let Some((name, sub)) = at.subcommand() {
        words.push(name.to_string());
        at = sub;
    }
    (words, at)
}

/// Parse argv (after [`dispatch_argv0`]). Err(exit code) once clap has printed help (0),
/// the version (0) or a usage error (1).
pub fn parse(argv: &[String]) -> Result<Parsed, i32> {
    // Never dropped: the process ends soon after, and freeing the whole command tree one
    // argument at a time was a tenth of a short command's instructions.
    let mut cmd = std::mem::ManuallyDrop::new(command());
    let matches = cmd.try_get_matches_from_mut(argv).map_err(|e| {
        let _ = e.print();
        match e.kind() {
            clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
            _ => 1,
        }
    })?;
    let (words, m) = leaf(&matches);
    let first = words.first().cloned().unwrap_or_default();
    // clap gives every action's matches the global options; an external word's matches hold
    // only its words, the global options being those given before it.
    if let Some(extra) = m.try_get_many::<String>("").ok().flatten() {
        return Ok(Parsed {
            args: read_args(&matches),
            action: Action::External(first, extra.cloned().collect()),
        });
    }
    let args = read_args(m);
    let action = if let Some((verb, groups)) = legacy(&first) {
        Action::Legacy(verb, groups)
    } else {
        let operands = m
            .try_get_many::<String>("operand")
            .ok()
            .flatten()
            .map(|v| v.cloned().collect())
            .unwrap_or_default();
        Action::Named(words.join(" "), operands)
    };
    Ok(Parsed { args, action })
}

fn legacy(word: &str) -> Option<(&'static str, &'static [&'static str])> {
    LEGACY_GROUPS.iter().find_map(|(group, groups)| {
        ["start", "stop"]
            .into_iter()
            .find(|verb| word.strip_prefix(verb) == Some(group))
            .map(|verb| (verb, *groups))
    })
}

/// The actions a word abbreviates, legacy verbs included (for the message about a word that
/// names none).
pub fn actions_starting_with(word: &str) -> Vec<String> {
    command()
        .get_subcommands()
        .filter(|s| s.get_name().starts_with(word))
        .map(|s| s.get_name().to_string())
        .collect()
}

/// argv[0] dispatch: a program name that is a link in the config folder `etc` (made by
/// `create`) is the service name; any other name (a renamed binary) is svcmgr itself.
pub fn dispatch_argv0(mut argv: Vec<String>, etc: &std::path::Path) -> Vec<String> {
    let prog = argv
        .first()
        .and_then(|p| std::path::Path::new(p).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let is_link = |name: &str| {
        !name.starts_with('.')
            && std::fs::symlink_metadata(etc.join(name)).is_ok_and(|m| m.file_type().is_symlink())
    };
    if !prog.is_empty() && prog != "svcmgr" && is_link(&prog) {
        argv.splice(1..1, ["-s".to_string(), prog]);
    }
    argv
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn action(line: &str) -> Action {
        parse(&w(line)).expect("parses").action
    }

    fn named(name: &str) -> Action {
        Action::Named(name.into(), vec![])
    }

    #[test]
    fn the_definition_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn action_words_and_abbreviations() {
        assert_eq!(action("svcmgr -s a print status"), named("print status"));
        assert_eq!(action("svcmgr -s a print stat"), named("print status"));
        assert_eq!(action("svcmgr -s a val conf"), named("validate config"));
        assert_eq!(
            action("svcmgr -s a pri res stat"),
            named("print resource status")
        );
        assert_eq!(
            action("svcmgr -s a p"),
            Action::External("p".into(), vec![]),
            "ambiguous: print, provision"
        );
        assert_eq!(action("svcmgr -s a start"), named("start"));
        assert_eq!(action("svcmgr -s a startsta"), named("startstandby"));
        assert_eq!(
            action("svcmgr driver info app.simple"),
            Action::Named("driver info".into(), w("app.simple"))
        );
        assert_eq!(
            action("svcmgr -s a startfs"),
            Action::Legacy("start", &["disk", "fs"])
        );
        assert_eq!(
            action("svcmgr -s a stopcontainer"),
            Action::Legacy("stop", &["container"])
        );
        assert_eq!(parse(&w("svcmgr -s a print")).unwrap_err(), 1);
        assert_eq!(parse(&w("svcmgr -s a print nothing")).unwrap_err(), 1);
    }

    #[test]
    fn options_belong_to_their_action() {
        let p = parse(&w("svcmgr -s a start --rid app#1 --dry --upto app#2")).unwrap();
        assert_eq!(p.args.service.as_deref(), Some("a"));
        assert_eq!(p.args.rid.as_deref(), Some("app#1"));
        assert_eq!(p.args.upto.as_deref(), Some("app#2"));
        assert!(p.args.dry_run);
        let p = parse(&w("svcmgr print status -r --color no -s a")).unwrap();
        assert_eq!(p.args.service.as_deref(), Some("a"));
        assert!(p.args.refresh);
        assert_eq!(p.args.color, ColorMode::Never);
        let p = parse(&w("svcmgr -s a set --kw a=1 --kw b+=2")).unwrap();
        assert_eq!(p.args.kw, w("a=1 b+=2"));
        assert_eq!(parse(&w("svcmgr -s a start --kw a=b")).unwrap_err(), 1);
        assert_eq!(
            parse(&w("svcmgr -s a set")).unwrap_err(),
            1,
            "--kw is required"
        );
        assert_eq!(
            parse(&w("svcmgr -s a start --upto a --downto b")).unwrap_err(),
            1
        );
        assert_eq!(parse(&w("svcmgr --version")).unwrap_err(), 0);
        let p = parse(&w("svcmgr ls --format json")).unwrap();
        assert_eq!(p.args.format, Some(OutputFormat::Json));
    }

    #[test]
    fn passthrough_words_are_kept_verbatim() {
        let p = parse(&w("svcmgr -s svc --debug docker ps -a --rid x -s y")).unwrap();
        assert_eq!(
            p.action,
            Action::External("docker".into(), w("ps -a --rid x -s y"))
        );
        assert_eq!(p.args.service.as_deref(), Some("svc"));
        assert!(p.args.debug);
        assert_eq!(
            action("svcmgr -s docker start"),
            named("start"),
            "a service may be named like a passthrough word"
        );
        assert_eq!(
            actions_starting_with("stopc"),
            w("stopcontainer"),
            "legacy verbs are actions too"
        );
    }

    #[test]
    fn driver_packages() {
        assert_eq!(
            action("svcmgr driver install a.tar.gz b.tar.gz"),
            Action::Named("driver install".into(), w("a.tar.gz b.tar.gz"))
        );
        let p = parse(&w("svcmgr driver remove x@1.0.0 --force")).unwrap();
        assert_eq!(
            p.action,
            Action::Named("driver remove".into(), w("x@1.0.0"))
        );
        assert!(p.args.force);
        assert_eq!(action("svcmgr driver verify"), named("driver verify"));
        let p = parse(&w("svcmgr driver package lib.so --sign k.pem --output out")).unwrap();
        assert_eq!(p.args.sign.as_deref(), Some("k.pem"));
        assert_eq!(p.args.output.as_deref(), Some("out"));
        assert_eq!(parse(&w("svcmgr driver install")).unwrap_err(), 1);
        assert_eq!(parse(&w("svcmgr driver verify a b")).unwrap_err(), 1);
        assert_eq!(
            parse(&w("svcmgr driver list --sign k.pem")).unwrap_err(),
            1,
            "--sign belongs to driver package"
        );
    }

    #[test]
    fn argv0() {
        let etc = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/usr/bin/svcmgr", etc.path().join("svc2")).unwrap();
        std::fs::write(etc.path().join("svc3"), "").unwrap();
        assert_eq!(
            dispatch_argv0(w("/etc/opensvc/svc2 print status"), etc.path()),
            w("/etc/opensvc/svc2 -s svc2 print status")
        );
        assert_eq!(dispatch_argv0(w("svcmgr ls"), etc.path()), w("svcmgr ls"));
        // A renamed binary, or a name that is no link there, is svcmgr.
        assert_eq!(dispatch_argv0(w("svcmgr2 ls"), etc.path()), w("svcmgr2 ls"));
        assert_eq!(dispatch_argv0(w("svc3 ls"), etc.path()), w("svc3 ls"));
    }

    #[test]
    fn help_lists_every_action_on_one_line() {
        let help = command().render_help().to_string();
        for line in [
            "  start ",
            "  print status ",
            "  print resource status ",
            "  print devs ",
            "  validate config ",
            "  driver info ",
            "  driver install ",
            "  driver package ",
            "  start<group>, stop<group> ",
        ] {
            assert!(help.contains(line), "{line:?} missing from\n{help}");
        }
        assert!(!help.contains("startcontainer"), "{help}");
    }
}
