//! What LVM says about a volume group, read from the JSON reports of `lvm fullreport` and
//! `pvs` (`--reportformat json`), never from column text. Pure: the command output is passed
//! in.

use svcmgr_plugin_api::serde_json::{self, Value};

/// A visible volume group: its tags, its logical volumes and its physical volumes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vg {
    /// Tags without their `@`.
    pub tags: Vec<String>,
    pub lvs: Vec<Lv>,
    /// The PVs, as LVM names them.
    pub pvs: Vec<String>,
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

/// The argument list of `lvm fullreport` for one VG: the few fields [`parse_vg`] reads, in one
/// command (one device scan) rather than a `vgs` and an `lvs`.
pub fn fullreport_args(vg: &str) -> Vec<String> {
    [
        "lvm",
        "fullreport",
        "--reportformat",
        "json",
        "--configreport",
        "vg",
        "-o",
        "vg_name,vg_tags",
        "--configreport",
        "pv",
        "-o",
        "pv_name",
        "--configreport",
        "lv",
        "-o",
        "lv_name,lv_attr",
        // Segments are reported too; their smallest field keeps them short.
        "--configreport",
        "pvseg",
        "-o",
        "pvseg_start",
        "--configreport",
        "seg",
        "-o",
        "segtype",
        vg,
    ]
    .iter()
    .map(|w| w.to_string())
    .collect()
}

/// A JSON report printed to its end: its last line closes the document and the whole parses.
/// LVM prints it before tearing down (~30 ms of aio teardown on some kernels), so a reader
/// that stops here needs not wait for the exit.
pub fn report_complete(out: &str) -> bool {
    // Only a line holding a lone `}` can end the document: parse then, not at every line.
    out.trim_end().lines().next_back().map(str::trim) == Some("}")
        && serde_json::from_str::<Value>(out).is_ok()
}

/// The report objects of a `--reportformat json` document.
fn reports(doc: &str) -> Result<Vec<Value>, String> {
    let v: Value = serde_json::from_str(doc).map_err(|e| format!("invalid LVM report: {e}"))?;
    v.get("report")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| "LVM report without a 'report' list".to_string())
}

/// The rows of a `kind` list (`vg`, `lv`, `pv`) of one report object.
fn rows(report: &Value, kind: &str) -> Result<Vec<Value>, String> {
    report
        .get(kind)
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| format!("LVM report without a '{kind}' list"))
}

fn field<'a>(row: &'a Value, name: &str) -> &'a str {
    row.get(name).and_then(Value::as_str).unwrap_or_default()
}

/// From `lvm fullreport` of one VG ([`fullreport_args`]): None when the VG is not visible (an
/// empty report list).
pub fn parse_vg(fullreport: &str) -> Result<Option<Vg>, String> {
    let reports = reports(fullreport)?;
    let Some(rep) = reports.first() else {
        return Ok(None);
    };
    let Some(row) = rows(rep, "vg")?.into_iter().next() else {
        return Ok(None);
    };
    let tags = field(&row, "vg_tags")
        .split(',')
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect();
    let lvs = rows(rep, "lv")?
        .iter()
        .map(|r| Lv {
            name: field(r, "lv_name").to_string(),
            // The 5th lv_attr character is the state: `a` for active.
            active: field(r, "lv_attr").chars().nth(4) == Some('a'),
        })
        .collect();
    let pvs = rows(rep, "pv")?
        .iter()
        .map(|r| field(r, "pv_name").to_string())
        .filter(|pv| !pv.is_empty())
        .collect();
    Ok(Some(Vg { tags, lvs, pvs }))
}

/// From `pvs -o pv_name,vg_name <dev>`: None when `dev` is not a physical volume, else the
/// name of its VG (empty when it belongs to none).
pub fn parse_pv(pvs: &str) -> Result<Option<String>, String> {
    let reports = reports(pvs)?;
    let rep = reports.first().ok_or("LVM report without a report")?;
    Ok(rows(rep, "pv")?
        .first()
        .map(|r| field(r, "vg_name").to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `lvm fullreport` as LVM 2.03 prints it (two LVs, one inactive; two PVs).
    const FULL: &str = r#"  {
      "report": [
          {
              "vg": [
                  {"vg_name":"vgapp", "vg_tags":"node2,backup"}
              ]
              ,
              "pv": [
                  {"pv_name":"/dev/loop3"},
                  {"pv_name":"/dev/loop4"}
              ]
              ,
              "lv": [
                  {"lv_name":"lvapproot", "lv_attr":"-wi-a-----"},
                  {"lv_name":"lvappdata", "lv_attr":"-wi-------"}
              ]
              ,
              "pvseg": [
                  {"pvseg_start":"0"}
              ]
              ,
              "seg": [
              ]
          }
      ]
  }
"#;
    /// A VG that is not there: LVM prints an empty report list.
    const NONE: &str = "  {\n      \"report\": [\n      ]\n  }\n";

    fn one(vg: &str, tags: &str) -> String {
        format!(
            r#"{{"report":[{{"vg":[{{"vg_name":"{vg}","vg_tags":"{tags}"}}],"pv":[],"lv":[]}}]}}"#
        )
    }

    #[test]
    fn volume_group_state() {
        let vg = parse_vg(FULL).unwrap().unwrap();
        assert_eq!(vg.tags, ["node2", "backup"]);
        assert_eq!(vg.inactive(), ["lvappdata"]);
        assert_eq!(vg.pvs, ["/dev/loop3", "/dev/loop4"]);
        assert!(vg.any_active());
        assert!(!vg.tagged("node1"));
        assert_eq!(vg.foreign_tags("node2"), ["backup"]);
        assert!(!vg.up("node2"), "one LV inactive");
        assert_eq!(parse_vg(NONE).unwrap(), None);
        let empty = parse_vg(&one("v", "")).unwrap().unwrap();
        assert!(empty.tags.is_empty() && empty.lvs.is_empty() && empty.pvs.is_empty());
        assert!(!empty.up("node1"), "untagged");
        assert!(parse_vg(&one("v", "node1")).unwrap().unwrap().up("node1"));
        assert!(parse_vg("not json").is_err());
        assert!(parse_vg(r#"{"report":[{"lv":[]}]}"#).is_err());
    }

    #[test]
    fn a_report_is_complete_when_its_document_is_closed() {
        assert!(report_complete(FULL) && report_complete(NONE));
        let lines: Vec<&str> = FULL.lines().collect();
        for n in 1..lines.len() {
            let part = lines[..n].join("\n") + "\n";
            assert!(!report_complete(&part), "complete after {n} lines");
        }
        assert!(!report_complete(""));
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
