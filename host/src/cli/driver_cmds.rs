//! `svcmgr driver …`: what the libraries provide (`list`, `info`), the installed packages
//! (`install`, `verify`, `remove`, and `package` to make one), and the conformance kit
//! (`test`).

use super::args::OutputFormat;
use super::Ctx;
use crate::config::ini::Document;
use crate::config::{resolve, ServiceConfig};
use crate::drivers::package::{self, TrustedKeys};
use crate::drivers::{loader, store, DriverEntry, Registry};
use crate::kit;
use anyhow::{anyhow, bail, Result};
use serde_json::json;
use std::path::Path;
use svcmgr_plugin_api::types::KeywordSpec;

/// A service's resource served by a driver at a version, and whether its config pins it.
struct Usage {
    service: String,
    id: String,
    version: String,
    pinned: bool,
}

/// What every service of the node uses (read from the configs, nothing loaded).
fn usages(ctx: &Ctx, reg: &Registry) -> Vec<Usage> {
    let mut out: Vec<Usage> = Vec::new();
    for name in ctx.paths.service_names() {
        let Ok(cfg) = ServiceConfig::load(&name, &ctx.paths.conf(&name)) else {
            continue;
        };
        let var = ctx.paths.var(&name);
        let (def, _) = resolve::resolve(&cfg, reg, &ctx.paths.nodename, &var.to_string_lossy());
        let pins: Vec<String> = cfg
            .doc
            .get("DEFAULT", "drivers")
            .map(|t| t.split_whitespace().map(String::from).collect())
            .unwrap_or_default();
        let pins = crate::drivers::parse_pins(&pins).unwrap_or_default();
        for r in def.resources {
            let (Some(id), Some(version)) = (r.driver, r.driver_version) else {
                continue;
            };
            let pinned =
                r.generic_keywords.get("driver_version").is_some() || pins.contains_key(&id);
            let same = |u: &Usage| u.service == name && u.id == id && u.version == version;
            match out.iter_mut().find(|u| same(u)) {
                Some(u) => u.pinned |= pinned,
                None => out.push(Usage {
                    service: name.clone(),
                    id,
                    version,
                    pinned,
                }),
            }
        }
    }
    out
}

pub fn list(ctx: &Ctx) -> Result<i32> {
    let reg = ctx.registry();
    reg.load_all();
    let keys = TrustedKeys::load(&ctx.paths.trusted_keys()).map_err(|e| anyhow!(e))?;
    let usages = usages(ctx, reg);
    let mut rows: Vec<serde_json::Value> = Vec::new();
    for (id, versions) in reg.ids() {
        for (i, d) in versions.iter().enumerate() {
            let lib = reg.lib_of(d);
            let abi = lib.plugin_api.split('.').next().unwrap_or_default();
            let signer = lib
                .installed()
                .and_then(|p| keys.signer(&p.manifest_bytes, p.signature.as_deref()?));
            let signed = match lib.installed().map(|p| p.signature.is_some()) {
                Some(true) => signer.unwrap_or("unknown key").to_string(),
                _ => String::new(),
            };
            let services: Vec<serde_json::Value> = usages
                .iter()
                .filter(|u| &u.id == id && u.version == d.manifest.version)
                .map(|u| json!({"service": u.service, "pinned": u.pinned}))
                .collect();
            rows.push(json!({
                "id": id,
                "version": d.manifest.version,
                "default": i == 0,
                "api": format!("{}-{}", lib.api.min, lib.api.max),
                "plugin_api": lib.plugin_api,
                "abi": abi,
                "source": if lib.installed().is_some() { "installed" } else { "path" },
                "signed_by": signed,
                "services": services,
                "library": lib.name,
                "path": lib.path,
                "loaded": reg.library(d.lib).is_ok(),
            }));
        }
    }
    if ctx.args.format == Some(OutputFormat::Json) {
        crate::outln!("{}", serde_json::to_string_pretty(&rows)?)?;
        return Ok(0);
    }
    let text = |r: &serde_json::Value, k: &str| -> String {
        match k {
            "default" => if r[k] == true { "*" } else { "" }.into(),
            "services" => r[k]
                .as_array()
                .into_iter()
                .flatten()
                .map(|u| {
                    let name = u["service"].as_str().unwrap_or_default();
                    match u["pinned"] == true {
                        true => format!("{name} (pinned)"),
                        false => name.to_string(),
                    }
                })
                .collect::<Vec<_>>()
                .join(", "),
            "source" if r["loaded"] == false => {
                format!("{} (refused)", r[k].as_str().unwrap_or_default())
            }
            _ => r[k].as_str().unwrap_or_default().to_string(),
        }
    };
    let columns = [
        ("ID", "id"),
        ("VERSION", "version"),
        ("API", "api"),
        ("PLUGIN-API", "plugin_api"),
        ("ABI", "abi"),
        ("SOURCE", "source"),
        ("DEFAULT", "default"),
        ("SIGNED-BY", "signed_by"),
        ("SERVICES", "services"),
        ("PATH", "path"),
    ];
    let table: Vec<Vec<String>> =
        std::iter::once(columns.iter().map(|(h, _)| h.to_string()).collect())
            .chain(
                rows.iter()
                    .map(|r| columns.iter().map(|(_, k)| text(r, k)).collect()),
            )
            .collect();
    let widths: Vec<usize> = (0..columns.len())
        .map(|c| table.iter().map(|row| row[c].len()).max().unwrap_or(0))
        .collect();
    for row in &table {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        crate::outln!("{}", cells.join("  ").trim_end())?;
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
    let [spec] = rest else {
        bail!("usage: svcmgr driver info <driver id>[@<version>]");
    };
    let reg = ctx.registry();
    let d = reg.lookup(spec).map_err(|e| anyhow!(e))?;
    // `--kw k=v…`: the driver's answer about that configuration instead of its manifest.
    if !ctx.args.kw.is_empty() {
        let answer = reg.ask_info(d, &ctx.args.kw).map_err(|e| anyhow!(e))?;
        if ctx.args.format == Some(OutputFormat::Json) {
            crate::outln!("{}", serde_json::to_string_pretty(&answer)?)?;
            return Ok(0);
        }
        crate::outln!("{}", answer.title)?;
        if !answer.help.is_empty() {
            crate::outln!("{}", answer.help)?;
        }
        print_keywords("parameters", &answer.keywords)?;
        return Ok(0);
    }
    if ctx.args.format == Some(OutputFormat::Json) {
        crate::outln!("{}", serde_json::to_string_pretty(&d.manifest)?)?;
        return Ok(0);
    }
    crate::outln!(
        "{} {} ({})",
        d.manifest.id,
        d.manifest.version,
        reg.lib_of(d).path.display()
    )?;
    if !d.manifest.help.is_empty() {
        crate::outln!("{}", d.manifest.help)?;
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
    crate::outln!("\n{title}:")?;
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
        crate::outln!("  {:<20} {} ({})", k.name, k.help, notes.join(", "))?;
    }
    Ok(())
}

/// `driver install PKG…`: each package on its own, atomically; exit 1 if any failed.
pub fn install(ctx: &Ctx, rest: &[String]) -> Result<i32> {
    if rest.is_empty() {
        bail!("usage: svcmgr driver install <package.tar.gz>…");
    }
    let keys_dir = ctx.paths.trusted_keys();
    let keys = TrustedKeys::load(&keys_dir).map_err(|e| anyhow!(e))?;
    let mut failed = 0;
    for archive in rest {
        let outcome = store::install(
            &ctx.paths.installed_drivers(),
            &ctx.paths.digest_cache(),
            Path::new(archive),
            &keys,
            ctx.args.force,
        );
        match outcome {
            Ok((pkg, signer, outcome)) => {
                let m = &pkg.manifest;
                if keys.keys.is_empty() {
                    crate::log::warn(
                        "",
                        &format!(
                            "{archive}: no trusted key in {}: installed without checking who \
                             made it",
                            keys_dir.display()
                        ),
                    );
                }
                let verb = match outcome {
                    store::Outcome::Installed => "installed",
                    store::Outcome::Replaced => "replaced",
                    store::Outcome::Unchanged => "already installed",
                };
                let ids: Vec<String> = m
                    .drivers
                    .iter()
                    .map(|d| format!("{} {}", d.id, d.version))
                    .collect();
                let by = signer
                    .map(|s| format!(", signed by {s}"))
                    .unwrap_or_default();
                crate::outln!(
                    "{verb}: {} ({} {}{by}) in {}",
                    ids.join(", "),
                    m.library,
                    m.version,
                    pkg.dir.display()
                )?;
            }
            Err(e) => {
                crate::log::error("", &e.to_string());
                failed += 1;
            }
        }
    }
    Ok(i32::from(failed > 0))
}

/// The installed packages `spec` (`ID` or `ID@VERSION`) names, or all of them.
fn selected(ctx: &Ctx, spec: Option<&str>) -> Result<Vec<store::Installed>> {
    let all = store::scan(&ctx.paths.installed_drivers(), &mut |w| {
        crate::log::warn("", &w)
    });
    let Some(spec) = spec else {
        return Ok(all);
    };
    let (id, req) = match spec.split_once('@') {
        Some((id, v)) => (
            id,
            Some(crate::drivers::parse_req(v).map_err(|e| anyhow!("{spec}: {e}"))?),
        ),
        None => (spec, None),
    };
    let chosen: Vec<store::Installed> = all
        .into_iter()
        .filter(|p| {
            p.manifest.drivers.iter().any(|d| {
                d.id == id
                    && req.as_ref().is_none_or(|r| {
                        semver::Version::parse(&d.version).is_ok_and(|v| r.matches(&v))
                    })
            })
        })
        .collect();
    if chosen.is_empty() {
        bail!("no installed package provides {spec}");
    }
    Ok(chosen)
}

/// `driver verify [ID[@VERSION]]`: one line per problem, exit 1 if any.
pub fn verify(ctx: &Ctx, rest: &[String]) -> Result<i32> {
    if rest.len() > 1 {
        bail!("usage: svcmgr driver verify [<driver id>[@<version>]]");
    }
    let keys = TrustedKeys::load(&ctx.paths.trusted_keys()).map_err(|e| anyhow!(e))?;
    let packages = selected(ctx, rest.first().map(String::as_str))?;
    let mut problems = 0;
    for pkg in &packages {
        for p in store::verify(pkg, &keys) {
            crate::outln!("{p}")?;
            problems += 1;
        }
    }
    if problems == 0 {
        eprintln!(
            "{} installed package(s) verified: no problem",
            packages.len()
        );
    }
    Ok(i32::from(problems > 0))
}

/// `driver remove ID@VERSION`: the package providing it, unless a service pins that version
/// or has no other version of one of its drivers (`--force` removes it anyway).
pub fn remove(ctx: &Ctx, rest: &[String]) -> Result<i32> {
    let [spec] = rest else {
        bail!("usage: svcmgr driver remove <driver id>@<version>");
    };
    let (id, version) = spec
        .split_once('@')
        .ok_or_else(|| anyhow!("{spec}: say which version: <driver id>@<version>"))?;
    let reg = ctx.registry();
    let entry: &DriverEntry = reg
        .get_version(id, version)
        .ok_or_else(|| anyhow!("{spec} is not installed"))?;
    let pkg = reg
        .lib_of(entry)
        .installed()
        .ok_or_else(|| {
            anyhow!(
                "{spec} comes from {} (SVCMGR_DRIVER_PATH), not from an installed package",
                reg.lib_of(entry).path.display()
            )
        })?
        .clone();
    let provided: Vec<(&str, &str)> = pkg
        .manifest
        .drivers
        .iter()
        .map(|d| (d.id.as_str(), d.version.as_str()))
        .collect();
    if !ctx.args.force {
        let mut blocking = Vec::new();
        for u in usages(ctx, reg) {
            if !provided.contains(&(u.id.as_str(), u.version.as_str())) {
                continue;
            }
            let others = reg
                .ids()
                .find(|(i, _)| **i == u.id)
                .map_or(0, |(_, v)| v.len() - 1);
            if u.pinned {
                blocking.push(format!("{} pins {} {}", u.service, u.id, u.version));
            } else if others == 0 {
                blocking.push(format!(
                    "{} needs {} and has no other version",
                    u.service, u.id
                ));
            }
        }
        if !blocking.is_empty() {
            bail!(
                "{spec} is in use: {} (--force removes it anyway)",
                blocking.join("; ")
            );
        }
    }
    store::remove(&ctx.paths.installed_drivers(), &pkg)
        .map_err(|e| anyhow!("{}: {e}", pkg.dir.display()))?;
    let mut digests = crate::drivers::digest::DigestCache::open(ctx.paths.digest_cache());
    digests.forget_under(&pkg.dir);
    digests.save();
    let ids: Vec<String> = provided.iter().map(|(i, v)| format!("{i} {v}")).collect();
    crate::outln!(
        "removed: {} ({} {}) from {}",
        ids.join(", "),
        pkg.manifest.library,
        pkg.manifest.version,
        pkg.dir.display()
    )?;
    Ok(0)
}

/// `driver package LIB.so [--sign KEYFILE] [--output DIR]`: the library is loaded (as the
/// host would) to read what it provides, and packaged with that description.
pub fn package(ctx: &Ctx, rest: &[String]) -> Result<i32> {
    let [file] = rest else {
        bail!("usage: svcmgr driver package <library.so> [--sign KEYFILE] [--output DIR]");
    };
    let key = match &ctx.args.sign {
        Some(k) => Some(package::read_signing_key(Path::new(k)).map_err(|e| anyhow!(e))?),
        None => None,
    };
    let lib = loader::load(Path::new(file), None).map_err(|e| anyhow!(e))?;
    let manifest = package::describe(&lib).map_err(|e| anyhow!("{file}: {e}"))?;
    let out = Path::new(ctx.args.output.as_deref().unwrap_or("."));
    let path = package::create(&manifest, &lib.path, key.as_ref(), out)?;
    crate::outln!("{}", path.display())?;
    Ok(0)
}
