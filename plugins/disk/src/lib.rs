//! The `disk.vg` driver: an LVM volume group, activated on the node whose tag (`@<nodename>`)
//! it carries. Also serves the legacy `[vg#N]` sections (the rid keeps its `vg#` prefix).

mod lvm;
mod steps;
mod vg;

use svcmgr_plugin_api::{export_plugin, DriverDecl, Kw, Plugin};

export_plugin!(plugin);

pub fn plugin() -> Plugin {
    Plugin::new("disk", env!("CARGO_PKG_VERSION")).driver(
        DriverDecl::new("disk.vg", env!("CARGO_PKG_VERSION"), vg::new_vg)
            .help(
                "An LVM volume group: start takes it from other nodes (their tags), tags it \
                 @<nodename> and activates its logical volumes; stop deactivates and untags.",
            )
            .section_alias("vg")
            .capability("provision")
            .keyword(
                Kw::string("name")
                    .required()
                    .alias("vgname")
                    .help("The volume group name."),
            )
            .keyword(Kw::list("pvs").help(
                "Devices to make the volume group of at provision (pvcreate, then vgcreate).",
            ))
            .keyword(Kw::shlex("options").help("vgcreate options at provision.")),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn serves_vg_sections() {
        let p = super::plugin();
        let d = p.drivers()[0].manifest();
        assert_eq!(
            (d.id.as_str(), d.section_aliases.as_slice()),
            ("disk.vg", &["vg".to_string()][..])
        );
        assert_eq!(d.keywords[0].aliases, ["vgname"]);
    }

    #[test]
    fn label_is_the_vg_name_and_a_node_name_is_needed() {
        use svcmgr_plugin_api::testing;
        let vg = testing::resource(super::plugin, "disk.vg", "vg#1").keyword("vgname", "vgapp");
        assert_eq!(vg.build().unwrap().label(), "vgapp");
        let nameless = testing::resource(super::plugin, "disk.vg", "vg#1")
            .keyword("name", "vgapp")
            .nodename("");
        assert!(nameless.build().is_err());
    }
}
