//! Django's error pages: the technical 500 report (HTML or plain text), the
//! generic 500 page, and the CSRF failure page.
//!
//! With `DEBUG=True`, Django answers an unhandled exception with a report:
//! HTML when the request's `Accept` takes `text/html` (browsers, and axios'
//! default `application/json, text/plain, */*`, since `*/*` takes it), plain
//! text otherwise. Both name the exception type and value in fixed places
//! (HTML: `<title>TYPE at PATH</title>`, `<pre class="exception_value">`;
//! text: the first two lines) and list the traceback frames, from which the
//! innermost frame in the application's own code is what a developer needs.
//! With `DEBUG=False` the page says only "Server Error (500)".

/// The exception a Django technical 500 report describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DjangoError {
    /// The exception class, e.g. `IntegrityError`.
    pub exception_type: String,
    /// Its message, e.g. `NOT NULL constraint failed: chat_message.expediteur_id`.
    pub exception_value: String,
    /// The request path the report names.
    pub path: String,
    /// `Django Version:` from the report.
    pub django_version: Option<String>,
    /// The innermost traceback frame in the application's own code.
    pub app_frame: Option<Frame>,
}

pub use super::Frame;

/// True for the application's own code: not an installed package, not
/// the Python standard library.
pub fn is_application(frame: &Frame) -> bool {
    super::python_traceback::is_application(&frame.file)
}

/// Parses a Django technical 500 report (HTML or text); `None` for anything
/// else.
pub fn parse_technical_500(body: &str) -> Option<DjangoError> {
    parse_html(body).or_else(|| parse_text(body))
}

/// True for Django's page when `DEBUG=False`: no details, by design.
pub fn is_generic_500(body: &str) -> bool {
    body.contains("<h1>Server Error (500)</h1>")
}

/// Django's CSRF failure page (403): `Some(reason)` (the reason is only
/// given with `DEBUG=True`), `None` when the body is not that page.
pub fn parse_csrf_failure(body: &str) -> Option<Option<String>> {
    if !body.contains("CSRF verification failed") {
        return None;
    }
    let reason = between(body, "<p>Reason given for failure:</p>", "</pre>")
        .and_then(|r| r.split_once("<pre>").map(|(_, r)| unescape(r.trim())));
    Some(reason)
}

fn parse_html(body: &str) -> Option<DjangoError> {
    // The template breaks the title over two lines: "TYPE\n   at PATH".
    let title = between(body, "<title>", "</title>")?;
    let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
    let (exception_type, path) = title.split_once(" at ")?;
    let value = between(body, "<pre class=\"exception_value\">", "</pre>")?;
    let django_version = between(body, "Django Version:</th>", "</td>")
        .and_then(|v| v.split_once("<td>"))
        .map(|(_, v)| v.trim().to_owned());
    Some(DjangoError {
        exception_type: unescape(exception_type.trim()),
        exception_value: unescape(value.trim()),
        path: unescape(path.trim()),
        django_version,
        app_frame: html_frames(body).into_iter().rev().find(is_application),
    })
}

/// Frames of the HTML report: `<code class="fname">FILE</code>, line N, in
/// FUNC`, then the `context-line` list holding the source line.
fn html_frames(body: &str) -> Vec<Frame> {
    let marker = "<code class=\"fname\">";
    body.match_indices(marker)
        .filter_map(|(at, _)| {
            let rest = &body[at + marker.len()..];
            let (file, rest) = rest.split_once("</code>, line ")?;
            let (line, rest) = rest.split_once(", in ")?;
            let function = rest.lines().next()?.trim();
            let source = between(rest, "class=\"context-line\">", "</pre>")
                .and_then(|s| s.split_once("<pre>"))
                .map(|(_, s)| unescape(s.lines().next().unwrap_or("").trim()))
                .unwrap_or_default();
            Some(Frame {
                file: unescape(file),
                line: line.trim().parse().ok()?,
                function: unescape(function),
                source,
            })
        })
        .collect()
}

fn parse_text(body: &str) -> Option<DjangoError> {
    let mut lines = body.lines();
    let (exception_type, path) = lines.next()?.split_once(" at /")?;
    let valid_type = !exception_type.is_empty()
        && exception_type
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if !valid_type || !body.contains("Request Method:") {
        return None;
    }
    let django_version = body
        .lines()
        .find_map(|l| l.strip_prefix("Django Version:"))
        .map(|v| v.trim().to_owned());
    Some(DjangoError {
        exception_type: exception_type.to_owned(),
        exception_value: lines.next().unwrap_or_default().trim().to_owned(),
        path: format!("/{}", path.trim()),
        django_version,
        app_frame: text_frames(body).into_iter().rev().find(is_application),
    })
}

/// Frames of the text report: `  File "FILE", line N, in FUNC` and the
/// source on the next line.
fn text_frames(body: &str) -> Vec<Frame> {
    let lines: Vec<&str> = body.lines().collect();
    lines
        .iter()
        .enumerate()
        .filter_map(|(i, line)| {
            let frame = super::python_traceback::frame_line(line)?;
            Some(Frame {
                source: lines
                    .get(i + 1)
                    .map(|s| s.trim().to_owned())
                    .unwrap_or_default(),
                ..frame
            })
        })
        .collect()
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(&text[from..from + len])
}

/// Undoes the HTML escaping Django's templates apply.
fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_exception_and_the_application_frame_of_a_real_html_report() {
        let html = include_str!("../../tests/fixtures/django/attribute_error_debug.html");
        let e = parse_technical_500(html).unwrap();
        assert_eq!(e.exception_type, "AttributeError");
        assert_eq!(
            e.exception_value,
            "'User' object has no attribute 'profile'"
        );
        assert_eq!(e.path, "/api/conversations/3/messages/");
        assert_eq!(e.django_version.as_deref(), Some("5.2.19"));
        let frame = e.app_frame.unwrap();
        assert!(frame.file.ends_with("chat/serializers.py"), "{frame:?}");
        assert_eq!((frame.line, frame.function.as_str()), (39, "get_apercu"));
        assert_eq!(
            frame.source,
            "return f\"{obj.expediteur.profile.nom_affiche}: {obj.message[:40]}\""
        );
    }

    #[test]
    fn reads_the_exception_and_the_application_frame_of_a_real_text_report() {
        let text = include_str!("../../tests/fixtures/django/integrity_error_debug.txt");
        let e = parse_technical_500(text).unwrap();
        assert_eq!(e.exception_type, "IntegrityError");
        assert_eq!(
            e.exception_value,
            "NOT NULL constraint failed: chat_message.expediteur_id"
        );
        assert_eq!(e.django_version.as_deref(), Some("5.2.19"));
        let frame = e.app_frame.unwrap();
        assert!(frame.file.ends_with("chat/views.py"), "{frame:?}");
        assert_eq!(
            (frame.line, frame.function.as_str()),
            (70, "perform_create")
        );
        assert_eq!(
            frame.source,
            "message = serializer.save(conversation=conversation)"
        );
    }

    #[test]
    fn the_generic_and_csrf_pages_are_recognised() {
        let generic = "<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Server Error (500)</title>\n</head>\n<body>\n  <h1>Server Error (500)</h1><p></p>\n</body>\n</html>\n";
        assert!(is_generic_500(generic));
        assert_eq!(parse_technical_500(generic), None);
        let csrf = "<h1>Forbidden <span>(403)</span></h1>\n  <p>CSRF verification failed. Request aborted.</p>\n<p>Reason given for failure:</p>\n<pre>\n    Origin checking failed - http://localhost:3000 does not match any trusted origins.\n    </pre>";
        assert_eq!(
            parse_csrf_failure(csrf),
            Some(Some(
                "Origin checking failed - http://localhost:3000 does not match any trusted origins."
                    .to_owned()
            ))
        );
        assert_eq!(parse_csrf_failure(generic), None);
    }

    #[test]
    fn other_bodies_are_not_django_pages() {
        assert_eq!(parse_technical_500("<h1>Server Error (500)</h1>"), None);
        assert_eq!(parse_technical_500("{\"detail\":\"x\"}"), None);
        assert_eq!(parse_technical_500("Error at /x\nno request section"), None);
    }
}
