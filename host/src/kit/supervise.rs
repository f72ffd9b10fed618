//! The supervisor: runs the battery in a child process (this same `svcmgr` command line, with
//! the job in its environment) and reads its records. A driver runs inside the host process,
//! so one that aborts, crashes or exits ends the battery with it; the supervisor then fails
//! the check that was running, starts a new battery process after it (which first brings the
//! resource down), and always gets to print a report.

use super::battery::{Job, CHECKS, JOB_ENV, SUPERVISED};
use super::checks;
use super::report::{decode, CheckResult, Record, Verdict};
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};

/// How a battery process ended, in words.
pub fn death(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("it exited with code {code} before the end"),
        (None, Some(sig)) => format!(
            "it was killed by signal {sig}{}",
            nix::sys::signal::Signal::try_from(sig)
                .map(|s| format!(" ({})", s.as_str()))
                .unwrap_or_default()
        ),
        (None, None) => "it ended before the end".into(),
    }
}

/// What the supervisor does after a battery process died during check `id`.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Run a new battery process from this check on.
    ResumeAt(usize),
    /// Give up: the remaining checks are skipped for this reason.
    GiveUp(String),
}

/// Decide after a death: `running` is the check in progress, if any; `calling` whether it had
/// called the driver's resource (creating the service calls none).
pub fn after_death(running: Option<&str>, calling: bool, why: &str) -> Next {
    match running {
        Some("create") if !calling => Next::GiveUp("the resource could not be created".into()),
        Some(id) => match CHECKS.iter().position(|c| *c == id) {
            Some(i) => Next::ResumeAt(i + 1),
            None => Next::GiveUp(format!("not run: the test process died ({why})")),
        },
        None => Next::GiveUp(format!(
            "not run: the test process died outside any check ({why})"
        )),
    }
}

/// The verdicts of the checks a dead battery left unreported: skipped for `reason`, but the
/// first one fails when the process died outside any check (a run that could not check
/// everything must not pass).
pub fn unrun(done: &[CheckResult], outside: bool, why: &str, reason: &str) -> Vec<CheckResult> {
    CHECKS
        .iter()
        .filter(|c| !SUPERVISED.contains(c) && !done.iter().any(|r| r.id == **c))
        .enumerate()
        .map(|(i, id)| match (i, outside) {
            (0, true) => CheckResult::new(
                id,
                Verdict::Fail,
                format!("the test process died before this check: {why}"),
            ),
            _ => CheckResult::new(id, Verdict::Skip, reason),
        })
        .collect()
}

/// Show a verdict and keep it.
fn report(r: CheckResult, results: &mut Vec<CheckResult>, show: &mut dyn FnMut(&Record)) {
    show(&Record::Check(r.clone()));
    results.push(r);
}

/// Run the battery of `job` to its end, handing each record to `show` as it comes (check
/// verdicts, the supervisor's own included, and warnings). The verdicts, in check order.
pub fn run(mut job: Job, show: &mut dyn FnMut(&Record)) -> anyhow::Result<Vec<CheckResult>> {
    let exe = std::env::current_exe()?;
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let mut results: Vec<CheckResult> = Vec::new();
    let mut statuses: Vec<String> = Vec::new();
    loop {
        let mut child = Command::new(&exe)
            .args(&args)
            .env(JOB_ENV, serde_json::to_string(&job)?)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut running: Option<String> = None;
        let mut calling: Option<String> = None;
        let mut done = false;
        for line in BufReader::new(stdout).lines() {
            let line = line?;
            match decode(&line) {
                Some(Record::Begin { id }) => {
                    running = Some(id);
                    calling = None;
                }
                Some(Record::Call { verb }) => calling = Some(verb),
                Some(Record::Status { doc }) => statuses.push(doc),
                Some(Record::Check(r)) => {
                    running = None;
                    report(r, &mut results, show);
                }
                Some(Record::Done) => done = true,
                Some(w) => show(&w),
                // A driver wrote on the process's stdout: not ours, pass it on.
                None => eprintln!("{line}"),
            }
        }
        let status = child.wait()?;
        if done {
            break;
        }
        let why = death(status);
        if let Some(id) = &running {
            let during = match &calling {
                Some(verb) => format!("in a {verb} call"),
                None => "during this check".into(),
            };
            let detail = format!("the test process died {during}: {why}");
            report(
                CheckResult::new(id, Verdict::Fail, detail),
                &mut results,
                show,
            );
        }
        match after_death(running.as_deref(), calling.is_some(), &why) {
            Next::ResumeAt(from) => {
                job.from = from;
                job.recover = results
                    .iter()
                    .any(|r| r.id == "create" && r.result == Verdict::Ok);
            }
            Next::GiveUp(reason) => {
                for r in unrun(&results, running.is_none(), &why, &reason) {
                    report(r, &mut results, show);
                }
                if running.is_none() {
                    show(&Record::Warning {
                        message: format!(
                            "the test process died while setting up or cleaning up ({why}): \
                             the throwaway service may have left resources behind"
                        ),
                    });
                }
                break;
            }
        }
    }
    let (verdict, detail) = checks::status_log(&statuses);
    report(
        CheckResult::new("status.log", verdict, detail),
        &mut results,
        show,
    );
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_a_death() {
        let lifecycle = CHECKS.iter().position(|c| *c == "lifecycle").unwrap();
        assert_eq!(
            after_death(Some("lifecycle"), true, "x"),
            Next::ResumeAt(lifecycle + 1)
        );
        assert_eq!(
            after_death(Some("call.malformed"), true, "x"),
            Next::ResumeAt(CHECKS.len() - 1)
        );
        assert_eq!(
            after_death(Some("create"), false, "x"),
            Next::GiveUp("the resource could not be created".into())
        );
        // Created, then its status killed the process: the other checks still run.
        let create = CHECKS.iter().position(|c| *c == "create").unwrap();
        assert_eq!(
            after_death(Some("create"), true, "x"),
            Next::ResumeAt(create + 1)
        );
        assert!(
            matches!(after_death(None, false, "killed"), Next::GiveUp(r) if r.contains("outside any check (killed)"))
        );
        let done = [CheckResult::new("manifest.id", Verdict::Ok, "")];
        let left = unrun(&done, true, "it exited with code 1", "not run");
        assert_eq!(
            left.len(),
            CHECKS.len() - 2,
            "all but the done and supervised ones"
        );
        assert_eq!(
            (left[0].id.as_str(), left[0].result),
            ("manifest.help", Verdict::Fail)
        );
        assert!(left[1..].iter().all(|r| r.result == Verdict::Skip));
        assert!(unrun(&done, false, "", "x")
            .iter()
            .all(|r| r.result == Verdict::Skip));
        assert_eq!(
            death(ExitStatus::from_raw(6)),
            "it was killed by signal 6 (SIGABRT)"
        );
        assert_eq!(
            death(ExitStatus::from_raw(3 << 8)),
            "it exited with code 3 before the end"
        );
    }
}
