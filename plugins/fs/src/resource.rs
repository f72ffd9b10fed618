//! One fs resource: status from the mount table, start (check, mount, owner), stop (deeper
//! mounts first, retried umount, optional kill of the users), provision (format a blank
//! device), unprovision (wipe only when asked for explicitly).

use crate::commands;
use crate::health::{self, Health};
use crate::kind::Kind;
use crate::mounted::{self, Source, State};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;
use svcmgr_plugin_api::sdk::devices::Devices;
use svcmgr_plugin_api::sdk::mountinfo::{self, Mount};
use svcmgr_plugin_api::sdk::{programs, Cmd};
use svcmgr_plugin_api::serde_json::Value;
use svcmgr_plugin_api::types::format_duration;
use svcmgr_plugin_api::{
    ActionReport, Context, Ctx, Devs, Error, ResourceImpl, ResourceSpec, Result, Status,
    StatusReport,
};

/// `umount` attempts before giving up (or killing the users, with `kill_procs`).
const UMOUNT_TRIES: u32 = 3;
/// `e2fsck` attempts while it finds the device busy.
const FSCK_TRIES: u32 = 5;
const RETRY_PAUSE: Duration = Duration::from_millis(300);
/// How long a stop waits for the device to be released after its umount, polling.
const RELEASE_POLLS: u32 = 40;
const RELEASE_POLL: Duration = Duration::from_millis(50);

pub struct Fs {
    kind: Kind,
    /// `dev` as written (tmpfs: the mount source word, `tmpfs` by default).
    dev: String,
    /// `mnt`, cleaned (no `..`, no trailing slash).
    mnt: PathBuf,
    mnt_opt: Option<String>,
    mkfs_opt: Vec<String>,
    user: Option<String>,
    group: Option<String>,
    perm: Option<u32>,
    stat_timeout: Duration,
    kill_procs: bool,
    /// `unprovision = true` written in the section: unprovision wipes the filesystem.
    wipe: bool,
    devices: Devices,
}

pub fn new_fs(spec: &ResourceSpec) -> Result<Box<dyn ResourceImpl>> {
    Fs::new(spec).map(|f| Box::new(f) as Box<dyn ResourceImpl>)
}

impl Fs {
    fn new(spec: &ResourceSpec) -> Result<Fs> {
        let kind = Kind::from_driver_id(&spec.driver_id)
            .ok_or_else(|| Error::config(format!("{} is not an fs driver", spec.driver_id)))?;
        let mnt = spec
            .str("mnt")
            .ok_or_else(|| Error::config_kw("mnt", "missing required keyword"))?;
        if !mnt.starts_with('/') {
            return Err(Error::config_kw(
                "mnt",
                format!("'{mnt}' is not an absolute path"),
            ));
        }
        let dev = match spec.str("dev") {
            Some(d) => d.to_string(),
            None if kind.needs_dev() => {
                return Err(Error::config_kw("dev", "missing required keyword"))
            }
            None => "tmpfs".to_string(),
        };
        let perm = spec
            .str("perm")
            .map(|p| {
                u32::from_str_radix(p, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| Error::config_kw("perm", format!("'{p}' is not an octal mode")))
            })
            .transpose()?;
        Ok(Fs {
            kind,
            dev,
            mnt: mounted::clean(Path::new(mnt)),
            mnt_opt: spec.str("mnt_opt").map(String::from),
            mkfs_opt: spec.words("mkfs_opt"),
            user: spec.str("user").map(String::from),
            group: spec.str("group").map(String::from),
            perm,
            stat_timeout: spec
                .duration("stat_timeout")
                .unwrap_or(Duration::from_secs(5)),
            kill_procs: spec.bool("kill_procs"),
            wipe: spec.context.generic_keywords.get("unprovision") == Some(&Value::Bool(true)),
            devices: Devices::system(),
        })
    }

    /// The mount point as written and, when it differs, its real path.
    fn points(&self) -> Vec<PathBuf> {
        let mut points = vec![self.mnt.clone()];
        if let Ok(real) = std::fs::canonicalize(&self.mnt) {
            if real != self.mnt {
                points.push(real);
            }
        }
        points
    }

    /// What must be mounted at `mnt`, as the mount table would show it.
    fn source(&self) -> Source {
        match self.kind {
            Kind::Tmpfs => Source::Tmpfs,
            Kind::Bind => match std::fs::canonicalize(&self.dev)
                .and_then(|p| std::fs::metadata(&p).map(|m| (p, m.dev())))
            {
                Ok((path, dev)) => Source::Directory {
                    dev: major_minor(dev),
                    path,
                },
                // A missing source directory is mounted nowhere.
                Err(_) => Source::Device(Default::default()),
            },
            _ => Source::Device(self.devices.aliases(&self.dev)),
        }
    }

    fn read_mounts() -> Result<Vec<Mount>> {
        mountinfo::read().context("read /proc/self/mountinfo")
    }

    /// Our mount, if the filesystem is mounted at `mnt`.
    fn our_mount(&self, table: &[Mount]) -> Option<Mount> {
        match mounted::state(table, &self.points(), &self.source()) {
            State::Mounted(m) => Some(m.clone()),
            _ => None,
        }
    }

    /// The path to hand to the tools: the device (`UUID=`/`LABEL=` resolved), the image file
    /// or the bind source. Fails with `device does not exist <dev>`.
    fn device(&self) -> Result<PathBuf> {
        if self.kind == Kind::Tmpfs {
            return Ok(PathBuf::from(&self.dev));
        }
        self.devices
            .resolve(&self.dev)
            .ok_or_else(|| Error::not_found(format!("device does not exist {}", self.dev)))
    }

    /// The block devices holding the filesystem: `dev` when it is one (as written), the
    /// device `UUID=`/`LABEL=` designates, the loop devices an image file is attached to.
    /// Empty for tmpfs and bind mounts, and for a device that does not exist.
    fn block_devices(&self) -> Vec<String> {
        if !self.kind.formatted() {
            return Vec::new();
        }
        let Some(path) = self.devices.resolve(&self.dev) else {
            return Vec::new();
        };
        let Ok(canon) = std::fs::canonicalize(&path) else {
            return Vec::new();
        };
        match std::fs::metadata(&canon) {
            Ok(m) if m.file_type().is_block_device() => {
                let shown = if self.dev.starts_with('/') {
                    path
                } else {
                    canon
                };
                vec![shown.to_string_lossy().into_owned()]
            }
            Ok(m) if m.is_file() => self
                .devices
                .loops_backed_by(&canon)
                .iter()
                .map(|k| format!("/dev/{k}"))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// A command (logged when run); a missing program is an error naming its package.
    fn command<'a>(&self, ctx: &'a Ctx, argv: &[String]) -> Result<Cmd<'a>> {
        programs::require(&argv[0], commands::package_of(&argv[0]))?;
        Ok(ctx.command(argv))
    }

    fn ensure_mountpoint(&self, ctx: &Ctx) -> Result<()> {
        match std::fs::metadata(&self.mnt) {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(Error::other(format!(
                "mount point {} is not a directory",
                self.mnt.display()
            ))),
            Err(_) => {
                ctx.info(&format!("create missing mountpoint {}", self.mnt.display()));
                ctx.create_dir_all(&self.mnt)
            }
        }
    }

    /// `e2fsck -p` for ext*: exit codes 0 and 1 are fine; a missing e2fsck is a warning.
    fn check(&self, ctx: &Ctx, dev: &Path) -> Result<()> {
        let Some(argv) = commands::fsck(self.kind, dev) else {
            return Ok(());
        };
        if let Err(e) = self.command(ctx, &argv) {
            ctx.warn(&format!("{}: skipping the filesystem check", e.message()));
            return Ok(());
        }
        let mut code = 0;
        retry(ctx, FSCK_TRIES, RETRY_PAUSE, |_| {
            code = self.command(ctx, &argv)?.run()?.code;
            Ok(!commands::fsck_retriable(code))
        })?;
        if commands::fsck_ok(code) {
            Ok(())
        } else {
            Err(Error::other(format!(
                "{} failed with exit code {code}",
                argv.join(" ")
            )))
        }
    }

    /// Apply `user`, `group` and `perm` to the mounted mount point, where they differ.
    fn apply_owner(&self, ctx: &Ctx) -> Result<()> {
        let mnt = &self.mnt;
        let meta = std::fs::metadata(mnt).with_context(|| format!("stat {}", mnt.display()))?;
        let user = self.user.as_deref().map(user_id).transpose()?;
        let group = self.group.as_deref().map(group_id).transpose()?;
        let uid = user.filter(|(_, id)| *id != meta.uid());
        let gid = group.filter(|(_, id)| *id != meta.gid());
        for (what, change) in [("user", uid), ("group", gid)] {
            if let Some((name, _)) = change {
                ctx.info(&format!("set {} {what} to {name}", mnt.display()));
            }
        }
        if uid.is_some() || gid.is_some() {
            std::os::unix::fs::chown(mnt, uid.map(|u| u.1), gid.map(|g| g.1))
                .with_context(|| format!("chown {}", mnt.display()))?;
        }
        if let Some(mode) = self.perm {
            if meta.mode() & 0o7777 != mode {
                ctx.info(&format!("set {} perm to {mode:o}", mnt.display()));
                std::fs::set_permissions(mnt, std::fs::Permissions::from_mode(mode))
                    .with_context(|| format!("chmod {mode:o} {}", mnt.display()))?;
            }
        }
        Ok(())
    }

    fn still_mounted(path: &Path) -> Result<bool> {
        Ok(!mountinfo::mounts_at(&Self::read_mounts()?, path).is_empty())
    }

    /// Unmount `path`: up to [`UMOUNT_TRIES`] `umount`, then, with `kill_procs`, rounds of
    /// `fuser -k -m` and `umount`. A mount that went away by itself counts as unmounted.
    fn umount(&self, ctx: &Ctx, path: &Path) -> Result<()> {
        let rounds = if self.kill_procs {
            2 * UMOUNT_TRIES
        } else {
            UMOUNT_TRIES
        };
        let done = retry(ctx, rounds, RETRY_PAUSE, |attempt| {
            if attempt > UMOUNT_TRIES {
                self.kill_users(ctx, path)?;
            }
            let out = self.command(ctx, &commands::umount(path))?.run()?;
            Ok(out.success() || !Self::still_mounted(path)?)
        })?;
        if done {
            Ok(())
        } else {
            Err(Error::other(format!("failed to umount {}", path.display())))
        }
    }

    /// After the umount of `ours`, wait a little for its block device to be released: a mount
    /// namespace created while it was mounted (a container starting) keeps the filesystem
    /// alive for a moment, and what follows a stop (e2fsck, wipefs, deactivating the LV,
    /// releasing a loop device) needs the device free. Not when the filesystem is still
    /// mounted elsewhere here; a device still held at the end is a warning, not a failure.
    fn wait_released(&self, ctx: &Ctx, ours: &Mount) -> Result<()> {
        let dev = Path::new(&ours.source);
        let is_block = std::fs::metadata(dev).is_ok_and(|m| m.file_type().is_block_device());
        let elsewhere = Self::read_mounts()?
            .iter()
            .any(|m| m.device_number() == ours.device_number());
        if !is_block || elsewhere {
            return Ok(());
        }
        if !retry(ctx, RELEASE_POLLS, RELEASE_POLL, |_| Ok(released(dev)))? {
            ctx.warn(&format!(
                "{} is still in use after its umount",
                dev.display()
            ));
        }
        Ok(())
    }

    /// `fuser -k -m`, logged with the pids it killed. Run quietly: in a container, fuser
    /// complains on stderr about every descriptor of processes it may not inspect.
    fn kill_users(&self, ctx: &Ctx, path: &Path) -> Result<()> {
        let argv = commands::fuser_kill(path);
        let cmd = self.command(ctx, &argv)?.quiet();
        ctx.info(&argv.join(" "));
        let out = cmd.run()?;
        let pids: Vec<&str> = out.stdout.split_whitespace().collect();
        if !pids.is_empty() {
            ctx.info(&format!("killed {}", pids.join(" ")));
        }
        Ok(())
    }

    /// The signature on `dev`, if any (`blkid -p`): Some(type), or Some("") when blkid finds
    /// several candidates and will not say.
    fn existing_signature(&self, ctx: &Ctx, dev: &Path) -> Result<Option<String>> {
        let argv = commands::probe(dev);
        let out = self.command(ctx, &argv)?.quiet().run()?;
        match out.code {
            0 => Ok(Some(
                out.stdout
                    .lines()
                    .find_map(|l| l.strip_prefix("TYPE="))
                    .unwrap_or_default()
                    .to_string(),
            )),
            // 2: nothing found; 8: ambivalent probing result (several signatures).
            2 => Ok(None),
            8 => Ok(Some(String::new())),
            code => Err(Error::other(format!(
                "{} failed with exit code {code}: {}",
                argv.join(" "),
                out.stderr.trim()
            ))),
        }
    }
}

/// Run `attempt` (given its number, from 1) up to `tries` times, `pause` apart, until it is
/// done (`Ok(true)`); stop early at the call's deadline. `Ok(false)`: never done.
fn retry(
    ctx: &Ctx,
    tries: u32,
    pause: Duration,
    mut attempt: impl FnMut(u32) -> Result<bool>,
) -> Result<bool> {
    for n in 1..=tries {
        if attempt(n)? {
            return Ok(true);
        }
        if n == tries || ctx.timed_out() {
            break;
        }
        std::thread::sleep(pause.min(ctx.remaining().unwrap_or(pause)));
    }
    Ok(false)
}

/// Whether nobody holds the block device `dev` exclusively (a mounted filesystem does).
fn released(dev: &Path) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_EXCL.bits())
        .open(dev)
        .is_ok()
}

/// The uid of the user `name`.
fn user_id(name: &str) -> Result<(&str, u32)> {
    match nix::unistd::User::from_name(name) {
        Ok(Some(u)) => Ok((name, u.uid.as_raw())),
        _ => Err(Error::config_kw("user", format!("unknown user '{name}'"))),
    }
}

/// The gid of the group `name`.
fn group_id(name: &str) -> Result<(&str, u32)> {
    match nix::unistd::Group::from_name(name) {
        Ok(Some(g)) => Ok((name, g.gid.as_raw())),
        _ => Err(Error::config_kw("group", format!("unknown group '{name}'"))),
    }
}

/// A `st_dev` as the mount table writes it.
fn major_minor(dev: u64) -> (u32, u32) {
    (
        nix::sys::stat::major(dev) as u32,
        nix::sys::stat::minor(dev) as u32,
    )
}

impl ResourceImpl for Fs {
    fn label(&self) -> String {
        format!("{}@{}", self.dev, self.mnt.display())
    }

    /// Parents sort before their children: a path sorts before every path it is a prefix of.
    fn sort_key(&self) -> Option<String> {
        Some(self.mnt.to_string_lossy().into_owned())
    }

    /// Sub: the block devices holding the filesystem; base: the disks under them. OpenSVC's
    /// fs exposes none.
    fn devs(&self, _ctx: &Ctx) -> Result<Devs> {
        let sub = self.block_devices();
        let mut base: Vec<String> = sub
            .iter()
            .flat_map(|d| self.devices.base_devices(d))
            .collect();
        base.sort();
        base.dedup();
        Ok(Devs::default().with_sub(sub).with_base(base))
    }

    fn status(&self, _ctx: &Ctx) -> Result<StatusReport> {
        let table = Self::read_mounts()?;
        let m = match mounted::state(&table, &self.points(), &self.source()) {
            State::Mounted(m) => m,
            State::Other(m) => {
                return Ok(StatusReport::new(Status::Down).with_warn(format!(
                    "{} holds another mount ({} {})",
                    self.mnt.display(),
                    m.fs_type,
                    m.source
                )))
            }
            State::Unmounted => return Ok(StatusReport::new(Status::Down)),
        };
        Ok(
            match health::check(&m.mount_point, !m.read_only(), self.stat_timeout) {
                Health::Fine => StatusReport::up(),
                Health::NoAnswer => StatusReport::warn(format!(
                    "{} does not answer stat within {}",
                    self.mnt.display(),
                    format_duration(self.stat_timeout)
                )),
                Health::StatFailed(e) => {
                    StatusReport::warn(format!("stat {}: {e}", self.mnt.display()))
                }
                Health::NotWritable(e) => StatusReport::warn(format!("fs is not writable: {e}")),
            },
        )
    }

    fn start(&self, ctx: &Ctx) -> Result<ActionReport> {
        if self.our_mount(&Self::read_mounts()?).is_some() {
            ctx.info(&format!("{} is already mounted", self.label()));
            return Ok(ActionReport::unchanged());
        }
        let dev = self.device()?;
        self.ensure_mountpoint(ctx)?;
        self.check(ctx, &dev)?;
        let argv = commands::mount(
            self.kind,
            &dev.to_string_lossy(),
            &self.mnt,
            self.mnt_opt.as_deref(),
        );
        self.command(ctx, &argv)?.check()?;
        // Mounted: a failure from here on leaves it up, for the rollback to unmount.
        self.apply_owner(ctx).map_err(Error::changed)?;
        Ok(ActionReport::changed())
    }

    fn stop(&self, ctx: &Ctx) -> Result<ActionReport> {
        let table = Self::read_mounts()?;
        let Some(ours) = self.our_mount(&table) else {
            ctx.info(&format!("{} is already umounted", self.label()));
            return Ok(ActionReport::unchanged());
        };
        for below in mountinfo::mounts_under(&table, &ours.mount_point) {
            self.umount(ctx, &below.mount_point)?;
        }
        self.umount(ctx, &ours.mount_point)?;
        self.wait_released(ctx, &ours)?;
        Ok(ActionReport::changed())
    }

    fn provision(&self, ctx: &Ctx) -> Result<ActionReport> {
        let mut formatted = false;
        if self.kind.formatted() {
            let dev = self.device()?;
            match self.existing_signature(ctx, &dev)? {
                Some(found) => {
                    ctx.info("already provisioned");
                    if found != self.kind.name() {
                        let what = if found.is_empty() {
                            "several signatures"
                        } else {
                            &found
                        };
                        ctx.warn(&format!(
                            "{} holds {what}, not {}: left as it is",
                            dev.display(),
                            self.kind.name()
                        ));
                    }
                }
                None => {
                    let argv = commands::mkfs(self.kind, &self.mkfs_opt, &dev)
                        .expect("formatted kinds have a mkfs");
                    self.command(ctx, &argv)?.check()?;
                    formatted = true;
                }
            }
        }
        let started = self.start(ctx)?;
        Ok(ActionReport::from_changed(formatted || started.changed))
    }

    fn unprovision(&self, ctx: &Ctx) -> Result<ActionReport> {
        let stopped = self.stop(ctx)?;
        if !self.kind.formatted() {
            return Ok(stopped);
        }
        if !self.wipe {
            ctx.info(&format!(
                "{} keeps its filesystem (unprovision = true on the resource wipes it)",
                self.dev
            ));
            return Ok(stopped);
        }
        let dev = self.device()?;
        self.command(ctx, &commands::wipefs(&dev))?.check()?;
        Ok(ActionReport::changed())
    }
}
