//! References inside values (decisions §4): `{name}`, `{svcname}`, `{nodename}`,
//! `{short_nodename}`, `{rid}`, `{rindex}`, `{var}`, `{id}`, `{env.<key>}`,
//! `{<section>.<keyword>}` and `{<keyword>}` (same section, then DEFAULT); `{#ref}` is the
//! number of words of `ref`, `{ref[i]}` its i-th word (from 0; negative from the end; empty
//! past the end). Unknown references stay verbatim; a loop is an error naming it.
//!
//! Each `section.keyword` is expanded once per [`Expander`] (memoised): values that refer
//! twice to values that refer twice… cost one expansion each, not one per path. An expanded
//! value is at most [`MAX_EXPANDED`] bytes.

use super::ServiceConfig;
use rustc_hash::FxHashMap;
use std::cell::RefCell;

/// The largest value an expansion may produce.
pub const MAX_EXPANDED: usize = 1 << 20;

/// Why a value cannot be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefError {
    /// The chain of `section.keyword` read, ending with the one read twice.
    #[error("reference loop: {}", .0.join(" -> "))]
    Loop(Vec<String>),
    #[error("reference {{{token}}}: index '{index}' is not an integer")]
    BadIndex { token: String, index: String },
    #[error("expanded, the value is larger than {} MiB (references repeated too often)", MAX_EXPANDED >> 20)]
    TooLarge,
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
    Expander::new(cfg, b).expand(section, key, value)
}

/// Expands the values of one config, remembering what each `section.keyword` expanded to.
pub struct Expander<'a> {
    cfg: &'a ServiceConfig,
    pub b: &'a Builtins<'a>,
    /// `section.keyword` → its expanded value. What a keyword expands to does not depend on
    /// who refers to it (builtins like `{rid}` are those of its own section).
    memo: RefCell<FxHashMap<String, String>>,
}

impl<'a> Expander<'a> {
    pub fn new(cfg: &'a ServiceConfig, b: &'a Builtins<'a>) -> Self {
        Expander {
            cfg,
            b,
            memo: RefCell::default(),
        }
    }

    /// Expand `value`, the value of `section.key` (where a loop report starts).
    pub fn expand(&self, section: &str, key: &str, value: &str) -> Result<String, RefError> {
        // Most values hold no reference: no chain to start.
        if !value.contains('{') {
            return Ok(value.to_string());
        }
        let mut stack = vec![format!("{section}.{key}")];
        self.expand_in(section, value, &mut stack)
    }

    /// Expand the references inside each of `words` (a shell-words value, split first): a
    /// substituted value stays inside its word, never split again (a caller's `PORT='1 sh -c
    /// …'` is one argument, not a command).
    pub fn expand_words(
        &self,
        section: &str,
        key: &str,
        words: Vec<String>,
    ) -> Result<Vec<String>, RefError> {
        words
            .into_iter()
            .map(|w| match w.contains('{') {
                // Most words hold no reference: kept as they are, not copied.
                false => Ok(w),
                true => self.expand(section, key, &w),
            })
            .collect()
    }

    fn expand_in(
        &self,
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
            match self.resolve(section, token, stack)? {
                Some(v) => out.push_str(&v),
                None => {
                    out.push('{');
                    out.push_str(token);
                    out.push('}');
                }
            }
            if out.len() > MAX_EXPANDED {
                return Err(RefError::TooLarge);
            }
            rest = &after[token_len + 1..];
        }
        out.push_str(rest);
        if out.len() > MAX_EXPANDED {
            return Err(RefError::TooLarge);
        }
        Ok(out)
    }

    /// A reference with its `#` (word count) and `[i]` (one word) forms applied.
    fn resolve(
        &self,
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
        let Some(value) = self.resolve_plain(section, token, stack)? else {
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
        &self,
        section: &str,
        token: &str,
        stack: &mut Vec<String>,
    ) -> Result<Option<String>, RefError> {
        let b = self.b;
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
            return self.follow("env", key, stack);
        }
        match token.rsplit_once('.') {
            Some((sect, key)) => self.follow(sect, key, stack),
            None => match self.follow(section, token, stack)? {
                Some(v) => Ok(Some(v)),
                None if section != "DEFAULT" => self.follow("DEFAULT", token, stack),
                None => Ok(None),
            },
        }
    }

    /// Expand the value of `sect.key` (once: later references reuse it), tracking the chain
    /// to detect loops.
    fn follow(
        &self,
        sect: &str,
        key: &str,
        stack: &mut Vec<String>,
    ) -> Result<Option<String>, RefError> {
        let Some(raw) = self.cfg.raw_scoped(sect, key, self.b.nodename) else {
            return Ok(None);
        };
        let here = format!("{sect}.{key}");
        if let Some(done) = self.memo.borrow().get(&here) {
            return Ok(Some(done.clone()));
        }
        if stack.contains(&here) {
            let mut chain = stack.clone();
            chain.push(here);
            return Err(RefError::Loop(chain));
        }
        stack.push(here);
        let expanded = self.expand_in(sect, raw, stack);
        let here = stack.pop().expect("pushed above");
        // Only a success is remembered: a loop is reported with the chain that met it.
        let expanded = expanded?;
        self.memo.borrow_mut().insert(here, expanded.clone());
        Ok(Some(expanded))
    }
}

fn is_ref_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '#' | '.' | ':' | '/' | '-' | '@' | '[' | ']')
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
    fn each_reference_is_expanded_once_and_values_are_bounded() {
        let chain = |form: &str| {
            let mut text = String::from("[env]\n");
            for i in 0..64 {
                text += &format!("k{i} = {}\n", form.replace('N', &(i + 1).to_string()));
            }
            text + "k64 = x\n"
        };
        // 2^64 paths, 65 expansions.
        let c = cfg(&chain("{#env.kN} {env.kN[0]}"));
        assert_eq!(expand(&c, &B, "app#1", "x", "{env.k0}").unwrap(), "2 2");
        let c = cfg(&chain("{env.kN}{env.kN}"));
        assert_eq!(
            expand(&c, &B, "app#1", "x", "{env.k0}").unwrap_err(),
            RefError::TooLarge
        );
    }

    #[test]
    fn words_keep_their_references_inside() {
        let c = cfg("[env]\nport = 1 2\n");
        let x = Expander::new(&c, &B);
        let words = vec!["--port={env.port}".to_string(), "{name}".to_string()];
        assert_eq!(
            x.expand_words("app#1", "start", words).unwrap(),
            ["--port=1 2", "svc"]
        );
    }

    #[test]
    fn node_scoping() {
        let c = cfg("[DEFAULT]\nx = generic\nx@n1.example = specific\n");
        assert_eq!(expand(&c, &B, "DEFAULT", "y", "{x}").unwrap(), "specific");
    }
}
