//! The `svcmgr` command line: parse, pick the action, run it, map the result to an exit code.

pub mod actions;
pub mod args;
pub mod config_cmds;
pub mod driver_cmds;
pub mod status_cmds;

use crate::drivers::Registry;
use crate::paths::Paths;
use anyhow::{anyhow, Result};
use args::{Action, Args, ColorMode, LogFormat};
use std::io::IsTerminal;
use std::sync::OnceLock;

/// What every action gets.
pub struct Ctx {
    pub paths: Paths,
    pub args: Args,
    /// Known on first use: parsing, help and usage errors need no driver.
    registry: OnceLock<Registry>,
}

impl Ctx {
    /// The driver libraries (installed ones are loaded only when a resource needs them).
    pub fn registry(&self) -> &Registry {
        self.registry
            .get_or_init(|| Registry::load(&self.paths, self.args.debug))
    }

    /// The service named by `-s`.
    pub fn service_name(&self) -> Result<&str> {
        let name = self
            .args
            .service
            .as_deref()
            .ok_or_else(|| anyhow!("no service given: use -s NAME"))?;
        if name.is_empty() || name.contains(['/', ',', '*']) || name.starts_with('.') {
            return Err(anyhow!("invalid service name '{name}'"));
        }
        Ok(name)
    }

    fn color(&self, stream_is_tty: bool) -> bool {
        match self.args.color {
            ColorMode::Always => true,
            ColorMode::Never => false,
            ColorMode::Auto => stream_is_tty,
        }
    }

    /// Colour for what goes to stdout (print status).
    pub fn stdout_color(&self) -> bool {
        self.color(std::io::stdout().is_terminal())
    }

    pub fn log_format(&self) -> crate::log::Format {
        let classic = match self.args.log_format {
            Some(f) => f == LogFormat::Classic,
            None => std::env::var("SVCMGR_LOG_FORMAT").is_ok_and(|v| v == "classic"),
        };
        if classic {
            crate::log::Format::Classic
        } else {
            crate::log::Format::Default
        }
    }

    /// Start logging for a service action.
    pub fn init_log(&self, svc: &crate::service::Service) {
        let rids: Vec<String> = svc.resources.iter().map(|r| r.rid().to_string()).collect();
        crate::log::init(crate::log::Setup {
            node: &self.paths.nodename,
            svc: &svc.name,
            rids: &rids,
            format: self.log_format(),
            debug: self.args.debug,
            color: self.color(std::io::stderr().is_terminal()),
            // A dry run changes nothing on disk, the action log included.
            file: (!self.args.dry_run)
                .then(|| self.paths.log_file(&svc.name))
                .as_deref(),
        });
    }
}

/// Run the command line; the exit code. Arguments are parsed before any driver is loaded;
/// only a word that names no action (a driver's passthrough: `docker ps -a`) needs them.
pub fn run(argv: Vec<String>) -> Result<i32> {
    let paths = Paths::from_env();
    let argv = args::dispatch_argv0(argv, &paths.etc());
    let mut head = argv;
    let mut passthrough = None;
    let mut registry = OnceLock::new();
    if args::may_be_passthrough(&head) {
        let reg = Registry::load(&paths, head.iter().any(|a| a == "--debug"));
        let words: Vec<String> = reg
            .entries()
            .filter_map(|d| d.manifest.passthrough.clone())
            .collect();
        if let Some((h, word, rest)) = args::split_passthrough(&head, &words) {
            head = h;
            passthrough = Some((word, rest));
        }
        registry = OnceLock::from(reg);
    }
    let parsed = match args::parse(&head) {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
    let ctx = Ctx {
        paths,
        args: parsed,
        registry,
    };
    if let Some((word, rest)) = passthrough {
        return actions::passthrough(&ctx, &word, &rest);
    }
    let action = args::resolve_action(&ctx.args.words).map_err(|e| anyhow!(e))?;
    match action {
        Action::Legacy(verb, groups) => {
            args::check_options(verb, &ctx.args).map_err(|e| anyhow!(e))?;
            actions::run(&ctx, verb, Some(groups))
        }
        Action::Named(name, rest) => {
            args::check_options(name, &ctx.args).map_err(|e| anyhow!(e))?;
            if !rest.is_empty() && !args::takes_words(name) {
                return Err(anyhow!(
                    "unexpected argument '{}' after action '{name}'",
                    rest.join(" ")
                ));
            }
            match name {
                "start" | "stop" | "restart" | "provision" | "unprovision" => {
                    actions::run(&ctx, name, None)
                }
                "status" => status_cmds::status(&ctx),
                "print status" => status_cmds::print(&ctx),
                "driver list" => driver_cmds::list(&ctx),
                "driver info" => driver_cmds::info(&ctx, &rest),
                "driver install" => driver_cmds::install(&ctx, &rest),
                "driver verify" => driver_cmds::verify(&ctx, &rest),
                "driver remove" => driver_cmds::remove(&ctx, &rest),
                "driver package" => driver_cmds::package(&ctx, &rest),
                other => config_cmds::run(&ctx, other),
            }
        }
    }
}
