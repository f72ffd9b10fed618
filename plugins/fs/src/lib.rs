//! The fs drivers (`fs.ext4`, `fs.ext3`, `fs.ext2`, `fs.xfs`, `fs.bind`, `fs.tmpfs`): one
//! implementation; the type decides the check and format tools and whether a device is needed.

mod commands;
mod health;
mod kind;
mod mounted;
mod resource;

use kind::Kind;
use svcmgr_plugin_api::{export_plugin, DriverDecl, Kw, Plugin};

export_plugin!(plugin);

pub fn plugin() -> Plugin {
    Kind::ALL
        .into_iter()
        .fold(Plugin::new("fs", env!("CARGO_PKG_VERSION")), |p, kind| {
            p.driver(declaration(kind))
        })
}

fn declaration(kind: Kind) -> DriverDecl {
    let dev = Kw::string("dev");
    let dev = match kind {
        Kind::Tmpfs => dev.help("The mount source word shown in the mount table (default tmpfs)."),
        Kind::Bind => dev.required().help("The directory to bind-mount."),
        _ => dev.required().help(
            "The block device (/dev/…, /dev/mapper/<vg>-<lv>, UUID=…, LABEL=…) or an image \
             file, mounted through a loop device.",
        ),
    };
    let mut decl = DriverDecl::new(
        &kind.driver_id(),
        env!("CARGO_PKG_VERSION"),
        resource::new_fs,
    )
    .help(kind.help())
    .capability("provision")
    .keyword(dev)
    .keyword(
        Kw::string("mnt")
            .required()
            .help("The mount point (created when missing)."),
    )
    .keyword(
        Kw::string("mnt_opt")
            .alias("mnt_opts")
            .help("Mount options, comma separated (mount -o)."),
    )
    .keyword(Kw::string("user").help("Owner of the mount point once mounted."))
    .keyword(Kw::string("group").help("Group of the mount point once mounted."))
    .keyword(Kw::string("perm").help("Mode of the mount point once mounted, in octal (755)."))
    .keyword(
        Kw::duration("stat_timeout")
            .default("5s")
            .help("How long the mount point may take to answer stat before the status warns."),
    )
    .keyword(Kw::bool("kill_procs").default("false").help(
        "When umount fails, kill the processes using the filesystem (fuser -k -m) and \
             try again. Off: the stop fails and the processes live.",
    ));
    if kind.formatted() {
        decl = decl.keyword(Kw::shlex("mkfs_opt").help(&format!(
            "Options of mkfs.{} at provision (a device holding a filesystem is never formatted).",
            kind.name()
        )));
    }
    decl
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_driver_per_type_with_its_keywords() {
        let p = plugin();
        let ids: Vec<&str> = p
            .drivers()
            .iter()
            .map(|d| d.manifest().id.as_str())
            .collect();
        assert_eq!(
            ids,
            ["fs.ext4", "fs.ext3", "fs.ext2", "fs.xfs", "fs.bind", "fs.tmpfs"]
        );
        let kw = |id: &str, name: &str| {
            p.drivers()
                .iter()
                .find(|d| d.manifest().id == id)
                .and_then(|d| {
                    d.manifest()
                        .keywords
                        .iter()
                        .find(|k| k.name == name)
                        .cloned()
                })
        };
        assert!(kw("fs.ext4", "dev").unwrap().required);
        assert!(!kw("fs.tmpfs", "dev").unwrap().required);
        assert!(kw("fs.xfs", "mkfs_opt").is_some());
        assert!(kw("fs.bind", "mkfs_opt").is_none());
        assert_eq!(kw("fs.ext4", "mnt_opt").unwrap().aliases, ["mnt_opts"]);
    }

    use svcmgr_plugin_api::testing;

    fn fs(id: &str, keywords: &[(&str, &str)]) -> testing::Builder {
        keywords
            .iter()
            .fold(testing::resource(plugin, id, "fs#1"), |b, (k, v)| {
                b.keyword(k, v)
            })
    }

    #[test]
    fn label_and_sort_key() {
        let r = fs(
            "fs.ext4",
            &[("dev", "/dev/vgapp/lvapproot"), ("mnt", "/opt/app/./x/")],
        )
        .build()
        .unwrap();
        assert_eq!(r.label(), "/dev/vgapp/lvapproot@/opt/app/x");
        assert_eq!(r.sort_key().as_deref(), Some("/opt/app/x"));
        let t = fs("fs.tmpfs", &[("mnt", "/srv/t")]).build().unwrap();
        assert_eq!(t.label(), "tmpfs@/srv/t");
    }

    #[test]
    fn keyword_errors_name_the_keyword() {
        let err = |b: testing::Builder| b.build().err().unwrap().to_string();
        assert_eq!(
            err(fs("fs.ext4", &[("dev", "/dev/x"), ("mnt", "opt/app")])),
            "mnt: 'opt/app' is not an absolute path"
        );
        assert_eq!(
            err(fs(
                "fs.ext4",
                &[("dev", "/dev/x"), ("mnt", "/m"), ("perm", "rwx")]
            )),
            "perm: 'rwx' is not an octal mode"
        );
        assert!(err(fs("fs.bind", &[("mnt", "/m")])).contains("dev"));
    }

    #[test]
    fn a_missing_device_is_down_and_cannot_start() {
        let r = fs(
            "fs.ext4",
            &[
                ("dev", "/nonexistent/svcmgr-dev"),
                ("mnt", "/nonexistent/m"),
            ],
        )
        .build()
        .unwrap();
        assert_eq!(r.status().unwrap().status, svcmgr_plugin_api::Status::Down);
        assert_eq!(
            r.start().unwrap_err().to_string(),
            "device does not exist /nonexistent/svcmgr-dev"
        );
    }
}
