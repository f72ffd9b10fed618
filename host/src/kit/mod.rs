//! The driver conformance kit, `svcmgr driver test <driver-id>`: one resource of the driver,
//! in a throwaway service (its own root, config and var dir under a temporary folder), goes
//! through a battery of checks (manifest, read-only status, lifecycle, provision, deadlines,
//! bad values, the `call` boundary, labels and status logs), each reported `ok`, `FAIL` or
//! `skip` with the reason.
//!
//! `battery.rs` runs the checks (in a child process), `checks.rs` judges what they observed,
//! `probe.rs` calls the driver, `supervise.rs` runs and watches the child, `setup.rs` writes
//! the throwaway config, `report.rs` renders the verdicts.

mod battery;
mod checks;
mod probe;
mod report;
mod setup;
mod supervise;

use crate::config::ini::Document;
use crate::config::{resolve, ServiceConfig};
use crate::drivers::Registry;
use crate::paths::Paths;
use anyhow::{anyhow, bail, Result};
use report::{Record, Subject};
use std::path::Path;

/// What `driver test` was asked.
pub struct Options {
    pub driver: String,
    /// Reads the config the resource comes from: a `--config` file, or nothing, the resource
    /// then being written from `--kw`; with `DEFAULT.id` set. Called once, by the supervising
    /// process (the battery's reads the throwaway copy; stdin is read once).
    pub config: Box<dyn FnOnce() -> Result<Document>>,
    /// Where the config comes from (`--config`), if anywhere.
    pub config_origin: Option<String>,
    /// The resource under test (`--rid`).
    pub rid: Option<String>,
    /// `key=value` for the resource (`--kw`), for its slow variant (`--slow-kw`), and values
    /// it must refuse (`--bad-kw`).
    pub kw: Vec<String>,
    pub slow_kw: Vec<String>,
    pub bad_kw: Vec<String>,
    pub json: bool,
}

/// Run the kit; the exit code (0 when no check failed).
pub fn run(paths: &Paths, reg: &Registry, opts: Options) -> Result<i32> {
    let entry = reg
        .lookup(&opts.driver)
        .map_err(|e| anyhow!("{e} ('driver list' shows the installed ones)"))?;
    let m = &entry.manifest;
    let option = |name: &str, exprs: &[String]| -> Result<Vec<(String, String)>> {
        let pairs = setup::pairs(name, exprs).map_err(|e| anyhow!(e))?;
        setup::check_keywords(name, &pairs, m).map_err(|e| anyhow!(e))?;
        Ok(pairs)
    };
    let kw = option("--kw", &opts.kw)?;
    let slow_kw = option("--slow-kw", &opts.slow_kw)?;
    let bad_kw = option("--bad-kw", &opts.bad_kw)?;
    if let Ok(text) = std::env::var(battery::JOB_ENV) {
        // The battery's own process: the job is for it alone, not for the drivers' commands.
        std::env::remove_var(battery::JOB_ENV);
        let job: battery::Job = serde_json::from_str(&text)?;
        return battery::run(reg, entry, paths, &job, &slow_kw, &bad_kw);
    }

    let root = tempfile::Builder::new().prefix("svcmgr-kit-").tempdir()?;
    let service = format!("kit-{}", std::process::id());
    let tmp = Paths {
        root: root.path().to_path_buf(),
        ..paths.clone()
    };
    let mut cfg = ServiceConfig {
        name: service.clone(),
        path: tmp.conf(&service),
        doc: (opts.config)()?,
    };
    let rid = match &opts.config_origin {
        None => {
            let rid = opts.rid.unwrap_or_else(|| setup::default_rid(m));
            if !setup::rid_fits(&rid, m) {
                bail!(
                    "--rid {rid}: driver {} serves [{}#N] sections",
                    m.id,
                    m.group()
                );
            }
            setup::write_resource(&mut cfg.doc, &rid, m, &kw)?;
            rid
        }
        Some(origin) => {
            let var = tmp.var(&service);
            let (def, _) = resolve::resolve(&cfg, reg, &tmp.nodename, &var.to_string_lossy());
            let rid = setup::pick_rid(&def.resources, m, opts.rid.as_deref(), origin)
                .map_err(|e| anyhow!(e))?;
            setup::set_keywords(&mut cfg.doc, &rid, &kw)?;
            rid
        }
    };
    if opts.driver.contains('@') {
        // `driver test ID@VERSION`: the resource is served by that version, not the newest.
        cfg.doc.set(&rid, "driver_version", &m.version)?;
    }
    cfg.save()?;

    let subject = Subject {
        driver: m.id.clone(),
        version: m.version.clone(),
        library: reg.lib_of(entry).path.display().to_string(),
        rid: rid.clone(),
        service: service.clone(),
    };
    if !opts.json {
        crate::outln!("{}", report::heading(&subject))?;
    }
    let job = battery::Job {
        root: root.path().to_path_buf(),
        service,
        rid,
        from: 0,
        recover: false,
    };
    let results = supervise::run(job, &mut |r| match r {
        // A closed stdout shows at the closing line, which returns the error.
        Record::Check(c) if !opts.json => {
            let _ = crate::outln!("{}", report::line(c));
        }
        Record::Warning { message } => eprintln!("warning: {message}"),
        _ => {}
    })?;
    let counts = report::counts(&results);
    if opts.json {
        let doc = report::document(&subject, &results);
        crate::outln!("{}", serde_json::to_string_pretty(&doc)?)?;
    } else {
        crate::outln!("{}", report::closing_line(counts))?;
    }
    if let Some(mount) = mount_below(root.path()) {
        let kept = root.keep();
        eprintln!(
            "warning: {mount} is still mounted: {} is left in place",
            kept.display()
        );
    }
    Ok(if counts.failed > 0 { 1 } else { 0 })
}

/// A mount point under `dir`: removing `dir` then would empty what is mounted there.
fn mount_below(dir: &Path) -> Option<String> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .find(|m| Path::new(m).starts_with(dir))
        .map(String::from)
}
