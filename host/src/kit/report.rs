//! What the kit reports: one verdict per check, the closing count, the JSON document, and the
//! line protocol by which the process running the battery tells the supervising one.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    Fail,
    Skip,
}

impl Verdict {
    /// The word opening a check's line.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "skip",
        }
    }
}

/// The verdict of one check and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    pub id: String,
    pub result: Verdict,
    pub detail: String,
}

impl CheckResult {
    pub fn new(id: &str, result: Verdict, detail: impl Into<String>) -> Self {
        CheckResult {
            id: id.to_string(),
            result,
            detail: detail.into(),
        }
    }
}

/// What a check found, before it is named.
pub type Outcome = (Verdict, String);

pub fn ok(detail: impl Into<String>) -> Outcome {
    (Verdict::Ok, detail.into())
}
pub fn fail(detail: impl Into<String>) -> Outcome {
    (Verdict::Fail, detail.into())
}
pub fn skip(detail: impl Into<String>) -> Outcome {
    (Verdict::Skip, detail.into())
}

/// The widest check id, so that details line up.
pub const ID_WIDTH: usize = 20;

/// `ok    lifecycle             down, start, up, …`
pub fn line(r: &CheckResult) -> String {
    format!("{:<5} {:<ID_WIDTH$} {}", r.result.word(), r.id, r.detail)
        .trim_end()
        .to_string()
}

/// How many checks passed, failed, were skipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

pub fn counts(results: &[CheckResult]) -> Counts {
    let n = |v: Verdict| results.iter().filter(|r| r.result == v).count();
    Counts {
        passed: n(Verdict::Ok),
        failed: n(Verdict::Fail),
        skipped: n(Verdict::Skip),
    }
}

/// `12 passed, 1 failed, 2 skipped`
pub fn closing_line(c: Counts) -> String {
    format!(
        "{} passed, {} failed, {} skipped",
        c.passed, c.failed, c.skipped
    )
}

/// What was tested, shown first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subject {
    pub driver: String,
    pub version: String,
    pub library: String,
    pub rid: String,
    pub service: String,
}

/// `driver test app.forking 0.1.0 (/…/libsvcmgr_driver_app.so): app#1 of throwaway service kit-12`
pub fn heading(s: &Subject) -> String {
    format!(
        "driver test {} {} ({}): {} of throwaway service {}",
        s.driver, s.version, s.library, s.rid, s.service
    )
}

/// `--format json`: the same as the text, as one document.
pub fn document(s: &Subject, results: &[CheckResult]) -> serde_json::Value {
    let c = counts(results);
    serde_json::json!({
        "driver": s.driver,
        "version": s.version,
        "library": s.library,
        "rid": s.rid,
        "service": s.service,
        "checks": results,
        "passed": c.passed,
        "failed": c.failed,
        "skipped": c.skipped,
    })
}

/// One line of the battery's process to its supervisor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "lowercase")]
pub enum Record {
    /// A check begins: if the process dies now, this check is the one that killed it.
    Begin { id: String },
    /// A driver call begins (the one that killed the process, if it dies now).
    Call { verb: String },
    /// A status answer, for the status log check (judged by the supervisor, over every
    /// battery process).
    Status { doc: String },
    /// A check's verdict.
    Check(CheckResult),
    /// Something the operator should know that is no check's verdict (a leftover).
    Warning { message: String },
    /// The battery and its cleanup are over.
    Done,
}

/// Records travel on the battery's stdout, marked so that a stray line a driver prints
/// there is not mistaken for one.
const MARK: &str = "svcmgr-kit-record ";

pub fn encode(r: &Record) -> String {
    format!("{MARK}{}", serde_json::to_string(r).unwrap_or_default())
}

/// Tell the supervisor (from the battery's process).
pub fn emit(r: &Record) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", encode(r));
    let _ = out.flush();
}

/// The record a line carries, if it is one.
pub fn decode(line: &str) -> Option<Record> {
    serde_json::from_str(line.strip_prefix(MARK)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_counts() {
        let results = vec![
            CheckResult::new("lifecycle", Verdict::Ok, "down, start, up"),
            CheckResult::new("provision", Verdict::Skip, "not declared"),
            CheckResult::new("label", Verdict::Fail, "empty"),
        ];
        assert_eq!(
            line(&results[0]),
            format!("ok    lifecycle{} down, start, up", " ".repeat(11))
        );
        assert!(line(&results[2]).starts_with("FAIL  label "));
        assert_eq!(
            closing_line(counts(&results)),
            "1 passed, 1 failed, 1 skipped"
        );
        let subject = Subject {
            driver: "app.forking".into(),
            version: "1.0.0".into(),
            library: "/x.so".into(),
            rid: "app#1".into(),
            service: "kit-1".into(),
        };
        let doc = document(&subject, &results);
        assert_eq!(doc["checks"][2]["result"], "fail");
        assert_eq!(doc["failed"], 1);
        assert_eq!(doc["rid"], "app#1");
    }

    #[test]
    fn records_round_trip_and_stray_lines_are_not_records() {
        for r in [
            Record::Begin {
                id: "lifecycle".into(),
            },
            Record::Call {
                verb: "status".into(),
            },
            Record::Status {
                doc: r#"{"status":"up"}"#.into(),
            },
            Record::Check(CheckResult::new("label", Verdict::Ok, "x")),
            Record::Warning {
                message: "left up".into(),
            },
            Record::Done,
        ] {
            assert_eq!(decode(&encode(&r)), Some(r));
        }
        assert_eq!(decode("{\"record\":\"done\"}"), None);
        assert_eq!(decode("hello"), None);
    }
}
