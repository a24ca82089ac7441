//! FastAPI and Starlette error responses.
//!
//! Follows starlette/middleware/errors.py (ServerErrorMiddleware): with
//! `debug=True`, an unhandled exception is answered with the traceback,
//! as HTML ("Starlette Debugger": `<h2>Type: message</h2>`, frames
//! innermost first as `<span class="frame-filename">PATH</span>, line
//! <i>N</i>, in <b>FUNC</b>`, the failing line marked `center-line`) when
//! the request's `Accept` contains `text/html`, else as the plain text of
//! `traceback.format_exc()`. FastAPI's request validation answers 422
//! `{"detail":[{"type","loc","msg","input"}]}` (fastapi/exception_handlers.py),
//! and a `response_model` that the returned object does not satisfy raises
//! `ResponseValidationError` after the handler ran (fastapi/routing.py,
//! `serialize_response`), whose message ends with the endpoint's
//! `File "…", line N, in FUNC` (the line of its decorator).

use serde_json::Value;

use super::api::{ErrorReport, FieldError, FieldPlace, Frame, StackId};
use super::page::{between, decode_html, first_line};
use super::python_traceback::{self, is_application};

/// Reads a FastAPI or Starlette error response, if `body` is one.
pub fn parse(status: u16, body: &str) -> Option<ErrorReport> {
    if status == 422 {
        return validation(body);
    }
    if body.contains("<title>Starlette Debugger</title>") {
        return debugger_html(body);
    }
    if body.starts_with("Traceback (most recent call last):") {
        return traceback_text(body);
    }
    None
}

/// A 422 with pydantic's error list.
fn validation(body: &str) -> Option<ErrorReport> {
    let value: Value = serde_json::from_str(body).ok()?;
    let errors = value.get("detail")?.as_array()?;
    let fields: Vec<FieldError> = errors.iter().filter_map(pydantic_error).collect();
    if fields.is_empty() {
        return None;
    }
    let message = fields
        .iter()
        .map(|f| format!("{}: {}", location_label(f), f.message))
        .collect::<Vec<_>>()
        .join("; ");
    let mut report = ErrorReport::new(StackId::Fastapi, message);
    report.exception = Some("RequestValidationError".to_owned());
    report.fields = fields;
    Some(report)
}

fn location_label(f: &FieldError) -> String {
    match (f.place, f.field.is_empty()) {
        (FieldPlace::Body, true) => "body".to_owned(),
        (FieldPlace::Body, false) => format!("body.{}", f.field),
        (FieldPlace::Response, _) => format!("response.{}", f.field),
        (FieldPlace::Other, _) => f.field.clone(),
    }
}

/// One pydantic error: `{"type":"missing","loc":["body","content"],"msg":…}`.
fn pydantic_error(e: &Value) -> Option<FieldError> {
    let loc = e.get("loc")?.as_array()?;
    let place = match loc.first().and_then(Value::as_str) {
        Some("body") => FieldPlace::Body,
        Some("response") => FieldPlace::Response,
        _ => FieldPlace::Other,
    };
    let field = loc
        .iter()
        .skip(1)
        .filter_map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(".");
    Some(FieldError {
        field,
        place,
        missing: e.get("type").and_then(Value::as_str) == Some("missing"),
        message: e
            .get("msg")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
    })
}

/// The plain-text traceback.
fn traceback_text(body: &str) -> Option<ErrorReport> {
    let tb = python_traceback::parse(body)?;
    let mut report = ErrorReport::new(StackId::Fastapi, first_line(&tb.message));
    report.exception = Some(tb.exception.clone());
    report.database = super::db::parse(&tb.message);
    report.location = tb.app_frame().cloned();
    if tb.exception.ends_with("ResponseValidationError") {
        after_the_handler(&mut report, &tb.message);
    }
    Some(report)
}

/// A `ResponseValidationError`'s message: the fields the response lacks,
/// and the endpoint, which no traceback frame shows (it was raised after
/// the handler returned).
fn after_the_handler(report: &mut ErrorReport, message: &str) {
    for line in message.lines() {
        if let Some(frame) = python_traceback::frame_line(line) {
            report.location = Some(frame);
        }
        let Some(loc) = line.split("'loc': (").nth(1) else {
            continue;
        };
        let parts: Vec<&str> = loc
            .split(')')
            .next()
            .unwrap_or("")
            .split(',')
            .map(|p| p.trim().trim_matches('\''))
            .filter(|p| !p.is_empty())
            .collect();
        let text = line
            .split("'msg': '")
            .nth(1)
            .and_then(|m| m.split('\'').next())
            .unwrap_or("");
        report.fields.push(FieldError {
            field: parts.get(1..).unwrap_or(&[]).join("."),
            place: FieldPlace::Response,
            missing: line.contains("'type': 'missing'"),
            message: text.to_owned(),
        });
    }
}

/// Starlette's HTML debugger page.
fn debugger_html(body: &str) -> Option<ErrorReport> {
    let decode = decode_html;
    let heading = between(body, "<h2>", "</h2>").map(decode)?;
    let (exception, message) = heading.split_once(": ").unwrap_or(("", heading.as_str()));
    let mut report = ErrorReport::new(StackId::Fastapi, first_line(message));
    report.exception = (!exception.is_empty()).then(|| exception.to_owned());
    report.database = super::db::parse(message);
    // Frames are listed innermost first: the first in the application wins.
    let mut rest = body;
    while let Some(at) = rest.find("<span class=\"frame-filename\">") {
        rest = &rest[at + "<span class=\"frame-filename\">".len()..];
        let Some(file) = rest.split("</span>").next().map(decode) else {
            break;
        };
        let line = between(rest, "line <i>", "</i>").and_then(|n| n.trim().parse().ok());
        let function = between(rest, "in <b>", "</b>").map(decode);
        if let (true, Some(line), Some(function)) = (is_application(&file), line, function) {
            let source = between(rest, "center-line\">", "</span></p>")
                .map(|s| {
                    decode(s.rsplit("</span>").next().unwrap_or(s))
                        .trim()
                        .to_owned()
                })
                .unwrap_or_default();
            report.location = Some(Frame {
                file,
                line,
                function,
                source,
            });
            break;
        }
    }
    if exception.ends_with("ResponseValidationError") {
        after_the_handler(&mut report, &heading);
    }
    Some(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixture of tests/fixtures/fastapi: status line, headers, blank
    /// line, body.
    fn fixture(name: &str) -> (u16, String) {
        let path = format!(
            "{}/tests/fixtures/fastapi/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let status = text.split_whitespace().nth(1).unwrap().parse().unwrap();
        let body = text.split_once("\n\n").unwrap().1.to_owned();
        (status, body)
    }

    #[test]
    fn the_application_line_of_both_debug_pages() {
        for page in ["no-user-debug-json.txt", "no-user-debug-html.txt"] {
            let (status, body) = fixture(page);
            let r = parse(status, &body).unwrap();
            assert_eq!(r.exception.as_deref(), Some("AttributeError"), "{page}");
            let at = r.location.unwrap();
            assert!(
                at.file.ends_with("tests/fastapi_chat/app.py"),
                "{page}: {at:?}"
            );
            assert_eq!(at.function, "create_message", "{page}");
            assert!(at.source.contains("sender=user.name"), "{page}: {at:?}");
            assert_eq!(at.language(), "python");
        }
    }

    #[test]
    fn the_database_refusal_behind_sqlalchemy() {
        for page in ["no-sender-debug-json.txt", "no-sender-debug-html.txt"] {
            let (status, body) = fixture(page);
            let r = parse(status, &body).unwrap();
            assert!(
                r.exception.as_deref().unwrap().ends_with("IntegrityError"),
                "{page}"
            );
            let db = r.database.unwrap();
            assert_eq!(db.column.as_deref(), Some("sender"), "{page}");
            assert_eq!(r.location.unwrap().function, "create_message", "{page}");
        }
    }

    #[test]
    fn a_response_model_error_after_the_handler() {
        for page in [
            "error-after-save-debug-json.txt",
            "error-after-save-debug-html.txt",
        ] {
            let (status, body) = fixture(page);
            let r = parse(status, &body).unwrap();
            assert!(r
                .exception
                .as_deref()
                .unwrap()
                .ends_with("ResponseValidationError"));
            let f = &r.fields[0];
            assert_eq!(
                (f.field.as_str(), f.place, f.missing),
                ("author", FieldPlace::Response, true),
                "{page}"
            );
            assert_eq!(r.location.unwrap().function, "create_message", "{page}");
        }
    }

    #[test]
    fn a_422_names_the_field_the_body_lacks() {
        let (status, body) = fixture("wrong-field-nodebug-json.txt");
        let r = parse(status, &body).unwrap();
        let f = &r.fields[0];
        assert_eq!(
            (f.field.as_str(), f.place, f.missing),
            ("content", FieldPlace::Body, true)
        );
        let (status, body) = fixture("text-plain-nodebug-json.txt");
        let r = parse(status, &body).unwrap();
        assert_eq!(
            (r.fields[0].field.as_str(), r.fields[0].place),
            ("", FieldPlace::Body)
        );
        assert!(parse(422, "{\"detail\":\"x\"}").is_none());
    }
}
