//! The `svcmgr` command line: parse, pick the action, run it, map the result to an exit code.

pub mod actions;
pub mod args;
pub mod config_cmds;
pub mod driver_cmds;
pub mod output;
pub mod status_cmds;

use crate::drivers::Registry;
use crate::paths::Paths;
use anyhow::{anyhow, Result};
use args::{Action, Args, ColorMode, LogFormat};
use std::io::IsTerminal;

/// What every action gets.
pub struct Ctx {
    pub paths: Paths,
    pub args: Args,
    pub registry: Registry,
}

impl Ctx {
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

/// Run the command line; the exit code.
pub fn run(argv: Vec<String>) -> Result<i32> {
    let argv = args::dispatch_argv0(argv);
    let paths = Paths::from_env();
    let registry = Registry::load(&paths);
    for w in &registry.warnings {
        crate::log::warn("", w);
    }
    let passthrough_words: Vec<String> = registry
        .drivers
        .values()
        .filter_map(|d| d.manifest.passthrough.clone())
        .collect();
    let split = args::split_passthrough(&argv, &passthrough_words);
    let head = split
        .as_ref()
        .map(|(h, _, _)| h.clone())
        .unwrap_or_else(|| argv.clone());
    let parsed = match args::parse(&head) {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
    if parsed.debug {
        for d in &registry.debug {
            eprintln!("debug: {d}");
        }
    }
    let ctx = Ctx {
        paths,
        args: parsed,
        registry,
    };
    if let Some((_, word, rest)) = split {
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
            if !rest.is_empty() && !name.starts_with("driver ") {
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
                "driver test" => driver_cmds::test(&ctx, &rest),
                other => config_cmds::run(&ctx, other),
            }
        }
    }
}
