//! Resource selection from `--rid`, `--tags`, `--subsets` (decisions §5) and the legacy
//! `start<group>` verbs' group filter. Pure functions.

use crate::rid::prefix;
use glob::Pattern;
use std::collections::BTreeSet;

/// What selection needs to know of one resource.
pub struct Candidate<'a> {
    pub rid: &'a str,
    pub group: &'a str,
    pub driver: &'a str,
    pub tags: &'a [String],
    pub subset: Option<&'a str>,
}

#[derive(Debug, Default, Clone)]
pub struct Filters {
    pub rid: Option<String>,
    pub tags: Option<String>,
    pub subsets: Option<String>,
    /// Driver groups (legacy verbs: `startfs` = disk and fs).
    pub groups: Option<Vec<String>>,
}

impl Filters {
    pub fn is_scoped(&self) -> bool {
        self.rid.is_some() || self.tags.is_some() || self.subsets.is_some() || self.groups.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error("no resource match the given --rid, --subset and --tags specifiers")]
    NoMatch,
    #[error("--rid {spec}: invalid pattern: {message}")]
    BadPattern { spec: String, message: String },
}

/// One comma-separated part of `--rid`.
enum RidSpec {
    /// Contains `#`: a rid, or a glob over rids.
    Rid(String),
    RidGlob(Pattern),
    /// Contains `.` (no `#`): a driver id.
    Driver(String),
    /// Otherwise the text before `#`, or a glob over it.
    Prefix(String),
    PrefixGlob(Pattern),
}

impl RidSpec {
    fn parse(spec: &str) -> Result<RidSpec, SelectError> {
        let glob = || {
            Pattern::new(spec).map_err(|e| SelectError::BadPattern {
                spec: spec.to_string(),
                message: e.msg.to_string(),
            })
        };
        let wild = spec.contains(['*', '?', '[']);
        Ok(match (spec.contains('#'), spec.contains('.'), wild) {
            (true, _, true) => RidSpec::RidGlob(glob()?),
            (true, _, false) => RidSpec::Rid(spec.to_string()),
            (false, true, _) => RidSpec::Driver(spec.to_string()),
            (false, false, true) => RidSpec::PrefixGlob(glob()?),
            (false, false, false) => RidSpec::Prefix(spec.to_string()),
        })
    }

    fn matches(&self, c: &Candidate<'_>) -> bool {
        match self {
            RidSpec::Rid(rid) => rid == c.rid,
            RidSpec::RidGlob(p) => p.matches(c.rid),
            RidSpec::Driver(id) => id == c.driver,
            RidSpec::Prefix(p) => p == prefix(c.rid),
            RidSpec::PrefixGlob(p) => p.matches(prefix(c.rid)),
        }
    }
}

/// `a+b,c` = (a and b) or c.
fn tags_match(expr: &str, tags: &[String]) -> bool {
    expr.split(',').filter(|alt| !alt.is_empty()).any(|alt| {
        alt.split('+')
            .filter(|t| !t.is_empty())
            .all(|t| tags.iter().any(|have| have == t))
    })
}

/// The selected rids, or None when no filter was given (the whole service).
pub fn select(all: &[Candidate<'_>], f: &Filters) -> Result<Option<BTreeSet<String>>, SelectError> {
    if !f.is_scoped() {
        return Ok(None);
    }
    let rid_specs = match &f.rid {
        Some(text) => Some(
            text.split(',')
                .map(|s| RidSpec::parse(s.trim()))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        None => None,
    };
    let chosen: BTreeSet<String> = all
        .iter()
        .filter(|c| {
            rid_specs
                .as_ref()
                .is_none_or(|specs| specs.iter().any(|s| s.matches(c)))
        })
        .filter(|c| {
            f.tags
                .as_deref()
                .is_none_or(|expr| tags_match(expr, c.tags))
        })
        .filter(|c| {
            f.subsets.as_deref().is_none_or(|list| {
                c.subset
                    .is_some_and(|s| list.split(',').any(|want| want.trim() == s))
            })
        })
        .filter(|c| {
            f.groups
                .as_ref()
                .is_none_or(|gs| gs.iter().any(|g| g == c.group))
        })
        .map(|c| c.rid.to_string())
        .collect();
    if chosen.is_empty() {
        Err(SelectError::NoMatch)
    } else {
        Ok(Some(chosen))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> Option<BTreeSet<String>> {
        Some(items.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn rid_forms_tags_subsets_intersection() {
        let web = vec!["web".to_string(), "front".to_string()];
        let db = vec!["db".to_string()];
        let all = [
            Candidate {
                rid: "container#1",
                group: "container",
                driver: "container.docker",
                tags: &db,
                subset: Some("00database"),
            },
            Candidate {
                rid: "container#2",
                group: "container",
                driver: "container.docker",
                tags: &web,
                subset: Some("01app"),
            },
            Candidate {
                rid: "ip#1",
                group: "ip",
                driver: "ip.netns",
                tags: &[],
                subset: None,
            },
            Candidate {
                rid: "vg#1",
                group: "disk",
                driver: "disk.vg",
                tags: &[],
                subset: None,
            },
        ];
        let f = |rid: Option<&str>, tags: Option<&str>, subsets: Option<&str>| Filters {
            rid: rid.map(String::from),
            tags: tags.map(String::from),
            subsets: subsets.map(String::from),
            groups: None,
        };
        assert_eq!(select(&all, &Filters::default()), Ok(None));
        assert_eq!(
            select(&all, &f(Some("container"), None, None)),
            Ok(set(&["container#1", "container#2"]))
        );
        assert_eq!(
            select(&all, &f(Some("ip.netns,vg"), None, None)),
            Ok(set(&["ip#1", "vg#1"]))
        );
        assert_eq!(
            select(&all, &f(Some("container#*"), Some("web+front,db"), None)),
            Ok(set(&["container#1", "container#2"]))
        );
        assert_eq!(
            select(&all, &f(Some("container#[2-9],v?"), None, None)),
            Ok(set(&["container#2", "vg#1"])),
            "character classes and globs over the section prefix"
        );
        assert_eq!(
            select(&all, &f(Some("container#[!1]"), None, None)),
            Ok(set(&["container#2"]))
        );
        assert!(matches!(
            select(&all, &f(Some("container#[1"), None, None)),
            Err(SelectError::BadPattern { spec, .. }) if spec == "container#[1"
        ));
        assert_eq!(
            select(&all, &f(None, Some("web+db"), None)),
            Err(SelectError::NoMatch)
        );
        assert_eq!(
            select(&all, &f(Some("container"), None, Some("01app"))),
            Ok(set(&["container#2"]))
        );
        assert_eq!(
            select(&all, &f(Some("disk"), None, None)),
            Err(SelectError::NoMatch),
            "--rid matches the section prefix"
        );
        let groups = Filters {
            groups: Some(vec!["disk".into(), "fs".into()]),
            ..Default::default()
        };
        assert_eq!(
            select(&all, &groups),
            Ok(set(&["vg#1"])),
            "legacy verbs filter by driver group"
        );
    }
}
