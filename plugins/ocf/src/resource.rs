//! One OCF agent instance as a svcmgr resource: start/stop/status run the agent's
//! start/stop/monitor actions, without a shell, with the OCF environment.

use crate::agent::Agent;
use crate::meta::AgentMeta;
use crate::{cache, codes, params};
use std::sync::Arc;
use std::time::Duration;
use svcmgr_plugin_api::types::{format_duration, InfoReport, KwType};
use svcmgr_plugin_api::{
    ActionReport, Ctx, Error, ErrorKind, Kw, Level, Output, ResourceImpl, ResourceSpec, Result,
    Status, StatusReport,
};

/// The default of the `ocf_root` keyword.
pub const OCF_ROOT: &str = "/usr/lib/ocf";

/// An action's time limit when svcmgr gives no deadline and the agent advises none.
const FALLBACK_TIMEOUT: Duration = Duration::from_secs(20);

/// What `ocf_exit_reason` prefixes its line with (the `OCF_EXIT_REASON_PREFIX` default).
const EXIT_REASON: &str = "ocf-exit-reason:";

pub struct Ocf {
    agent: Agent,
    ocf_root: String,
    /// `OCF_RESOURCE_INSTANCE`: `<service>.<rid>`.
    instance: String,
    params: Vec<(String, String)>,
    meta: Arc<AgentMeta>,
}

impl Ocf {
    pub fn new(spec: &ResourceSpec) -> Result<Ocf> {
        let ocf_root = spec.str("ocf_root").unwrap_or(OCF_ROOT).to_string();
        let agent_err = |e| Error::config_kw("agent", e);
        let params_err = |e| Error::config_kw("params", e);
        let agent_kw = spec
            .str("agent")
            .ok_or_else(|| agent_err("missing (provider:type, e.g. heartbeat:Dummy)".into()))?;
        let agent = Agent::locate(agent_kw, &ocf_root).map_err(agent_err)?;
        let meta = cache::meta_data(
            &agent,
            &ocf_root,
            cache::dir_of(&spec.context.var_dir).as_deref(),
        )
        .map_err(agent_err)?;
        let params = params::parse(&spec.words("params")).map_err(params_err)?;
        // `driver info` asks about the agent before any parameter is chosen.
        if !spec.context.info_only {
            params::check(&agent.name(), &meta, &params).map_err(params_err)?;
        }
        Ok(Ocf {
            instance: format!("{}.{}", spec.context.svcname, spec.rid),
            agent,
            ocf_root,
            params,
            meta,
        })
    }

    /// The limit of one action: the call's configured deadline, else the agent's advice,
    /// else 20s.
    fn limit(&self, ctx: &Ctx, action: &str) -> Duration {
        let advice = self.meta.timeout(action).unwrap_or(FALLBACK_TIMEOUT);
        ctx.deadline_or(advice)
            .saturating_duration_since(std::time::Instant::now())
    }

    /// Run one action of the agent; its output is logged unless `quiet` (status probes).
    fn run(&self, ctx: &Ctx, action: &str, quiet: bool) -> Result<Output> {
        let limit = self.limit(ctx, action);
        let path = self.agent.path.to_string_lossy();
        let mut cmd = ctx
            .command(&[path.as_ref(), action])
            .timeout(limit)
            .line_level(line_level)
            .env("OCF_ROOT", &self.ocf_root)
            .env("OCF_RA_VERSION_MAJOR", "1")
            .env("OCF_RA_VERSION_MINOR", "1")
            .env("OCF_RESOURCE_INSTANCE", &self.instance)
            .env("OCF_RESOURCE_TYPE", &self.agent.kind)
            .env("OCF_RESOURCE_PROVIDER", &self.agent.provider)
            .env(
                "OCF_RESKEY_CRM_meta_timeout",
                &limit.as_millis().to_string(),
            )
            // Not a recurring monitor: agents treat interval 0 as a probe.
            .env("OCF_RESKEY_CRM_meta_interval", "0")
            // ocf_log writes to stderr (so to svcmgr's log) only without a log file or
            // syslog facility, which an agent run under Pacemaker would inherit.
            .env("HA_LOGFACILITY", "none")
            .env("HA_LOGFILE", "")
            .env("HA_DEBUGLOG", "")
            .env("HA_LOGD", "no");
        for (key, value) in &self.params {
            cmd = cmd.env(&format!("OCF_RESKEY_{key}"), value);
        }
        if quiet {
            cmd = cmd.quiet();
        }
        cmd.run().map_err(|e| match e.kind() {
            ErrorKind::Timeout => Error::timeout(format!(
                "{} {action} killed after {}",
                self.agent.name(),
                format_duration(limit)
            )),
            _ => e.context(format!("{} {action}", self.agent.name())),
        })
    }

    /// The exit code of `monitor`, run quietly, and the reasons the agent gave.
    fn monitor(&self, ctx: &Ctx) -> Result<(i32, Vec<String>)> {
        let out = self.run(ctx, "monitor", true)?;
        Ok((out.code, exit_reasons(&out.stderr, &out.stdout)))
    }

    /// start or stop: nothing to do when monitor already answers `done` (running for a start,
    /// not running for a stop), else the action, which must succeed.
    fn transition(&self, ctx: &Ctx, action: &str, done: i32, state: &str) -> Result<ActionReport> {
        if self.monitor(ctx)?.0 == done {
            ctx.info(&format!("{} is already {state}", self.label()));
            return Ok(ActionReport::unchanged());
        }
        let out = self.run(ctx, action, false)?;
        if out.code == codes::SUCCESS {
            return Ok(ActionReport::changed());
        }
        let reasons = exit_reasons(&out.stderr, &out.stdout);
        let mut msg = format!(
            "{} {action} failed: {}",
            self.agent.name(),
            codes::describe(out.code)
        );
        if !reasons.is_empty() {
            msg.push_str(": ");
            msg.push_str(&reasons.join("; "));
        }
        // An agent may have done part of its work before failing: roll it back too (a stop
        // of what is not running succeeds, per the OCF rules).
        Err(Error::other(msg).changed())
    }

    /// `driver info` answer: the agent's parameters, as keywords of `params`.
    fn info(&self) -> InfoReport {
        let keywords = self
            .meta
            .params
            .iter()
            .map(|p| {
                let kind = match p.kind.as_str() {
                    "integer" => KwType::Int,
                    "boolean" => KwType::Bool,
                    _ => KwType::String,
                };
                let mut kw = Kw::new(&p.name, kind).help(&match p.unique {
                    true => format!("{} [unique]", p.shortdesc),
                    false => p.shortdesc.clone(),
                });
                if p.required {
                    kw = kw.required();
                }
                if let Some(default) = p.default.as_deref().filter(|d| !d.is_empty()) {
                    kw = kw.default(default);
                }
                kw.spec().clone()
            })
            .collect();
        let help: Vec<&str> = [self.meta.shortdesc.as_str(), self.meta.longdesc.as_str()]
            .into_iter()
            .filter(|t| !t.is_empty())
            .collect();
        InfoReport::new(
            &format!(
                "ocf:{} ({}), set with params = key=value …",
                self.agent.name(),
                self.agent.path.display()
            ),
            &help.join("\n\n"),
            keywords,
        )
    }
}

impl ResourceImpl for Ocf {
    fn label(&self) -> String {
        let mut label = format!("ocf:{}", self.agent.name());
        let main = self.meta.main_param().and_then(|p| {
            self.params
                .iter()
                .find(|(k, _)| *k == p.name)
                .map(|(k, v)| format!(" {k}={v}"))
        });
        label.push_str(&main.unwrap_or_default());
        label
    }

    fn status(&self, ctx: &Ctx) -> Result<StatusReport> {
        let (code, reasons) = self.monitor(ctx)?;
        Ok(match code {
            codes::SUCCESS => StatusReport::up(),
            codes::NOT_RUNNING => StatusReport::new(Status::Down),
            other => reasons.into_iter().fold(
                StatusReport::warn(format!("monitor: {}", codes::describe(other))),
                |report, reason| report.with_warn(reason),
            ),
        })
    }

    fn start(&self, ctx: &Ctx) -> Result<ActionReport> {
        self.transition(ctx, "start", codes::SUCCESS, "up")
    }

    fn stop(&self, ctx: &Ctx) -> Result<ActionReport> {
        self.transition(ctx, "stop", codes::NOT_RUNNING, "down")
    }

    fn call(
        &self,
        verb: &str,
        _payload: &serde_json::Value,
        _ctx: &Ctx,
    ) -> Result<serde_json::Value> {
        match verb {
            "info" => serde_json::to_value(self.info()).map_err(|e| Error::other(e.to_string())),
            other => Err(Error::unsupported(format!(
                "verb '{other}' is not supported"
            ))),
        }
    }
}

/// The log level of an agent's output line. `ocf_log` writes `<date> ERROR: …` (or
/// `WARNING:`, `INFO:`, `DEBUG:`, `CRIT:`) to stderr; `ocf_exit_reason` writes
/// `ocf-exit-reason:…`. Lines of neither kind are the output of the tools an agent runs.
pub fn line_level(line: &str) -> Level {
    if line.starts_with(EXIT_REASON) {
        return Level::Error;
    }
    // The mark follows a date of up to three words (`Nov 30 08:50:01`).
    for word in line.split_whitespace().take(4) {
        match word {
            "ERROR:" | "CRIT:" => return Level::Error,
            "WARNING:" | "WARN:" => return Level::Warn,
            "DEBUG:" => return Level::Debug,
            "INFO:" => return Level::Info,
            _ => {}
        }
    }
    Level::Info
}

/// The reasons an agent gave with `ocf_exit_reason` (on stderr, or stdout for some).
fn exit_reasons(stderr: &str, stdout: &str) -> Vec<String> {
    stderr
        .lines()
        .chain(stdout.lines())
        .filter_map(|l| l.strip_prefix(EXIT_REASON))
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_of_agent_lines() {
        assert_eq!(
            line_level("Nov 30 08:50:01 ERROR: no such nic"),
            Level::Error
        );
        assert_eq!(line_level("Nov 30 08:50:01 WARNING: slow"), Level::Warn);
        assert_eq!(
            line_level("Nov 30 08:50:01 INFO: Adding ERROR: x"),
            Level::Info
        );
        assert_eq!(line_level("DEBUG: x"), Level::Debug);
        assert_eq!(
            line_level("ocf-exit-reason:IP address is mandatory"),
            Level::Error
        );
        assert_eq!(line_level("mke2fs 1.47.0 (5-Feb-2023)"), Level::Info);
        // A mark past the date words is message text.
        assert_eq!(line_level("a b c d ERROR: e"), Level::Info);
    }

    #[test]
    fn exit_reasons_from_either_stream() {
        let stderr = "noise\nocf-exit-reason:IP address is mandatory\nocf-exit-reason:  \n";
        assert_eq!(
            exit_reasons(stderr, "ocf-exit-reason:on stdout\n"),
            ["IP address is mandatory", "on stdout"]
        );
    }
}
