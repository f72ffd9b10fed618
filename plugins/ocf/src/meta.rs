//! An OCF agent's meta-data: its parameters and advised action timeouts, read from the XML
//! document its `meta-data` action prints (OCF 1.0 and 1.1 `resource-agent` documents).

use roxmltree::{Document, Node, ParsingOptions};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use svcmgr_plugin_api::types::parse_duration;

/// What svcmgr uses of an agent's meta-data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentMeta {
    /// The `name` attribute of `resource-agent`.
    pub name: String,
    pub shortdesc: String,
    pub longdesc: String,
    pub params: Vec<Param>,
    /// Advised timeout of each action, in milliseconds (the first one given per action).
    pub timeouts: BTreeMap<String, u64>,
}

/// One `parameter` element.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Param {
    pub name: String,
    pub required: bool,
    /// `unique="1"`, or a member of an OCF 1.1 `unique-group`.
    pub unique: bool,
    /// The `content` type: `string`, `integer`, `boolean`, `time`, `select`…
    pub kind: String,
    pub default: Option<String>,
    pub shortdesc: String,
    pub longdesc: String,
}

impl AgentMeta {
    /// Parse a meta-data document.
    pub fn parse(xml: &str) -> Result<AgentMeta, String> {
        // Agents declare `<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">`; nothing is fetched.
        let opts = ParsingOptions {
            allow_dtd: true,
            ..ParsingOptions::default()
        };
        let doc = Document::parse_with_options(xml, opts).map_err(|e| e.to_string())?;
        let root = doc.root_element();
        if root.tag_name().name() != "resource-agent" {
            return Err(format!(
                "the root element is <{}>, not <resource-agent>",
                root.tag_name().name()
            ));
        }
        let params = child(root, "parameters")
            .map(|ps| {
                elements(ps, "parameter")
                    .map(Param::parse)
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        let mut timeouts = BTreeMap::new();
        if let Some(actions) = child(root, "actions") {
            for action in elements(actions, "action") {
                let (Some(name), Some(ms)) = (
                    action.attribute("name"),
                    action.attribute("timeout").and_then(ocf_duration),
                ) else {
                    continue;
                };
                timeouts
                    .entry(name.to_string())
                    .or_insert(ms.as_millis() as u64);
            }
        }
        Ok(AgentMeta {
            name: root.attribute("name").unwrap_or_default().to_string(),
            shortdesc: text_of(root, "shortdesc"),
            longdesc: text_of(root, "longdesc"),
            params,
            timeouts,
        })
    }

    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }

    /// The parameter that names a resource best: the first unique or required one.
    pub fn main_param(&self) -> Option<&Param> {
        self.params.iter().find(|p| p.unique || p.required)
    }

    /// The advised timeout of an action.
    pub fn timeout(&self, action: &str) -> Option<Duration> {
        self.timeouts
            .get(action)
            .map(|ms| Duration::from_millis(*ms))
    }

    /// `a (required), b, c`: the parameter list error messages show.
    pub fn param_list(&self) -> String {
        let names: Vec<String> = self
            .params
            .iter()
            .map(|p| match p.required {
                true => format!("{} (required)", p.name),
                false => p.name.clone(),
            })
            .collect();
        match names.is_empty() {
            true => "none".into(),
            false => names.join(", "),
        }
    }
}

impl Param {
    fn parse(node: Node<'_, '_>) -> Result<Param, String> {
        let name = node
            .attribute("name")
            .filter(|n| !n.is_empty())
            .ok_or("a <parameter> has no name")?;
        let content = child(node, "content");
        Ok(Param {
            name: name.to_string(),
            required: node.attribute("required") == Some("1"),
            unique: node.attribute("unique") == Some("1")
                || node.attribute("unique-group").is_some(),
            kind: content
                .and_then(|c| c.attribute("type"))
                .unwrap_or("string")
                .to_string(),
            default: content
                .and_then(|c| c.attribute("default"))
                .map(String::from),
            shortdesc: text_of(node, "shortdesc"),
            longdesc: text_of(node, "longdesc"),
        })
    }
}

/// OCF time values: `20s`, `20` (seconds), `2m`, `2min`, `500ms`, `1h`.
fn ocf_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let t = t
        .strip_suffix("min")
        .map(|n| format!("{n}m"))
        .unwrap_or_else(|| t.to_string());
    parse_duration(&t).ok()
}

fn elements<'a, 'i>(parent: Node<'a, 'i>, tag: &'static str) -> impl Iterator<Item = Node<'a, 'i>> {
    parent
        .children()
        .filter(move |n| n.is_element() && n.tag_name().name() == tag)
}

fn child<'a, 'i>(parent: Node<'a, 'i>, tag: &'static str) -> Option<Node<'a, 'i>> {
    elements(parent, tag).next()
}

/// The text of a description element (the English one when several languages are given),
/// with its lines trimmed and blank lines at either end dropped.
fn text_of(parent: Node<'_, '_>, tag: &'static str) -> String {
    let english = elements(parent, tag).find(|n| n.attribute("lang").is_none_or(|l| l == "en"));
    let Some(node) = english.or_else(|| child(parent, tag)) else {
        return String::new();
    };
    let text: String = node
        .descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect();
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    lines.join("\n").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of Debian's heartbeat agents' meta-data.
    const XML: &str = r#"<?xml version="1.0"?>
<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">
<resource-agent name="IPaddr2" version="1.0">
<version>1.0</version>
<longdesc lang="en">
This Linux-specific resource manages IP alias IP addresses.
It can add an IP alias, or remove one.
</longdesc>
<shortdesc lang="en">Manages virtual IPv4 and IPv6 addresses (Linux specific version)</shortdesc>
<parameters>
<parameter name="ip" unique="1" required="1">
<longdesc lang="en">The IPv4 address.</longdesc>
<shortdesc lang="en">IPv4 or IPv6 address</shortdesc>
<content type="string" default="" />
</parameter>
<parameter name="nic" unique="0">
<longdesc lang="de">Die Schnittstelle.</longdesc>
<longdesc lang="en">The base network interface.</longdesc>
<shortdesc lang="en">Network interface</shortdesc>
<content type="string"/>
</parameter>
<parameter name="cidr_netmask">
<longdesc lang="en">The netmask.</longdesc>
<shortdesc lang="en">CIDR netmask</shortdesc>
<content type="integer" default="24"/>
</parameter>
</parameters>
<actions>
<action name="start"   timeout="20s" />
<action name="stop"    timeout="2min" />
<action name="monitor" timeout="20s" interval="10s" depth="0" />
<action name="monitor" timeout="40s" interval="30s" depth="10" />
<action name="meta-data"  timeout="5" />
<action name="validate-all" timeout="bogus" />
</actions>
</resource-agent>
"#;

    #[test]
    fn parses_parameters_and_timeouts() {
        let m = AgentMeta::parse(XML).unwrap();
        assert_eq!(m.name, "IPaddr2");
        assert_eq!(
            m.shortdesc,
            "Manages virtual IPv4 and IPv6 addresses (Linux specific version)"
        );
        assert_eq!(
            m.longdesc,
            "This Linux-specific resource manages IP alias IP addresses.\nIt can add an IP alias, or remove one."
        );
        let names: Vec<&str> = m.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["ip", "nic", "cidr_netmask"]);
        let ip = m.param("ip").unwrap();
        assert!(ip.required && ip.unique);
        assert_eq!(ip.default.as_deref(), Some(""));
        let nic = m.param("nic").unwrap();
        assert!(!nic.required && !nic.unique);
        assert_eq!(nic.default, None);
        assert_eq!(nic.longdesc, "The base network interface.");
        assert_eq!(m.param("cidr_netmask").unwrap().kind, "integer");
        assert_eq!(m.timeout("start"), Some(Duration::from_secs(20)));
        assert_eq!(m.timeout("stop"), Some(Duration::from_secs(120)));
        // The first monitor action gives the monitor timeout.
        assert_eq!(m.timeout("monitor"), Some(Duration::from_secs(20)));
        assert_eq!(m.timeout("meta-data"), Some(Duration::from_secs(5)));
        assert_eq!(m.timeout("validate-all"), None);
        assert_eq!(m.main_param().unwrap().name, "ip");
        assert_eq!(m.param_list(), "ip (required), nic, cidr_netmask");
    }

    #[test]
    fn ocf_1_1_unique_group_counts_as_unique() {
        let xml = r#"<resource-agent name="x"><version>1.1</version>
            <parameters>
              <parameter name="a"><content type="string"/></parameter>
              <parameter name="b" unique-group="ab"><content type="string"/></parameter>
            </parameters><actions/></resource-agent>"#;
        let m = AgentMeta::parse(xml).unwrap();
        assert_eq!(m.main_param().unwrap().name, "b");
        assert_eq!(m.shortdesc, "");
    }

    #[test]
    fn rejects_what_is_not_agent_meta_data() {
        assert!(AgentMeta::parse("usage: foo {start|stop}").is_err());
        assert_eq!(
            AgentMeta::parse("<html/>").unwrap_err(),
            "the root element is <html>, not <resource-agent>"
        );
        assert_eq!(
            AgentMeta::parse(
                "<resource-agent name='x'><parameters><parameter/></parameters></resource-agent>"
            )
            .unwrap_err(),
            "a <parameter> has no name"
        );
    }

    #[test]
    fn no_parameters_is_fine() {
        let m = AgentMeta::parse("<resource-agent name='x'/>").unwrap();
        assert!(m.params.is_empty());
        assert_eq!(m.param_list(), "none");
        assert_eq!(m.main_param(), None);
    }
}
