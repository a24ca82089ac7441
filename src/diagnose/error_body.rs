//! What an error response says, whatever produced it: one entry point over
//! the framework parsers.

use crate::event::Payload;
use crate::stacks::django::{self, DjangoError};
use crate::stacks::drf::DrfError;

/// The parsed body of an error response (status 400 or more).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorBody {
    /// Django's technical 500 report (`DEBUG=True`).
    Django(DjangoError),
    /// Django's generic 500 page (`DEBUG=False`): the details are only in
    /// the server's log.
    Generic500,
    /// Django's CSRF failure page, with the reason when `DEBUG=True`.
    CsrfPage(Option<String>),
    /// A DRF JSON error.
    Drf(DrfError),
    /// Another framework's error, or a generic format, read by its stack
    /// module (`crate::stacks`).
    Report(crate::stacks::ErrorReport),
    /// Anything else, quoted briefly: an HTML page's title and heading,
    /// else the start of the body, on one line.
    Other(String),
}

/// A page no parser knows, in a few words: an HTML page's title and
/// heading (never its markup), else the text's first words.
fn quote(text: &str) -> String {
    let between = |start: &str, end: &str| {
        let lower = text.to_ascii_lowercase();
        let from = lower.find(start)? + start.len();
        let to = from + lower[from..].find(end)?;
        let inner = text.get(from..to)?;
        let inner = inner.split_once('>').map_or(inner, |(_, rest)| rest);
        let inner = html_escape::decode_html_entities(inner);
        Some(inner.split_whitespace().collect::<Vec<_>>().join(" "))
    };
    if text.trim_start().starts_with('<') {
        let parts: Vec<String> = [("<title", "</title>"), ("<h1", "</h1>")]
            .iter()
            .filter_map(|(s, e)| between(s, e))
            .filter(|p| !p.is_empty())
            .collect();
        if !parts.is_empty() {
            let mut parts = parts;
            parts.dedup();
            return format!("HTML page: {}", parts.join(" — "));
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl ErrorBody {
    /// Reads the body of a response with `status`; `None` below 400.
    pub fn parse(status: u16, body: &Payload) -> Option<ErrorBody> {
        if status < 400 {
            return None;
        }
        let text = body.text().unwrap_or_default();
        let parsed = if let Some(e) = django::parse_technical_500(text) {
            ErrorBody::Django(e)
        } else if django::is_generic_500(text) {
            ErrorBody::Generic500
        } else if let Some(reason) = django::parse_csrf_failure(text) {
            ErrorBody::CsrfPage(reason)
        } else if let Some(r) = crate::stacks::parse_framework(status, text) {
            ErrorBody::Report(r)
        } else if let Some(e) = DrfError::parse(text) {
            ErrorBody::Drf(e)
        } else if let Some(r) = crate::stacks::generic::parse(text) {
            ErrorBody::Report(r)
        } else {
            ErrorBody::Other(crate::event::text::shorten(&quote(text), 160))
        };
        Some(parsed)
    }

    /// The error in a few words, for one line.
    pub fn summary(&self) -> String {
        match self {
            ErrorBody::Django(e) => format!("{}: {}", e.exception_type, e.exception_value),
            ErrorBody::Generic500 => {
                "Server Error (500), details only in the server log".to_owned()
            }
            ErrorBody::CsrfPage(Some(reason)) => format!("CSRF verification failed: {reason}"),
            ErrorBody::CsrfPage(None) => "CSRF verification failed".to_owned(),
            ErrorBody::Drf(DrfError::Detail(d)) => d.clone(),
            ErrorBody::Drf(DrfError::Fields(fields)) => fields
                .iter()
                .map(|(field, messages)| format!("{field}: {}", messages.join(" ")))
                .collect::<Vec<_>>()
                .join("; "),
            ErrorBody::Report(r) => r.summary(),
            ErrorBody::Other(text) => text.clone(),
        }
    }

    /// The framework that wrote it: Django for its pages and DRF's errors,
    /// the stack module's for the others, generic when none is known.
    pub fn stack(&self) -> crate::stacks::StackId {
        use crate::stacks::StackId;
        match self {
            ErrorBody::Django(_)
            | ErrorBody::Generic500
            | ErrorBody::CsrfPage(_)
            | ErrorBody::Drf(_) => StackId::Django,
            ErrorBody::Report(r) => r.stack,
            ErrorBody::Other(_) => StackId::Generic,
        }
    }

    /// The innermost frame in the application's own code, when the page
    /// shows one.
    pub fn location(&self) -> Option<&crate::stacks::Frame> {
        match self {
            ErrorBody::Django(e) => e.app_frame.as_ref(),
            ErrorBody::Report(r) => r.location.as_ref(),
            _ => None,
        }
    }

    /// The exception's message (Django's value, a report's message).
    pub fn message(&self) -> Option<&str> {
        match self {
            ErrorBody::Django(e) => Some(&e.exception_value),
            ErrorBody::Report(r) => Some(&r.message),
            _ => None,
        }
    }

    /// True for a page that gives no details: only the server's log has
    /// them.
    pub fn details_in_log(&self) -> bool {
        match self {
            ErrorBody::Generic500 => true,
            ErrorBody::Report(r) => r.details_in_log,
            _ => false,
        }
    }

    /// True when the upstream refused the request as a CSRF failure:
    /// Django's page or DRF's error, Rails' `InvalidAuthenticityToken`,
    /// Laravel's `CSRF token mismatch` (its 419).
    pub fn is_csrf(&self) -> bool {
        match self {
            ErrorBody::CsrfPage(_) => true,
            ErrorBody::Drf(e) => e.is_csrf(),
            ErrorBody::Report(r) => {
                r.exception
                    .as_deref()
                    .is_some_and(|e| e.ends_with("InvalidAuthenticityToken"))
                    || r.message.contains("CSRF token mismatch")
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_pages_are_quoted_without_their_markup() {
        let page = "<!DOCTYPE html><html><head><title>Oops &amp; sorry</title><style>body{}</style></head><body><h1 class=\"x\">Something broke</h1><p>...</p></body></html>";
        assert_eq!(quote(page), "HTML page: Oops & sorry — Something broke");
        assert_eq!(quote("plain\n  words  here"), "plain words here");
        let body = Payload::capture(&bytes::Bytes::from(page), 1 << 20);
        match ErrorBody::parse(503, &body) {
            Some(ErrorBody::Other(q)) => assert!(!q.contains('<'), "{q}"),
            other => panic!("{other:?}"),
        }
    }
}
