//! Laravel's error responses for JSON requests.
//!
//! Follows laravel/framework src/Illuminate/Foundation/Exceptions/Handler.php
//! (`convertExceptionToArray`): with `APP_DEBUG=true`, `{"message",
//! "exception","file","line","trace":[{"file","line","function","class",
//! "type"}]}`; without it, `{"message":"Server Error"}`. Each trace frame
//! names the function called at its file and line, so the application's
//! method is the first frame whose class is in `App\`.

use serde_json::Value;

use super::api::{ErrorReport, Frame, StackId};

/// Reads a Laravel debug error, if `body` is one.
pub fn parse(body: &str) -> Option<ErrorReport> {
    let value: Value = serde_json::from_str(body.trim()).ok()?;
    let o = value.as_object()?;
    let exception = o.get("exception")?.as_str()?;
    let trace = o.get("trace")?.as_array()?;
    let message = o.get("message").and_then(Value::as_str).unwrap_or("");
    let mut report = ErrorReport::new(StackId::Laravel, message);
    report.exception = Some(exception.to_owned());
    report.database = super::db::parse(message);
    let file = o.get("file").and_then(Value::as_str).unwrap_or("");
    let line = o.get("line").and_then(Value::as_u64);
    let method = trace.iter().find_map(|f| {
        let class = f.get("class")?.as_str()?;
        class.starts_with("App\\").then(|| {
            let kind = f.get("type").and_then(Value::as_str).unwrap_or("->");
            let function = f.get("function").and_then(Value::as_str).unwrap_or("");
            format!("{class}{kind}{function}")
        })
    });
    report.location = match (file.contains("/vendor/"), line) {
        (false, Some(line)) if !file.is_empty() => Some(Frame {
            file: file.to_owned(),
            line: u32::try_from(line).unwrap_or(u32::MAX),
            function: method.unwrap_or_default(),
            source: String::new(),
        }),
        _ => None,
    };
    Some(report)
}
