//! Replay and diff results for people (text), machines (JSON) and CI
//! (JUnit XML, through `quick-junit`).

use std::fmt::Write as _;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::ActionResult;

/// One line per action, with the differences under failures, then a
/// summary line.
pub fn text(results: &[ActionResult], elapsed: Duration) -> String {
    let mut out = String::new();
    for r in results {
        let mark = if r.passed() { "✓" } else { "✗" };
        let _ = writeln!(out, "{mark} {}", r.name);
        if !r.passed() || !r.late.is_empty() {
            out.push_str(&details(r, "    "));
        }
    }
    let failed = results.iter().filter(|r| !r.passed()).count();
    let _ = writeln!(
        out,
        "\n{} actions: {} passed, {failed} failed ({:.1} s)",
        results.len(),
        results.len() - failed,
        elapsed.as_secs_f64()
    );
    out
}

/// The differences of a failed action, one per line.
fn details(r: &ActionResult, indent: &str) -> String {
    let mut out = String::new();
    for d in &r.differences {
        let _ = writeln!(
            out,
            "{indent}{}: expected {}, got {}",
            d.at, d.expected, d.actual
        );
    }
    for m in &r.missing {
        let _ = writeln!(out, "{indent}missing: ← {m}");
    }
    for e in &r.extra {
        let _ = writeln!(out, "{indent}extra:   ← {e}");
    }
    for l in &r.late {
        let _ = writeln!(out, "{indent}after closing began (not a failure): ← {l}");
    }
    out
}

/// The results as JSON.
pub fn json(results: &[ActionResult]) -> String {
    let failed = results.iter().filter(|r| !r.passed()).count();
    let doc = serde_json::json!({
        "passed": results.len() - failed,
        "failed": failed,
        "actions": results.iter().map(|r| {
            let mut v = serde_json::to_value(r).unwrap_or_default();
            v["passed"] = r.passed().into();
            v
        }).collect::<Vec<_>>(),
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// The results as JUnit XML: one test suite, one test case per action.
pub fn junit(
    suite_name: &str,
    results: &[ActionResult],
) -> Result<String, quick_junit::SerializeError> {
    let mut suite = TestSuite::new(suite_name);
    for r in results {
        let status = if r.passed() {
            TestCaseStatus::success()
        } else {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_message(format!("{} differs from the recording", r.name));
            status.set_description(details(r, ""));
            status
        };
        let mut case = TestCase::new(r.name.clone(), status);
        case.set_time(r.duration);
        case.set_classname(match r.kind {
            super::Kind::Rest => "rest",
            super::Kind::Ws => "websocket",
        });
        suite.add_test_case(case);
    }
    let mut report = Report::new("wsdiag");
    report.add_test_suite(suite);
    report.to_string()
}
