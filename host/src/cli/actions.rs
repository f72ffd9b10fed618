//! State-changing actions: start, stop, restart, provision, unprovision (and the legacy
//! `start<group>` verbs), with selection, dependency expansion, planning, execution,
//! rollback, locking, and the status refresh afterwards. Also the driver passthrough.

use super::Ctx;
use crate::config::resolve::DEFAULT_TIMEOUT;
use crate::drivers::handle::Deadline;
use crate::exec::{self, Outcome};
use crate::hooks;
use crate::plan::{self, Plan, PlanRes, Verb};
use crate::rid::natural_cmp;
use crate::select::{self, Candidate, Filters};
use crate::service::Service;
use crate::status::{eval, monitor::Monitor, state::State};
use crate::{lock, log, signals};
use anyhow::{anyhow, bail, Context, Result};
use std::collections::BTreeSet;
use std::io::{self, Write};
use std::time::Duration;
use svcmgr_plugin_api::types::CallArgs;

/// How a phase of an action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// Done (or only printed, for a dry run).
    Done,
    /// A resource failed (a start was rolled back).
    Failed,
    /// SIGINT or SIGTERM stopped the launching (a start was rolled back): the signal's
    /// name and the exit code it calls for (`signals::interruption`).
    Interrupted(&'static str, i32),
}

/// Load the service and refuse to act on a config with errors outside resource sections
/// (those block only the actions on their resource: see `exec::refusal`).
pub fn load_for_action(ctx: &Ctx, name: &str) -> Result<Service> {
    let svc = Service::build(&ctx.paths, name, ctx.registry())?;
    let errors: Vec<String> = svc
        .global_errors()
        .map(|d| d.render(&svc.cfg.path))
        .collect();
    if !errors.is_empty() {
        bail!(
            "{}\nthe configuration has errors: nothing was done (see 'validate config')",
            errors.join("\n")
        );
    }
    Ok(svc)
}

/// What the planner needs of each resource.
pub(crate) fn plan_resources(svc: &Service) -> Vec<PlanRes<'_>> {
    svc.resources
        .iter()
        .map(|r| PlanRes {
            rid: &r.def.rid,
            group: &r.def.group,
            subset: r.def.props.subset.as_deref(),
            sort_key: r.sort_key.as_deref(),
            links: r.links.iter().map(String::as_str).collect(),
            disabled: r.def.props.disable,
        })
        .collect()
}

/// The rids chosen by --rid/--tags/--subsets (and a legacy verb's groups); None = all.
pub fn selection(
    svc: &Service,
    ctx: &Ctx,
    groups: Option<&[&str]>,
) -> Result<Option<BTreeSet<String>>> {
    let filters = Filters {
        rid: ctx.args.rid.clone(),
        tags: ctx.args.tags.clone(),
        subsets: ctx.args.subsets.clone(),
        groups: groups.map(|g| g.iter().map(|s| s.to_string()).collect()),
    };
    // No filter: the whole service, without a list of candidates as long as the service.
    if !filters.is_scoped() {
        return Ok(None);
    }
    let candidates: Vec<Candidate<'_>> = svc
        .resources
        .iter()
        .map(|r| Candidate {
            rid: &r.def.rid,
            group: &r.def.group,
            driver: r.def.driver.as_deref().unwrap_or(""),
            tags: &r.def.props.tags,
            subset: r.def.props.subset.as_deref(),
        })
        .collect();
    Ok(select::select(&candidates, &filters)?)
}

fn joined(rids: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let mut v: Vec<String> = rids.into_iter().map(|r| r.as_ref().to_string()).collect();
    v.sort_by(|a, b| natural_cmp(a, b));
    v.join(", ")
}

/// Everything one action run needs.
struct Run<'a> {
    ctx: &'a Ctx,
    svc: &'a Service,
    action: &'a str,
    /// `--force`, or an action that implies it (`shutdown` stops standby resources).
    force: bool,
    /// Whether a selection pulls in linked resources (OpenSVC does not for `startstandby`).
    expand: bool,
}

impl Run<'_> {
    /// Plan `verb` over what the planner knows of the service's resources (`all`).
    fn plan(
        &self,
        all: &[PlanRes],
        verb: Verb,
        selected: Option<&BTreeSet<String>>,
        barrier: Option<&str>,
    ) -> Result<Plan> {
        let mut chosen = selected.cloned();
        let added = match &mut chosen {
            Some(set) if self.expand => plan::expand(verb, set, all),
            _ => Vec::new(),
        };
        let parallel = |g: &str, s: &str| self.svc.subset_parallel(g, s);
        let flag = if verb.ascending() {
            "--upto"
        } else {
            "--downto"
        };
        let mut p = plan::build(verb, chosen.as_ref(), all, &parallel, barrier)
            .map_err(|e| anyhow!("{flag}: {e}"))?;
        p.added = added;
        Ok(p)
    }

    /// Plan one phase of the action.
    fn phase_plan(
        &self,
        all: &[PlanRes],
        verb: Verb,
        selected: Option<&BTreeSet<String>>,
    ) -> Result<Plan> {
        let barrier = if verb.ascending() {
            self.ctx.args.upto.as_deref()
        } else {
            self.ctx.args.downto.as_deref()
        };
        self.plan(all, verb, selected, barrier)
    }

    /// Run one planned phase. A failed or interrupted start rolls back what it changed.
    fn phase(&self, p: &Plan) -> Result<Ended> {
        let verb = p.verb;
        if !p.added.is_empty() {
            log::info(
                "",
                &format!("add rid {} to satisfy dependencies", p.added.join(", ")),
            );
        }
        if self.ctx.args.dry_run {
            self.print_plan(p)?;
            return Ok(Ended::Done);
        }
        let opts = exec::Options {
            action: self.action.to_string(),
            force: self.force,
            hooks: true,
            interruptible: true,
        };
        let outcome = exec::run(self.svc, p, &opts);
        let ended = match (outcome.failed.is_empty(), signals::interruption()) {
            (_, Some((signal, code))) => Ended::Interrupted(signal, code),
            (true, None) => return Ok(Ended::Done),
            (false, None) => Ended::Failed,
        };
        if verb.ascending() {
            self.rollback(verb, &outcome);
        }
        Ok(ended)
    }

    fn rollback_refusal(&self) -> Option<&'static str> {
        if self.ctx.args.disable_rollback {
            Some("--disable-rollback")
        } else if !self.svc.def.rollback {
            Some("DEFAULT.rollback=false")
        } else {
            None
        }
    }

    /// Stop, in stop order, what this action brought up.
    fn rollback(&self, verb: Verb, outcome: &Outcome) {
        let what = verb.as_str();
        if let Some(why) = self.rollback_refusal() {
            log::info("", &format!("skip rollback {what}: as instructed by {why}"));
            return;
        }
        if outcome.changed.is_empty() {
            log::info("", &format!("skip rollback {what}: no resource activated"));
            return;
        }
        log::info(
            "",
            &format!("trying to rollback {what} on {}", joined(&outcome.changed)),
        );
        let set: BTreeSet<String> = outcome.changed.iter().cloned().collect();
        let parallel = |g: &str, s: &str| self.svc.subset_parallel(g, s);
        let all = plan_resources(self.svc);
        let result = plan::build(Verb::Stop, Some(&set), &all, &parallel, None).map(|p| {
            exec::run(
                self.svc,
                &p,
                &exec::Options {
                    action: "rollback".into(),
                    force: false,
                    hooks: false,
                    interruptible: false,
                },
            )
        });
        if !matches!(result, Ok(ref o) if o.failed.is_empty()) {
            log::error("", &format!("rollback {what} failed"));
        }
    }

    fn print_plan(&self, p: &Plan) -> Result<()> {
        let verb = p.verb.as_str();
        let notes = |rid: &str| {
            self.svc
                .resource(rid)
                .map_or(Vec::new(), |r| hooks::describe(&r.def.props, verb))
        };
        if self.ctx.args.format == Some(super::args::OutputFormat::Json) {
            crate::outln!(
                "{}",
                serde_json::to_string_pretty(&plan_json(p, self.rollback_refusal(), &notes))
                    .unwrap_or_default()
            )?;
        } else {
            super::output::write_with(|out| {
                write_plan_text(out, p, self.action, self.rollback_refusal(), &notes)
            })?;
        }
        Ok(())
    }
}

/// Write the human form of a plan (dry run); `notes(rid)`: lines shown under a step (its
/// requirements and triggers).
pub fn write_plan_text(
    out: &mut dyn Write,
    p: &Plan,
    action: &str,
    no_rollback: Option<&str>,
    notes: &dyn Fn(&str) -> Vec<String>,
) -> io::Result<()> {
    let verb = p.verb.as_str();
    writeln!(out, "{action}: {verb} plan (dry run, nothing is changed)")?;
    if !p.added.is_empty() {
        writeln!(
            out,
            "  add rid {} to satisfy dependencies",
            p.added.join(", ")
        )?;
    }
    let mut n = 0;
    for st in &p.stages {
        let parallel = if st.parallel { " (parallel)" } else { "" };
        writeln!(out, "  stage {}{parallel}", st.name)?;
        // In a parallel stage, siblings may have completed before the failure.
        let stage_last = n + st.units.iter().map(Vec::len).sum::<usize>();
        for rid in st.units.iter().flatten() {
            n += 1;
            let upto = if st.parallel { stage_last } else { n - 1 };
            write!(out, "    {n:>3}. {verb} {rid}")?;
            match (p.verb.ascending(), no_rollback) {
                (false, _) => writeln!(out)?,
                (true, Some(why)) => writeln!(out, "  [no rollback: {why}]")?,
                (true, None) if upto == 0 => writeln!(out, "  [on failure: nothing to roll back]")?,
                (true, None) => writeln!(out, "  [on failure: stop what steps 1-{upto} changed]")?,
            }
            for note in notes(rid) {
                writeln!(out, "           {note}")?;
            }
        }
    }
    if let Some(b) = &p.barrier {
        writeln!(out, "  then stop at the '{b}' barrier")?;
    }
    Ok(())
}

/// JSON form of a plan (dry run with --format json); `hooks` maps a rid to its notes.
pub fn plan_json(
    p: &Plan,
    no_rollback: Option<&str>,
    notes: &dyn Fn(&str) -> Vec<String>,
) -> serde_json::Value {
    let hooks: serde_json::Map<String, serde_json::Value> = p
        .stages
        .iter()
        .flat_map(|s| s.units.iter().flatten())
        .map(|rid| (rid.clone(), notes(rid)))
        .filter(|(_, n)| !n.is_empty())
        .map(|(rid, n)| (rid, n.into()))
        .collect();
    serde_json::json!({
        "hooks": hooks,
        "verb": p.verb,
        "added": p.added,
        "barrier": p.barrier,
        "rollback": if p.verb.ascending() { no_rollback.map_or("stop what the action changed, in stop order".to_string(), |w| format!("disabled by {w}")) } else { "none".to_string() },
        "stages": p.stages,
    })
}

/// How long an action waits for the action lock: `--waitlock`, else the service's
/// `lock_timeout`, else the commands' default.
fn waitlock(ctx: &Ctx, svc: &Service) -> Result<Duration> {
    use super::config_cmds::{lock_wait, DEFAULT_LOCK_WAIT};
    lock_wait(ctx, svc.def.lock_timeout.unwrap_or(DEFAULT_LOCK_WAIT))
}

/// What an action will do: its selection (None: every resource) and its phases' plans.
struct Prepared {
    selected: Option<BTreeSet<String>>,
    plans: Vec<Plan>,
}

/// Select and plan an action, and judge it, before anything runs or is written: Err is the
/// exit code of an action refused (said on the console only).
fn prepare(
    ctx: &Ctx,
    svc: &Service,
    action: &str,
    groups: Option<&[&str]>,
) -> Result<std::result::Result<Prepared, i32>> {
    let mut selected = match selection(svc, ctx, groups) {
        Ok(s) => s,
        Err(e) => {
            log::error("", &e.to_string());
            return Ok(Err(1));
        }
    };
    if action == "startstandby" {
        let standby = svc
            .resources
            .iter()
            .filter(|r| {
                r.def.props.standby && selected.as_ref().is_none_or(|s| s.contains(r.rid()))
            })
            .map(|r| r.rid().to_string())
            .collect::<BTreeSet<_>>();
        if standby.is_empty() {
            log::info("", "no standby resource to start");
            return Ok(Err(0));
        }
        selected = Some(standby);
    }
    let r = run_of(ctx, svc, action);
    let all = plan_resources(svc);
    let verbs: &[Verb] = match action {
        "start" | "startstandby" => &[Verb::Start],
        "provision" => &[Verb::Provision],
        "stop" | "shutdown" => &[Verb::Stop],
        "unprovision" => &[Verb::Unprovision],
        "restart" => &[Verb::Stop, Verb::Start],
        other => bail!("not a state-changing action: {other}"),
    };
    // Every phase is planned and judged before any runs: a refused restart stops nothing.
    let plans = verbs
        .iter()
        .map(|v| r.phase_plan(&all, *v, selected.as_ref()))
        .collect::<Result<Vec<Plan>>>();
    let plans = match plans {
        Ok(p) => p,
        Err(e) => {
            log::error("", &format!("{e:#}"));
            return Ok(Err(1));
        }
    };
    if let Some(why) = plans.iter().find_map(|p| exec::refusal(svc, p, action)) {
        log::error("", &why);
        return Ok(Err(1));
    }
    Ok(Ok(Prepared { selected, plans }))
}

fn run_of<'a>(ctx: &'a Ctx, svc: &'a Service, action: &'a str) -> Run<'a> {
    Run {
        ctx,
        svc,
        action,
        force: ctx.args.force || action == "shutdown",
        expand: action != "startstandby",
    }
}

/// Run a state-changing action; the exit code. What is refused before the lock is taken
/// (bad selection or barrier, configuration errors) changes nothing on disk; the action log
/// records from the lock on.
pub fn run(ctx: &Ctx, action: &str, groups: Option<&[&str]>) -> Result<i32> {
    let name = ctx.service_name()?;
    let conf = ctx.paths.conf(name);
    let stamp = crate::config::stamp(&conf);
    // Never dropped (see `Service::keep`).
    let mut svc = Service::keep(load_for_action(ctx, name)?);
    ctx.init_log(&svc);
    if let Some(why) = svc.foreign_node() {
        if !ctx.args.force {
            log::error(
                "",
                &format!("action '{action}' refused: {why} (--force to override)"),
            );
            return Ok(1);
        }
        log::warn("", &format!("{why}: acting anyway, as --force says"));
    }
    let mut prepared = match prepare(ctx, &svc, action, groups)? {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let _lock = if ctx.args.dry_run {
        None
    } else {
        let lock = match lock::acquire(&svc.var_dir(), action, waitlock(ctx, &svc)?) {
            Ok(l) => l,
            Err(e) => {
                log::error("", &e.to_string());
                return Ok(1);
            }
        };
        // The config may have changed, or gone, while this action waited for the lock.
        match crate::config::stamp(&conf) {
            None => {
                lock.remove();
                log::error("", &format!("service {name} was deleted: nothing was done"));
                return Ok(1);
            }
            Some(now) if Some(now) != stamp => {
                svc = Service::keep(load_for_action(ctx, name)?);
                prepared = match prepare(ctx, &svc, action, groups)? {
                    Ok(p) => p,
                    Err(code) => return Ok(code),
                };
            }
            Some(_) => {}
        }
        ctx.log_to_file(&svc);
        // Holding the lock, an interruption ends the action in order rather than killing it.
        signals::catch_interrupts();
        Some(lock)
    };
    let Prepared { selected, plans } = prepared;
    let r = run_of(ctx, &svc, action);
    let ended = match plans.as_slice() {
        [stop, start] => match r.phase(stop)? {
            Ended::Done => {
                log::info("", "instance stopped, ready for restart.");
                r.phase(start)?
            }
            other => other,
        },
        [one] => r.phase(one)?,
        _ => unreachable!("one or two phases"),
    };
    if ctx.args.dry_run {
        return Ok(0);
    }
    let full = selected.is_none() && ctx.args.upto.is_none() && ctx.args.downto.is_none();
    let var = svc.var_dir();
    let mut mon = Monitor::load(&var);
    match ended {
        Ended::Interrupted(signal, _) => {
            log::error("", &format!("{action} interrupted by {signal}"));
            mon.record_interrupted(action);
        }
        _ => mon.record(action, ended == Ended::Done, full),
    }
    // The record is state, written durably (two fsyncs): it is written while the status is
    // evaluated, and the status cached only once the record it shows is saved (status.json
    // never shows a record that monitor.json does not hold).
    let (saved, view) = std::thread::scope(|s| {
        let saving = s.spawn(|| mon.save(&var));
        let view = eval::instance(&svc, mon.clone());
        (saving.join(), view)
    });
    saved
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        .with_context(|| format!("saving {}", Monitor::path(&var).display()))?;
    eval::cache(&svc, &view);
    match ended {
        Ended::Done => {}
        Ended::Interrupted(_, code) => return Ok(code),
        _ => return Ok(1),
    }
    if action == "start"
        && full
        && !matches!(
            view.agg.avail,
            State::Up | State::NA | State::StdbyUp | State::StdbyUpWithUp
        )
    {
        log::error(
            "",
            &format!(
                "start action returned 0 but instance avail status is {}",
                view.agg.avail.as_str()
            ),
        );
        return Ok(1);
    }
    Ok(0)
}

/// `svcmgr -s NAME <word> args…`: the driver declaring `word` builds the command line, which
/// runs with the operator's terminal; its exit code is ours.
pub fn passthrough(ctx: &Ctx, word: &str, rest: &[String]) -> Result<i32> {
    let name = ctx.service_name()?;
    let svc = Service::build(&ctx.paths, name, ctx.registry())?;
    let declares_word = |def: &crate::config::resolve::ResourceDef| {
        ctx.registry()
            .entry_for(def.driver.as_deref(), def.driver_version.as_deref())
            .and_then(|d| d.manifest.passthrough.as_deref())
            == Some(word)
    };
    let mut candidates: Vec<_> = svc
        .resources
        .iter()
        .filter(|r| !r.def.props.disable && declares_word(&r.def))
        .filter_map(|r| r.driver.as_ref().ok().map(|h| (r.rid(), h)))
        .collect();
    candidates.sort_by(|a, b| natural_cmp(a.0, b.0));
    let Some((rid, handle)) = candidates.first() else {
        bail!("this service has no {word} resource");
    };
    let args = CallArgs::new(word).with_payload(serde_json::json!({ "args": rest }));
    let answer: Passthrough = handle
        .call("passthrough", args, Deadline::by_default(DEFAULT_TIMEOUT))
        .map_err(|e| anyhow!("{rid}: {e}"))?;
    let argv = answer.argv;
    let (prog, args) = argv
        .split_first()
        .ok_or_else(|| anyhow!("{rid}: empty passthrough command"))?;
    let status = std::process::Command::new(prog)
        .args(args)
        .status()
        .with_context(|| format!("running {prog}"))?;
    Ok(status.code().unwrap_or(1))
}

/// A driver's answer to `passthrough`: the command line to run.
#[derive(serde::Deserialize)]
struct Passthrough {
    argv: Vec<String>,
}
