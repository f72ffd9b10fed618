//! A line-based INI document that keeps comments, blank lines, key order and the exact text of
//! untouched lines across `set`/`unset` rewrites (rust-ini drops comments).

use compact_str::CompactString;
use rustc_hash::FxHashMap;
use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Lines before the first section header (comments, blanks).
    pub preamble: Vec<String>,
    sections: Vec<Section>,
    /// Section name → position in `sections`: lookups by name stay O(1) however many
    /// sections a config has (a linear search made loading quadratic).
    index: FxHashMap<CompactString, usize>,
}

// Names, keys, values and lines are `CompactString`s: most are short enough to be kept inline,
// which spares a large config (10,000 sections) tens of thousands of allocations.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub name: CompactString,
    pub lines: Vec<Line>,
    /// Made by a rewrite rather than read from the file: only such sections get a blank
    /// separator line, so untouched text renders exactly as it was read.
    pub created: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// `key = value`; `raw` is the original text while the entry is untouched, `line` its
    /// 1-based line in the file read (0 for an entry a rewrite made).
    Entry {
        key: CompactString,
        value: CompactString,
        raw: Option<CompactString>,
        line: usize,
    },
    /// A comment or blank line, verbatim.
    Other(CompactString),
}

/// A syntax error with its 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// A name or value that cannot be written: it would not read back as itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unwritable(pub String);

fn is_comment_or_blank(line: &str) -> bool {
    let t = line.trim_start();
    t.is_empty() || t.starts_with('#') || t.starts_with(';')
}

/// Why `name` cannot be a section or keyword name (`what` says which, for the message): the
/// grammar has no newline, control character, `[`, `]` or `=` in a name, and no blank around
/// it; a keyword does not start with a comment character either. Checked when a file is read
/// and before anything is written, so that no name can inject a line.
fn check_name(what: &str, name: &str) -> Result<(), Unwritable> {
    // Most names are printable ASCII without a blank: one pass over the bytes says they pass
    // (every name of a config is checked when it is read).
    let plain = |b: u8| b.is_ascii_graphic() && !matches!(b, b'[' | b']' | b'=');
    if !name.is_empty() && name.bytes().all(plain) {
        return Ok(());
    }
    let bad = |why: &str| {
        Err(Unwritable(format!(
            "invalid {what} name '{}': {why}",
            name.escape_debug()
        )))
    };
    if name.trim().is_empty() {
        return bad("empty");
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return bad(&format!("control character U+{:04X}", c as u32));
    }
    if let Some(c) = name.chars().find(|c| matches!(c, '[' | ']' | '=')) {
        return bad(&format!("'{c}' is not allowed"));
    }
    if name.trim() != name {
        return bad("blank at either end");
    }
    Ok(())
}

pub fn check_section_name(name: &str) -> Result<(), Unwritable> {
    check_name("section", name)
}

pub fn check_key(key: &str) -> Result<(), Unwritable> {
    check_name("keyword", key)?;
    if key.starts_with(['#', ';']) {
        return Err(Unwritable(format!(
            "invalid keyword name '{}': a line starting with '{}' is a comment",
            key.escape_debug(),
            &key[..1]
        )));
    }
    Ok(())
}

/// The value as the file will hold it: the text a read gives back. Blanks around the value
/// and around each of its lines go (a read trims them), so do empty lines (a read cannot
/// tell them from the end of the value); a NUL byte, or a line INI reads as a comment, is
/// refused.
pub fn storable_value(value: &str) -> Result<String, Unwritable> {
    if value.contains('\0') {
        return Err(Unwritable("the value holds a NUL byte".into()));
    }
    let lines: Vec<&str> = value
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if let Some(l) = lines.iter().skip(1).find(|l| l.starts_with(['#', ';'])) {
        return Err(Unwritable(format!(
            "a line of the value starts with '{}', which INI reads as a comment: '{}'",
            &l[..1],
            l.escape_debug()
        )));
    }
    Ok(lines.join("\n"))
}

/// Decode a config file's bytes; an error names the first line that is not UTF-8.
pub fn decode(bytes: &[u8]) -> Result<&str, ParseError> {
    std::str::from_utf8(bytes).map_err(|e| ParseError {
        line: bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1,
        message: "not valid UTF-8".into(),
    })
}

impl Document {
    pub fn new() -> Self {
        Document {
            preamble: Vec::new(),
            sections: Vec::new(),
            index: FxHashMap::default(),
        }
    }

    /// The sections in file order.
    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    fn push_section(&mut self, name: &str, created: bool) {
        let name = CompactString::from(name);
        self.index.insert(name.clone(), self.sections.len());
        self.sections.push(Section {
            name,
            lines: Vec::new(),
            created,
        });
    }

    fn reindex(&mut self) {
        self.index = self
            .sections
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), i))
            .collect();
    }

    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let mut doc = Document::new();
        // Room for every section at once (a `[` starts each header, and rarely anything
        // else): grown by doubling, the sections and their index were copied over and over.
        let brackets = text.bytes().filter(|&b| b == b'[').count();
        doc.sections.reserve(brackets);
        doc.index.reserve(brackets);
        // The lines of the section being read, moved into it at its end in a vector of their
        // exact size (pushed to one by one, a section's vector holds room for four).
        let mut lines: Vec<Line> = Vec::new();
        // The line holding the first NUL byte, if any (searched once, not in every line).
        let nul_line = text.find('\0').map(|at| {
            text.as_bytes()[..at]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
        });
        for (n, line) in text.lines().enumerate() {
            let err = |message: String| ParseError {
                line: n + 1,
                message,
            };
            let trimmed = line.trim();
            if nul_line == Some(n) {
                return Err(err("NUL byte".into()));
            }
            // A continuation line (leading whitespace) extends the previous value.
            if line.starts_with([' ', '\t']) && !trimmed.is_empty() && !is_comment_or_blank(line) {
                match lines.last_mut() {
                    Some(Line::Entry { value, raw, .. }) => {
                        value.push('\n');
                        value.push_str(trimmed);
                        if let Some(r) = raw {
                            r.push('\n');
                            r.push_str(line);
                        }
                        continue;
                    }
                    _ => return Err(err("continuation line without a keyword before it".into())),
                }
            }
            if is_comment_or_blank(line) {
                match doc.sections.is_empty() {
                    false => lines.push(Line::Other(line.into())),
                    true => doc.preamble.push(line.to_string()),
                }
            } else if let Some(inner) = trimmed.strip_prefix('[') {
                let name = inner
                    .strip_suffix(']')
                    .ok_or_else(|| {
                        err(format!("section header '{trimmed}' lacks its closing ']'"))
                    })?
                    .trim();
                check_section_name(name).map_err(|e| err(e.0))?;
                if doc.section(name).is_some() {
                    return Err(err(format!("section [{name}] appears twice")));
                }
                doc.close_section(&mut lines);
                doc.push_section(name, false);
            } else if let Some((k, v)) = line.split_once('=') {
                let key = k.trim();
                if key.is_empty() {
                    return Err(err(format!("'{trimmed}' has no keyword before '='")));
                }
                check_key(key).map_err(|e| err(e.0))?;
                if doc.sections.is_empty() {
                    return Err(err(format!("keyword '{key}' outside any section")));
                }
                lines.push(Line::Entry {
                    key: key.into(),
                    value: v.trim().into(),
                    raw: Some(line.into()),
                    line: n + 1,
                });
            } else {
                return Err(err(format!(
                    "'{trimmed}' is neither a section, a 'keyword = value' nor a comment"
                )));
            }
        }
        doc.close_section(&mut lines);
        Ok(doc)
    }

    /// Give the last section the `lines` read for it, in a vector of their exact size.
    fn close_section(&mut self, lines: &mut Vec<Line>) {
        if let Some(s) = self.sections.last_mut() {
            // Moved into a vector of their size; `lines` keeps its room for the next section.
            s.lines = Vec::with_capacity(lines.len());
            s.lines.append(lines);
        }
    }

    pub fn section(&self, name: &str) -> Option<&Section> {
        self.index.get(name).map(|&i| &self.sections[i])
    }

    fn section_mut(&mut self, name: &str) -> Option<&mut Section> {
        self.index.get(name).map(|&i| &mut self.sections[i])
    }

    fn section_mut_or_new(&mut self, name: &str) -> &mut Section {
        if let Some(&i) = self.index.get(name) {
            return &mut self.sections[i];
        }
        // DEFAULT leads the file; other new sections go last.
        self.push_section(name, true);
        if name == "DEFAULT" {
            self.sections.rotate_right(1);
            self.reindex();
        }
        let i = self.index[name];
        &mut self.sections[i]
    }

    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.section(section)?.get(key)
    }

    /// Set a value; returns whether anything changed. A name outside the grammar, or a value
    /// that would not read back, is refused before anything changes.
    pub fn set(&mut self, section: &str, key: &str, value: &str) -> Result<bool, Unwritable> {
        self.set_spelled(section, &[], key, value)
    }

    /// Set `key`, a keyword that other `spellings` also name (legacy ones): the first line
    /// holding any of them is rewritten in place as `key = value` and the others go, so that a
    /// section never holds two contradictory spellings. Returns whether anything changed; the
    /// value is stored as [`storable_value`] gives it.
    pub fn set_spelled(
        &mut self,
        section: &str,
        spellings: &[&str],
        key: &str,
        value: &str,
    ) -> Result<bool, Unwritable> {
        check_section_name(section)?;
        check_key(key)?;
        let value = &storable_value(value)?;
        let s = self.section_mut_or_new(section);
        let names = |k: &str| k == key || spellings.contains(&k);
        let Some(first) = s
            .lines
            .iter()
            .position(|l| matches!(l, Line::Entry { key: k, .. } if names(k)))
        else {
            // After the last entry, so comments and blank lines closing the section stay last.
            let at = s
                .lines
                .iter()
                .rposition(|l| matches!(l, Line::Entry { .. }))
                .map_or(0, |i| i + 1);
            s.lines.insert(
                at,
                Line::Entry {
                    key: key.into(),
                    value: value.into(),
                    raw: None,
                    line: 0,
                },
            );
            return Ok(true);
        };
        let mut changed = false;
        if let Line::Entry {
            key: k,
            value: v,
            raw,
            ..
        } = &mut s.lines[first]
        {
            if k != key || v != value {
                (*k, *v, *raw) = (key.into(), value.into(), None);
                changed = true;
            }
        }
        let before = s.lines.len();
        let mut i = 0;
        s.lines.retain(|l| {
            i += 1;
            i - 1 == first || !matches!(l, Line::Entry { key: k, .. } if names(k))
        });
        Ok(changed || before != s.lines.len())
    }

    /// Remove a keyword; returns whether it was there.
    pub fn unset(&mut self, section: &str, key: &str) -> bool {
        self.unset_spelled(section, &[key])
    }

    /// Remove every line holding one of `spellings`; returns whether one was there.
    pub fn unset_spelled(&mut self, section: &str, spellings: &[&str]) -> bool {
        let Some(s) = self.section_mut(section) else {
            return false;
        };
        let before = s.lines.len();
        s.lines.retain(
            |l| !matches!(l, Line::Entry { key: k, .. } if spellings.contains(&k.as_str())),
        );
        before != s.lines.len()
    }

    pub fn remove_section(&mut self, name: &str) -> bool {
        let before = self.sections.len();
        self.sections.retain(|s| s.name != name);
        self.reindex();
        before != self.sections.len()
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for line in &self.preamble {
            let _ = writeln!(out, "{line}");
        }
        for (i, s) in self.sections.iter().enumerate() {
            let next_to_created = s.created || (i > 0 && self.sections[i - 1].created);
            if i > 0 && next_to_created && !out.ends_with("\n\n") {
                out.push('\n');
            }
            let _ = writeln!(out, "[{}]", s.name);
            for line in &s.lines {
                match line {
                    Line::Other(text)
                    | Line::Entry {
                        raw: Some(text), ..
                    } => {
                        let _ = writeln!(out, "{text}");
                    }
                    Line::Entry {
                        key,
                        value,
                        raw: None,
                        ..
                    } => {
                        let _ = writeln!(out, "{key} = {}", value.replace('\n', "\n\t"));
                    }
                }
            }
        }
        out
    }
}

impl Document {
    /// Whether `other` holds the same sections, keys and values in the same order (comments
    /// and layout aside); the first difference otherwise.
    pub fn same_content(&self, other: &Document) -> Result<(), String> {
        let names = |d: &Document| {
            d.sections
                .iter()
                .map(|s| s.name.clone())
                .collect::<Vec<_>>()
        };
        if names(self) != names(other) {
            return Err(format!(
                "sections {:?} read back as {:?}",
                names(self),
                names(other)
            ));
        }
        for (a, b) in self.sections.iter().zip(&other.sections) {
            let (ea, eb): (Vec<_>, Vec<_>) = (a.entries().collect(), b.entries().collect());
            if ea != eb {
                return Err(format!("[{}] {ea:?} reads back as {eb:?}", a.name));
            }
        }
        Ok(())
    }
}

impl Default for Document {
    fn default() -> Self {
        Self::new()
    }
}

impl Section {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The `(key, line)` pairs in file order (line 0: written by a rewrite).
    pub fn entry_lines(&self) -> impl Iterator<Item = (&str, usize)> {
        self.lines.iter().filter_map(|l| match l {
            Line::Entry { key, line, .. } => Some((key.as_str(), *line)),
            Line::Other(_) => None,
        })
    }

    /// The `(key, value)` pairs in file order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.lines.iter().filter_map(|l| match l {
            Line::Entry { key, value, .. } => Some((key.as_str(), value.as_str())),
            Line::Other(_) => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# service header\n[DEFAULT]\nid = 42\n\n[app#1]\n# keep me\nstart=touch /tmp/a\ncheck = test -f\n\tcontinued\n\n";

    #[test]
    fn untouched_round_trip_is_byte_identical() {
        let doc = Document::parse(TEXT).unwrap();
        assert_eq!(doc.render(), TEXT);
        assert_eq!(doc.get("app#1", "check"), Some("test -f\ncontinued"));
    }

    #[test]
    fn set_and_unset_keep_comments_and_order() {
        let mut doc = Document::parse(TEXT).unwrap();
        assert!(doc.set("app#1", "stop", "false").unwrap());
        assert!(doc.set("app#1", "start", "true").unwrap());
        assert!(!doc.set("app#1", "start", "true").unwrap());
        assert!(doc.set("DEFAULT", "comment", "x").unwrap());
        let text = doc.render();
        assert!(
            text.contains(
                "# keep me\nstart = true\ncheck = test -f\n\tcontinued\nstop = false\n\n"
            ),
            "{text}"
        );
        assert!(text.contains("id = 42\ncomment = x\n"), "{text}");
        assert!(doc.unset("app#1", "stop"));
        assert!(!doc.unset("app#1", "stop"));
        assert!(doc.render().contains("# keep me"));
    }

    #[test]
    fn a_spelling_replaces_the_others_in_place() {
        let text = "[container#1]\nrun_image = a\n# why\nrm = true\nimage = b\n";
        let mut doc = Document::parse(text).unwrap();
        assert!(doc
            .set_spelled("container#1", &["run_image", "image"], "image", "c")
            .unwrap());
        assert_eq!(doc.render(), "[container#1]\nimage = c\n# why\nrm = true\n");
        let family = ["image", "run_image"];
        assert!(!doc
            .set_spelled("container#1", &family, "image", "c")
            .unwrap());
        assert!(doc
            .set_spelled("container#1", &family, "run_image", "c")
            .unwrap());
        assert_eq!(
            doc.render(),
            "[container#1]\nrun_image = c\n# why\nrm = true\n"
        );
        assert!(doc.unset_spelled("container#1", &family));
        assert_eq!(doc.render(), "[container#1]\n# why\nrm = true\n");
    }

    #[test]
    fn a_comment_before_a_section_stays_attached() {
        let mut doc =
            Document::parse("[DEFAULT]\nid = 1\n# about app\n[app#1]\nstart = a\n").unwrap();
        doc.set("DEFAULT", "comment", "x").unwrap();
        assert_eq!(
            doc.render(),
            "[DEFAULT]\nid = 1\ncomment = x\n# about app\n[app#1]\nstart = a\n"
        );
    }

    #[test]
    fn new_sections() {
        let mut doc = Document::new();
        doc.set("app#1", "start", "a").unwrap();
        doc.set("DEFAULT", "id", "1").unwrap();
        doc.set("app#2", "start", "b").unwrap();
        assert_eq!(
            doc.render(),
            "[DEFAULT]\nid = 1\n\n[app#1]\nstart = a\n\n[app#2]\nstart = b\n"
        );
    }

    #[test]
    fn errors_name_the_line() {
        let e = Document::parse("[a]\nk = v\nbogus line\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(Document::parse("k = v\n")
            .unwrap_err()
            .message
            .contains("outside any section"));
        assert!(Document::parse("[a]\n[a]\n")
            .unwrap_err()
            .message
            .contains("twice"));
        let e = Document::parse("[a]\r\nk = v\r\nx = a\0b\n").unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (3, "NUL byte"));
        // An earlier error is the one reported.
        assert_eq!(Document::parse("bogus\n[a\0]\n").unwrap_err().line, 1);
    }
}
