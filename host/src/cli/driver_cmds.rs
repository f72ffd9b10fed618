//! `driver list` and `driver info`: what the loaded libraries provide; `driver test`: the
//! conformance kit.

use super::args::OutputFormat;
use super::Ctx;
use crate::config::ini::Document;
use crate::kit;
use anyhow::{anyhow, Result};
use serde_json::json;
use svcmgr_plugin_api::types::KeywordSpec;

pub fn list(ctx: &Ctx) -> Result<i32> {
    let reg = ctx.registry();
    let installed = ctx.paths.installed_drivers();
    let rows: Vec<serde_json::Value> = reg
        .drivers
        .values()
        .map(|d| {
            let path = reg.path_of(d);
            let api = reg.api_of(d);
            let plugin_api = reg.plugin_api_of(d);
            let abi = plugin_api.split('.').next().unwrap_or_default();
            json!({
                "id": d.manifest.id,
                "version": d.manifest.version,
                "api": format!("{}-{}", api.min, api.max),
                "plugin_api": plugin_api,
                "abi": abi,
                "source": if path.starts_with(&installed) { "installed" } else { "path" },
                "path": path,
            })
        })
        .collect();
    if ctx.args.format == Some(OutputFormat::Json) {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(0);
    }
    let cell = |r: &serde_json::Value, k: &str| r[k].as_str().unwrap_or_default().to_string();
    let header = [
        "ID",
        "VERSION",
        "API",
        "PLUGIN-API",
        "ABI",
        "SOURCE",
        "PATH",
    ];
    let keys = [
        "id",
        "version",
        "api",
        "plugin_api",
        "abi",
        "source",
        "path",
    ];
    let widths: Vec<usize> = keys
        .iter()
        .zip(header)
        .map(|(k, h)| {
            rows.iter()
                .map(|r| cell(r, k).len())
                .max()
                .unwrap_or(0)
                .max(h.len())
        })
        .collect();
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    println!("{}", line(header.iter().map(|h| h.to_string()).collect()));
    for r in &rows {
        println!("{}", line(keys.iter().map(|k| cell(r, k)).collect()));
    }
    Ok(0)
}

/// `driver test <id>`: the conformance kit (`crate::kit`).
pub fn test(ctx: &Ctx, rest: &[String]) -> Result<i32> {
    let [id] = rest else {
        return Err(anyhow!(
            "usage: svcmgr driver test <driver id> [--kw key=value]... [--config FILE \
             --rid RID] [--slow-kw key=value]... [--bad-kw key=value]... [--format json]"
        ));
    };
    let file = ctx.args.config.clone();
    let config = move || -> Result<Document> {
        let mut doc = match &file {
            Some(file) => super::config_cmds::read_feed(file)?,
            None => Document::new(),
        };
        if doc.get("DEFAULT", "id").is_none() {
            doc.set("DEFAULT", "id", &super::config_cmds::new_uuid()?)?;
        }
        Ok(doc)
    };
    let opts = kit::Options {
        driver: id.clone(),
        config: Box::new(config),
        config_origin: ctx.args.config.clone(),
        rid: ctx.args.rid.clone(),
        kw: ctx.args.kw.clone(),
        slow_kw: ctx.args.slow_kw.clone(),
        bad_kw: ctx.args.bad_kw.clone(),
        json: ctx.args.format == Some(OutputFormat::Json),
    };
    kit::run(&ctx.paths, ctx.registry(), opts)
}

pub fn info(ctx: &Ctx, rest: &[String]) -> Result<i32> {
    let [id] = rest else {
        return Err(anyhow!("usage: svcmgr driver info <driver id>"));
    };
    let d = ctx
        .registry()
        .drivers
        .get(id)
        .ok_or_else(|| anyhow!("unknown driver {id}"))?;
    // `--kw k=v…`: the driver's answer about that configuration instead of its manifest.
    if !ctx.args.kw.is_empty() {
        let answer = ctx
            .registry()
            .ask_info(d, &ctx.args.kw)
            .map_err(|e| anyhow!(e))?;
        if ctx.args.format == Some(OutputFormat::Json) {
            println!("{}", serde_json::to_string_pretty(&answer)?);
            return Ok(0);
        }
        println!("{}", answer.title);
        if !answer.help.is_empty() {
            println!("{}", answer.help);
        }
        print_keywords("parameters", &answer.keywords)?;
        return Ok(0);
    }
    if ctx.args.format == Some(OutputFormat::Json) {
        println!("{}", serde_json::to_string_pretty(&d.manifest)?);
        return Ok(0);
    }
    println!(
        "{} {} ({})",
        d.manifest.id,
        d.manifest.version,
        ctx.registry().path_of(d).display()
    );
    if !d.manifest.help.is_empty() {
        println!("{}", d.manifest.help);
    }
    print_keywords("keywords", &d.manifest.keywords)?;
    print_keywords("[DEFAULT] keywords", &d.manifest.service_keywords)?;
    Ok(0)
}

/// A titled list of keywords, one line each: name, help, (type, required, default, aliases).
fn print_keywords(title: &str, kws: &[KeywordSpec]) -> Result<()> {
    if kws.is_empty() {
        return Ok(());
    }
    println!("\n{title}:");
    for k in kws {
        let mut notes = vec![serde_json::to_value(k.kind)?
            .as_str()
            .unwrap_or_default()
            .to_string()];
        if k.required {
            notes.push("required".into());
        }
        if let Some(d) = &k.default {
            notes.push(format!(
                "default {}",
                d.as_str()
                    .map(String::from)
                    .unwrap_or_else(|| d.to_string())
            ));
        }
        if !k.aliases.is_empty() {
            notes.push(format!("alias {}", k.aliases.join(", ")));
        }
        println!("  {:<20} {} ({})", k.name, k.help, notes.join(", "));
    }
    Ok(())
}
