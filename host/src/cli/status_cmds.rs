//! `status` (exit code only) and `print status` (tree or JSON). Read-only: no lock.

use super::args::OutputFormat;
use super::Ctx;
use crate::service::Service;
use crate::status::{eval, json, render};
use anyhow::Result;

fn evaluate(ctx: &Ctx) -> Result<crate::status::InstanceView> {
    let svc = Service::build(&ctx.paths, ctx.service_name()?, &ctx.registry)?;
    ctx.init_log(&svc);
    let mut view = eval::refresh(&svc);
    // --rid/--tags/--subsets narrow what is shown, not what is aggregated.
    if let Some(sel) = super::actions::selection(&svc, ctx, None)? {
        view.resources.retain(|r| sel.contains(&r.rid));
    }
    Ok(view)
}

/// `status`: prints nothing; the exit code is the overall status.
pub fn status(ctx: &Ctx) -> Result<i32> {
    Ok(evaluate(ctx)?.overall().code())
}

pub fn print(ctx: &Ctx) -> Result<i32> {
    let view = evaluate(ctx)?;
    match ctx.args.format {
        Some(OutputFormat::Json) => {
            println!("{}", serde_json::to_string_pretty(&json::document(&view))?)
        }
        _ => print!("{}", render::render(&view, ctx.stdout_color())),
    }
    Ok(0)
}
