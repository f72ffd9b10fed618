//! Property tests standing for a fuzzer (cargo-fuzz needs a nightly toolchain; this runs in
//! `cargo test`): the config reader and writer, `--rid`/`--tags` selection, durations.
//! Each property runs `SVCMGR_FUZZ_CASES` cases (default 4,000; CI keeps the whole file
//! under a minute). bench/fuzz.md records the executions and crashes of a long run.
//!
//! - Any bytes either fail to parse with an error naming a line, or parse into a document
//!   that renders and reads back as itself.
//! - Setting any (section, keyword, value) on such a document either is refused (the
//!   document unchanged) or changes that key only: every other key reads back as before.
//! - Selection and durations never panic; a duration is never above `MAX_DURATION`.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use svcmgr::config::ini::{self, Document};
use svcmgr::select::{self, Candidate, Filters};
use svcmgr_plugin_api::types::{parse_duration, MAX_DURATION};

fn cases() -> u32 {
    std::env::var("SVCMGR_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(4000)
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    })
}

/// Text that looks like a config often enough to parse: INI punctuation, names, blanks and
/// newlines, with any other character now and then.
fn config_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("[".to_string()),
        Just("]".to_string()),
        Just("=".to_string()),
        Just("\n".to_string()),
        Just("\n\t".to_string()),
        Just(" ".to_string()),
        Just("#".to_string()),
        Just(";".to_string()),
        Just("@".to_string()),
        Just("{env.a}".to_string()),
        "[a-z#0-9_]{1,6}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..60).prop_map(|v| v.concat())
}

/// Any bytes, or config-like text as bytes (mostly valid UTF-8).
fn config_bytes() -> impl Strategy<Value = Vec<u8>> {
    let valid = "# svc\n[DEFAULT]\nid = 1\n\n[app#1]\nstart = a\n\tb\ntags@n1 = x\n";
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        config_text().prop_map(String::into_bytes),
        config_text().prop_map(move |t| format!("{valid}{t}").into_bytes()),
    ]
}

/// Every `(section, key, value)` of a document, in order.
fn keys(doc: &Document) -> Vec<(String, String, String)> {
    doc.sections()
        .iter()
        .flat_map(|s| {
            s.entries()
                .map(|(k, v)| (s.name.to_string(), k.to_string(), v.to_string()))
        })
        .collect()
}

fn parse(bytes: &[u8]) -> Result<Document, ini::ParseError> {
    Document::parse(ini::decode(bytes)?)
}

#[test]
fn any_bytes_parse_with_a_line_error_or_round_trip() {
    runner()
        .run(&config_bytes(), |bytes| {
            match parse(&bytes) {
                Err(e) => {
                    let lines = bytes.iter().filter(|&&b| b == b'\n').count() + 1;
                    prop_assert!(e.line >= 1 && e.line <= lines, "{e}");
                }
                Ok(doc) => {
                    let back = Document::parse(&doc.render()).expect("rendered text reads");
                    prop_assert!(doc.same_content(&back).is_ok());
                }
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn set_changes_its_key_only_or_nothing() {
    let name = prop_oneof![
        "[a-z#0-9_@.]{1,8}",
        any::<String>(),
        Just("app#1".to_string()),
        Just("start".to_string()),
    ];
    let value = prop_oneof![any::<String>(), config_text(), "[ -~]{0,20}"];
    let strategy = (config_bytes(), name.clone(), name, value);
    runner()
        .run(&strategy, |(bytes, section, key, value)| {
            let Ok(mut doc) = parse(&bytes) else {
                return Ok(());
            };
            let before = keys(&doc);
            match doc.set(&section, &key, &value) {
                Err(_) => prop_assert_eq!(keys(&doc), before, "a refused set changed nothing"),
                Ok(_) => {
                    let back = Document::parse(&doc.render()).expect("written text reads");
                    prop_assert!(doc.same_content(&back).is_ok());
                    let stored = ini::storable_value(&value).expect("a set value is storable");
                    prop_assert_eq!(back.get(&section, &key), Some(stored.as_str()));
                    // Every other key: as before (the first of a repeated key is the one set).
                    let mut others_before = before.clone();
                    others_before.retain(|(s, k, _)| !(s == &section && k == &key));
                    let mut others_after = keys(&back);
                    others_after.retain(|(s, k, _)| !(s == &section && k == &key));
                    prop_assert_eq!(others_after, others_before);
                }
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn selectors_never_panic() {
    let tags: Vec<Vec<String>> = vec![vec!["a".into(), "b".into()], vec![], vec!["c".into()]];
    let rids = ["app#1", "app#10", "container#web", "fs#2"];
    let candidates: Vec<Candidate<'_>> = rids
        .iter()
        .zip(tags.iter().cycle())
        .map(|(rid, tags)| Candidate {
            rid,
            group: svcmgr::rid::prefix(rid),
            driver: "app.forking",
            tags,
            subset: Some("01"),
        })
        .collect();
    let spec = prop_oneof![any::<String>(), "[a-z#*?\\[\\]!,+.0-9-]{0,16}"];
    let strategy = (
        prop::option::of(spec.clone()),
        prop::option::of(spec.clone()),
        prop::option::of(spec),
    );
    runner()
        .run(&strategy, |(rid, tags, subsets)| {
            let filters = Filters {
                rid,
                tags,
                subsets,
                groups: None,
            };
            if let Ok(Some(chosen)) = select::select(&candidates, &filters) {
                prop_assert!(chosen.iter().all(|r| rids.contains(&r.as_str())));
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn durations_never_panic_and_stay_bounded() {
    let text = prop_oneof![
        any::<String>(),
        "[0-9.]{0,25}(ms|s|m|h|d|w|y|min|e|)?",
        "([0-9]{1,22}(ms|s|m|h|d|w|y) ?){1,4}",
    ];
    runner()
        .run(&text, |text| {
            if let Ok(d) = parse_duration(&text) {
                prop_assert!(d <= MAX_DURATION, "{text}: {d:?}");
            }
            Ok(())
        })
        .unwrap();
}
