//! Command-line parsing: `svcmgr -s NAME <action words…> [options]`, or `NAME <action…>`
//! when called through the `<root>/etc/opensvc/NAME` link.

use clap::{Parser, ValueEnum};
use std::sync::LazyLock;

/// `svcmgr --version`: the host's version and the driver interface it speaks.
static VERSION_LINE: LazyLock<String> = LazyLock::new(|| {
    use svcmgr_plugin_api::{ABI_VERSION, API_VERSION, VERSION};
    format!(
        "{} (plugin-api {VERSION}, abi {ABI_VERSION}, api {API_VERSION})",
        env!("CARGO_PKG_VERSION")
    )
});

#[derive(Parser, Debug, Default, Clone)]
#[command(
    name = "svcmgr",
    version = VERSION_LINE.as_str(),
    about = "Start, stop and watch a service made of resources driven by plugins."
)]
pub struct Args {
    /// The service to act on.
    #[arg(short = 's', long = "service", value_name = "NAME")]
    pub service: Option<String>,
    /// The action, possibly several words (`print status`, `validate config`).
    #[arg(value_name = "ACTION")]
    pub words: Vec<String>,
    /// Resources: rids, driver ids, section prefixes or globs, comma-separated.
    #[arg(long)]
    pub rid: Option<String>,
    /// Resource tags: `a+b,c` = (a and b) or c.
    #[arg(long)]
    pub tags: Option<String>,
    /// Subset names, comma-separated.
    #[arg(long, alias = "subset")]
    pub subsets: Option<String>,
    /// Stop a start-like action after this rid or group.
    #[arg(long)]
    pub upto: Option<String>,
    /// Stop a stop-like action after this rid or group.
    #[arg(long)]
    pub downto: Option<String>,
    /// Print the plan; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not roll back a failed start.
    #[arg(long)]
    pub disable_rollback: bool,
    /// Also stop standby resources.
    #[arg(long)]
    pub force: bool,
    /// Accepted for compatibility; there is no cluster daemon.
    #[arg(long)]
    pub local: bool,
    /// Output format of print actions.
    #[arg(long, value_enum)]
    pub format: Option<OutputFormat>,
    #[arg(long, value_enum, default_value_t = ColorMode::Auto)]
    pub color: ColorMode,
    /// Also show debug log lines.
    #[arg(long)]
    pub debug: bool,
    /// How long to wait for another action's lock (default 60s).
    #[arg(long, value_name = "DURATION")]
    pub waitlock: Option<String>,
    /// `section.keyword=value` (set, create) or `section.keyword` (get, unset); repeatable.
    #[arg(long = "kw", value_name = "EXPR")]
    pub kw: Vec<String>,
    /// `get`: print the value with references expanded.
    #[arg(long)]
    pub eval: bool,
    /// `create`: the configuration, a file or `-` for stdin (JSON or INI).
    #[arg(long, value_name = "FILE")]
    pub config: Option<String>,
    /// `create`: provision the new service right away.
    #[arg(long)]
    pub provision: bool,
    /// Console log layout (also `SVCMGR_LOG_FORMAT`).
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,
    /// `driver test`: `keyword=value` making the resource slower than a deadline; repeatable.
    #[arg(long = "slow-kw", value_name = "EXPR")]
    pub slow_kw: Vec<String>,
    /// `driver test`: `keyword=value` the driver must refuse; repeatable.
    #[arg(long = "bad-kw", value_name = "EXPR")]
    pub bad_kw: Vec<String>,
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
    Always,
    Never,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Default,
    Classic,
}

/// clap parsing with svcmgr's exit codes: Err(0) after help or version, Err(1) after a usage
/// error (clap has printed either).
pub fn parse(argv: &[String]) -> Result<Args, i32> {
    Args::try_parse_from(argv).map_err(|e| {
        let _ = e.print();
        match e.kind() {
            clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
            _ => 1,
        }
    })
}

/// Every action and the options it accepts (besides -s, --color, --debug, --local,
/// --log-format, which all accept).
pub const ACTIONS: &[(&str, &[&str])] = &[
    ("start", SELECT_RUN),
    ("stop", SELECT_RUN),
    ("restart", SELECT_RUN),
    ("provision", SELECT_RUN),
    ("unprovision", SELECT_RUN),
    ("status", SELECT),
    ("print status", &["rid", "tags", "subsets", "format"]),
    ("print config", &["format"]),
    ("validate config", &[]),
    ("edit config", &[]),
    ("set", &["kw"]),
    ("get", &["kw", "eval"]),
    ("unset", &["kw"]),
    (
        "create",
        &["config", "kw", "provision", "waitlock", "disable_rollback"],
    ),
    ("delete", &["rid"]),
    ("freeze", &[]),
    ("thaw", &[]),
    ("enable", &["rid", "tags", "subsets"]),
    ("disable", &["rid", "tags", "subsets"]),
    ("ls", &["format"]),
    ("driver list", &["format"]),
    ("driver info", &["format", "kw"]),
    (
        "driver test",
        &["kw", "config", "rid", "format", "slow_kw", "bad_kw"],
    ),
];

const SELECT: &[&str] = &["rid", "tags", "subsets"];
const SELECT_RUN: &[&str] = &[
    "rid",
    "tags",
    "subsets",
    "upto",
    "downto",
    "dry_run",
    "disable_rollback",
    "force",
    "waitlock",
    "format",
];

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A name from `ACTIONS`, and the words after it (e.g. `driver info <id>`).
    Named(&'static str, Vec<String>),
    /// `start<group>` / `stop<group>`: the action and the groups.
    Legacy(&'static str, &'static [&'static str]),
}

/// Resolve action words; each word may be an unambiguous prefix (`print stat`).
pub fn resolve_action(words: &[String]) -> Result<Action, String> {
    if words.is_empty() {
        return Err("no action given (try 'svcmgr --help')".into());
    }
    if let [one] = words {
        for (group, groups) in LEGACY_GROUPS {
            for verb in ["start", "stop"] {
                if one == &format!("{verb}{group}") {
                    return Ok(Action::Legacy(verb, groups));
                }
            }
        }
    }
    let matching = |exact: bool| -> Vec<&'static str> {
        ACTIONS
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| {
                let parts: Vec<&str> = name.split(' ').collect();
                parts.len() <= words.len()
                    && parts.iter().zip(words).all(|(p, w)| {
                        if exact {
                            p == w
                        } else {
                            p.starts_with(w.as_str())
                        }
                    })
            })
            .collect()
    };
    let exact = matching(true);
    let candidates = if exact.is_empty() {
        matching(false)
    } else {
        exact
    };
    // The longest action name wins (`driver list` over a hypothetical `driver`).
    let best = candidates.iter().map(|n| n.split(' ').count()).max();
    let best: Vec<&str> = candidates
        .into_iter()
        .filter(|n| Some(n.split(' ').count()) == best)
        .collect();
    match best.as_slice() {
        [name] => {
            let n = name.split(' ').count();
            Ok(Action::Named(name, words[n..].to_vec()))
        }
        [] => {
            let starts: Vec<&str> = ACTIONS
                .iter()
                .map(|(n, _)| *n)
                .filter(|n| n.starts_with(words[0].as_str()))
                .collect();
            match starts.is_empty() {
                true => Err(format!("unknown action '{}'", words.join(" "))),
                false => Err(format!(
                    "incomplete action '{}': {}",
                    words.join(" "),
                    starts.join(", ")
                )),
            }
        }
        many => Err(format!(
            "ambiguous action '{}': {}",
            words.join(" "),
            many.join(", ")
        )),
    }
}

/// The options given that `action` does not accept.
pub fn check_options(action: &str, args: &Args) -> Result<(), String> {
    let allowed = ACTIONS
        .iter()
        .find(|(n, _)| *n == action)
        .map(|(_, a)| *a)
        .unwrap_or(SELECT_RUN);
    if args.upto.is_some() && args.downto.is_some() {
        return Err("--upto and --downto cannot be used together".into());
    }
    let given = [
        ("rid", args.rid.is_some()),
        ("tags", args.tags.is_some()),
        ("subsets", args.subsets.is_some()),
        ("upto", args.upto.is_some()),
        ("downto", args.downto.is_some()),
        ("dry_run", args.dry_run),
        ("disable_rollback", args.disable_rollback),
        ("force", args.force),
        ("format", args.format.is_some()),
        ("waitlock", args.waitlock.is_some()),
        ("kw", !args.kw.is_empty()),
        ("eval", args.eval),
        ("config", args.config.is_some()),
        ("provision", args.provision),
        ("slow_kw", !args.slow_kw.is_empty()),
        ("bad_kw", !args.bad_kw.is_empty()),
    ];
    for (name, present) in given {
        if present && !allowed.contains(&name) {
            return Err(format!(
                "option --{} is not valid with action '{action}'",
                name.replace('_', "-")
            ));
        }
    }
    Ok(())
}

/// Options that take a value, so the word after them is not an action word.
const VALUE_OPTIONS: &[&str] = &[
    "-s",
    "--service",
    "--rid",
    "--tags",
    "--subsets",
    "--subset",
    "--upto",
    "--downto",
    "--format",
    "--color",
    "--waitlock",
    "--kw",
    "--slow-kw",
    "--bad-kw",
    "--config",
    "--log-format",
];

/// Split argv at the first action word that is a driver passthrough word (`docker`): what
/// follows goes verbatim to the driver's command.
pub fn split_passthrough(
    argv: &[String],
    words: &[String],
) -> Option<(Vec<String>, String, Vec<String>)> {
    let mut skip_next = false;
    for (i, a) in argv.iter().enumerate().skip(1) {
        if skip_next {
            skip_next = false;
            continue;
        }
        if VALUE_OPTIONS.contains(&a.as_str()) {
            skip_next = true;
            continue;
        }
        if !a.starts_with('-') && words.contains(a) {
            return Some((argv[..i].to_vec(), a.clone(), argv[i + 1..].to_vec()));
        }
    }
    None
}

/// argv[0] dispatch: a program name other than `svcmgr` is the service name.
pub fn dispatch_argv0(mut argv: Vec<String>) -> Vec<String> {
    let prog = argv
        .first()
        .and_then(|p| std::path::Path::new(p).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !prog.is_empty() && prog != "svcmgr" {
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

    #[test]
    fn action_words() {
        assert_eq!(
            resolve_action(&w("print status")),
            Ok(Action::Named("print status", vec![]))
        );
        assert_eq!(
            resolve_action(&w("print stat")),
            Ok(Action::Named("print status", vec![]))
        );
        assert_eq!(
            resolve_action(&w("val conf")),
            Ok(Action::Named("validate config", vec![]))
        );
        assert_eq!(
            resolve_action(&w("driver info app.simple")),
            Ok(Action::Named("driver info", w("app.simple")))
        );
        assert_eq!(
            resolve_action(&w("startfs")),
            Ok(Action::Legacy("start", &["disk", "fs"]))
        );
        assert_eq!(
            resolve_action(&w("print")),
            Err("incomplete action 'print': print status, print config".into())
        );
        assert!(resolve_action(&w("explode"))
            .unwrap_err()
            .contains("unknown action 'explode'"));
    }

    #[test]
    fn options_per_action() {
        let args = Args {
            kw: vec!["a=b".into()],
            ..Default::default()
        };
        assert_eq!(
            check_options("start", &args),
            Err("option --kw is not valid with action 'start'".into())
        );
        assert_eq!(check_options("set", &args), Ok(()));
    }

    #[test]
    fn passthrough_and_argv0() {
        let argv = w("svcmgr -s svc --rid container#1 docker ps -a --rid x");
        let (head, word, rest) = split_passthrough(&argv, &w("docker")).unwrap();
        assert_eq!(
            (head, word, rest),
            (
                w("svcmgr -s svc --rid container#1"),
                "docker".into(),
                w("ps -a --rid x")
            )
        );
        assert_eq!(
            split_passthrough(&w("svcmgr -s docker start"), &w("docker")),
            None
        );
        assert_eq!(
            dispatch_argv0(w("/etc/opensvc/svc2 print status")),
            w("/etc/opensvc/svc2 -s svc2 print status")
        );
        assert_eq!(dispatch_argv0(w("svcmgr ls")), w("svcmgr ls"));
    }
}
