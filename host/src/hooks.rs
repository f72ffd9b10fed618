//! What the host does around every resource's action, whatever its driver (reference notes
//! §2.8): triggers (`pre_<verb>`, `blocking_pre_<verb>`, `post_<verb>`,
//! `blocking_post_<verb>`) and requirements (`<verb>_requires`). Parsed and described here;
//! the executor runs and checks them.

use crate::config::resolve::Props;
use crate::status::state::State;
use std::fmt;

/// The resource verbs that have triggers and requirements.
pub const VERBS: [&str; 4] = ["start", "stop", "provision", "unprovision"];

/// Before or after the driver's call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Pre,
    Post,
}

/// One trigger command.
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    /// The keyword that declared it (`blocking_pre_start`), named in its log lines.
    pub keyword: String,
    pub verb: String,
    pub when: When,
    /// A failure fails the resource's action (otherwise it is a warning).
    pub blocking: bool,
    pub argv: Vec<String>,
}

impl Trigger {
    /// The command line as logged: `<kw>: <cmd>` (words quoted as a shell would need).
    pub fn line(&self) -> String {
        format!("{}: {}", self.keyword, shell_words::join(&self.argv))
    }
}

/// The trigger keywords of `verb` in the order they run at `when`: the non-blocking one,
/// then the blocking one (as OpenSVC does).
pub fn trigger_keywords(verb: &str, when: When) -> [(String, bool); 2] {
    let w = match when {
        When::Pre => "pre",
        When::Post => "post",
    };
    [
        (format!("{w}_{verb}"), false),
        (format!("blocking_{w}_{verb}"), true),
    ]
}

/// One `<verb>_requires` entry: the resource and the states it must be in.
#[derive(Debug, Clone, PartialEq)]
pub struct Require {
    pub rid: String,
    pub states: Vec<State>,
}

impl Require {
    /// Whether `current` satisfies this requirement.
    pub fn met_by(&self, current: State) -> bool {
        self.states.iter().any(|s| s.as_str() == current.as_str())
    }

    /// The error of an unmet requirement.
    pub fn unmet(&self, current: State) -> String {
        let states: Vec<&str> = self.states.iter().map(|s| s.as_str()).collect();
        format!(
            "requires on resource {} in state {}, current state {}",
            self.rid,
            states.join(" or "),
            current.as_str()
        )
    }
}

impl fmt::Display for Require {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let states: Vec<&str> = self.states.iter().map(|s| s.as_str()).collect();
        write!(f, "{}({})", self.rid, states.join(","))
    }
}

/// What a dry run shows of a resource's step besides the driver call: its `noaction` tag,
/// requirements and triggers, in the order they act.
pub fn describe(props: &Props, verb: &str) -> Vec<String> {
    if props.has_tag("noaction") {
        return vec!["noaction tag: not acted on".into()];
    }
    let mut lines = Vec::new();
    let requires = props.requires(verb);
    if !requires.is_empty() {
        let list: Vec<String> = requires.iter().map(Require::to_string).collect();
        lines.push(format!("{verb}_requires: {}", list.join(" ")));
    }
    for when in [When::Pre, When::Post] {
        lines.extend(props.triggers(verb, when).map(Trigger::line));
    }
    lines
}

const STATE_NAMES: &str = "up, down, warn, n/a, undef, stdby up, stdby down";

/// Parse a `<verb>_requires` value: whitespace-separated `rid` or `rid(state,state)`; the
/// states may hold spaces (`stdby up`); without a list, `up` or `stdby up`.
pub fn parse_requires(text: &str) -> Result<Vec<Require>, String> {
    let mut out = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '(')
            .unwrap_or(rest.len());
        let rid = &rest[..end];
        if rid.is_empty() {
            return Err(format!("'{text}': a state list must follow a rid"));
        }
        rest = &rest[end..];
        let states = match rest.strip_prefix('(') {
            Some(inner) => {
                let close = inner
                    .find(')')
                    .ok_or_else(|| format!("'{text}': '(' after {rid} is not closed"))?;
                rest = &inner[close + 1..];
                let states = inner[..close]
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        State::parse(s)
                            .ok_or_else(|| format!("unknown state '{s}' (states: {STATE_NAMES})"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if states.is_empty() {
                    return Err(format!("'{text}': empty state list after {rid}"));
                }
                states
            }
            None => vec![State::Up, State::StdbyUp],
        };
        if rest.starts_with(|c: char| !c.is_whitespace()) {
            return Err(format!("'{text}': expected a space after {rid}(…)"));
        }
        out.push(Require {
            rid: rid.to_string(),
            states,
        });
        rest = rest.trim_start();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requires_grammar() {
        let r = parse_requires("ip#0  fs#0(down, stdby down) app#db(up)").unwrap();
        assert_eq!(
            r.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
            ["ip#0(up,stdby up)", "fs#0(down,stdby down)", "app#db(up)"]
        );
        assert!(parse_requires("").unwrap().is_empty());
        assert!(parse_requires("app#1(upp)")
            .unwrap_err()
            .contains("unknown state 'upp'"));
        assert!(parse_requires("app#1(up")
            .unwrap_err()
            .contains("not closed"));
        assert!(parse_requires("(up)").is_err());
        assert!(parse_requires("app#1(up)x").is_err());
    }

    #[test]
    fn requirement_messages() {
        let r = &parse_requires("app#db").unwrap()[0];
        assert!(r.met_by(State::StdbyUp) && r.met_by(State::Up) && !r.met_by(State::Down));
        assert_eq!(
            r.unmet(State::Down),
            "requires on resource app#db in state up or stdby up, current state down"
        );
    }

    #[test]
    fn trigger_order() {
        assert_eq!(
            trigger_keywords("stop", When::Post),
            [
                ("post_stop".to_string(), false),
                ("blocking_post_stop".to_string(), true)
            ]
        );
    }
}
