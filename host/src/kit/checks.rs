//! The kit's judgments, as plain functions of what it observed: a driver's manifest, the
//! answers of its calls, snapshots of what a status call must leave alone.

use super::probe::{secs, Answer, LogLine, Reply};
use super::report::{fail, ok, skip, Outcome};
use crate::config::keywords::{self, HostKw};
use crate::drivers::GROUP_ORDER;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use svcmgr_plugin_api::abi::error_kind;
use svcmgr_plugin_api::types::{DriverManifest, KeywordSpec, KwType, Status, StatusReport};

/// One verdict from a list of problems: a failure naming them, or `fine`.
fn verdict(problems: Vec<String>, fine: String) -> Outcome {
    if problems.is_empty() {
        ok(fine)
    } else {
        fail(problems.join("; "))
    }
}

/// `1 keyword`, `3 keywords`.
fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

fn kind_name(kind: KwType) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// Every keyword, section ones then `[DEFAULT]` ones (flagged true).
fn all_keywords(m: &DriverManifest) -> impl Iterator<Item = (&KeywordSpec, bool)> {
    let section = m.keywords.iter().map(|k| (k, false));
    section.chain(m.service_keywords.iter().map(|k| (k, true)))
}

fn is_word(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// The id is `group.type`; its section and type aliases take nothing from other drivers.
pub fn manifest_id(m: &DriverManifest, others: &[&DriverManifest]) -> Outcome {
    let Some((group, type_name)) = m.id.split_once('.') else {
        return fail(format!("id '{}' is not <group>.<type>", m.id));
    };
    let mut problems = Vec::new();
    if !is_word(group) || !is_word(type_name) {
        problems.push(format!(
            "id '{}': group and type must be lowercase words (a-z, 0-9, _, -)",
            m.id
        ));
    }
    let others: Vec<&&DriverManifest> = others.iter().filter(|o| o.id != m.id).collect();
    for alias in &m.section_aliases {
        let owner = GROUP_ORDER
            .contains(&alias.as_str())
            .then(|| "the host".to_string())
            .or_else(|| {
                others
                    .iter()
                    .find(|o| o.group() == alias)
                    .map(|o| o.id.clone())
            });
        if let Some(owner) = owner {
            problems.push(format!(
                "section alias '{alias}' is a group of {owner}: [{alias}#N] sections would change driver"
            ));
        }
    }
    for alias in &m.type_aliases {
        if let Some(o) = others.iter().find(|o| {
            o.group() == group
                && (o.type_name() == alias || o.type_aliases.iter().any(|a| a == alias))
        }) {
            problems.push(format!("type alias '{alias}' is also a type of {}", o.id));
        }
    }
    let place = if GROUP_ORDER.contains(&group) {
        format!("group {group} is one of the host's")
    } else {
        format!("group {group} is new: its resources start after the host's groups")
    };
    verdict(problems, format!("{}: {place}", m.id))
}

/// The driver and every keyword have help text (their types are checked when the manifest
/// is read: a keyword of an unknown type makes the library refused).
pub fn manifest_help(m: &DriverManifest) -> Outcome {
    let mut problems = Vec::new();
    if m.help.trim().is_empty() {
        problems.push("the driver has no help text".to_string());
    }
    let mut n = 0;
    for (k, _) in all_keywords(m) {
        n += 1;
        if k.help.trim().is_empty() {
            problems.push(format!("keyword '{}' has no help text", k.name));
        }
    }
    verdict(
        problems,
        format!("{}, each typed and documented", count(n, "keyword")),
    )
}

/// Defaults are config text that converts to the keyword's type, and only optional keywords
/// have one.
pub fn manifest_defaults(m: &DriverManifest) -> Outcome {
    let mut problems = Vec::new();
    let mut n = 0;
    for (k, _) in all_keywords(m) {
        let Some(default) = &k.default else { continue };
        n += 1;
        match default.as_str() {
            None => problems.push(format!(
                "keyword '{}': default {default} is not config text (a JSON string)",
                k.name
            )),
            Some(raw) => {
                if let Err(e) = k.kind.convert(raw) {
                    problems.push(format!(
                        "keyword '{}': default '{raw}' is not a {}: {e}",
                        k.name,
                        kind_name(k.kind)
                    ));
                }
            }
        }
        if k.required {
            problems.push(format!(
                "keyword '{}' is required and has a default, which never applies",
                k.name
            ));
        }
    }
    if n == 0 && problems.is_empty() {
        return skip("no keyword has a default");
    }
    verdict(
        problems,
        format!("{}, each a valid value of its type", count(n, "default")),
    )
}

/// No two keywords answer to one name, and none takes a name the host handles itself.
pub fn manifest_aliases(m: &DriverManifest) -> Outcome {
    let mut problems = Vec::new();
    let mut claimed: HashMap<(&str, bool), &str> = HashMap::new();
    let mut n = 0;
    for (k, in_default) in all_keywords(m) {
        let host: &[HostKw] = match in_default {
            true => keywords::SERVICE,
            false => keywords::RESOURCE,
        };
        for name in std::iter::once(&k.name).chain(&k.aliases) {
            n += 1;
            let place = if in_default { "[DEFAULT] " } else { "" };
            if let Some(first) = claimed.insert((name.as_str(), in_default), &k.name) {
                problems.push(format!(
                    "{place}'{name}' names both keyword '{first}' and keyword '{}'",
                    k.name
                ));
            }
            if keywords::find(host, name).is_some() {
                problems.push(format!(
                    "{place}'{name}' (keyword '{}') is a keyword the host handles itself: \
                     the driver would never receive it",
                    k.name
                ));
            }
        }
    }
    verdict(
        problems,
        format!("{n} names and aliases, none shared or taken from the host"),
    )
}

/// Candidates are values of the keyword's type, the default is one of them, and the host
/// enforces them (it does for text keywords).
pub fn manifest_candidates(m: &DriverManifest) -> Outcome {
    let mut problems = Vec::new();
    let mut n = 0;
    for (k, _) in all_keywords(m) {
        let Some(cands) = &k.candidates else { continue };
        n += 1;
        if cands.is_empty() {
            problems.push(format!("keyword '{}': no candidate at all", k.name));
        }
        if k.kind != KwType::String {
            problems.push(format!(
                "keyword '{}': candidates of a {} keyword are not enforced (only text ones are)",
                k.name,
                kind_name(k.kind)
            ));
        }
        for c in cands {
            if let Err(e) = k.kind.convert(c) {
                problems.push(format!("keyword '{}': candidate '{c}': {e}", k.name));
            }
        }
        if let Some(d) = k.default.as_ref().and_then(|d| d.as_str()) {
            if !cands.iter().any(|c| c == d) {
                problems.push(format!(
                    "keyword '{}': default '{d}' is not one of its candidates ({})",
                    k.name,
                    cands.join(", ")
                ));
            }
        }
    }
    if n == 0 {
        return skip("no keyword declares candidates");
    }
    verdict(
        problems,
        format!(
            "{} with candidates, their defaults among them",
            count(n, "keyword")
        ),
    )
}

/// The status a status answer reports.
pub fn status_of(doc: &str) -> Result<Status, String> {
    let report: StatusReport =
        serde_json::from_str(doc).map_err(|e| format!("invalid status document: {e}"))?;
    match report.unknown_status() {
        Some(word) => Err(format!("status '{word}' is not a status")),
        None => Ok(report.status),
    }
}

/// Whether two status answers say the same (their JSON, not their spelling).
pub fn same_answer(a: &str, b: &str) -> bool {
    let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s).ok();
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// The level words of the wire (`warning` is read as `warn`).
const LEVEL_WORDS: &[&str] = &["debug", "info", "warn", "warning", "error"];

/// Every status answer is a status of the vocabulary, whose log lines carry a level and a
/// message, and whose label, when it sets one, is not empty.
pub fn status_log(docs: &[String]) -> Outcome {
    if docs.is_empty() {
        return skip("no status answer to inspect");
    }
    let mut problems = Vec::new();
    let mut lines = 0;
    for doc in docs {
        let v: serde_json::Value = match serde_json::from_str(doc) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("invalid status document: {e}"));
                continue;
            }
        };
        match v["status"].as_str() {
            Some(word) if word.parse::<Status>().is_ok() => {}
            _ => problems.push(format!("status {} is not a status word", v["status"])),
        }
        if let Some(label) = v.get("label").filter(|l| !l.is_null()) {
            if label.as_str().is_none_or(|l| l.trim().is_empty()) {
                problems.push(format!("label {label} is empty or not text"));
            }
        }
        let entries = match v.get("log") {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(serde_json::Value::Array(a)) => a.clone(),
            Some(other) => {
                problems.push(format!("log {other} is not a list"));
                Vec::new()
            }
        };
        for e in entries {
            lines += 1;
            let level = e["level"].as_str();
            if !level.is_some_and(|l| LEVEL_WORDS.contains(&l)) {
                problems.push(format!(
                    "log line {e} has no level ({})",
                    LEVEL_WORDS.join(", ")
                ));
            }
            if e["message"].as_str().is_none_or(|m| m.trim().is_empty()) {
                problems.push(format!("log line {e} has no message"));
            }
        }
    }
    problems.dedup();
    verdict(
        problems,
        format!(
            "{}, {}, each with a level",
            count(docs.len(), "status answer"),
            count(lines, "log line")
        ),
    )
}

/// The label `print status` shows: one line of text.
pub fn label(label: &str, rid: &str) -> Outcome {
    if label.trim().is_empty() {
        fail("the label is empty")
    } else if label.contains('\n') {
        fail(format!("the label spans several lines: {label:?}"))
    } else if label.starts_with(rid) {
        fail(format!(
            "the label '{label}' starts with the rid, which the host already shows"
        ))
    } else {
        ok(format!("'{label}'"))
    }
}

/// What a snapshot records of one path: its kind, and for a file its identity, size and
/// modification time.
pub type Snapshot = BTreeMap<String, String>;

/// The paths whose record differs, `+` added, `-` removed, `~` changed.
pub fn changes(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    for (path, was) in before {
        match after.get(path) {
            None => out.push(format!("-{path}")),
            Some(now) if now != was => out.push(format!("~{path}")),
            Some(_) => {}
        }
    }
    out.extend(
        after
            .keys()
            .filter(|p| !before.contains_key(*p))
            .map(|p| format!("+{p}")),
    );
    out
}

/// An error kind in words.
pub fn kind_word(kind: u32) -> &'static str {
    match error_kind::base(kind) {
        error_kind::CONFIG => "config",
        error_kind::UNSUPPORTED => "unsupported",
        error_kind::PANIC => "panic",
        error_kind::TIMEOUT => "timeout",
        error_kind::NOT_FOUND => "not found",
        _ => "other",
    }
}

/// How long past its deadline a call may take to fail with a timeout.
pub const DEADLINE_GRACE: Duration = Duration::from_secs(1);

/// A call given `deadline`, shorter than the work asked: a timeout error no later than the
/// deadline and its grace.
pub fn deadline(verb: &str, deadline: Duration, answer: &Answer) -> Outcome {
    let (took, limit) = (secs(answer.elapsed), secs(deadline));
    match &answer.reply {
        Reply::Late(_) => fail(format!(
            "{verb} had not answered {:.0}s after its {limit:.1}s deadline: it ignores its deadline",
            secs(DEADLINE_GRACE)
        )),
        Reply::Done(Ok(_)) if answer.elapsed <= deadline => skip(format!(
            "{verb} finished in {took:.2}s, within its {limit:.1}s deadline: nothing to time out \
             (--slow-kw key=value makes it slower)"
        )),
        Reply::Done(Ok(_)) => fail(format!(
            "{verb} succeeded after {took:.2}s, past its {limit:.1}s deadline, instead of failing \
             with a timeout: the host had given up on it"
        )),
        Reply::Done(Err(e)) if error_kind::base(e.kind) == error_kind::TIMEOUT => {
            if answer.elapsed <= deadline + DEADLINE_GRACE {
                ok(format!(
                    "{verb} failed with a timeout after {took:.2}s (deadline {limit:.1}s): {e}"
                ))
            } else {
                fail(format!(
                    "{verb} failed with a timeout only after {took:.2}s, more than {:.0}s past \
                     its {limit:.1}s deadline",
                    secs(DEADLINE_GRACE)
                ))
            }
        }
        Reply::Done(Err(e)) => fail(format!(
            "{verb} failed with a {} error after {took:.2}s, not a timeout: {e}",
            kind_word(e.kind)
        )),
    }
}

/// How a keyword value the driver must reject was received.
pub enum Reception<'a> {
    /// The host refused it while reading the config (a wrong type, not a candidate).
    ByHost,
    /// Creating the resource failed with this message.
    AtCreation(&'a str),
    /// The resource was created; this is what starting it answered.
    AtStart(&'a Answer),
}

/// Who refused a bad value, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The host, reading the config.
    ByHost,
    /// The driver, creating the resource: its message.
    ByDriver(String),
    /// The driver, only when starting: its message.
    AtStart(String),
}

/// A bad value must give a config error naming its keyword: Ok(who refused it), or Err(what
/// went wrong).
pub fn bad_value(key: &str, value: &str, r: Reception<'_>) -> Result<Refused, String> {
    let kv = format!("{key}={value}");
    match r {
        Reception::ByHost => Ok(Refused::ByHost),
        Reception::AtCreation(msg) if msg.contains(" panicked: ") => Err(format!("{kv}: {msg}")),
        Reception::AtCreation(msg) if msg.contains(key) => Ok(Refused::ByDriver(msg.into())),
        Reception::AtCreation(msg) => Err(format!(
            "{kv}: refused with an error that does not name the keyword: {msg}"
        )),
        Reception::AtStart(a) => match &a.reply {
            Reply::Done(Err(e))
                if error_kind::base(e.kind) == error_kind::CONFIG && e.message.contains(key) =>
            {
                Ok(Refused::AtStart(e.to_string()))
            }
            Reply::Done(Err(e)) => Err(format!(
                "{kv}: accepted when read; start failed with a {} error, not a config error \
                 naming '{key}': {e}",
                kind_word(e.kind)
            )),
            _ => Err(format!("{kv}: accepted; start {}", a.describe())),
        },
    }
}

/// The refusals in words: the driver's one by one, the host's together.
pub fn refusals(list: &[(String, Refused)]) -> String {
    let mut parts: Vec<String> = list
        .iter()
        .filter_map(|(kv, r)| match r {
            Refused::ByHost => None,
            Refused::ByDriver(msg) => Some(format!("{kv} refused ({msg})")),
            Refused::AtStart(msg) => Some(format!(
                "{kv} refused only at start ({msg}): validate config misses it"
            )),
        })
        .collect();
    let by_host: Vec<&str> = list
        .iter()
        .filter(|(_, r)| *r == Refused::ByHost)
        .map(|(kv, _)| kv.as_str())
        .collect();
    if !by_host.is_empty() {
        parts.push(format!(
            "{} refused by the host reading the config",
            by_host.join(", ")
        ));
    }
    parts.join("; ")
}

/// A verb nobody declared must be answered `unsupported`.
pub fn unknown_verb(verb: &str, answer: &Answer) -> Outcome {
    match &answer.reply {
        Reply::Done(Err(e)) if error_kind::base(e.kind) == error_kind::UNSUPPORTED => {
            ok(format!("'{verb}' answered unsupported: {e}"))
        }
        Reply::Done(Err(e)) => fail(format!(
            "'{verb}' answered a {} error, not unsupported: {e}",
            kind_word(e.kind)
        )),
        Reply::Done(Ok(doc)) => fail(format!("'{verb}' answered as if it knew it: {doc}")),
        Reply::Late(_) => fail(format!("'{verb}': {}", answer.describe())),
    }
}

/// What is wrong with the answer to a call given malformed input, if anything: any answer
/// will do but a panic or none.
pub fn malformed(verb: &str, input: &str, answer: &Answer) -> Option<String> {
    match &answer.reply {
        Reply::Done(Err(e)) if error_kind::base(e.kind) == error_kind::PANIC => {
            Some(format!("'{verb}' given {input}: {e}"))
        }
        Reply::Late(_) => Some(format!("'{verb}' given {input}: {}", answer.describe())),
        Reply::Done(_) => None,
    }
}

/// A call that found the resource as wanted says so (`… is already up`).
pub fn says_already(logs: &[LogLine]) -> bool {
    logs.iter().any(|l| l.message.contains("already"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::report::Verdict;
    use svcmgr_plugin_api::abi::DriverError;
    use svcmgr_plugin_api::types::KeywordSpec;

    fn kw(name: &str, kind: KwType) -> KeywordSpec {
        let mut k = KeywordSpec::new(name, kind);
        k.help = format!("The {name}.");
        k
    }

    fn manifest(id: &str, kws: Vec<KeywordSpec>) -> DriverManifest {
        let mut m = DriverManifest::new(id, "1.0.0");
        m.help = "A driver.".into();
        m.keywords = kws;
        m
    }

    fn answer(reply: Result<&str, (u32, &str)>, ms: u64) -> Answer {
        Answer {
            reply: Reply::Done(
                reply
                    .map(String::from)
                    .map_err(|(k, m)| DriverError::new(k, m)),
            ),
            elapsed: Duration::from_millis(ms),
            logs: Vec::new(),
        }
    }

    fn late(ms: u64) -> Answer {
        let (_tx, rx) = std::sync::mpsc::channel();
        Answer {
            reply: Reply::Late(crate::drivers::handle::Late(rx)),
            elapsed: Duration::from_millis(ms),
            logs: Vec::new(),
        }
    }

    #[test]
    fn ids_and_their_aliases() {
        let m = manifest("app.forking", vec![]);
        assert_eq!(manifest_id(&m, &[]).0, Verdict::Ok);
        assert!(manifest_id(&manifest("sync.rsync", vec![]), &[])
            .1
            .contains("one of the host's"));
        assert!(manifest_id(&manifest("queue.mq", vec![]), &[])
            .1
            .contains("is new"));
        assert_eq!(
            manifest_id(&manifest("forking", vec![]), &[]).0,
            Verdict::Fail
        );
        assert_eq!(
            manifest_id(&manifest("App.X", vec![]), &[]).0,
            Verdict::Fail
        );
        let mut vg = manifest("disk.vg", vec![]);
        vg.section_aliases = vec!["vg".into()];
        assert_eq!(manifest_id(&vg, &[]).0, Verdict::Ok);
        vg.section_aliases = vec!["fs".into()];
        let (v, why) = manifest_id(&vg, &[]);
        assert_eq!(v, Verdict::Fail);
        assert!(
            why.contains("section alias 'fs' is a group of the host"),
            "{why}"
        );
        let mut oci = manifest("container.podman", vec![]);
        oci.type_aliases = vec!["oci".into()];
        let mut docker = manifest("container.docker", vec![]);
        docker.type_aliases = vec!["oci".into()];
        let (v, why) = manifest_id(&oci, &[&docker, &oci]);
        assert_eq!(v, Verdict::Fail);
        assert!(why.contains("also a type of container.docker"), "{why}");
    }

    #[test]
    fn help_defaults_aliases_and_candidates() {
        let mut nohelp = kw("size", KwType::Int);
        nohelp.help.clear();
        let m = manifest("app.x", vec![kw("path", KwType::String), nohelp]);
        assert_eq!(manifest_help(&m), fail("keyword 'size' has no help text"));
        assert_eq!(
            manifest_help(&manifest("app.x", vec![kw("a", KwType::Bool)])).0,
            Verdict::Ok
        );

        assert_eq!(manifest_defaults(&m).0, Verdict::Skip);
        let mut good = kw("t", KwType::Duration);
        good.default = Some("30s".into());
        let mut bad = kw("n", KwType::Int);
        bad.default = Some("ten".into());
        let mut both = kw("r", KwType::String);
        both.default = Some("x".into());
        both.required = true;
        assert_eq!(
            manifest_defaults(&manifest("app.x", vec![good.clone()])).0,
            Verdict::Ok
        );
        let (v, why) = manifest_defaults(&manifest("app.x", vec![good, bad, both]));
        assert_eq!(v, Verdict::Fail);
        assert!(
            why.contains("keyword 'n': default 'ten' is not a int"),
            "{why}"
        );
        assert!(why.contains("'r' is required and has a default"), "{why}");

        let mut a = kw("image", KwType::String);
        a.aliases = vec!["run_image".into()];
        let mut b = kw("img", KwType::String);
        b.aliases = vec!["run_image".into()];
        assert_eq!(
            manifest_aliases(&manifest("c.d", vec![a.clone()])).0,
            Verdict::Ok
        );
        let (v, why) = manifest_aliases(&manifest("c.d", vec![a, b, kw("tags", KwType::List)]));
        assert_eq!(v, Verdict::Fail);
        assert!(
            why.contains("'run_image' names both keyword 'image' and keyword 'img'"),
            "{why}"
        );
        assert!(
            why.contains("'tags' (keyword 'tags') is a keyword the host handles"),
            "{why}"
        );
        // A [DEFAULT] keyword may share a section keyword's name.
        let mut m = manifest("c.d", vec![kw("data", KwType::String)]);
        m.service_keywords = vec![kw("data", KwType::String)];
        assert_eq!(manifest_aliases(&m).0, Verdict::Ok);

        assert_eq!(
            manifest_candidates(&manifest("c.d", vec![])).0,
            Verdict::Skip
        );
        let mut mode = kw("mode", KwType::String);
        mode.candidates = Some(vec!["a".into(), "b".into()]);
        mode.default = Some("a".into());
        assert_eq!(
            manifest_candidates(&manifest("c.d", vec![mode.clone()])).0,
            Verdict::Ok
        );
        mode.default = Some("c".into());
        let mut n = kw("n", KwType::Int);
        n.candidates = Some(vec!["1".into(), "two".into()]);
        let (v, why) = manifest_candidates(&manifest("c.d", vec![mode, n]));
        assert_eq!(v, Verdict::Fail);
        assert!(
            why.contains("default 'c' is not one of its candidates (a, b)"),
            "{why}"
        );
        assert!(
            why.contains("candidates of a int keyword are not enforced"),
            "{why}"
        );
        assert!(why.contains("candidate 'two'"), "{why}");
    }

    #[test]
    fn status_answers_and_their_log() {
        assert_eq!(status_of(r#"{"status":"up"}"#), Ok(Status::Up));
        assert!(status_of(r#"{"status":"sleepy"}"#)
            .unwrap_err()
            .contains("sleepy"));
        assert!(status_of("nope").is_err());
        assert!(same_answer(
            r#"{"status":"up","log":[]}"#,
            r#"{"log":[], "status":"up"}"#
        ));
        assert!(!same_answer(r#"{"status":"up"}"#, r#"{"status":"down"}"#));

        assert_eq!(status_log(&[]).0, Verdict::Skip);
        let good = [
            r#"{"status":"down","log":[{"level":"info","message":"no pid"}]}"#.to_string(),
            r#"{"status":"up","label":"x"}"#.to_string(),
        ];
        assert_eq!(status_log(&good).0, Verdict::Ok);
        let bad = [
            r#"{"status":"up","log":[{"message":"m"},{"level":"loud","message":""}],"label":""}"#
                .to_string(),
        ];
        let (v, why) = status_log(&bad);
        assert_eq!(v, Verdict::Fail);
        assert!(
            why.contains(r#"log line {"message":"m"} has no level"#),
            "{why}"
        );
        assert!(why.contains("has no message"), "{why}");
        assert!(why.contains("label \"\" is empty"), "{why}");
        assert_eq!(
            status_log(&[r#"{"status":"sleepy"}"#.into()]).0,
            Verdict::Fail
        );
    }

    #[test]
    fn labels_and_snapshots() {
        assert_eq!(label("forking sleep 1", "app#1").0, Verdict::Ok);
        assert_eq!(label(" ", "app#1").0, Verdict::Fail);
        assert_eq!(label("a\nb", "app#1").0, Verdict::Fail);
        assert_eq!(label("app#1 flag", "app#1").0, Verdict::Fail);
        let a: Snapshot = [("/a".into(), "file 1".into()), ("/b".into(), "dir".into())].into();
        let b: Snapshot = [("/a".into(), "file 2".into()), ("/c".into(), "dir".into())].into();
        assert_eq!(changes(&a, &b), ["~/a", "-/b", "+/c"]);
        assert!(changes(&a, &a).is_empty());
    }

    #[test]
    fn deadlines() {
        let d = Duration::from_secs(1);
        let timeout = (error_kind::TIMEOUT, "sleep 30 timed out");
        assert_eq!(
            deadline("start", d, &answer(Err(timeout), 1050)).0,
            Verdict::Ok
        );
        let (v, why) = deadline("start", d, &answer(Err(timeout), 2500));
        assert_eq!(v, Verdict::Fail);
        assert!(why.contains("only after 2.50s"), "{why}");
        assert_eq!(deadline("stop", d, &answer(Ok("{}"), 300)).0, Verdict::Skip);
        assert_eq!(
            deadline("stop", d, &answer(Ok("{}"), 1300)).0,
            Verdict::Fail
        );
        let (v, why) = deadline("start", d, &answer(Err((error_kind::OTHER, "boom")), 100));
        assert_eq!(v, Verdict::Fail);
        assert!(
            why.contains("a other error after 0.10s, not a timeout: boom"),
            "{why}"
        );
        let (v, why) = deadline("start", d, &late(2000));
        assert_eq!(v, Verdict::Fail);
        assert!(why.contains("ignores its deadline"), "{why}");
    }

    #[test]
    fn bad_values() {
        let by_host = bad_value("n", "x", Reception::ByHost);
        assert_eq!(by_host, Ok(Refused::ByHost));
        let msg = "user: 'nobody2' does not exist";
        let by_driver = bad_value("user", "nobody2", Reception::AtCreation(msg));
        assert_eq!(by_driver, Ok(Refused::ByDriver(msg.into())));
        let e = bad_value("user", "x", Reception::AtCreation("bad input")).unwrap_err();
        assert!(e.contains("does not name the keyword"), "{e}");
        let e = bad_value(
            "size",
            "-1",
            Reception::AtCreation("resource creation panicked: negative size"),
        )
        .unwrap_err();
        assert!(e.contains("panicked"), "{e}");
        let config = answer(Err((error_kind::CONFIG, "size: too big")), 5);
        assert_eq!(
            bad_value("size", "9", Reception::AtStart(&config)),
            Ok(Refused::AtStart("size: too big".into()))
        );
        let other = answer(Err((error_kind::OTHER, "size: too big")), 5);
        assert!(bad_value("size", "9", Reception::AtStart(&other)).is_err());
        let fine = answer(Ok("{}"), 5);
        assert!(bad_value("size", "9", Reception::AtStart(&fine))
            .unwrap_err()
            .contains("accepted; start succeeded"));
        let text = refusals(&[
            ("a=x".into(), Refused::ByHost),
            ("user=u".into(), Refused::ByDriver("user: no".into())),
            ("b=y".into(), Refused::ByHost),
        ]);
        assert_eq!(
            text,
            "user=u refused (user: no); a=x, b=y refused by the host reading the config"
        );
    }

    #[test]
    fn calls() {
        let unsupported = answer(
            Err((error_kind::UNSUPPORTED, "verb 'x' is not supported")),
            1,
        );
        assert_eq!(unknown_verb("x", &unsupported).0, Verdict::Ok);
        let panic = answer(Err((error_kind::PANIC, "x panicked: boom")), 1);
        assert_eq!(unknown_verb("x", &panic).0, Verdict::Fail);
        assert_eq!(unknown_verb("x", &answer(Ok("null"), 1)).0, Verdict::Fail);
        assert_eq!(
            unknown_verb("x", &answer(Err((error_kind::OTHER, "no")), 1)).0,
            Verdict::Fail
        );
        assert_eq!(malformed("name", "bad JSON", &unsupported), None);
        assert_eq!(malformed("name", "bad JSON", &answer(Ok("{}"), 1)), None);
        assert!(malformed("name", "bad JSON", &panic)
            .unwrap()
            .contains("panicked"));
        assert!(malformed("name", "bad JSON", &late(10_000)).is_some());
        let line = |m: &str| LogLine {
            rid: "app#1".into(),
            level: svcmgr_plugin_api::types::Level::Info,
            message: m.into(),
        };
        assert!(says_already(&[
            line("touch /x"),
            line("forking is already up")
        ]));
        assert!(!says_already(&[line("touch /x")]));
    }
}
