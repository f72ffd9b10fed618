//! What LVM says about a volume group, read from the JSON reports of `vgs`/`lvs`/`pvs`
//! (`--reportformat json`), never from column text. Pure: the command output is passed in.

use svcmgr_plugin_api::serde_json::{self, Value};

/// A visible volume group: its tags and its logical volumes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vg {
    /// Tags without their `@`.
    pub tags: Vec<String>,
    pub lvs: Vec<Lv>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lv {
    pub name: String,
    pub active: bool,
}

impl Vg {
    pub fn tagged(&self, node: &str) -> bool {
        self.tags.iter().any(|t| t == node)
    }

    /// Tags of other nodes.
    pub fn foreign_tags(&self, node: &str) -> Vec<&str> {
        self.tags
            .iter()
            .filter(|t| *t != node)
            .map(String::as_str)
            .collect()
    }

    pub fn any_active(&self) -> bool {
        self.lvs.iter().any(|lv| lv.active)
    }

    pub fn inactive(&self) -> Vec<&str> {
        self.lvs
            .iter()
            .filter(|lv| !lv.active)
            .map(|lv| lv.name.as_str())
            .collect()
    }

    /// Up: tagged by this node and every logical volume active (a VG without any: tagged).
    pub fn up(&self, node: &str) -> bool {
        self.tagged(node) && self.inactive().is_empty()
    }
}

/// The rows of the first report of a `--reportformat json` document (`vg`, `lv`, `pv`).
fn rows(doc: &str, kind: &str) -> Result<Vec<Value>, String> {
    let v: Value = serde_json::from_str(doc).map_err(|e| format!("invalid LVM report: {e}"))?;
    v.get("report")
        .and_then(|r| r.get(0))
        .and_then(|r| r.get(kind))
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| format!("LVM report without a '{kind}' list"))
}

fn field<'a>(row: &'a Value, name: &str) -> &'a str {
    row.get(name).and_then(Value::as_str).unwrap_or_default()
}

/// From `vgs -o vg_name,vg_tags <vg>` and `lvs -o lv_name,lv_attr <vg>`: None when the VG is
/// not visible.
pub fn parse_vg(vgs: &str, lvs: &str) -> Result<Option<Vg>, String> {
    let Some(row) = rows(vgs, "vg")?.into_iter().next() else {
        return Ok(None);
    };
    let tags = field(&row, "vg_tags")
        .split(',')
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect();
    let lvs = rows(lvs, "lv")?
        .iter()
        .map(|r| Lv {
            name: field(r, "lv_name").to_string(),
            // The 5th lv_attr character is the state: `a` for active.
            active: field(r, "lv_attr").chars().nth(4) == Some('a'),
        })
        .collect();
    Ok(Some(Vg { tags, lvs }))
}

/// From `vgs -o pv_name <vg>`: the VG's physical volumes.
pub fn parse_pv_names(vgs: &str) -> Result<Vec<String>, String> {
    Ok(rows(vgs, "vg")?
        .iter()
        .map(|r| field(r, "pv_name").to_string())
        .filter(|pv| !pv.is_empty())
        .collect())
}

/// From `pvs -o pv_name,vg_name <dev>`: None when `dev` is not a physical volume, else the
/// name of its VG (empty when it belongs to none).
pub fn parse_pv(pvs: &str) -> Result<Option<String>, String> {
    Ok(rows(pvs, "pv")?
        .first()
        .map(|r| field(r, "vg_name").to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VGS: &str = r#"  {
      "report": [
          {
              "vg": [
                  {"vg_name":"vgapp", "vg_tags":"node2,backup"}
              ]
          }
      ]
  }"#;
    const LVS: &str = r#"{"report": [{"lv": [
        {"lv_name":"lvapproot", "lv_attr":"-wi-a-----"},
        {"lv_name":"lvappdata", "lv_attr":"-wi-------"}
    ]}]}"#;
    const NONE: &str = r#"{"report": [{"vg": []}]}"#;
    const NO_LV: &str = r#"{"report": [{"lv": []}]}"#;

    #[test]
    fn volume_group_state() {
        let vg = parse_vg(VGS, LVS).unwrap().unwrap();
        assert_eq!(vg.tags, ["node2", "backup"]);
        assert_eq!(vg.inactive(), ["lvappdata"]);
        assert!(vg.any_active());
        assert!(!vg.tagged("node1"));
        assert_eq!(vg.foreign_tags("node2"), ["backup"]);
        assert!(!vg.up("node2"), "one LV inactive");
        assert_eq!(parse_vg(NONE, NO_LV).unwrap(), None);
        let empty = parse_vg(
            r#"{"report":[{"vg":[{"vg_name":"v","vg_tags":""}]}]}"#,
            NO_LV,
        )
        .unwrap()
        .unwrap();
        assert!(empty.tags.is_empty() && empty.lvs.is_empty());
        assert!(!empty.up("node1"), "untagged");
        assert!(Vg {
            tags: vec!["node1".into()],
            lvs: vec![]
        }
        .up("node1"));
        assert!(parse_vg("not json", NO_LV).is_err());
        assert!(parse_vg(r#"{"report":[{"lv":[]}]}"#, NO_LV).is_err());
    }

    #[test]
    fn physical_volumes_of_a_vg() {
        let doc = r#"{"report":[{"vg":[{"pv_name":"/dev/loop3"},{"pv_name":"/dev/loop4"}]}]}"#;
        assert_eq!(parse_pv_names(doc).unwrap(), ["/dev/loop3", "/dev/loop4"]);
        assert!(parse_pv_names(r#"{"report":[{"vg":[]}]}"#)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn physical_volumes() {
        let pv = |vg: &str| {
            format!(r#"{{"report":[{{"pv":[{{"pv_name":"/dev/loop0","vg_name":"{vg}"}}]}}]}}"#)
        };
        assert_eq!(parse_pv(&pv("other")).unwrap().as_deref(), Some("other"));
        assert_eq!(parse_pv(&pv("")).unwrap().as_deref(), Some(""));
        assert_eq!(parse_pv(r#"{"report":[{"pv":[]}]}"#).unwrap(), None);
    }
}
