//! Commands on the configuration and the service's files: create, delete, print config,
//! set/get/unset, validate config, edit config, freeze/thaw, enable/disable, ls.
//! Every rewrite is validated first; a change that brings new errors writes nothing. Every
//! read-modify-write of the config holds the config lock (`crate::lock::config`).

use super::args::OutputFormat;
use super::Ctx;
use crate::config::ini::Document;
use crate::config::keywords;
use crate::config::kwexpr::KwExpr;
use crate::config::resolve::Diag;
use crate::config::{refs, ServiceConfig};
use crate::lock::{self, Lock};
use crate::service::Service;
use crate::status::monitor::frozen_flag;
use anyhow::{anyhow, bail, Context, Result};
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::time::Duration;
use svcmgr_plugin_api::sdk::files;
use svcmgr_plugin_api::types::{parse_duration, KeywordSpec};

/// How long a command waits for a lock when neither `--waitlock` nor the service says.
pub(crate) const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(60);

/// How long a command waits for a lock: `--waitlock`, else `default`.
pub(crate) fn lock_wait(ctx: &Ctx, default: Duration) -> Result<Duration> {
    match &ctx.args.waitlock {
        Some(text) => parse_duration(text).map_err(|e| anyhow!("--waitlock: {e}")),
        None => Ok(default),
    }
}

/// Take the config lock of service `name` for `action`.
fn config_lock(ctx: &Ctx, name: &str, action: &str) -> Result<Lock> {
    Ok(lock::config(
        &ctx.paths.var(name),
        action,
        lock_wait(ctx, DEFAULT_LOCK_WAIT)?,
    )?)
}

pub fn run(ctx: &Ctx, action: &str) -> Result<i32> {
    if action == "ls" {
        return ls(ctx);
    }
    let name = ctx.service_name()?;
    match action {
        "create" => create(ctx, name),
        "delete" => delete(ctx, name),
        "print config" => print_config(ctx, name),
        "validate config" => validate(ctx, name),
        "edit config" => edit(ctx, name),
        "set" => edit_keywords(ctx, name, true),
        "unset" => edit_keywords(ctx, name, false),
        "get" => get(ctx, name),
        "freeze" => freeze(ctx, name, true),
        "thaw" => freeze(ctx, name, false),
        "enable" => enable(ctx, name, true),
        "disable" => enable(ctx, name, false),
        other => bail!("unknown action '{other}'"),
    }
}

/// The sections a `--kw` section part designates: itself, or every `<group>#…` section for
/// a bare group word (`container.rm=true`).
fn target_sections(doc: &Document, section: &str) -> Vec<String> {
    let is_group_word = !section.contains(['#', ':']) && section != "DEFAULT" && section != "env";
    let matching: Vec<String> = doc
        .sections()
        .iter()
        .filter(|s| is_group_word && crate::rid::prefix(&s.name) == section && s.name.contains('#'))
        .map(|s| s.name.to_string())
        .collect();
    if matching.is_empty() {
        vec![section.to_string()]
    } else {
        matching
    }
}

fn render_diags(diags: &[&Diag], cfg: &ServiceConfig) -> String {
    diags
        .iter()
        .map(|d| d.render(&cfg.path))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Write `new` unless it has errors that `old` did not have.
fn save_checked(ctx: &Ctx, old: &ServiceConfig, new: ServiceConfig) -> Result<()> {
    let before = Service::from_config(&ctx.paths, old.clone(), ctx.registry());
    let after = Service::from_config(&ctx.paths, new.clone(), ctx.registry());
    let known: BTreeSet<String> = before.errors().map(|d| d.render(&old.path)).collect();
    let fresh: Vec<&Diag> = after
        .errors()
        .filter(|d| !known.contains(&d.render(&new.path)))
        .collect();
    if !fresh.is_empty() {
        bail!("{}\nthe change was not written", render_diags(&fresh, &new));
    }
    new.save()?;
    Ok(())
}

/// Every spelling of `keyword` in `section`: its name and legacy aliases, as the host and the
/// section's driver declare them (just `keyword` when none does).
fn spellings(ctx: &Ctx, doc: &Document, section: &str, keyword: &str) -> Vec<String> {
    let host_table = match section {
        "DEFAULT" => keywords::SERVICE,
        "env" => &[],
        s if s.starts_with("subset#") => keywords::SUBSET,
        _ => keywords::RESOURCE,
    };
    if let Some((k, _)) = keywords::find(host_table, keyword) {
        return std::iter::once(k.name)
            .chain(k.aliases.iter().copied())
            .map(String::from)
            .collect();
    }
    let reg = ctx.registry();
    let specs: Vec<&KeywordSpec> = match section {
        "DEFAULT" => reg
            .entries()
            .flat_map(|d| &d.manifest.service_keywords)
            .collect(),
        "env" => Vec::new(),
        _ => reg
            .resolve(crate::rid::prefix(section), doc.get(section, "type"))
            .map(|e| e.manifest.keywords.iter().collect())
            .unwrap_or_default(),
    };
    specs
        .into_iter()
        .find(|k| k.name == keyword || k.aliases.iter().any(|a| a == keyword))
        .map(|k| {
            std::iter::once(&k.name)
                .chain(&k.aliases)
                .cloned()
                .collect()
        })
        .unwrap_or_else(|| vec![keyword.to_string()])
}

/// The keys `expr` names in `section`: every spelling of its keyword, with its scope.
fn keys_of(ctx: &Ctx, doc: &Document, section: &str, expr: &KwExpr) -> Vec<String> {
    spellings(ctx, doc, section, &expr.keyword)
        .iter()
        .map(|s| expr.key(s))
        .collect()
}

/// Apply one `set`/`create` expression to `doc`; whether anything changed.
fn set_keyword(ctx: &Ctx, cfg: &mut ServiceConfig, expr: &KwExpr) -> Result<bool> {
    let mut changed = false;
    for target in target_sections(&cfg.doc, &expr.section) {
        let keys = keys_of(ctx, &cfg.doc, &target, expr);
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let current = cfg
            .doc
            .section(&target)
            .and_then(|s| s.entries().find(|(k, _)| keys.contains(k)))
            .map(|(_, v)| v.to_string())
            .or_else(|| default_of(ctx, cfg, &target, &expr.keyword));
        let value = expr.apply(current.as_deref())?;
        changed |= cfg
            .doc
            .set_spelled(&target, &keys, &expr.key(&expr.keyword), &value)
            .map_err(|e| anyhow!("--kw '{}': {e}", expr.text))?;
    }
    Ok(changed)
}

fn edit_keywords(ctx: &Ctx, name: &str, set: bool) -> Result<i32> {
    if ctx.args.kw.is_empty() {
        bail!(
            "{} needs at least one --kw",
            if set { "set" } else { "unset" }
        );
    }
    let _lock = config_lock(ctx, name, if set { "set" } else { "unset" })?;
    let old = ServiceConfig::load(name, &ctx.paths.conf(name))?;
    let mut new = old.clone();
    let mut changed = false;
    // Every expression applies to the document in memory; one refused writes nothing.
    for text in &ctx.args.kw {
        let expr = KwExpr::parse(text, set)?;
        if set {
            changed |= set_keyword(ctx, &mut new, &expr)?;
            continue;
        }
        for target in target_sections(&new.doc, &expr.section) {
            let keys = keys_of(ctx, &new.doc, &target, &expr);
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            changed |= new.doc.unset_spelled(&target, &keys);
        }
    }
    if changed {
        save_checked(ctx, &old, new)?;
    }
    Ok(0)
}

fn get(ctx: &Ctx, name: &str) -> Result<i32> {
    let cfg = ServiceConfig::load(name, &ctx.paths.conf(name))?;
    if ctx.args.kw.is_empty() {
        bail!("get needs --kw section.keyword");
    }
    for text in &ctx.args.kw {
        let expr = KwExpr::parse(text, false)?;
        let (section, key) = (&expr.section, expr.key(&expr.keyword));
        // The first spelling set, the keyword's own name first.
        let found = keys_of(ctx, &cfg.doc, section, &expr)
            .into_iter()
            .find_map(|k| {
                let raw = if ctx.args.eval {
                    cfg.raw_scoped(section, &k, &ctx.paths.nodename)
                } else {
                    cfg.doc.get(section, &k)
                };
                raw.map(|r| (k, r))
            });
        let Some((spelled, raw)) = found else {
            crate::outln!(
                "{}",
                default_of(ctx, &cfg, section, &expr.keyword).unwrap_or_else(|| "None".into())
            )?;
            continue;
        };
        if ctx.args.eval {
            let var = ctx.paths.var(name);
            let b = refs::Builtins {
                svcname: name,
                nodename: &ctx.paths.nodename,
                var: &var.to_string_lossy(),
                id: cfg.id(),
            };
            crate::outln!(
                "{}",
                refs::expand(&cfg, &b, section, &spelled, raw)
                    .map_err(|e| anyhow!("[{section}] {key}: {e}"))?
            )?;
        } else {
            crate::outln!("{raw}")?;
        }
    }
    Ok(0)
}

/// The driver default of an unset resource keyword, as written in a config.
fn default_of(ctx: &Ctx, cfg: &ServiceConfig, section: &str, key: &str) -> Option<String> {
    let type_name = cfg.doc.get(section, "type");
    let entry = ctx
        .registry()
        .resolve(crate::rid::prefix(section), type_name)
        .ok()?;
    let spec = entry.manifest.keywords.iter().find(|k| k.name == key)?;
    spec.default.as_ref().map(|d| {
        d.as_str()
            .map(String::from)
            .unwrap_or_else(|| d.to_string())
    })
}

fn print_config(ctx: &Ctx, name: &str) -> Result<i32> {
    let cfg = ServiceConfig::load(name, &ctx.paths.conf(name))?;
    if ctx.args.format != Some(OutputFormat::Json) {
        // The text read and checked (an untouched document renders byte for byte).
        crate::cli::output::write(&cfg.doc.render())?;
        return Ok(0);
    }
    let mut doc = Map::new();
    for s in cfg.doc.sections() {
        let kws: Map<String, Value> = s
            .entries()
            .map(|(k, v)| (k.to_string(), Value::from(v)))
            .collect();
        doc.insert(s.name.to_string(), Value::Object(kws));
    }
    doc.insert(
        "metadata".into(),
        serde_json::json!({ "name": name, "kind": "svc", "namespace": "root" }),
    );
    crate::outln!("{}", serde_json::to_string_pretty(&doc)?)?;
    Ok(0)
}

fn validate(ctx: &Ctx, name: &str) -> Result<i32> {
    // Never dropped (see `Service::keep`).
    let svc = Service::keep(Service::build(&ctx.paths, name, ctx.registry())?);
    for d in &svc.diags {
        crate::outln!("{}", d.render(&svc.cfg.path))?;
    }
    Ok(svc.errors().count() as i32)
}

/// The config `--config` names: a file, or `-` for stdin.
pub(crate) fn read_feed(file: &str) -> Result<Document> {
    match file {
        "-" | "/dev/stdin" | "stdin" => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .context("reading stdin")?;
            parse_feed(&text, "stdin")
        }
        file => parse_feed(
            &std::fs::read_to_string(file).with_context(|| format!("--config {file}"))?,
            file,
        ),
    }
}

/// A config text from `create --config`: JSON (`{"DEFAULT": {...}, "app#1": {...}}`) or INI.
fn parse_feed(text: &str, origin: &str) -> Result<Document> {
    if text.trim().is_empty() {
        bail!("{origin}: empty configuration");
    }
    let Ok(json) = serde_json::from_str::<Value>(text) else {
        return Document::parse(text).map_err(|e| anyhow!("{origin}: neither JSON nor INI: {e}"));
    };
    let sections = json
        .as_object()
        .ok_or_else(|| anyhow!("{origin}: JSON config must be an object of sections"))?;
    let mut doc = Document::new();
    for (section, kws) in sections {
        let kws = kws.as_object().ok_or_else(|| {
            anyhow!("{origin}: section '{section}' must be an object of keywords")
        })?;
        for (key, value) in kws {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Bool(_) | Value::Number(_) => value.to_string(),
                Value::Array(items) => items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .map(String::from)
                            .unwrap_or_else(|| i.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
                Value::Null => continue,
                Value::Object(_) => {
                    bail!("{origin}: [{section}] {key}: a value cannot be an object")
                }
            };
            doc.set(section, key, &text)
                .map_err(|e| anyhow!("{origin}: [{}] {e}", section.escape_debug()))?;
        }
    }
    Ok(doc)
}

pub(crate) fn new_uuid() -> Result<String> {
    Ok(std::fs::read_to_string("/proc/sys/kernel/random/uuid")
        .context("generating DEFAULT.id")?
        .trim()
        .to_string())
}

fn create(ctx: &Ctx, name: &str) -> Result<i32> {
    let lock = config_lock(ctx, name, "create")?;
    let created = create_locked(ctx, name);
    // A refused create leaves nothing, not even the lock's folder.
    if !ctx.paths.conf(name).exists() {
        lock.remove();
    } else {
        drop(lock);
    }
    match created? {
        true => super::actions::run(ctx, "provision", None),
        false => Ok(0),
    }
}

/// Write the new config, var dir, frozen flag and link; whether to provision now.
fn create_locked(ctx: &Ctx, name: &str) -> Result<bool> {
    let path = ctx.paths.conf(name);
    if path.exists() {
        bail!("service {name} already exists ({})", path.display());
    }
    let doc = match ctx.args.config.as_deref() {
        Some(file) => read_feed(file)?,
        None => Document::new(),
    };
    let mut cfg = ServiceConfig {
        name: name.to_string(),
        path: path.clone(),
        doc,
    };
    for text in &ctx.args.kw {
        set_keyword(ctx, &mut cfg, &KwExpr::parse(text, true)?)?;
    }
    if cfg.doc.get("DEFAULT", "id").is_none() {
        cfg.doc.set("DEFAULT", "id", &new_uuid()?)?;
    }
    let svc = Service::from_config(&ctx.paths, cfg.clone(), ctx.registry());
    let errors: Vec<&Diag> = svc.errors().collect();
    if !errors.is_empty() {
        bail!(
            "{}\nservice {name} was not created",
            render_diags(&errors, &cfg)
        );
    }
    cfg.save()?;
    let var = ctx.paths.var(name);
    // New services start frozen: the flag only shows in status; actions still run.
    write_flag(&var)?;
    let link = ctx.paths.link(name);
    let exe = std::env::current_exe().context("locating the svcmgr binary")?;
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&exe, &link).with_context(|| link.display().to_string())?;
    Ok(ctx.args.provision)
}

/// Write the frozen flag (an empty file, 0600; its time is when the service was frozen).
fn write_flag(var: &std::path::Path) -> Result<()> {
    let flag = frozen_flag(var);
    let name = flag.file_name().unwrap_or_default().to_string_lossy();
    crate::status::monitor::write_state(var, &name, "").with_context(|| var.display().to_string())
}

/// The resources of `svc` (those of `rids` when given) that are up, or partly up.
fn resources_up(svc: &Service, rids: Option<&BTreeSet<String>>) -> Vec<String> {
    use crate::status::state::State;
    let chosen = svc
        .resources
        .iter()
        .filter(|r| rids.is_none_or(|set| set.contains(r.rid())));
    crate::status::eval::statuses(chosen)
        .into_iter()
        .filter(|s| {
            matches!(
                s.status,
                State::Up | State::Warn | State::StdbyUp | State::StdbyUpWithUp
            )
        })
        .map(|s| s.rid)
        .collect()
}

/// `delete`: the whole service, or the sections of `--rid`. It holds the action lock (no
/// action runs on a config being deleted) and the config lock, and refuses while what it
/// deletes is up (`--force` deletes anyway): a resource never stays up without its config.
fn delete(ctx: &Ctx, name: &str) -> Result<i32> {
    let path = ctx.paths.conf(name);
    // Fail early, before any lock's folder is made, when there is nothing to delete.
    ServiceConfig::load(name, &path)?;
    let var = ctx.paths.var(name);
    let wait = lock_wait(ctx, DEFAULT_LOCK_WAIT)?;
    let action_lock = lock::acquire(&var, "delete", wait)?;
    let config_lock = lock::config(&var, "delete", wait)?;
    let svc = Service::build(&ctx.paths, name, ctx.registry())?;
    let rids: Option<BTreeSet<String>> = ctx
        .args
        .rid
        .as_ref()
        .map(|r| r.split(',').map(|s| s.trim().to_string()).collect());
    if let Some(rids) = &rids {
        if let Some(absent) = rids.iter().find(|r| svc.cfg.doc.section(r).is_none()) {
            bail!("--rid {absent}: no such section in {}", path.display());
        }
    }
    let up = resources_up(&svc, rids.as_ref());
    if !up.is_empty() {
        let what = up.join(", ");
        if !ctx.args.force {
            bail!("{what} up: stop it first (or delete --force, which leaves it running)");
        }
        crate::log::warn("", &format!("{what} up: deleted anyway, as --force says"));
    }
    let mut cfg = svc.cfg.clone();
    if let Some(rids) = &rids {
        for rid in rids {
            cfg.doc.remove_section(rid);
        }
        cfg.save()?;
        return Ok(0);
    }
    std::fs::remove_file(&path).with_context(|| path.display().to_string())?;
    let _ = std::fs::remove_file(ctx.paths.link(name));
    let log = ctx.paths.log_file(name);
    if let Err(e) = std::fs::remove_file(&log) {
        if e.kind() != std::io::ErrorKind::NotFound {
            return Err(anyhow!("{}: {e}", log.display()));
        }
    }
    std::fs::remove_dir_all(&var).with_context(|| var.display().to_string())?;
    // Waiters on either lock find their file removed, then the service gone.
    drop((config_lock, action_lock));
    Ok(0)
}

fn edit(ctx: &Ctx, name: &str) -> Result<i32> {
    let old = ServiceConfig::load(name, &ctx.paths.conf(name))?;
    let var = ctx.paths.var(name);
    let tmp = var.join(format!("{name}.conf.edit"));
    let kept = |e: anyhow::Error| anyhow!("{e:#}; your changes are kept in {}", tmp.display());
    files::create_dir_mode(&var, crate::paths::PRIVATE_DIR_MODE)?;
    files::write_atomic(
        &tmp,
        old.doc.render().as_bytes(),
        crate::paths::PRIVATE_FILE_MODE,
    )?;
    let editor = std::env::var("EDITOR").unwrap_or_else(|_| "vi".into());
    let mut argv = shell_words::split(&editor).map_err(|e| anyhow!("$EDITOR: {e}"))?;
    argv.push(tmp.to_string_lossy().into_owned());
    let status = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .status()
        .with_context(|| format!("running {editor}"))?;
    if !status.success() {
        bail!(
            "{editor} failed; your changes are kept in {}",
            tmp.display()
        );
    }
    let text = std::fs::read(&tmp)?;
    let text =
        crate::config::ini::decode(&text).map_err(|e| kept(anyhow!("{}: {e}", tmp.display())))?;
    let mut new = ServiceConfig::from_text(name, &old.path, text).map_err(|e| kept(e.into()))?;
    new.path = old.path.clone();
    // The editor ran unlocked: another writer may have changed the config meanwhile.
    let _lock = config_lock(ctx, name, "edit config").map_err(kept)?;
    let now = ServiceConfig::load(name, &old.path).map_err(|e| kept(e.into()))?;
    if now.doc.render() != old.doc.render() {
        return Err(kept(anyhow!(
            "{} changed while you edited it: nothing written",
            old.path.display()
        )));
    }
    save_checked(ctx, &old, new).map_err(kept)?;
    std::fs::remove_file(&tmp)?;
    Ok(0)
}

fn freeze(ctx: &Ctx, name: &str, on: bool) -> Result<i32> {
    ServiceConfig::load(name, &ctx.paths.conf(name))?;
    let var = ctx.paths.var(name);
    let flag = frozen_flag(&var);
    if on {
        write_flag(&var)?;
    } else if flag.exists() {
        std::fs::remove_file(&flag)?;
    }
    Ok(0)
}

fn enable(ctx: &Ctx, name: &str, on: bool) -> Result<i32> {
    let _lock = config_lock(ctx, name, if on { "enable" } else { "disable" })?;
    let old = ServiceConfig::load(name, &ctx.paths.conf(name))?;
    let svc = Service::from_config(&ctx.paths, old.clone(), ctx.registry());
    let sections: Vec<String> = match super::actions::selection(&svc, ctx, None)? {
        Some(rids) => rids.into_iter().collect(),
        None => vec!["DEFAULT".into()],
    };
    let mut new = old.clone();
    for s in &sections {
        if on {
            new.doc.unset(s, "disable");
        } else {
            new.doc.set(s, "disable", "true")?;
        }
    }
    save_checked(ctx, &old, new)?;
    Ok(0)
}

fn ls(ctx: &Ctx) -> Result<i32> {
    let names = ctx.paths.service_names();
    if ctx.args.format == Some(OutputFormat::Json) {
        crate::outln!("{}", serde_json::to_string(&names)?)?;
    } else {
        for n in names {
            crate::outln!("{n}")?;
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_ini_feeds() {
        let doc = parse_feed(r#"{"DEFAULT": {"id": "x"}, "app#1": {"start": "true", "optional": true, "tags": ["a", "b"]}}"#, "stdin").unwrap();
        assert_eq!(
            doc.render(),
            "[DEFAULT]\nid = x\n\n[app#1]\nstart = true\noptional = true\ntags = a b\n"
        );
        assert!(parse_feed("[app#1]\nstart = true\n", "f").is_ok());
        assert!(parse_feed("", "stdin")
            .unwrap_err()
            .to_string()
            .contains("empty"));
        assert!(parse_feed("{\"app#1\": 3}", "stdin")
            .unwrap_err()
            .to_string()
            .contains("app#1"));
    }

    #[test]
    fn group_words_target_every_section_of_the_group() {
        let doc = Document::parse("[container#1]\n[container#2]\n[ip#1]\n").unwrap();
        assert_eq!(
            target_sections(&doc, "container"),
            ["container#1", "container#2"]
        );
        assert_eq!(target_sections(&doc, "ip#1"), ["ip#1"]);
        assert_eq!(target_sections(&doc, "DEFAULT"), ["DEFAULT"]);
    }
}
