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
use std::sync::OnceLock;

/// What every action gets.
pub struct Ctx {
    pub paths: Paths,
    pub args: Args,
    /// Known on first use: parsing, help and usage errors need no driver.
    registry: OnceLock<Registry>,
}

impl Ctx {
    /// The driver libraries, known on first use (installed ones from their `driver.json`,
    /// loaded only when a resource needs them; refusals are warned about as they happen).
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
        crate::paths::check_service_name(name).map_err(|e| anyhow!(e))?;
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

    /// Start logging for a service action (to the console: see [`Ctx::log_to_file`]).
    pub fn init_log(&self, svc: &crate::service::Service) {
        crate::log::init(crate::log::Setup {
            node: &self.paths.nodename,
            svc: &svc.name,
            longest_rid: svc
                .resources
                .iter()
                .map(|r| r.rid().len())
                .max()
                .unwrap_or(0),
            format: self.log_format(),
            debug: self.args.debug,
            color: self.color(std::io::stderr().is_terminal()),
        });
    }

    /// Append the log lines to the service's action log from now on (not in a dry run, which
    /// changes nothing on disk).
    pub fn log_to_file(&self, svc: &crate::service::Service) {
        if !self.args.dry_run {
            crate::log::open_file(&self.paths.log_file(&svc.name));
        }
    }
}

/// Run the command line; the exit code.
pub fn run(argv: Vec<String>) -> Result<i32> {
    let paths = Paths::from_env();
    let argv = args::dispatch_argv0(argv, &paths.etc());
    let parsed = match args::parse(&argv) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    // Never dropped, like the service (see `Service::keep`): the process ends next, and
    // freeing the drivers' manifests one by one was work for nothing.
    let ctx = std::mem::ManuallyDrop::new(Ctx {
        paths,
        args: parsed.args,
        registry: OnceLock::new(),
    });
    match parsed.action {
        Action::External(word, rest) => {
            let declared = ctx
                .registry()
                .entries()
                .any(|d| d.manifest.passthrough.as_deref() == Some(word.as_str()));
            if !declared {
                return Err(unknown_action(&word));
            }
            actions::passthrough(&ctx, &word, &rest)
        }
        Action::Legacy(verb, groups) => actions::run(&ctx, verb, Some(groups)),
        Action::Named(name, rest) => match name.as_str() {
            "start" | "stop" | "restart" | "provision" | "unprovision" | "shutdown"
            | "startstandby" => actions::run(&ctx, &name, None),
            "status" => status_cmds::status(&ctx),
            "print status" => status_cmds::print(&ctx),
            "print resource status" => status_cmds::print_resources(&ctx),
            "print devs" => status_cmds::print_devs(&ctx),
            "driver list" => driver_cmds::list(&ctx),
            "driver info" => driver_cmds::info(&ctx, &rest),
            "driver test" => driver_cmds::test(&ctx, &rest),
            "driver install" => driver_cmds::install(&ctx, &rest),
            "driver verify" => driver_cmds::verify(&ctx, &rest),
            "driver remove" => driver_cmds::remove(&ctx, &rest),
            "driver package" => driver_cmds::package(&ctx, &rest),
            other => config_cmds::run(&ctx, other),
        },
    }
}

/// A first word that is neither an action, an abbreviation of one, nor a passthrough word.
fn unknown_action(word: &str) -> anyhow::Error {
    match args::actions_starting_with(word).as_slice() {
        [] => anyhow!("unknown action '{word}' (svcmgr --help lists the actions)"),
        many => anyhow!("ambiguous action '{word}': {}", many.join(", ")),
    }
}
