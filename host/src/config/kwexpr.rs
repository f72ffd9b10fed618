//! The `--kw` expressions of `set`, `get` and `unset`:
//! `[<section>.]<keyword>[@<scope>][[<index>]]<op><value>`, the section defaulting to DEFAULT,
//! and the list operators of OpenSVC (`+=`, `-=`, `|=`, `[i]=`). Pure functions.

/// What an expression does to the value it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`: replace the value (with an index: insert the value there, as om3 does).
    Set,
    /// `+=`: insert the value as one word, at the end or at the index.
    Append,
    /// `-=`: remove the first word equal to the value.
    Remove,
    /// `|=`: insert each word of the value that is not there yet.
    Merge,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KwExpr {
    /// The expression as given (for messages).
    pub text: String,
    pub section: String,
    /// The keyword, without its scope.
    pub keyword: String,
    /// `@<node>`, `@nodes`, …: the key written is `<keyword>@<scope>`.
    pub scope: Option<String>,
    pub index: Option<usize>,
    pub op: Op,
    /// None for `get`/`unset` expressions.
    pub value: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--kw '{expr}': {why}")]
pub struct KwError {
    pub expr: String,
    pub why: String,
}

/// Characters a keyword name is made of: an operator character is never part of one.
fn is_keyword_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn is_scope_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

impl KwExpr {
    /// Parse a `set` expression (`with_value`) or a `get`/`unset` one.
    pub fn parse(expr: &str, with_value: bool) -> Result<KwExpr, KwError> {
        let err = |why: String| KwError {
            expr: expr.to_string(),
            why,
        };
        let (mut lhs, value) = match (expr.split_once('='), with_value) {
            (Some((l, v)), true) => (l, Some(v.to_string())),
            (None, true) => return Err(err("expected [section.]keyword=value".into())),
            (Some(_), false) => return Err(err("expected [section.]keyword, without '='".into())),
            (None, false) => (expr, None),
        };
        let mut op = Op::Set;
        if with_value {
            for (c, o) in [('+', Op::Append), ('-', Op::Remove), ('|', Op::Merge)] {
                if let Some(rest) = lhs.strip_suffix(c) {
                    (lhs, op) = (rest, o);
                    break;
                }
            }
        }
        let mut index = None;
        if let Some((rest, i)) = lhs.strip_suffix(']').and_then(|l| l.rsplit_once('[')) {
            if !with_value {
                return Err(err("an index goes with '=', '+=' or '|='".into()));
            }
            let i = i
                .parse::<usize>()
                .map_err(|_| err(format!("index '{i}' is not a number from 0")))?;
            (lhs, index) = (rest, Some(i));
        }
        if index.is_some() && op == Op::Remove {
            return Err(err("'-=' removes a word wherever it is: no index".into()));
        }
        let (path, scope) = match lhs.split_once('@') {
            Some((p, s)) => (p, Some(s)),
            None => (lhs, None),
        };
        let (section, keyword) = path.rsplit_once('.').unwrap_or(("DEFAULT", path));
        if section.contains(char::is_whitespace) || super::ini::check_section_name(section).is_err()
        {
            return Err(err(format!(
                "invalid section name '{}'",
                section.escape_debug()
            )));
        }
        if keyword.is_empty() || !keyword.chars().all(is_keyword_char) {
            return Err(err(format!(
                "invalid keyword name '{}' (letters, digits and '_'; operators are \
                 +=, -=, |= and [index]=)",
                keyword.escape_debug()
            )));
        }
        if let Some(s) = scope.filter(|s| s.is_empty() || !s.chars().all(is_scope_char)) {
            return Err(err(format!("invalid scope '@{}'", s.escape_debug())));
        }
        Ok(KwExpr {
            text: expr.to_string(),
            section: section.to_string(),
            keyword: keyword.to_string(),
            scope: scope.map(String::from),
            index,
            op,
            value,
        })
    }

    /// The key as written in the file for one spelling of the keyword.
    pub fn key(&self, spelling: &str) -> String {
        match &self.scope {
            Some(s) => format!("{spelling}@{s}"),
            None => spelling.to_string(),
        }
    }

    /// The new value, from the current one (None: unset). Words are joined by one space, as
    /// OpenSVC writes lists.
    pub fn apply(&self, current: Option<&str>) -> Result<String, KwError> {
        let value = self.value.as_deref().unwrap_or_default();
        let mut words: Vec<&str> = current.unwrap_or_default().split_whitespace().collect();
        let at = match self.index {
            Some(i) if i > words.len() => {
                return Err(KwError {
                    expr: self.text.clone(),
                    why: format!(
                        "index {i} is past the end of the value ({} words)",
                        words.len()
                    ),
                })
            }
            Some(i) => i,
            None => words.len(),
        };
        match (self.op, self.index) {
            (Op::Set, None) => return Ok(value.to_string()),
            (Op::Set | Op::Append, _) => words.insert(at, value),
            (Op::Remove, _) => {
                if let Some(i) = words.iter().position(|w| *w == value) {
                    words.remove(i);
                }
            }
            (Op::Merge, _) => {
                let mut at = at;
                for w in value.split_whitespace() {
                    if !words.contains(&w) {
                        words.insert(at, w);
                        at += 1;
                    }
                }
            }
        }
        Ok(words.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(expr: &str) -> KwExpr {
        KwExpr::parse(expr, true).unwrap()
    }

    fn why(expr: &str, with_value: bool) -> String {
        KwExpr::parse(expr, with_value).unwrap_err().why
    }

    #[test]
    fn grammar() {
        let e = set("container#3.image=redis:3.0");
        assert_eq!(
            (
                e.section.as_str(),
                e.keyword.as_str(),
                e.op,
                e.value.as_deref()
            ),
            ("container#3", "image", Op::Set, Some("redis:3.0"))
        );
        let e = set("comment=a=b");
        assert_eq!(
            (e.section.as_str(), e.value.as_deref()),
            ("DEFAULT", Some("a=b"))
        );
        let e = set("env.l[2]+=c");
        assert_eq!((e.index, e.op), (Some(2), Op::Append));
        let e = set("nodes@n1.example.com|=n2");
        assert_eq!(
            (e.key("nodes"), e.op, e.section.as_str()),
            ("nodes@n1.example.com".to_string(), Op::Merge, "DEFAULT")
        );
        assert_eq!(set("app#1.tags-=x").op, Op::Remove);
        let e = KwExpr::parse("subset#container.docker:01.parallel", false).unwrap();
        assert_eq!(e.section, "subset#container.docker:01");
    }

    #[test]
    fn operator_characters_never_make_a_keyword() {
        assert!(why("env.foo*=c", true).starts_with("invalid keyword name 'foo*'"));
        assert!(why("env.foo+-=c", true).starts_with("invalid keyword name 'foo+'"));
        assert!(why("env.l[x]=c", true).contains("index 'x'"));
        assert!(why("env.l[-1]=c", true).contains("index '-1'"));
        assert!(why("env.l[0]-=c", true).contains("no index"));
        assert!(why("env.l", true).contains("keyword=value"));
        assert!(why("env.l+", false).starts_with("invalid keyword name 'l+'"));
        assert!(why("env.l=1", false).contains("without '='"));
        assert!(why("a b.c=1", true).contains("invalid section name"));
        assert!(why("k@=1", true).contains("invalid scope"));
    }

    #[test]
    fn list_operators_as_opensvc_writes_them() {
        let v = |expr: &str, cur: Option<&str>| set(expr).apply(cur);
        assert_eq!(v("env.l+=c", Some("a  b")).unwrap(), "a b c");
        assert_eq!(v("env.l+=c", None).unwrap(), "c");
        assert_eq!(v("env.l[0]+=c", Some("a b")).unwrap(), "c a b");
        assert_eq!(v("env.l[1]=c", Some("a b")).unwrap(), "a c b");
        assert_eq!(v("env.l[2]=c", Some("a b")).unwrap(), "a b c");
        assert_eq!(v("env.l-=a", Some("a b a")).unwrap(), "b a");
        assert_eq!(v("env.l-=z", Some("a b")).unwrap(), "a b");
        assert_eq!(v("env.l|=b c d c", Some("a b")).unwrap(), "a b c d");
        assert_eq!(v("env.l[0]|=c a d", Some("a b")).unwrap(), "c d a b");
        assert_eq!(v("env.l=x  y", Some("a b")).unwrap(), "x  y");
        let e = v("env.l[3]=c", Some("a b")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--kw 'env.l[3]=c': index 3 is past the end of the value (2 words)"
        );
    }
}
