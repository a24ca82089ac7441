//! Express's error pages, as its final handler writes them.
//!
//! Follows pillarjs/finalhandler (index.js, `createHtmlDocument`): an
//! error reaching Express's default handler is answered with
//! `<pre>MESSAGE</pre>` in a minimal HTML document, where MESSAGE is the
//! error's `stack` in development and the status's text (`Internal
//! Server Error`) in production (`NODE_ENV=production`), HTML-escaped, with
//! each newline written `<br>` and runs of spaces as ` &nbsp;`. V8 writes a
//! stack as `Type: message` then `    at FUNC (FILE:LINE:COL)` or `    at
//! FILE:LINE:COL` lines, innermost first.

use super::api::{ErrorReport, Frame, StackId};
use super::page::{between, decode_html};

/// Reads finalhandler's page, if `body` is one.
pub fn parse(body: &str) -> Option<ErrorReport> {
    if !body.contains("<title>Error</title>") {
        return None;
    }
    let pre = between(body, "<pre>", "</pre>")?;
    let text = decode_html(&pre.replace("<br>", "\n"));
    let mut lines = text.lines().map(str::trim);
    let first = lines.next()?.to_owned();
    let frames: Vec<Frame> = lines.filter_map(v8_frame).collect();
    if frames.is_empty() {
        // Production: the status text alone.
        let mut report = ErrorReport::new(StackId::Express, first);
        report.details_in_log = true;
        return Some(report);
    }
    let (exception, message) = match first.split_once(": ") {
        Some((t, m)) if !t.contains(' ') => (Some(t.to_owned()), m.to_owned()),
        _ => (None, first.clone()),
    };
    let mut report = ErrorReport::new(StackId::Express, message);
    report.exception = exception;
    report.database = super::db::parse(&report.message);
    report.location = frames.into_iter().find(|f| is_application(&f.file));
    Some(report)
}

/// True for the application's own code: not a package in `node_modules`,
/// not Node's own `node:` modules.
fn is_application(file: &str) -> bool {
    !(file.contains("node_modules") || file.starts_with("node:") || file.starts_with("internal/"))
}

/// `at FUNC (FILE:LINE:COL)` or `at FILE:LINE:COL`.
fn v8_frame(line: &str) -> Option<Frame> {
    let rest = line.strip_prefix("at ")?;
    let (function, place) = match rest.rsplit_once(" (") {
        Some((f, p)) => (
            f.trim_start_matches("async ").to_owned(),
            p.trim_end_matches(')'),
        ),
        None => ("<anonymous>".to_owned(), rest),
    };
    let mut parts = place.rsplitn(3, ':');
    let _column = parts.next()?;
    let line = parts.next()?.parse().ok()?;
    let file = parts.next()?.trim_start_matches("file://").to_owned();
    Some(Frame {
        file,
        line,
        function,
        source: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEV: &str = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Error</title>\n</head>\n<body>\n<pre>TypeError: Cannot read properties of undefined (reading &#39;text&#39;)<br> &nbsp; &nbsp;at /srv/chat/routes/messages.js:18:7<br> &nbsp; &nbsp;at Layer.handleRequest (/srv/chat/node_modules/router/lib/layer.js:152:17)<br> &nbsp; &nbsp;at next (/srv/chat/node_modules/router/lib/route.js:157:13)</pre>\n</body>\n</html>\n";

    #[test]
    fn development_pages_give_the_error_and_the_route_line() {
        let r = parse(DEV).unwrap();
        assert_eq!(r.exception.as_deref(), Some("TypeError"));
        assert_eq!(
            r.message,
            "Cannot read properties of undefined (reading 'text')"
        );
        let at = r.location.unwrap();
        assert_eq!(
            (at.file.as_str(), at.line),
            ("/srv/chat/routes/messages.js", 18)
        );
        assert_eq!(at.language(), "javascript");
        let frame = v8_frame("at async Router.handle (/app/node_modules/x.js:3:9)").unwrap();
        assert_eq!((frame.function.as_str(), frame.line), ("Router.handle", 3));
    }

    #[test]
    fn production_pages_say_the_details_are_in_the_log() {
        let prod = DEV.replace(
            &DEV[DEV.find("<pre>").unwrap()..DEV.find("</pre>").unwrap()],
            "<pre>Internal Server Error",
        );
        let r = parse(&prod).unwrap();
        assert!(r.details_in_log);
        assert_eq!(r.message, "Internal Server Error");
        assert!(parse("<html><pre>x</pre></html>").is_none());
    }
}
