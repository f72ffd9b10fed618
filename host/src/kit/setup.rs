//! The throwaway service's config: the resource under test (written from `--kw`, or chosen in
//! a `--config` file) and the variants the checks build from it (slow, with a bad value).

use crate::config::ini::{Document, Unwritable};
use crate::config::keywords;
use crate::config::resolve::ResourceDef;
use crate::config::ServiceConfig;
use svcmgr_plugin_api::types::DriverManifest;

/// `key=value` pairs of one option (`--kw`, `--slow-kw`, `--bad-kw`).
pub fn pairs(option: &str, exprs: &[String]) -> Result<Vec<(String, String)>, String> {
    exprs
        .iter()
        .map(|e| match e.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => Err(format!("{option} '{e}': expected keyword=value")),
        })
        .collect()
}

/// A keyword the resource's section may hold: one of the driver's, or a generic one.
pub fn check_keywords(
    option: &str,
    pairs: &[(String, String)],
    m: &DriverManifest,
) -> Result<(), String> {
    for (k, _) in pairs {
        let known = m.keywords.iter().any(|s| s.answers_to(k))
            || keywords::find(keywords::RESOURCE, k).is_some();
        if !known {
            return Err(format!(
                "{option} {k}: driver {} has no keyword '{k}' ('driver info {}' lists them)",
                m.id, m.id
            ));
        }
    }
    Ok(())
}

/// The rid of the resource under test in a config that did not name it: `<group>#1`.
pub fn default_rid(m: &DriverManifest) -> String {
    format!("{}#1", m.group())
}

/// Whether `rid` names a section the driver may serve (`[<group>#N]` or a section alias).
pub fn rid_fits(rid: &str, m: &DriverManifest) -> bool {
    let prefix = crate::rid::prefix(rid);
    rid.contains('#') && (prefix == m.group() || m.section_aliases.iter().any(|a| a == prefix))
}

/// A section of the driver's, from nothing: `type` and the given keywords.
pub fn write_resource(
    doc: &mut Document,
    rid: &str,
    m: &DriverManifest,
    kw: &[(String, String)],
) -> Result<(), Unwritable> {
    doc.set(rid, "type", m.type_name())?;
    set_keywords(doc, rid, kw)
}

pub fn set_keywords(
    doc: &mut Document,
    rid: &str,
    kw: &[(String, String)],
) -> Result<(), Unwritable> {
    for (k, v) in kw {
        doc.set(rid, k, v)?;
    }
    Ok(())
}

/// The resource under test among a config's resources: the one named, or the only one of the
/// driver.
pub fn pick_rid(
    defs: &[Box<ResourceDef>],
    m: &DriverManifest,
    given: Option<&str>,
    origin: &str,
) -> Result<String, String> {
    let of_driver: Vec<&str> = defs
        .iter()
        .filter(|d| d.driver.as_deref() == Some(m.id.as_str()))
        .map(|d| d.rid.as_str())
        .collect();
    match (given, of_driver.as_slice()) {
        (Some(rid), found) if found.contains(&rid) => Ok(rid.to_string()),
        (Some(rid), []) => Err(format!(
            "--rid {rid}: {origin} has no resource of driver {}",
            m.id
        )),
        (Some(rid), found) => Err(format!(
            "--rid {rid}: not a resource of driver {} in {origin} (those are: {})",
            m.id,
            found.join(", ")
        )),
        (None, [one]) => Ok(one.to_string()),
        (None, []) => Err(format!("{origin} has no resource of driver {}", m.id)),
        (None, many) => Err(format!(
            "{origin} has several resources of driver {}: choose one with --rid ({})",
            m.id,
            many.join(", ")
        )),
    }
}

/// The same config, with these keywords set in the section of `rid`.
pub fn variant(
    cfg: &ServiceConfig,
    rid: &str,
    kw: &[(String, String)],
) -> Result<ServiceConfig, Unwritable> {
    let mut v = cfg.clone();
    set_keywords(&mut v.doc, rid, kw)?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use svcmgr_plugin_api::types::{KeywordSpec, KwType};

    fn manifest() -> DriverManifest {
        let mut m = DriverManifest::new("disk.vg", "1.0.0");
        m.section_aliases = vec!["vg".into()];
        let mut name = KeywordSpec::new("name", KwType::String);
        name.aliases = vec!["vgname".into()];
        m.keywords = vec![name];
        m
    }

    fn def(rid: &str, driver: &str) -> Box<ResourceDef> {
        Box::new(ResourceDef {
            rid: rid.into(),
            group: crate::rid::prefix(rid).into(),
            driver: Some(driver.into()),
            driver_version: None,
            problem: None,
            keywords: Default::default(),
            service_keywords: Default::default(),
            generic_keywords: Default::default(),
            props: Default::default(),
        })
    }

    #[test]
    fn options_and_keywords() {
        let p = pairs("--kw", &["start=touch F".into(), "a==b".into()]).unwrap();
        assert_eq!(
            p,
            [
                ("start".into(), "touch F".into()),
                ("a".into(), "=b".into())
            ]
        );
        assert_eq!(
            pairs("--kw", &["start".into()]),
            Err("--kw 'start': expected keyword=value".into())
        );
        let m = manifest();
        let kw = |k: &str| vec![(k.to_string(), "x".to_string())];
        assert!(check_keywords("--kw", &kw("vgname"), &m).is_ok());
        assert!(check_keywords("--kw", &kw("stop_timeout"), &m).is_ok());
        let e = check_keywords("--bad-kw", &kw("size"), &m).unwrap_err();
        assert!(
            e.starts_with("--bad-kw size: driver disk.vg has no keyword 'size'"),
            "{e}"
        );
    }

    #[test]
    fn rids_and_sections() {
        let m = manifest();
        assert_eq!(default_rid(&m), "disk#1");
        assert!(rid_fits("disk#2", &m) && rid_fits("vg#1", &m));
        assert!(!rid_fits("fs#1", &m) && !rid_fits("disk", &m));
        let mut doc = Document::new();
        write_resource(&mut doc, "disk#1", &m, &[("name".into(), "kitvg".into())]).unwrap();
        assert_eq!(doc.get("disk#1", "type"), Some("vg"));
        assert_eq!(doc.get("disk#1", "name"), Some("kitvg"));

        let defs = [
            def("container#1", "container.docker"),
            def("disk#1", "disk.vg"),
            def("disk#2", "disk.vg"),
        ];
        assert_eq!(
            pick_rid(&defs[..2], &m, None, "f.conf"),
            Ok("disk#1".into())
        );
        assert_eq!(
            pick_rid(&defs, &m, Some("disk#2"), "f.conf"),
            Ok("disk#2".into())
        );
        assert!(pick_rid(&defs, &m, None, "f.conf").unwrap_err().contains(
            "several resources of driver disk.vg: choose one with --rid (disk#1, disk#2)"
        ));
        assert!(pick_rid(&defs, &m, Some("container#1"), "f.conf")
            .unwrap_err()
            .contains("(those are: disk#1, disk#2)"));
        assert!(pick_rid(&defs[..1], &m, None, "f.conf")
            .unwrap_err()
            .contains("has no resource of driver disk.vg"));
    }
}
