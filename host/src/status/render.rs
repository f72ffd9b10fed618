//! The `print status` tree (v2 layout): columns name / flags / status / label, ASCII branches
//! `|-` and `` `- ``, columns aligned across depths (reference notes §4.5). No wrapping: lines
//! stay whole for scripts.

use super::state::State;
use super::{InstanceView, ResourceStatus};
use crate::drivers::group_rank;
use crate::rid::natural_cmp;

struct Node {
    cols: Vec<String>,
    /// Extra lines shown in the label column under the node (status log lines).
    extra: Vec<String>,
    children: Vec<Node>,
}

impl Node {
    fn new(cols: Vec<String>) -> Node {
        Node {
            cols,
            extra: Vec::new(),
            children: Vec::new(),
        }
    }
}

struct Row {
    prefix: String,
    cols: Vec<String>,
}

pub fn render(view: &InstanceView, color: bool) -> String {
    let mut root = Node::new(vec![
        view.svcname.clone(),
        String::new(),
        view.overall().as_str().into(),
        String::new(),
    ]);
    let mut instances = Node::new(vec!["instances".into()]);
    let mut node = Node::new(vec![
        view.nodename.clone(),
        String::new(),
        view.agg.avail.as_str().into(),
        view.notices().join(", "),
    ]);
    node.children = resource_nodes(view);
    instances.children.push(node);
    root.children.push(instances);

    let mut rows = Vec::new();
    flatten(&root, None, "", &mut rows);
    layout(&rows, color)
}

/// Resources by group order, then plain ones before subset nodes, rids in natural order.
fn resource_nodes(view: &InstanceView) -> Vec<Node> {
    let mut sorted: Vec<&ResourceStatus> = view.resources.iter().collect();
    sorted.sort_by(|a, b| {
        (group_rank(&a.group), &a.group, &a.props.subset)
            .cmp(&(group_rank(&b.group), &b.group, &b.props.subset))
            .then_with(|| natural_cmp(&a.rid, &b.rid))
    });
    let mut out: Vec<Node> = Vec::new();
    let mut current_subset: Option<String> = None;
    for r in sorted {
        let leaf = resource_node(r);
        match &r.props.subset {
            None => {
                current_subset = None;
                out.push(leaf);
            }
            Some(s) => {
                let key = format!("{}:{s}", r.group);
                if current_subset.as_ref() != Some(&key) {
                    let parallel = view.subsets.get(&key).copied().unwrap_or(false);
                    let mark = if parallel { "//" } else { "" };
                    out.push(Node::new(vec![
                        key.clone(),
                        String::new(),
                        String::new(),
                        mark.into(),
                    ]));
                    current_subset = Some(key);
                }
                out.last_mut()
                    .expect("subset node pushed above")
                    .children
                    .push(leaf);
            }
        }
    }
    out
}

fn resource_node(r: &ResourceStatus) -> Node {
    let mut n = Node::new(vec![
        r.rid.clone(),
        r.flags(),
        r.status.as_str().into(),
        r.label.clone(),
    ]);
    n.extra = r
        .log
        .iter()
        .map(|l| format!("{}: {}", l.level, l.message))
        .collect();
    n
}

/// `last`: None for the root, else whether the node is its parent's last child.
fn flatten(node: &Node, last: Option<bool>, ancestors: &str, rows: &mut Vec<Row>) {
    let (prefix, continuation) = match last {
        None => (String::new(), String::new()),
        Some(true) => (format!("{ancestors}`- "), format!("{ancestors}   ")),
        Some(false) => (format!("{ancestors}|- "), format!("{ancestors}|  ")),
    };
    rows.push(Row {
        prefix,
        cols: node.cols.clone(),
    });
    for text in &node.extra {
        rows.push(Row {
            prefix: continuation.clone(),
            cols: vec![String::new(), String::new(), String::new(), text.clone()],
        });
    }
    let n = node.children.len();
    for (i, child) in node.children.iter().enumerate() {
        flatten(child, Some(i + 1 == n), &continuation, rows);
    }
}

fn layout(rows: &[Row], color: bool) -> String {
    let depth = rows.iter().map(|r| r.prefix.len() / 3).max().unwrap_or(0);
    let width = |i: usize, min: usize| {
        rows.iter()
            .filter_map(|r| r.cols.get(i))
            .map(|c| c.chars().count())
            .max()
            .unwrap_or(0)
            .max(min)
    };
    let widths = [width(0, 14), width(1, 0), 10, width(3, 0)];
    let mut out = String::new();
    for row in rows {
        out.push_str(&row.prefix);
        for (i, col) in row.cols.iter().enumerate() {
            let w = if i == 0 {
                widths[0] + 3 * depth - row.prefix.len()
            } else {
                widths[i]
            };
            let pad = " ".repeat(w.saturating_sub(col.chars().count()));
            match (i, color) {
                (2, true) => out.push_str(&paint(col)),
                _ => out.push_str(col),
            }
            out.push_str(&pad);
            out.push(' ');
        }
        out.push('\n');
    }
    out
}

/// ANSI colour for a status word.
fn paint(word: &str) -> String {
    let code = match State::parse(word) {
        Some(State::Up | State::StdbyUp) => "32",
        Some(State::Down | State::StdbyDown) => "31",
        Some(State::Warn) => "33",
        Some(_) => "34",
        None => return word.to_string(),
    };
    format!("\x1b[{code}m{word}\x1b[0m")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::resolve::Props;
    use crate::status::monitor::Monitor;
    use svcmgr_plugin_api::types::LogEntry;

    fn res(
        rid: &str,
        group: &str,
        status: State,
        label: &str,
        subset: Option<&str>,
    ) -> ResourceStatus {
        ResourceStatus {
            rid: rid.into(),
            group: group.into(),
            driver: String::new(),
            status,
            label: label.into(),
            log: Vec::new(),
            info: Default::default(),
            props: Props {
                subset: subset.map(String::from),
                ..Default::default()
            },
            driver_version: String::new(),
        }
    }

    fn view(resources: Vec<ResourceStatus>) -> InstanceView {
        let agg = crate::status::aggregate_statuses(&resources);
        InstanceView {
            svcname: "svc2".into(),
            nodename: "deb1.opensvc.com".into(),
            agg,
            frozen: Some(1.0),
            monitor: Monitor {
                status: "idle".into(),
                local_expect: "started".into(),
                last_action: "start".into(),
            },
            resources,
            subsets: [("container:01appservers".to_string(), true)].into(),
            updated: 0.0,
        }
    }

    fn trimmed(s: &str) -> Vec<String> {
        s.lines().map(|l| l.trim_end().to_string()).collect()
    }

    #[test]
    fn tutorial_layout() {
        let v = view(vec![
            res(
                "container#2",
                "container",
                State::Up,
                "docker container svc2.container.2@nginx",
                None,
            ),
            res(
                "container#1",
                "container",
                State::Up,
                "docker container svc2.container.1@google/pause",
                None,
            ),
            res(
                "ip#1",
                "ip",
                State::Up,
                "netns ipvlan-l2 5.196.34.151/27 eth0@container#1",
                None,
            ),
        ]);
        assert_eq!(
            trimmed(&render(&v, false)),
            [
                "svc2                               up",
                "`- instances",
                "   `- deb1.opensvc.com             up         frozen, idle, started",
                "      |- ip#1             ........ up         netns ipvlan-l2 5.196.34.151/27 eth0@container#1",
                "      |- container#1      ........ up         docker container svc2.container.1@google/pause",
                "      `- container#2      ........ up         docker container svc2.container.2@nginx",
            ]
        );
    }

    #[test]
    fn subsets_and_log_lines() {
        let mut down = res(
            "container#3",
            "container",
            State::Down,
            "c3",
            Some("01appservers"),
        );
        down.log.push(LogEntry::new(
            svcmgr_plugin_api::Level::Info,
            "can not find container id",
        ));
        let v = view(vec![
            res(
                "container#10",
                "container",
                State::Up,
                "c10",
                Some("01appservers"),
            ),
            down,
            res(
                "container#1",
                "container",
                State::Up,
                "c1",
                Some("00database"),
            ),
        ]);
        let text = render(&v, false);
        let lines = trimmed(&text);
        assert_eq!(lines[0], format!("svc2{}warn", " ".repeat(40)));
        assert_eq!(lines[3], "      |- container:00database");
        assert_eq!(
            lines[4],
            "      |  `- container#1            ........ up         c1"
        );
        assert_eq!(
            lines[5],
            "      `- container:01appservers                        //"
        );
        assert_eq!(
            lines[6],
            "         |- container#3            ........ down       c3"
        );
        assert_eq!(
            lines[7],
            format!(
                "         |{}info: can not find container id",
                " ".repeat(45)
            )
        );
        assert_eq!(
            lines[8],
            "         `- container#10           ........ up         c10"
        );
    }
}
