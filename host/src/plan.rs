//! The planner (decisions §6): from the resources, their links, the selection and the verb,
//! the ordered stages of an action. Pure: it calls no driver.
//!
//! Order on start/provision: groups in `GROUP_ORDER`; within a group the set without subset,
//! then subsets in alphanumeric order; within a set, resources with a driver sort key first
//! (natural order of the keys), then natural rid order.
//! A resource linked to a selected target runs right after it (start) inside the target's
//! unit. Stop/unprovision/rollback walk the exact reverse.

use crate::drivers::group_rank;
use crate::rid::natural_cmp;
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verb {
    Start,
    Stop,
    Provision,
    Unprovision,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Start => "start",
            Verb::Stop => "stop",
            Verb::Provision => "provision",
            Verb::Unprovision => "unprovision",
        }
    }
    /// Start-like verbs walk the start order.
    pub fn ascending(self) -> bool {
        matches!(self, Verb::Start | Verb::Provision)
    }
}

/// What the planner needs to know of one resource, borrowed from the service: a plan of
/// 10,000 resources then copies no string it does not put in the plan.
#[derive(Debug, Clone, Default)]
pub struct PlanRes<'a> {
    pub rid: &'a str,
    pub group: &'a str,
    pub subset: Option<&'a str>,
    pub sort_key: Option<&'a str>,
    pub links: Vec<&'a str>,
    pub disabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stage {
    /// `<group>` or `<group>:<subset>`.
    pub name: String,
    pub parallel: bool,
    /// Each unit runs sequentially (a target and its linked resources); units of a parallel
    /// stage run concurrently.
    pub units: Vec<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub verb: Verb,
    pub stages: Vec<Stage>,
    /// Rids added by dependency expansion.
    pub added: Vec<String>,
    /// The barrier that cut the plan, if any.
    pub barrier: Option<String>,
}

#[cfg(test)]
impl Plan {
    /// Every step in execution order (parallel stages listed in unit order).
    pub fn rids(&self) -> impl Iterator<Item = &String> {
        self.stages.iter().flat_map(|s| s.units.iter().flatten())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("barrier '{0}' does not match any resource")]
pub struct UnknownBarrier(pub String);

fn index<'a>(all: &'a [PlanRes<'a>]) -> BTreeMap<&'a str, &'a PlanRes<'a>> {
    all.iter().map(|r| (r.rid, r)).collect()
}

/// Dependency expansion: start-like verbs pull in the targets of selected resources and the
/// resources linked to selected ones; stop-like verbs pull in only the resources linked to
/// selected ones. Repeated until nothing is added. Returns the added rids, natural order.
pub fn expand(verb: Verb, selected: &mut BTreeSet<String>, all: &[PlanRes]) -> Vec<String> {
    let by = index(all);
    let mut added = BTreeSet::new();
    loop {
        let mut new = BTreeSet::new();
        for r in all.iter().filter(|r| !r.disabled) {
            let links_to_selected = r.links.iter().any(|t| selected.contains(*t));
            if links_to_selected && !selected.contains(r.rid) {
                new.insert(r.rid);
            }
            if verb.ascending() && selected.contains(r.rid) {
                for &t in &r.links {
                    if !selected.contains(t) && by.get(t).is_some_and(|x| !x.disabled) {
                        new.insert(t);
                    }
                }
            }
        }
        if new.is_empty() {
            break;
        }
        selected.extend(new.iter().map(|rid| rid.to_string()));
        added.extend(new);
    }
    let mut added: Vec<String> = added.into_iter().map(String::from).collect();
    added.sort_by(|a, b| natural_cmp(a, b));
    added
}

/// The resource `r` runs right after, if it is linked to a member of the plan (first link
/// that is; a link cycle leaves the resource in its own group).
fn leader_of<'a>(r: &PlanRes<'a>, members: &BTreeMap<&str, &PlanRes<'a>>) -> Option<&'a str> {
    let target = *r.links.iter().find(|t| members.contains_key(*t))?;
    // Walk up the chain; meeting `r` again means a cycle.
    let mut seen = BTreeSet::from([r.rid]);
    let mut cur = members[target];
    loop {
        if !seen.insert(cur.rid) {
            return None;
        }
        match cur.links.iter().find(|t| members.contains_key(*t)) {
            Some(next) => cur = members[next],
            None => return Some(target),
        }
    }
}

/// Sets in group order, then by group name and subset; `rank` is each one's `group_rank`
/// (looked up once per resource, not at each of a large sort's comparisons).
fn set_order((ra, a): &(usize, &PlanRes), (rb, b): &(usize, &PlanRes)) -> Ordering {
    (ra, &a.group, &a.subset).cmp(&(rb, &b.group, &b.subset))
}

/// Within a set: resources with a driver sort key first, by key in natural order (a mount
/// point; an app's sequence number, `9` before `10`), then the others; natural rid order
/// breaks ties.
fn member_order(a: &PlanRes, b: &PlanRes) -> Ordering {
    match (&a.sort_key, &b.sort_key) {
        (Some(x), Some(y)) => natural_cmp(x, y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
    .then_with(|| natural_cmp(a.rid, b.rid))
}

/// Build the plan of `verb` over `selected` (None: every resource). Disabled resources are
/// left out. `parallel(group, subset)` says whether a subset runs concurrently.
pub fn build(
    verb: Verb,
    selected: Option<&BTreeSet<String>>,
    all: &[PlanRes],
    parallel: &dyn Fn(&str, &str) -> bool,
    barrier: Option<&str>,
) -> Result<Plan, UnknownBarrier> {
    let in_plan = |r: &&PlanRes| !r.disabled && selected.is_none_or(|s| s.contains(r.rid));
    // Only a resource with links looks for its leader among the members: most services of
    // many resources (apps) have none, and are spared a map of every rid.
    let members: BTreeMap<&str, &PlanRes> = if all.iter().any(|r| !r.links.is_empty()) {
        all.iter().filter(in_plan).map(|r| (r.rid, r)).collect()
    } else {
        BTreeMap::new()
    };
    let mut followers: BTreeMap<&str, Vec<&PlanRes>> = BTreeMap::new();
    // Each with its `group_rank` (see `set_order`).
    let mut leaders: Vec<(usize, &PlanRes)> = Vec::with_capacity(all.len());
    // In config order, mostly the plan's order already: the sorts below then find long
    // sorted runs instead of sorting 10,000 rids from their alphabetical order. (The orders
    // are total: the result does not depend on this.)
    for r in all.iter().filter(in_plan) {
        match leader_of(r, &members) {
            Some(t) => followers.entry(t).or_default().push(r),
            None => leaders.push((group_rank(r.group), r)),
        }
    }
    for list in followers.values_mut() {
        list.sort_by(|a, b| member_order(a, b));
    }
    fn chain(r: &PlanRes, followers: &BTreeMap<&str, Vec<&PlanRes>>, out: &mut Vec<String>) {
        out.push(r.rid.to_string());
        for f in followers.get(r.rid).into_iter().flatten() {
            chain(f, followers, out);
        }
    }
    leaders.sort_by(|a, b| set_order(a, b).then_with(|| member_order(a.1, b.1)));
    let mut stages: Vec<Stage> = Vec::new();
    // The set of the last stage: its name is made once, not for each of its units.
    let mut last_set = None;
    for (_, r) in leaders {
        // Most units are one resource: a Vec grown by push would reserve four.
        let mut unit = Vec::with_capacity(1);
        chain(r, &followers, &mut unit);
        match stages.last_mut() {
            Some(st) if last_set == Some((r.group, r.subset)) => st.units.push(unit),
            _ => {
                last_set = Some((r.group, r.subset));
                stages.push(Stage {
                    name: match r.subset {
                        Some(s) => format!("{}:{s}", r.group),
                        None => r.group.to_string(),
                    },
                    parallel: r.subset.is_some_and(|s| parallel(r.group, s)),
                    units: vec![unit],
                })
            }
        }
    }
    if !verb.ascending() {
        stages.reverse();
        for st in &mut stages {
            st.units.reverse();
            for u in &mut st.units {
                u.reverse();
            }
        }
    }
    for st in &mut stages {
        st.parallel &= st.units.len() > 1;
    }
    let mut plan = Plan {
        verb,
        stages,
        added: Vec::new(),
        barrier: None,
    };
    if let Some(b) = barrier {
        cut_at_barrier(&mut plan, b, all)?;
    }
    Ok(plan)
}

/// Resources of a parallel stage that would wait for each other forever. A resource waits
/// for what it requires (`requires(rid)`) when that runs in another unit of its stage, and
/// for the resource before it in its own unit. Returns the first such loop, in natural order.
pub fn wait_loop(plan: &Plan, requires: &dyn Fn(&str) -> Vec<String>) -> Option<Vec<String>> {
    for st in plan.stages.iter().filter(|s| s.parallel) {
        let mut unit_of: BTreeMap<&str, (usize, Option<&str>)> = BTreeMap::new();
        for (i, unit) in st.units.iter().enumerate() {
            for (pos, rid) in unit.iter().enumerate() {
                let before = pos.checked_sub(1).map(|p| unit[p].as_str());
                unit_of.insert(rid, (i, before));
            }
        }
        let waits_for = |rid: &str| -> Vec<String> {
            let (unit, before) = unit_of[rid];
            let mut next: Vec<String> = before.map(String::from).into_iter().collect();
            next.extend(
                requires(rid)
                    .into_iter()
                    .filter(|r| unit_of.get(r.as_str()).is_some_and(|(u, _)| *u != unit)),
            );
            next
        };
        // Depth-first search; meeting a rid on the current path closes a loop.
        fn visit(
            rid: &str,
            waits_for: &dyn Fn(&str) -> Vec<String>,
            path: &mut Vec<String>,
            cleared: &mut BTreeSet<String>,
        ) -> Option<Vec<String>> {
            if let Some(at) = path.iter().position(|r| r == rid) {
                let mut found = path[at..].to_vec();
                found.sort_by(|a, b| natural_cmp(a, b));
                return Some(found);
            }
            if cleared.contains(rid) {
                return None;
            }
            path.push(rid.to_string());
            for next in waits_for(rid) {
                if let Some(found) = visit(&next, waits_for, path, cleared) {
                    return Some(found);
                }
            }
            path.pop();
            cleared.insert(rid.to_string());
            None
        }
        let mut cleared = BTreeSet::new();
        for rid in st.units.iter().flatten() {
            if let Some(found) = visit(rid, &waits_for, &mut Vec::new(), &mut cleared) {
                return Some(found);
            }
        }
    }
    None
}

/// Stop the sequence after rid `b`, or after the last resource of group `b`.
fn cut_at_barrier(plan: &mut Plan, b: &str, all: &[PlanRes]) -> Result<(), UnknownBarrier> {
    let by = index(all);
    let hits = |rid: &str| rid == b || by.get(rid).is_some_and(|r| r.group == b);
    let mut last = None;
    for (si, st) in plan.stages.iter().enumerate() {
        for (ui, unit) in st.units.iter().enumerate() {
            if let Some(pos) = unit.iter().rposition(|rid| hits(rid)) {
                last = Some((si, ui, pos));
            }
        }
    }
    let (si, ui, pos) = last.ok_or_else(|| UnknownBarrier(b.to_string()))?;
    plan.stages.truncate(si + 1);
    let st = &mut plan.stages[si];
    if !st.parallel {
        st.units.truncate(ui + 1);
        st.units[ui].truncate(pos + 1);
    }
    plan.barrier = Some(b.to_string());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res<'a>(rid: &'a str, group: &'a str, subset: Option<&'a str>) -> PlanRes<'a> {
        PlanRes {
            rid,
            group,
            subset,
            ..Default::default()
        }
    }

    fn tutorial() -> Vec<PlanRes<'static>> {
        let mut v = vec![
            res("container#1", "container", Some("00database")),
            res("container#6", "container", Some("02webservers")),
            res("container#7", "container", Some("02webservers")),
            res("ip#1", "ip", None),
            res("vg#1", "disk", None),
            res("fs#2", "fs", None),
            res("fs#1", "fs", None),
        ];
        for rid in ["container#2", "container#3", "container#4", "container#5"] {
            v.push(res(rid, "container", Some("01appservers")));
        }
        v[5].sort_key = Some("/opt/busybox/appdata");
        v[6].sort_key = Some("/opt/busybox");
        v
    }

    fn par(_: &str, s: &str) -> bool {
        s == "01appservers"
    }

    fn names(p: &Plan) -> Vec<(String, bool, Vec<Vec<String>>)> {
        p.stages
            .iter()
            .map(|s| (s.name.clone(), s.parallel, s.units.clone()))
            .collect()
    }

    fn units(items: &[&[&str]]) -> Vec<Vec<String>> {
        items
            .iter()
            .map(|u| u.iter().map(|s| s.to_string()).collect())
            .collect()
    }

    #[test]
    fn start_and_stop_orders() {
        let all = tutorial();
        let p = build(Verb::Start, None, &all, &par, None).unwrap();
        assert_eq!(
            names(&p),
            vec![
                ("ip".into(), false, units(&[&["ip#1"]])),
                ("disk".into(), false, units(&[&["vg#1"]])),
                ("fs".into(), false, units(&[&["fs#1"], &["fs#2"]])),
                (
                    "container:00database".into(),
                    false,
                    units(&[&["container#1"]])
                ),
                (
                    "container:01appservers".into(),
                    true,
                    units(&[
                        &["container#2"],
                        &["container#3"],
                        &["container#4"],
                        &["container#5"]
                    ])
                ),
                (
                    "container:02webservers".into(),
                    false,
                    units(&[&["container#6"], &["container#7"]])
                ),
            ]
        );
        let s = build(Verb::Stop, None, &all, &par, None).unwrap();
        let start: Vec<&String> = p.rids().collect();
        let mut stop: Vec<&String> = s.rids().collect();
        stop.reverse();
        assert_eq!(start, stop, "stop is the exact reverse");
    }

    #[test]
    fn mount_point_sort_keys_put_parents_first_whatever_the_rids() {
        let mut all = vec![
            res("fs#1", "fs", None),
            res("fs#2", "fs", None),
            res("fs#10", "fs", None),
            res("fs#3", "fs", None),
            res("vg#1", "disk", None),
        ];
        all[0].sort_key = Some("/srv/app/data/logs");
        all[1].sort_key = Some("/srv/app");
        all[2].sort_key = Some("/srv/app/data");
        all[3].sort_key = Some("/srv/app-old");
        let start = build(Verb::Start, None, &all, &par, None).unwrap();
        let start: Vec<&String> = start.rids().collect();
        assert_eq!(start, ["vg#1", "fs#2", "fs#3", "fs#10", "fs#1"]);
        let stop = build(Verb::Stop, None, &all, &par, None).unwrap();
        assert_eq!(
            stop.rids().collect::<Vec<_>>(),
            ["fs#1", "fs#10", "fs#3", "fs#2", "vg#1"]
        );
    }

    #[test]
    fn natural_order_and_plain_set_first() {
        let all = vec![
            res("container#10", "container", None),
            res("container#2", "container", None),
            res("container#1", "container", Some("a")),
        ];
        let p = build(Verb::Start, None, &all, &par, None).unwrap();
        assert_eq!(
            p.rids().collect::<Vec<_>>(),
            ["container#2", "container#10", "container#1"]
        );
    }

    fn linked() -> Vec<PlanRes<'static>> {
        let mut ip = res("ip#1", "ip", None);
        ip.links = vec!["container#1"];
        vec![
            ip,
            res("container#1", "container", None),
            res("container#2", "container", None),
            res("container#3", "container", None),
        ]
    }

    #[test]
    fn links_and_expansion() {
        let all = linked();
        let mut sel: BTreeSet<String> = ["container#1", "container#2", "container#3"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(expand(Verb::Stop, &mut sel, &all), ["ip#1"]);
        let stop = build(Verb::Stop, Some(&sel), &all, &par, None).unwrap();
        assert_eq!(
            stop.rids().collect::<Vec<_>>(),
            ["container#3", "container#2", "ip#1", "container#1"]
        );
        let start = build(Verb::Start, Some(&sel), &all, &par, None).unwrap();
        assert_eq!(
            start.rids().collect::<Vec<_>>(),
            ["container#1", "ip#1", "container#2", "container#3"]
        );

        let mut only_ip: BTreeSet<String> = ["ip#1".to_string()].into();
        assert!(
            expand(Verb::Stop, &mut only_ip, &all).is_empty(),
            "stopping a linked resource pulls nothing"
        );
        assert_eq!(expand(Verb::Start, &mut only_ip, &all), ["container#1"]);
        let alone: BTreeSet<String> = ["ip#1".to_string()].into();
        let p = build(Verb::Stop, Some(&alone), &all, &par, None).unwrap();
        assert_eq!(names(&p), vec![("ip".into(), false, units(&[&["ip#1"]]))]);
    }

    #[test]
    fn link_cycles_do_not_hang() {
        let mut a = res("app#1", "app", None);
        a.links = vec!["app#2"];
        let mut b = res("app#2", "app", None);
        b.links = vec!["app#1"];
        let p = build(Verb::Start, None, &[a, b], &par, None).unwrap();
        assert_eq!(p.rids().count(), 2);
    }

    #[test]
    fn sort_keys_come_first_in_natural_order() {
        // The om3 app sequence case: rid5 and rid4 have no sequence number.
        let all: Vec<PlanRes> = [
            ("app#rid5", None),
            ("app#rid1", Some("10")),
            ("app#rid2", Some("30")),
            ("app#rid3", Some("20")),
            ("app#rid4", None),
            ("app#rid6", Some("9")),
        ]
        .into_iter()
        .map(|(rid, key)| PlanRes {
            sort_key: key,
            ..res(rid, "app", None)
        })
        .collect();
        let p = build(Verb::Start, None, &all, &par, None).unwrap();
        assert_eq!(
            p.rids().collect::<Vec<_>>(),
            ["app#rid6", "app#rid1", "app#rid3", "app#rid2", "app#rid4", "app#rid5"]
        );
    }

    #[test]
    fn requirements_that_wait_for_each_other() {
        let all: Vec<PlanRes> = ["app#1", "app#2", "app#3"]
            .iter()
            .map(|rid| res(rid, "app", Some("01appservers")))
            .collect();
        let p = build(Verb::Start, None, &all, &par, None).unwrap();
        let reqs = |pairs: &'static [(&'static str, &'static str)]| {
            move |rid: &str| -> Vec<String> {
                pairs
                    .iter()
                    .filter(|(from, _)| *from == rid)
                    .map(|(_, to)| to.to_string())
                    .collect()
            }
        };
        assert_eq!(wait_loop(&p, &reqs(&[("app#1", "app#2")])), None);
        assert_eq!(
            wait_loop(
                &p,
                &reqs(&[("app#3", "app#1"), ("app#1", "app#2"), ("app#2", "app#3")])
            ),
            Some(vec!["app#1".into(), "app#2".into(), "app#3".into()])
        );
        // A unit runs in order: app#1 (linked to app#2) waits for app#2 already.
        let mut linked = all.clone();
        linked[0].links = vec!["app#2"];
        let p = build(Verb::Start, None, &linked, &par, None).unwrap();
        assert_eq!(
            wait_loop(&p, &reqs(&[("app#2", "app#3"), ("app#3", "app#1")])),
            Some(vec!["app#1".into(), "app#2".into(), "app#3".into()])
        );
        // In a serial stage nothing waits.
        let serial = build(Verb::Start, None, &all, &|_, _| false, None).unwrap();
        assert_eq!(
            wait_loop(&serial, &reqs(&[("app#1", "app#2"), ("app#2", "app#1")])),
            None
        );
    }

    #[test]
    fn barriers_and_disabled() {
        let mut all = tutorial();
        all[3].disabled = true; // ip#1
        let p = build(Verb::Start, None, &all, &par, Some("fs#2")).unwrap();
        assert_eq!(p.rids().collect::<Vec<_>>(), ["vg#1", "fs#1", "fs#2"]);
        assert_eq!(p.barrier.as_deref(), Some("fs#2"));
        let p = build(Verb::Stop, None, &all, &par, Some("container")).unwrap();
        assert_eq!(p.rids().last().unwrap(), "container#1");
        assert_eq!(
            build(Verb::Start, None, &all, &par, Some("nope")),
            Err(UnknownBarrier("nope".into()))
        );
    }
}
