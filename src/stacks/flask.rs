//! Flask's error pages, as Werkzeug writes them.
//!
//! Follows werkzeug/debug/tbtools.py and werkzeug/exceptions.py: with the
//! debugger on, an unhandled exception gets the "Werkzeug Debugger" page,
//! which carries the plain traceback (`traceback.format_exc()` form) in a
//! `<textarea>`, HTML-escaped; without it, and for `abort()`, an
//! `HTTPException` page `<title>CODE Name</title><h1>Name</h1><p>description</p>`
//! (`Internal Server Error` for a 500: the details are in the log).

use super::api::{ErrorReport, FieldError, FieldPlace, StackId};
use super::page::{between, decode_html, first_line};
use super::python_traceback;

/// Reads a Werkzeug page, if `body` is one.
pub fn parse(body: &str) -> Option<ErrorReport> {
    if body.contains("Werkzeug Debugger") || body.contains("<!-- Werkzeug") {
        return debugger(body);
    }
    if !(body.contains("<!doctype html>") || body.contains("<!DOCTYPE html>")) {
        return None;
    }
    let title = between(body, "<title>", "</title>")?;
    let (code, name) = title.split_once(' ')?;
    code.parse::<u16>().ok()?;
    let h1 = between(body, "<h1>", "</h1>")?;
    if h1 != name {
        return None;
    }
    let description = between(body, "<p>", "</p>")
        .map(decode_html)
        .unwrap_or_default();
    if code == "500" {
        let mut report = ErrorReport::new(StackId::Flask, name);
        report.details_in_log = true;
        return Some(report);
    }
    let mut report = ErrorReport::new(StackId::Flask, description.clone());
    report
        .fields
        .extend(super::generic::required_in_words(&description));
    Some(report)
}

/// The debugger page's traceback, from its `<textarea>`.
fn debugger(body: &str) -> Option<ErrorReport> {
    let area = between(body, "<textarea", "</textarea>")?;
    let text = decode_html(area.split_once('>')?.1);
    let tb = python_traceback::parse(&text)?;
    let mut report = ErrorReport::new(StackId::Flask, first_line(&tb.message));
    report.exception = Some(tb.exception.clone());
    report.database = super::db::parse(&tb.message);
    report.location = tb.app_frame().cloned();
    let reads_body = report.location.as_ref().is_some_and(|f| {
        ["request.json[", "get_json()[", "request.form["]
            .iter()
            .any(|r| f.source.contains(r))
    });
    if tb.exception == "KeyError" && reads_body {
        // `request.get_json()["content"]` on a body without it.
        let key = tb.message.trim().trim_matches('\'').to_owned();
        report.fields.push(FieldError {
            field: key,
            place: FieldPlace::Body,
            missing: true,
            message: format!("KeyError: {}", tb.message.trim()),
        });
    }
    Some(report)
}
