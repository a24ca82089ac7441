//! Django's technical 500 page, as HTML or as plain text.
//!
//! With `DEBUG=True`, Django answers an unhandled exception with a report:
//! HTML when the request's `Accept` takes `text/html` (browsers, and axios'
//! default `application/json, text/plain, */*`, since `*/*` takes it), plain
//! text otherwise. Both name the exception type and value in fixed places:
//! the HTML in `<title>TYPE at PATH</title>` and
//! `<pre class="exception_value">VALUE</pre>`, the text in its first two
//! lines.

/// The exception a Django technical 500 page reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DjangoError {
    /// The exception class, e.g. `IntegrityError`.
    pub exception_type: String,
    /// Its message, e.g. `NOT NULL constraint failed: chat_message.expediteur_id`.
    pub exception_value: String,
    /// The request path the page names.
    pub path: String,
}

/// Parses a Django technical 500 page (HTML or text); `None` for anything
/// else.
pub fn parse_technical_500(body: &str) -> Option<DjangoError> {
    parse_html(body).or_else(|| parse_text(body))
}

fn parse_html(body: &str) -> Option<DjangoError> {
    // Django's template breaks the title over two lines: "TYPE\n   at PATH".
    let title = between(body, "<title>", "</title>")?;
    let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
    let (exception_type, path) = title.split_once(" at ")?;
    let value = between(body, "<pre class=\"exception_value\">", "</pre>")?;
    Some(DjangoError {
        exception_type: unescape(exception_type.trim()),
        exception_value: unescape(value.trim()),
        path: unescape(path.trim()),
    })
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
    Some(DjangoError {
        exception_type: exception_type.to_owned(),
        exception_value: lines.next().unwrap_or_default().trim().to_owned(),
        path: format!("/{}", path.trim()),
    })
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
    fn reads_the_html_page() {
        let page = "<!DOCTYPE html><html><head><title>IntegrityError at /api/conversations/3/messages/</title></head>\
            <body><h1>IntegrityError at /api/conversations/3/messages/</h1>\
            <pre class=\"exception_value\">NOT NULL constraint failed: chat_message.expediteur_id</pre></body>";
        let e = parse_technical_500(page).unwrap();
        assert_eq!(e.exception_type, "IntegrityError");
        assert_eq!(
            e.exception_value,
            "NOT NULL constraint failed: chat_message.expediteur_id"
        );
        assert_eq!(e.path, "/api/conversations/3/messages/");
    }

    #[test]
    fn reads_the_text_page_and_unescapes_nothing_there() {
        let page = "AttributeError at /api/conversations/3/messages/\n'User' object has no attribute 'profile'\n\nRequest Method: POST\n";
        let e = parse_technical_500(page).unwrap();
        assert_eq!(e.exception_type, "AttributeError");
        assert_eq!(
            e.exception_value,
            "'User' object has no attribute 'profile'"
        );
    }

    #[test]
    fn reads_real_django_5_pages() {
        let html = include_str!("../../tests/fixtures/django/attribute_error_debug.html");
        let e = parse_technical_500(html).unwrap();
        assert_eq!(e.exception_type, "AttributeError");
        assert_eq!(
            e.exception_value,
            "'User' object has no attribute 'profile'"
        );
        assert_eq!(e.path, "/api/conversations/3/messages/");
        let text = include_str!("../../tests/fixtures/django/integrity_error_debug.txt");
        let e = parse_technical_500(text).unwrap();
        assert_eq!(e.exception_type, "IntegrityError");
        assert_eq!(
            e.exception_value,
            "NOT NULL constraint failed: chat_message.expediteur_id"
        );
    }

    #[test]
    fn other_bodies_are_not_django_pages() {
        assert_eq!(parse_technical_500("<h1>Server Error (500)</h1>"), None);
        assert_eq!(parse_technical_500("{\"detail\":\"x\"}"), None);
        assert_eq!(parse_technical_500("Error at /x\nno request section"), None);
    }
}
