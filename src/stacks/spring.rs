//! Spring Boot's error responses.
//!
//! Follows spring-boot's BasicErrorController and DefaultErrorAttributes
//! (`{"timestamp","status","error","message","errors","trace","path"}`,
//! `trace` and `message` only with `server.error.include-stacktrace` and
//! `include-message`) and the "Whitelabel Error Page" HTML
//! (ErrorMvcAutoConfiguration), whose last `<div>` holds the trace. A Java
//! stack trace is `pkg.Type: message` then `\tat pkg.Class.method(File.java:N)`
//! lines, innermost first.

use serde_json::Value;

use super::api::{ErrorReport, FieldError, FieldPlace, Frame, StackId};
use super::page::{between, decode_html};

/// Reads a Spring Boot error, if `body` is one.
pub fn parse(body: &str) -> Option<ErrorReport> {
    if body.contains("<h1>Whitelabel Error Page</h1>") {
        let trace = between(body, "white-space:pre-wrap;'>", "</div>").map(decode_html);
        return Some(match trace {
            Some(trace) => from_trace(&trace),
            None => in_log(),
        });
    }
    let value: Value = serde_json::from_str(body.trim()).ok()?;
    let o = value.as_object()?;
    if !(o.contains_key("timestamp") && o.contains_key("path") && o.contains_key("error")) {
        return None;
    }
    if let Some(trace) = o.get("trace").and_then(Value::as_str) {
        return Some(from_trace(trace));
    }
    let fields: Vec<FieldError> = o
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            Some(FieldError {
                field: e.get("field")?.as_str()?.to_owned(),
                place: FieldPlace::Body,
                missing: matches!(
                    e.get("code").and_then(Value::as_str),
                    Some("NotBlank" | "NotNull" | "NotEmpty")
                ),
                message: e
                    .get("defaultMessage")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
            })
        })
        .collect();
    let message = o
        .get("message")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .or_else(|| o.get("error").and_then(Value::as_str))
        .unwrap_or("")
        .to_owned();
    let mut report = ErrorReport::new(StackId::Spring, message);
    report.details_in_log =
        fields.is_empty() && o.get("status").and_then(Value::as_u64) == Some(500);
    report.fields = fields;
    Some(report)
}

fn in_log() -> ErrorReport {
    let mut report = ErrorReport::new(StackId::Spring, "Internal Server Error");
    report.details_in_log = true;
    report
}

/// A Java stack trace: its exception, message and first application frame.
fn from_trace(trace: &str) -> ErrorReport {
    let mut lines = trace.lines();
    let first = lines.next().unwrap_or("").trim();
    let (kind, message) = first.split_once(": ").unwrap_or((first, ""));
    let mut report = ErrorReport::new(StackId::Spring, message);
    report.exception = Some(kind.to_owned());
    report.database = super::db::parse(trace);
    report.location = lines
        .filter_map(java_frame)
        .find(|f| is_application(&f.function));
    report
}

/// Frames of the JDK, Spring and the usual libraries are not the
/// application's.
fn is_application(function: &str) -> bool {
    const LIBRARIES: [&str; 10] = [
        "java.",
        "javax.",
        "jdk.",
        "sun.",
        "jakarta.",
        "org.springframework.",
        "org.apache.",
        "com.fasterxml.",
        "org.hibernate.",
        "io.micrometer.",
    ];
    !LIBRARIES.iter().any(|l| function.starts_with(l)) && !function.contains("/jdk.")
}

/// `at pkg.Class.method(File.java:31)`.
fn java_frame(line: &str) -> Option<Frame> {
    let rest = line.trim().strip_prefix("at ")?;
    let (function, place) = rest.split_once('(')?;
    let (file, number) = place.trim_end_matches(')').rsplit_once(':')?;
    let function = function.rsplit('/').next().unwrap_or(function);
    Some(Frame {
        file: file.to_owned(),
        line: number.parse().ok()?,
        function: function.to_owned(),
        source: String::new(),
    })
}
