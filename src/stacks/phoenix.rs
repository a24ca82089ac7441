//! Phoenix's debug error page, in the Markdown form Plug.Debugger sends to
//! clients that do not accept HTML.
//!
//! Follows plug's lib/plug/debugger.ex (`render_markdown`): `# Type at
//! METHOD PATH`, then `    ** (Type) message` and the stacktrace as
//! `        (app vsn) file:line: Module.fun/arity` lines, innermost first.
//! An Ecto changeset's `{"errors":{field:[…]}}` is a generic format.

use super::api::{ErrorReport, Frame, StackId};

/// Reads Plug.Debugger's Markdown page, if `body` is one.
pub fn parse(body: &str) -> Option<ErrorReport> {
    if !body.starts_with("# ") || !body.contains("\n    ** (") {
        return None;
    }
    let line = body.lines().find(|l| l.trim_start().starts_with("** ("))?;
    let rest = line.trim_start().strip_prefix("** (")?;
    let (kind, message) = rest.split_once(") ")?;
    let mut report = ErrorReport::new(StackId::Phoenix, message);
    report.exception = Some(kind.to_owned());
    report.database = super::db::parse(message);
    report.location = body.lines().filter_map(elixir_frame).find(|f| {
        !(f.file.starts_with("deps/")
            || f.file.starts_with("lib/phoenix/")
            || f.file.starts_with("lib/plug/"))
    });
    Some(report)
}

/// `(chat 0.1.0) lib/chat_web/controllers/message_controller.ex:14: ChatWeb.MessageController.create/2`.
fn elixir_frame(line: &str) -> Option<Frame> {
    let rest = line.trim().strip_prefix('(')?;
    let (_app, rest) = rest.split_once(") ")?;
    let (file, rest) = rest.split_once(':')?;
    let (number, function) = rest.split_once(": ")?;
    Some(Frame {
        file: file.to_owned(),
        line: number.parse().ok()?,
        function: function.trim().to_owned(),
        source: String::new(),
    })
}
