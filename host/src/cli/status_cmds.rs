//! `status` (exit code only) and `print status` (tree or JSON). Read-only: no lock.

use super::args::OutputFormat;
use super::Ctx;
use crate::service::Service;
use crate::status::{eval, json, render};
use anyhow::Result;

/// The live view and whether --rid/--tags/--subsets narrowed its resources.
fn evaluate(ctx: &Ctx) -> Result<(crate::status::InstanceView, bool)> {
    let svc = Service::build(&ctx.paths, ctx.service_name()?, &ctx.registry)?;
    ctx.init_log(&svc);
    let mut view = eval::refresh(&svc);
    // --rid/--tags/--subsets narrow what is shown, not what `print status` aggregates.
    let selection = super::actions::selection(&svc, ctx, None)?;
    if let Some(sel) = &selection {
        view.resources.retain(|r| sel.contains(&r.rid));
    }
    Ok((view, selection.is_some()))
}

/// `status`: prints nothing; the exit code is the overall status of the instance, or of the
/// selected resources (what an OCF agent owning part of a service monitors).
pub fn status(ctx: &Ctx) -> Result<i32> {
    let (view, narrowed) = evaluate(ctx)?;
    Ok(match narrowed {
        true => crate::status::aggregate_statuses(&view.resources)
            .overall
            .code(),
        false => view.overall().code(),
    })
}

pub fn print(ctx: &Ctx) -> Result<i32> {
    let (view, _) = evaluate(ctx)?;
    match ctx.args.format {
        Some(OutputFormat::Json) => {
            crate::outln!("{}", serde_json::to_string_pretty(&json::document(&view))?)?
        }
        _ => crate::out!("{}", render::render(&view, ctx.stdout_color()))?,
    }
    Ok(0)
}
