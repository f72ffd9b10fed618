//! References inside values (decisions §4): `{name}`, `{svcname}`, `{nodename}`,
//! `{short_nodename}`, `{rid}`, `{rindex}`, `{var}`, `{id}`, `{env.<key>}`,
//! `{<section>.<keyword>}` and `{<keyword>}` (same section, then DEFAULT); `{#ref}` is the
//! number of words of `ref`, `{ref[i]}` its i-th word (from 0; negative from the end; empty
//! past the end). Unknown references stay verbatim; a loop is an error naming it.

use super::ServiceConfig;

/// Why a value cannot be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefError {
    /// The chain of `section.keyword` read, ending with the one read twice.
    #[error("reference loop: {}", .0.join(" -> "))]
    Loop(Vec<String>),
    #[error("reference {{{token}}}: index '{index}' is not an integer")]
    BadIndex { token: String, index: String },
}

impl RefError {
    /// The keywords of a loop, whichever of them the reading started from: the same loop
    /// met from two places is one problem.
    pub fn cycle(&self) -> Option<std::collections::BTreeSet<&str>> {
        let RefError::Loop(chain) = self else {
            return None;
        };
        let last = chain.last()?;
        let first = chain.iter().position(|k| k == last)?;
        Some(chain[first..].iter().map(String::as_str).collect())
    }
}

/// What builtin references expand to.
pub struct Builtins<'a> {
    pub svcname: &'a str,
    pub nodename: &'a str,
    pub var: &'a str,
    pub id: &'a str,
}

/// Expand `value`, the value of `section.key` (where a loop report starts).
pub fn expand(
    cfg: &ServiceConfig,
    b: &Builtins<'_>,
    section: &str,
    key: &str,
    value: &str,
) -> Result<String, RefError> {
    // Most values hold no reference: no chain to start.
    if !value.contains('{') {
        return Ok(value.to_string());
    }
    let mut stack = vec![format!("{section}.{key}")];
    expand_in(cfg, b, section, value, &mut stack)
}

fn expand_in(
    cfg: &ServiceConfig,
    b: &Builtins<'_>,
    section: &str,
    value: &str,
    stack: &mut Vec<String>,
) -> Result<String, RefError> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let token_len = after.find(|c: char| !is_ref_char(c)).unwrap_or(after.len());
        if token_len == 0 || !after[token_len..].starts_with('}') {
            out.push('{');
            rest = after;
            continue;
        }
        let token = &after[..token_len];
        match resolve(cfg, b, section, token, stack)? {
            Some(v) => out.push_str(&v),
            None => {
                out.push('{');
                out.push_str(token);
                out.push('}');
            }
        }
        rest = &after[token_len + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn is_ref_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '#' | '.' | ':' | '/' | '-' | '@' | '[' | ']')
}

/// A reference with its `#` (word count) and `[i]` (one word) forms applied.
fn resolve(
    cfg: &ServiceConfig,
    b: &Builtins<'_>,
    section: &str,
    token: &str,
    stack: &mut Vec<String>,
) -> Result<Option<String>, RefError> {
    let (count, token) = match token.strip_prefix('#') {
        Some(rest) => (true, rest),
        None => (false, token),
    };
    let (token, index) = match token.strip_suffix(']').and_then(|t| t.split_once('[')) {
        Some((name, i)) => {
            let i: i64 = i.parse().map_err(|_| RefError::BadIndex {
                token: token.to_string(),
                index: i.to_string(),
            })?;
            (name, Some(i))
        }
        None => (token, None),
    };
    let Some(value) = resolve_plain(cfg, b, section, token, stack)? else {
        return Ok(None);
    };
    let words = || value.split_whitespace();
    Ok(Some(match (count, index) {
        // As OpenSVC: the count wins over an index.
        (true, _) => words().count().to_string(),
        (false, Some(i)) => {
            let n = words().count() as i64;
            let at = if i < 0 { n + i } else { i };
            match usize::try_from(at) {
                Ok(at) => words().nth(at).unwrap_or("").to_string(),
                Err(_) => String::new(),
            }
        }
        (false, None) => value,
    }))
}

fn resolve_plain(
    cfg: &ServiceConfig,
    b: &Builtins<'_>,
    section: &str,
    token: &str,
    stack: &mut Vec<String>,
) -> Result<Option<String>, RefError> {
    let builtin = match token {
        "name" | "svcname" | "path" | "svcpath" => Some(b.svcname.to_string()),
        "nodename" => Some(b.nodename.to_string()),
        "short_nodename" => Some(b.nodename.split('.').next().unwrap_or("").to_string()),
        "rid" => Some(section.to_string()),
        "rindex" => Some(crate::rid::index(section).to_string()),
        "var" | "private_var" => Some(b.var.to_string()),
        "id" => Some(b.id.to_string()),
        "namespace" => Some("root".to_string()),
        "kind" => Some("svc".to_string()),
        _ => None,
    };
    if builtin.is_some() {
        return Ok(builtin);
    }
    if let Some(key) = token.strip_prefix("env.") {
        if let Ok(v) = std::env::var(key.to_uppercase()) {
            return Ok(Some(v));
        }
        return follow(cfg, b, "env", key, stack);
    }
    match token.rsplit_once('.') {
        Some((sect, key)) => follow(cfg, b, sect, key, stack),
        None => match follow(cfg, b, section, token, stack)? {
            Some(v) => Ok(Some(v)),
            None if section != "DEFAULT" => follow(cfg, b, "DEFAULT", token, stack),
            None => Ok(None),
        },
    }
}

/// Expand the value of `sect.key`, tracking the chain to detect loops.
fn follow(
    cfg: &ServiceConfig,
    b: &Builtins<'_>,
    sect: &str,
    key: &str,
    stack: &mut Vec<String>,
) -> Result<Option<String>, RefError> {
    let Some(raw) = cfg.raw_scoped(sect, key, b.nodename) else {
        return Ok(None);
    };
    let here = format!("{sect}.{key}");
    if stack.contains(&here) {
        let mut chain = stack.clone();
        chain.push(here);
        return Err(RefError::Loop(chain));
    }
    stack.push(here);
    let expanded = expand_in(cfg, b, sect, raw, stack);
    stack.pop();
    expanded.map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> ServiceConfig {
        ServiceConfig::from_text("svc", "/x/svc.conf", text).unwrap()
    }
    const B: Builtins<'static> = Builtins {
        svcname: "svc",
        nodename: "n1.example",
        var: "/var/svc",
        id: "ID",
    };

    #[test]
    fn builtins_sections_and_fallbacks() {
        let c = cfg("[DEFAULT]\nbase = /srv\n[env]\nport = 80\n[app#1]\nstart = x\n");
        let e = |v: &str| expand(&c, &B, "app#1", "x", v).unwrap();
        assert_eq!(e("{name}.{rindex}@{short_nodename}"), "svc.1@n1");
        assert_eq!(e("{base}/{app#1.start}/{env.port}"), "/srv/x/80");
        assert_eq!(
            e("{unknown} {DEFAULT.nope} {\"json\": 1}"),
            "{unknown} {DEFAULT.nope} {\"json\": 1}"
        );
    }

    #[test]
    fn word_counts_and_indexed_words() {
        let c = cfg(
            "[DEFAULT]\nnodes = n1 n2 n3\n[env]\nlist = a  b c\nempty =\n[app#1]\ntags = x y\n",
        );
        let e = |v: &str| expand(&c, &B, "app#1", "x", v).unwrap();
        assert_eq!(e("{#env.list} {#nodes} {#tags} {#env.empty}"), "3 3 2 0");
        assert_eq!(e("{env.list[0]}-{env.list[2]}-{env.list[-1]}"), "a-c-c");
        assert_eq!(e("[{env.list[3]}] [{env.list[-4]}]"), "[] []");
        assert_eq!(
            e("{app#1.tags[1]} {DEFAULT.nodes[1]} {name[0]}"),
            "y n2 svc"
        );
        assert_eq!(e("{#env.nope} {env.nope[0]}"), "{#env.nope} {env.nope[0]}");
        assert_eq!(
            expand(&c, &B, "app#1", "x", "{env.list[a]}")
                .unwrap_err()
                .to_string(),
            "reference {env.list[a]}: index 'a' is not an integer"
        );
    }

    #[test]
    fn loops_are_named() {
        let c = cfg("[DEFAULT]\na = {b}\nb = {DEFAULT.a}\n");
        let err = expand(&c, &B, "DEFAULT", "a", "{b}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "reference loop: DEFAULT.a -> DEFAULT.b -> DEFAULT.a"
        );
        let from_elsewhere = expand(&c, &B, "DEFAULT", "x", "{a}").unwrap_err();
        assert_eq!(err.cycle(), from_elsewhere.cycle());
    }

    #[test]
    fn node_scoping() {
        let c = cfg("[DEFAULT]\nx = generic\nx@n1.example = specific\n");
        assert_eq!(expand(&c, &B, "DEFAULT", "y", "{x}").unwrap(), "specific");
    }
}
