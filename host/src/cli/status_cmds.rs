//! `status` (exit code only), `print status` (tree or JSON; every service of the node without
//! `-s`), `print resource status` (one row per resource) and `print devs` (the devices the
//! drivers report). Read-only: no lock.

use super::args::OutputFormat;
use super::Ctx;
use crate::drivers::handle::{CallError, Deadline};
use crate::rid::natural_cmp;
use crate::service::Service;
use crate::status::monitor::Monitor;
use crate::status::{eval, json, render, InstanceView};
use anyhow::Result;
use serde_json::{json, Map, Value};
use svcmgr_plugin_api::abi::error_kind;
use svcmgr_plugin_api::types::{CallArgs, Devs};

/// The service of `-s`, with the logger set up for it.
fn service(ctx: &Ctx) -> Result<Service> {
    let svc = Service::build(&ctx.paths, ctx.service_name()?, ctx.registry())?;
    ctx.init_log(&svc);
    ctx.log_to_file(&svc);
    Ok(svc)
}

/// Evaluate a service; --rid/--tags/--subsets narrow what is shown, not what `print status`
/// aggregates. Also says whether they narrowed it.
fn evaluate(ctx: &Ctx, svc: &Service) -> Result<(InstanceView, bool)> {
    let mut view = eval::refresh(svc, Monitor::load(&svc.var_dir()));
    let selection = super::actions::selection(svc, ctx, None)?;
    if let Some(sel) = &selection {
        view.resources.retain(|r| sel.contains(&r.rid));
    }
    Ok((view, selection.is_some()))
}

/// `status`: prints nothing; the exit code is the overall status of the instance, or of the
/// selected resources (what an OCF agent owning part of a service monitors).
pub fn status(ctx: &Ctx) -> Result<i32> {
    let (view, narrowed) = evaluate(ctx, &service(ctx)?)?;
    Ok(match narrowed {
        true => crate::status::aggregate_statuses(&view.resources)
            .overall
            .code(),
        false => view.overall().code(),
    })
}

fn print_json(v: &Value) -> Result<()> {
    crate::outln!("{}", serde_json::to_string_pretty(v)?)?;
    Ok(())
}

/// `print status`: the service of `-s`, or every service of the node, in name order.
pub fn print(ctx: &Ctx) -> Result<i32> {
    let json = ctx.args.format == Some(OutputFormat::Json);
    if ctx.args.service.is_some() {
        let svc = service(ctx)?;
        let (view, _) = evaluate(ctx, &svc)?;
        match json {
            true => print_json(&json::document(&view))?,
            false => crate::cli::output::write(&render::render(&view, ctx.stdout_color()))?,
        }
        return Ok(unshown_errors(&svc));
    }
    // Several services share this process: log lines go to stderr only, not to one
    // service's log file.
    let mut code = 0;
    let mut docs = Map::new();
    for name in ctx.paths.service_names() {
        let view = Service::build(&ctx.paths, &name, ctx.registry())
            .map_err(anyhow::Error::from)
            .and_then(|svc| {
                code = code.max(unshown_errors(&svc));
                evaluate(ctx, &svc).map(|(view, _)| view)
            });
        match (view, json) {
            (Ok(view), true) => {
                docs.insert(name, json::document(&view));
            }
            (Ok(view), false) => {
                crate::cli::output::write(&render::render(&view, ctx.stdout_color()))?
            }
            (Err(e), _) => {
                crate::log::error("", &format!("{name}: {e:#}"));
                code = 1;
            }
        }
    }
    if json {
        print_json(&Value::Object(docs))?;
    }
    Ok(code)
}

/// Say on stderr the configuration errors the tree cannot show (outside resource sections:
/// `[DEFAULT]`, `[env]`, a section of no known kind); 1 when there is one. A broken resource
/// shows in the tree, `undef` with its reason.
fn unshown_errors(svc: &Service) -> i32 {
    let mut code = 0;
    for d in svc.global_errors() {
        eprintln!("{}", d.render(&svc.cfg.path));
        code = 1;
    }
    code
}

/// `print resource status`: one `<rid> <status>` row per (selected) resource.
pub fn print_resources(ctx: &Ctx) -> Result<i32> {
    let (view, _) = evaluate(ctx, &service(ctx)?)?;
    if ctx.args.format == Some(OutputFormat::Json) {
        let rows: Map<String, Value> = view
            .resources
            .iter()
            .map(|r| (r.rid.clone(), Value::from(r.status.as_str())))
            .collect();
        print_json(&Value::Object(rows))?;
        return Ok(0);
    }
    let width = view
        .resources
        .iter()
        .map(|r| r.rid.len())
        .max()
        .unwrap_or(0);
    for r in &view.resources {
        crate::outln!("{:<width$}  {}", r.rid, r.status.as_str())?;
    }
    Ok(0)
}

/// Ask a resource's driver for its devices; a driver that does not know the verb has none.
fn devs_of(res: &crate::service::Resource) -> Result<Devs, String> {
    let Ok(handle) = &res.driver else {
        return Ok(Devs::default());
    };
    let deadline = Deadline::for_verb(&res.def.props.timeouts, "status");
    match handle.call("devs", CallArgs::new("print devs"), deadline) {
        Err(CallError::Driver(e)) if error_kind::base(e.kind) == error_kind::UNSUPPORTED => {
            Ok(Devs::default())
        }
        answer => answer.map_err(|e| e.to_string()),
    }
}

/// `print devs`: `<rid> <exposed|sub|base> <device>` rows, or OpenSVC's JSON
/// `{rid: {type, exposed, sub, base}}`.
pub fn print_devs(ctx: &Ctx) -> Result<i32> {
    let svc = service(ctx)?;
    let selected = super::actions::selection(&svc, ctx, None)?;
    let mut resources: Vec<&crate::service::Resource> = svc
        .resources
        .iter()
        .filter(|r| selected.as_ref().is_none_or(|s| s.contains(r.rid())))
        .collect();
    resources.sort_by(|a, b| natural_cmp(a.rid(), b.rid()));
    let mut code = 0;
    let mut doc = Map::new();
    let mut rows = Vec::new();
    for res in resources {
        let devs = match devs_of(res) {
            Ok(d) => d,
            Err(e) => {
                crate::log::error(res.rid(), &format!("devs: {e}"));
                code = 1;
                continue;
            }
        };
        for (kind, list) in [
            ("exposed", &devs.exposed),
            ("sub", &devs.sub),
            ("base", &devs.base),
        ] {
            rows.extend(list.iter().map(|d| (res.rid(), kind, d.clone())));
        }
        let driver = res.def.driver.clone().unwrap_or_default();
        doc.insert(
            res.rid().to_string(),
            json!({"type": driver, "exposed": devs.exposed, "sub": devs.sub, "base": devs.base}),
        );
    }
    if ctx.args.format == Some(OutputFormat::Json) {
        print_json(&Value::Object(doc))?;
        return Ok(code);
    }
    let width = rows.iter().map(|(rid, _, _)| rid.len()).max().unwrap_or(0);
    for (rid, kind, dev) in rows {
        crate::outln!("{rid:<width$}  {kind:<7}  {dev}")?;
    }
    Ok(code)
}
