//! Error formats any stack may use, when no framework module recognised
//! the response.
//!
//! RFC 9457 `application/problem+json` (`title`, `detail`, `errors`, and
//! ASP.NET's `ValidationProblemDetails` `errors: {"Field": ["…"]}`);
//! `{"error": …}`, `{"message": …}` (NestJS's `{"statusCode","message",
//! "error"}` with a list of validation messages), `{"detail": "…"}`,
//! `{"errors": {"field": ["…"]}}` (Rails, Phoenix changesets); and a page
//! that says only "Internal Server Error": the details are in the server's
//! log.

use serde_json::{Map, Value};

use super::api::{ErrorReport, FieldError, FieldPlace, StackId};

/// Reads a generic error body, if it has a known shape.
pub fn parse(body: &str) -> Option<ErrorReport> {
    let trimmed = body.trim();
    let plain = trimmed
        .trim_start_matches("<pre>")
        .trim_end_matches("</pre>");
    if plain.eq_ignore_ascii_case("Internal Server Error") || plain == "Server Error" {
        let mut report = ErrorReport::new(StackId::Generic, "Internal Server Error");
        report.details_in_log = true;
        return Some(report);
    }
    let Ok(Value::Object(o)) = serde_json::from_str::<Value>(trimmed) else {
        return None;
    };
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(inner) => inner
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    };
    let message = ["detail", "title", "error", "message"]
        .iter()
        .filter_map(|k| o.get(*k).and_then(text))
        .next()
        .or_else(|| o.get("errors").map(|_| "validation failed".to_owned()))?;
    let mut report = ErrorReport::new(StackId::Generic, message);
    // "Internal Server Error", or a ProblemDetails with only its title: the
    // details are in the server's log.
    let bare_problem = o.contains_key("title")
        && o.keys().all(|k| {
            matches!(
                k.as_str(),
                "type" | "title" | "status" | "traceId" | "instance"
            )
        })
        && o.get("status").and_then(Value::as_u64) == Some(500);
    report.details_in_log = report.message.eq_ignore_ascii_case("Internal Server Error")
        || report.message == "Server Error"
        || bare_problem;
    report.fields = field_errors(&o);
    if report.fields.is_empty() {
        report.fields.extend(required_in_words(&report.message));
    }
    report.database = super::db::parse(&report.message);
    Some(report)
}

/// A message that names one required field: `content is required`,
/// `content is missing`, `content can't be blank`.
pub fn required_in_words(message: &str) -> Option<FieldError> {
    let (field, rest) = message.trim().split_once(' ')?;
    let field = field.trim_matches(|c: char| c == '`' || c == '\'' || c == '"');
    let required = [
        "is required",
        "is missing",
        "can't be blank",
        "must not be empty",
        "should not be empty",
    ]
    .iter()
    .any(|p| rest.starts_with(p));
    let plain = !field.is_empty()
        && field
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.');
    (required && plain).then(|| FieldError {
        field: field.to_owned(),
        place: FieldPlace::Body,
        missing: true,
        message: message.to_owned(),
    })
}

/// `errors: {"field": ["msg"]}` or a NestJS-style `message: ["field must …"]`.
fn field_errors(o: &Map<String, Value>) -> Vec<FieldError> {
    let mut out = Vec::new();
    if let Some(Value::Object(errors)) = o.get("errors") {
        for (field, messages) in errors {
            let message = match messages {
                Value::Array(list) => list
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" "),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            out.push(FieldError {
                field: field.clone(),
                place: FieldPlace::Body,
                missing: message.contains("required") || message.contains("blank"),
                message,
            });
        }
    }
    if let Some(Value::Array(messages)) = o.get("message") {
        for m in messages.iter().filter_map(Value::as_str) {
            // class-validator: "content should not be empty", "text must be a
            // string", and for a field the DTO does not declare (with
            // forbidNonWhitelisted) "property text should not exist".
            let mut words = m.split_whitespace();
            let first = words.next().unwrap_or("");
            let field = match (first, m.ends_with("should not exist")) {
                ("property", true) => words.next().unwrap_or(""),
                _ => first,
            }
            .to_owned();
            out.push(FieldError {
                field,
                place: FieldPlace::Body,
                missing: m.contains("should not be empty") || m.contains("must be defined"),
                message: m.to_owned(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_shapes() {
        let p = parse(r#"{"type":"https://tools.ietf.org/html/rfc9110#section-15.5.1","title":"One or more validation errors occurred.","status":400,"errors":{"Text":["The Text field is required."]}}"#).unwrap();
        assert_eq!(p.fields[0].field, "Text");
        assert!(p.fields[0].missing);
        let nest = parse(
            r#"{"statusCode":400,"message":["content should not be empty"],"error":"Bad Request"}"#,
        )
        .unwrap();
        assert_eq!(nest.fields[0].field, "content");
        let words = parse(r#"{"error":"content is required"}"#).unwrap();
        assert_eq!(words.message, "content is required");
        assert_eq!(
            (words.fields[0].field.as_str(), words.fields[0].missing),
            ("content", true)
        );
        let vague = parse(r#"{"error":"Something went wrong"}"#).unwrap();
        assert!(vague.fields.is_empty());
        assert!(parse("Internal Server Error").unwrap().details_in_log);
        assert!(
            parse("<pre>Internal Server Error</pre>")
                .unwrap()
                .details_in_log
        );
        assert!(parse("[1,2]").is_none());
        assert!(parse("hello").is_none());
    }
}
