//! What an error response says, whatever produced it: one entry point over
//! the framework parsers.

use super::django::{self, DjangoError};
use super::drf::DrfError;
use crate::event::Payload;

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
    /// Anything else: the start of the body, on one line.
    Other(String),
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
        } else if let Some(e) = DrfError::parse(text) {
            ErrorBody::Drf(e)
        } else {
            let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
            ErrorBody::Other(crate::sink::format::shorten(&line, 160))
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
            ErrorBody::Other(text) => text.clone(),
        }
    }

    /// True when the upstream refused the request as a CSRF failure.
    pub fn is_csrf(&self) -> bool {
        match self {
            ErrorBody::CsrfPage(_) => true,
            ErrorBody::Drf(e) => e.is_csrf(),
            _ => false,
        }
    }
}
