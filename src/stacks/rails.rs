//! Rails' error responses in development, HTML and JSON.
//!
//! Follows actionpack's ActionDispatch::DebugExceptions
//! (lib/action_dispatch/middleware/debug_exceptions.rb and its templates
//! rescues/diagnostics.html.erb, _trace.html.erb): the HTML page names the
//! exception in `<h1>Type in Controller#action</h1>`, its message in
//! `<div class="message">`, and lists the "Application Trace" (paths
//! relative to the app, `app/controllers/x.rb:14:in `create'`) apart from
//! the framework's; an API-only app answers the same as JSON
//! `{"status","error","exception":"#<Type: message>","traces":{"Application
//! Trace":[{"trace":…}]}}`. In production, a bare "Internal Server Error"
//! (or an empty page): the details are in the log.

use serde_json::Value;

use super::api::{ErrorReport, FieldError, FieldPlace, Frame, StackId};
use super::page::{between, decode_html, first_line};

/// Reads a Rails development error, if `body` is one.
pub fn parse(body: &str) -> Option<ErrorReport> {
    if body.contains("<title>Action Controller: Exception caught</title>") {
        return html(body);
    }
    let value: Value = serde_json::from_str(body.trim()).ok()?;
    let traces = value.get("traces")?;
    let exception = value.get("exception")?.as_str()?;
    let inner = exception.strip_prefix("#<")?.strip_suffix('>')?;
    let (kind, message) = inner.split_once(": ").unwrap_or((inner, ""));
    let trace = traces
        .get("Application Trace")?
        .as_array()?
        .iter()
        .find_map(|t| t.get("trace")?.as_str());
    Some(report(kind, first_line(message), trace))
}

fn html(body: &str) -> Option<ErrorReport> {
    let heading = decode_html(between(body, "<h1>", "</h1>")?)
        .trim()
        .to_owned();
    let kind = heading.split_whitespace().next()?.to_owned();
    let message = between(body, "<div class=\"message\">", "</div>")
        .map(|m| decode_html(m).trim().to_owned());
    let trace = between(body, "id=\"Application-Trace-0\"", "</div>")
        .and_then(|t| between(t, "href=\"#\">", "</a>"))
        .map(|t| decode_html(t).trim().to_owned());
    let message = message.unwrap_or_else(|| kind.clone());
    Some(report(&kind, first_line(&message), trace.as_deref()))
}

/// The report of exception `kind` with `message`, raised at `trace`
/// (`app/controllers/messages_controller.rb:14:in `create'`).
fn report(kind: &str, message: String, trace: Option<&str>) -> ErrorReport {
    let mut report = ErrorReport::new(StackId::Rails, message);
    report.exception = Some(kind.to_owned());
    report.database = super::db::parse(&report.message);
    report.location = trace.and_then(ruby_frame);
    if kind.ends_with("ParameterMissing") {
        // "param is missing or the value is empty: message"
        if let Some(key) = report.message.rsplit(": ").next() {
            report.fields.push(FieldError {
                field: key.trim().to_owned(),
                place: FieldPlace::Body,
                missing: true,
                message: report.message.clone(),
            });
        }
    }
    report
}

/// `app/controllers/x.rb:14:in `create'` (Ruby's backtrace line).
fn ruby_frame(trace: &str) -> Option<Frame> {
    let trace = trace.trim();
    let (place, function) = trace.split_once(":in ")?;
    let (file, line) = place.rsplit_once(':')?;
    let function = function
        .trim_matches(|c| c == '`' || c == '\'' || c == '"')
        .rsplit(['#', '.'])
        .next()
        .unwrap_or("")
        .to_owned();
    Some(Frame {
        file: file.to_owned(),
        line: line.parse().ok()?,
        function,
        source: String::new(),
    })
}
