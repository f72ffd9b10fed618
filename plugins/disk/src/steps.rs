//! The command sequences of start, stop and provision, decided from the volume group's state
//! (pure, so the sequences that need device-mapper are unit-tested where it is missing).

use crate::lvm::Vg;

/// One command, tried up to `tries` times (1 s apart) until it exits 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub argv: Vec<String>,
    pub tries: u32,
}

/// Either nothing to do (and the line saying so) or commands to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    Nothing(String),
    Run(Vec<Step>),
}

/// Deactivation is retried: a device may be released a moment after its last user exits.
pub const DEACTIVATION_TRIES: u32 = 3;

fn vgchange(args: &[&str], vg: &str, tries: u32) -> Step {
    let mut argv = vec!["vgchange".to_string()];
    argv.extend(args.iter().map(|a| a.to_string()));
    argv.push(vg.to_string());
    Step { argv, tries }
}

fn tag(op: &str, tag: &str, vg: &str) -> Step {
    vgchange(&[op, &format!("@{tag}")], vg, 1)
}

/// Start: drop other nodes' tags, add ours, activate — or `<vg> is already up`.
pub fn start(vg_name: &str, vg: &Vg, node: &str) -> Plan {
    let foreign = vg.foreign_tags(node);
    let was_up = vg.up(node);
    if was_up && foreign.is_empty() {
        return Plan::Nothing(format!("{vg_name} is already up"));
    }
    let mut steps: Vec<Step> = foreign
        .iter()
        .map(|t| tag("--deltag", t, vg_name))
        .collect();
    if !vg.tagged(node) {
        steps.push(tag("--addtag", node, vg_name));
    }
    if !was_up {
        steps.push(vgchange(&["-a", "y"], vg_name, 1));
    }
    Plan::Run(steps)
}

/// Stop: deactivate (retried), then drop our tag — or `<vg> is already down`.
pub fn stop(vg_name: &str, vg: &Vg, node: &str) -> Plan {
    if !vg.tagged(node) && !vg.any_active() {
        return Plan::Nothing(format!("{vg_name} is already down"));
    }
    let mut steps = vec![vgchange(&["-a", "n"], vg_name, DEACTIVATION_TRIES)];
    if vg.tagged(node) {
        steps.push(tag("--deltag", node, vg_name));
    }
    Plan::Run(steps)
}

/// `vgcreate [options] <vg> <pvs>`.
pub fn vgcreate(vg_name: &str, options: &[String], pvs: &[String]) -> Vec<String> {
    let mut argv = vec!["vgcreate".to_string()];
    argv.extend(options.iter().cloned());
    argv.push(vg_name.to_string());
    argv.extend(pvs.iter().cloned());
    argv
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lvm::Lv;

    fn vg(tags: &[&str], lvs: &[(&str, bool)]) -> Vg {
        Vg {
            tags: tags.iter().map(|t| t.to_string()).collect(),
            lvs: lvs
                .iter()
                .map(|(n, a)| Lv {
                    name: n.to_string(),
                    active: *a,
                })
                .collect(),
            pvs: Vec::new(),
        }
    }

    fn lines(p: Plan) -> Vec<String> {
        match p {
            Plan::Run(steps) => steps
                .into_iter()
                .map(|s| format!("{} x{}", s.argv.join(" "), s.tries))
                .collect(),
            Plan::Nothing(msg) => vec![msg],
        }
    }

    #[test]
    fn start_takes_the_vg_from_another_node_and_activates_its_lvs() {
        let state = vg(&["node2"], &[("lvapproot", false), ("lvappdata", false)]);
        assert_eq!(
            lines(start("vgapp", &state, "node1")),
            [
                "vgchange --deltag @node2 vgapp x1",
                "vgchange --addtag @node1 vgapp x1",
                "vgchange -a y vgapp x1"
            ]
        );
    }

    #[test]
    fn start_activates_what_is_inactive_even_when_tagged() {
        let state = vg(&["node1"], &[("a", true), ("b", false)]);
        assert_eq!(lines(start("vg", &state, "node1")), ["vgchange -a y vg x1"]);
    }

    #[test]
    fn start_of_an_up_vg() {
        let up = vg(&["node1"], &[("a", true)]);
        assert_eq!(lines(start("vg", &up, "node1")), ["vg is already up"]);
        let shared = vg(&["node1", "node2"], &[("a", true)]);
        assert_eq!(
            lines(start("vg", &shared, "node1")),
            ["vgchange --deltag @node2 vg x1"],
            "another node's tag goes even when up"
        );
        let empty_untagged = vg(&[], &[]);
        assert_eq!(
            lines(start("vg", &empty_untagged, "node1")),
            ["vgchange --addtag @node1 vg x1", "vgchange -a y vg x1"]
        );
    }

    #[test]
    fn stop_deactivates_then_drops_the_tag() {
        let up = vg(&["node1"], &[("a", true), ("b", true)]);
        assert_eq!(
            lines(stop("vgapp", &up, "node1")),
            [
                "vgchange -a n vgapp x3",
                "vgchange --deltag @node1 vgapp x1"
            ]
        );
        let active_untagged = vg(&["node2"], &[("a", true)]);
        assert_eq!(
            lines(stop("vgapp", &active_untagged, "node1")),
            ["vgchange -a n vgapp x3"],
            "another node's tag is not ours to drop"
        );
        let down = vg(&["node2"], &[("a", false)]);
        assert_eq!(
            lines(stop("vgapp", &down, "node1")),
            ["vgapp is already down"]
        );
    }

    #[test]
    fn vgcreate_line() {
        assert_eq!(
            vgcreate(
                "vgapp",
                &["-s".into(), "8m".into()],
                &["/dev/a".into(), "/dev/b".into()]
            )
            .join(" "),
            "vgcreate -s 8m vgapp /dev/a /dev/b"
        );
    }
}
