//! One disk.vg resource: an LVM volume group, owned by the node whose tag it carries.

use crate::lvm::{self, Vg};
use crate::steps::{self, Plan, Step};
use std::path::Path;
use std::time::Duration;
use svcmgr_plugin_api::sdk::devices::Devices;
use svcmgr_plugin_api::sdk::{programs, Cmd, Output};
use svcmgr_plugin_api::{
    ActionReport, Ctx, Devs, Error, ResourceImpl, ResourceSpec, Result, StatusReport,
};

const RETRY_PAUSE: Duration = Duration::from_secs(1);

pub struct VolumeGroup {
    name: String,
    pvs: Vec<String>,
    options: Vec<String>,
    /// This node's tag (the node name).
    node: String,
}

pub fn new_vg(spec: &ResourceSpec) -> Result<Box<dyn ResourceImpl>> {
    let name = spec
        .str("name")
        .ok_or_else(|| Error::config_kw("name", "missing required keyword"))?
        .to_string();
    if spec.context.nodename.is_empty() {
        return Err(Error::config(
            "the host gave no node name to tag the volume group with",
        ));
    }
    Ok(Box::new(VolumeGroup {
        name,
        pvs: spec.words("pvs"),
        options: spec.words("options"),
        node: spec.context.nodename.clone(),
    }))
}

/// An LVM command: the program must be installed; LVM's warnings about descriptors the
/// caller left open are not ours to show.
fn lvm<'a>(ctx: &'a Ctx, argv: &[String]) -> Result<Cmd<'a>> {
    programs::require(&argv[0], "lvm2")?;
    Ok(ctx.command(argv).env("LVM_SUPPRESS_FD_WARNINGS", "1"))
}

fn args(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// A report command's JSON, or an error with LVM's own words when it gave none.
fn report(out: &Output, argv: &[String]) -> Result<String> {
    if out.stdout.trim().is_empty() && !out.success() {
        return Err(Error::other(format!(
            "{} failed with exit code {}: {}",
            argv.join(" "),
            out.code,
            out.stderr.trim()
        )));
    }
    Ok(out.stdout.clone())
}

impl VolumeGroup {
    /// The VG's state (None: not visible), from one `lvm fullreport`, taken as soon as its
    /// report is printed (LVM's own teardown goes on in the background).
    fn read(&self, ctx: &Ctx) -> Result<Option<Vg>> {
        let argv = lvm::fullreport_args(&self.name);
        let out = lvm(ctx, &argv)?
            .quiet()
            .done_when(lvm::report_complete)
            .run()?;
        lvm::parse_vg(&report(&out, &argv)?).map_err(Error::other)
    }

    fn read_visible(&self, ctx: &Ctx) -> Result<Vg> {
        self.read(ctx)?
            .ok_or_else(|| Error::not_found(format!("vg {} not found", self.name)))
    }

    /// Run a plan's steps; a failure after the first step has changed the VG.
    fn execute(&self, ctx: &Ctx, plan: Plan) -> Result<ActionReport> {
        let steps = match plan {
            Plan::Nothing(msg) => {
                ctx.info(&msg);
                return Ok(ActionReport::unchanged());
            }
            Plan::Run(steps) => steps,
        };
        for (i, step) in steps.iter().enumerate() {
            self.run_step(ctx, step)
                .map_err(|e| if i > 0 { e.changed() } else { e })?;
        }
        Ok(ActionReport::changed())
    }

    fn run_step(&self, ctx: &Ctx, step: &Step) -> Result<()> {
        let mut code = 0;
        for attempt in 1..=step.tries {
            if attempt > 1 {
                if ctx.timed_out() {
                    break;
                }
                std::thread::sleep(RETRY_PAUSE.min(ctx.remaining().unwrap_or(RETRY_PAUSE)));
            }
            code = lvm(ctx, &step.argv)?.run()?.code;
            if code == 0 {
                return Ok(());
            }
        }
        Err(Error::other(format!(
            "{} failed with exit code {code}",
            step.argv.join(" ")
        )))
    }

    /// Refuse a PV of another VG; say which devices need `pvcreate`.
    fn pvs_to_create(&self, ctx: &Ctx) -> Result<Vec<String>> {
        let mut todo = Vec::new();
        for pv in &self.pvs {
            if !Path::new(pv).exists() {
                return Err(Error::not_found(format!("device does not exist {pv}")));
            }
            let argv = args(&["pvs", "--reportformat", "json", "-o", "pv_name,vg_name", pv]);
            let out = lvm(ctx, &argv)?.quiet().run()?;
            // pvs fails on a device that holds no PV label: then the report is empty.
            let doc = if out.success() {
                out.stdout
            } else {
                r#"{"report":[{"pv":[]}]}"#.into()
            };
            match lvm::parse_pv(&doc).map_err(Error::other)? {
                None => todo.push(pv.clone()),
                Some(vg) if vg.is_empty() => ctx.info(&format!("pv {pv} is already a pv")),
                Some(vg) => {
                    return Err(Error::other(format!("pv {pv} in use by vg {vg}")));
                }
            }
        }
        Ok(todo)
    }
}

impl ResourceImpl for VolumeGroup {
    fn label(&self) -> String {
        self.name.clone()
    }

    /// Exposed: every logical volume, as `/dev/<vg>/<lv>` (active or not); sub: the
    /// physical volumes; base: the disks under them. Nothing when the VG is not visible.
    fn devs(&self, ctx: &Ctx) -> Result<Devs> {
        let Some(vg) = self.read(ctx)? else {
            return Ok(Devs::default());
        };
        let exposed = vg
            .lvs
            .iter()
            .map(|lv| format!("/dev/{}/{}", self.name, lv.name))
            .collect();
        let sub = vg.pvs;
        let devices = Devices::system();
        let mut base: Vec<String> = sub.iter().flat_map(|pv| devices.base_devices(pv)).collect();
        base.sort();
        base.dedup();
        Ok(Devs::default()
            .with_exposed(exposed)
            .with_sub(sub)
            .with_base(base))
    }

    fn status(&self, ctx: &Ctx) -> Result<StatusReport> {
        let Some(vg) = self.read(ctx)? else {
            return Ok(StatusReport::down(format!("vg {} not found", self.name)));
        };
        if !vg.tagged(&self.node) {
            return Ok(StatusReport::down(format!("not tagged @{}", self.node)));
        }
        let inactive = vg.inactive();
        Ok(if inactive.is_empty() {
            StatusReport::up()
        } else if !vg.any_active() {
            StatusReport::down("no active logical volume")
        } else {
            StatusReport::warn(format!("inactive logical volumes: {}", inactive.join(", ")))
        })
    }

    fn start(&self, ctx: &Ctx) -> Result<ActionReport> {
        let vg = self.read_visible(ctx)?;
        self.execute(ctx, steps::start(&self.name, &vg, &self.node))
    }

    fn stop(&self, ctx: &Ctx) -> Result<ActionReport> {
        let Some(vg) = self.read(ctx)? else {
            ctx.info(&format!("{} is already down", self.name));
            return Ok(ActionReport::unchanged());
        };
        self.execute(ctx, steps::stop(&self.name, &vg, &self.node))
    }

    fn provision(&self, ctx: &Ctx) -> Result<ActionReport> {
        let mut created = false;
        if self.read(ctx)?.is_some() {
            ctx.info(&format!("vg {} already exists", self.name));
        } else {
            if self.pvs.is_empty() {
                return Err(Error::config_kw(
                    "pvs",
                    format!(
                        "vg {} does not exist and no pvs are given to create it",
                        self.name
                    ),
                ));
            }
            for pv in self.pvs_to_create(ctx)? {
                lvm(ctx, &args(&["pvcreate", &pv]))?.check()?;
            }
            lvm(ctx, &steps::vgcreate(&self.name, &self.options, &self.pvs))?.check()?;
            created = true;
        }
        let started = self
            .start(ctx)
            .map_err(|e| if created { e.changed() } else { e })?;
        Ok(ActionReport::from_changed(created || started.changed))
    }

    fn unprovision(&self, ctx: &Ctx) -> Result<ActionReport> {
        let stopped = self.stop(ctx)?;
        if self.read(ctx)?.is_none() {
            ctx.info(&format!("vg {} already removed", self.name));
            return Ok(stopped);
        }
        lvm(ctx, &args(&["vgremove", "-ff", &self.name]))?.check()?;
        Ok(ActionReport::changed())
    }
}
