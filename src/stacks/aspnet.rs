//! ASP.NET Core's developer exception page, as plain text.
//!
//! Follows dotnet/aspnetcore src/Middleware/Diagnostics
//! (DeveloperExceptionPageMiddlewareImpl: `text/plain` when the request does
//! not accept HTML): the exception's `ToString()`, `Namespace.Type: message`
//! then `   at Method(args) in FILE:line N` frames, innermost first.
//! `ProblemDetails` and `ValidationProblemDetails` JSON are the generic
//! formats' (RFC 9457).

use super::api::{ErrorReport, Frame, StackId};

/// Reads the developer exception page's text, if `body` is one.
pub fn parse(body: &str) -> Option<ErrorReport> {
    let mut lines = body.lines();
    let first = lines.next()?.trim();
    let (kind, message) = first.split_once(": ")?;
    if !(kind.starts_with("System.")
        || kind.starts_with("Microsoft.")
        || kind.contains("Exception"))
        || kind.contains(' ')
    {
        return None;
    }
    let frames: Vec<Frame> = lines.filter_map(dotnet_frame).collect();
    if frames.is_empty() && !body.contains("\n   at ") {
        return None;
    }
    let mut report = ErrorReport::new(StackId::Aspnet, message);
    report.exception = Some(kind.to_owned());
    report.database = super::db::parse(body);
    report.location = frames
        .into_iter()
        .find(|f| !(f.function.starts_with("Microsoft.") || f.function.starts_with("System.")));
    Some(report)
}

/// `   at Ns.Type.Method(String room) in /src/File.cs:line 27`.
fn dotnet_frame(line: &str) -> Option<Frame> {
    let rest = line.trim().strip_prefix("at ")?;
    let (call, place) = rest.split_once(" in ")?;
    let (file, number) = place.rsplit_once(":line ")?;
    let function = call.split('(').next().unwrap_or(call);
    Some(Frame {
        file: file.to_owned(),
        line: number.trim().parse().ok()?,
        function: function.to_owned(),
        source: String::new(),
    })
}
