//! Findings: what the diagnosis concludes, each with a stable code, the
//! events it rests on, and a next step. Every code is documented in
//! `docs/diagnostics.md`; the codes are a contract (scripts match on them).

use serde::Serialize;

use super::attempt::SendPath;
use super::compare::Comparison;
use crate::stacks::Frame;

/// The stable code of a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    /// REST 500 from a NOT NULL constraint on a field the WebSocket path
    /// fills from the connection (the user, the conversation).
    RestMissingServerField,
    /// REST 500 raised after the object was saved (while rendering the
    /// response): a retry would save it twice.
    RestErrorAfterSave,
    /// REST 400 because the body uses a field name the serializer does not
    /// know.
    RestUnknownField,
    /// REST 400 for another validation error.
    RestValidationFailed,
    /// REST refused for its content type: JSON sent as `text/plain` (415,
    /// or a validator that found no object).
    RestContentType,
    /// REST 5xx because the route found no parsed body (no JSON body
    /// parser mounted on it).
    RestBodyNotParsed,
    /// REST 5xx because the route read the authenticated user and found
    /// none (no authentication on that route).
    RestUserMissing,
    /// REST refused by the CSRF check.
    CsrfFailed,
    /// The browser's CORS preflight is refused, so the REST write is never
    /// sent.
    RestCorsRefused,
    /// Credentials travel on one path only.
    CredentialsMissing,
    /// REST 5xx without a more specific explanation.
    RestServerError,
    /// REST failed otherwise (4xx, no response).
    RestFailed,
    /// The upstream refused the WebSocket handshake.
    WsHandshakeRefused,
    /// The upstream closed the WebSocket right after a client message.
    WsClosedAfterMessage,
    /// The upstream answered a client message with an error message.
    WsErrorReply,
    /// The client offered subprotocols and the upstream's 101 chose none
    /// (RFC 6455 section 4.1: browsers fail such a connection).
    WsSubprotocolNotChosen,
    /// The upstream's 101 chose a subprotocol the client did not offer.
    WsSubprotocolNotOffered,
    /// The upstream closed the WebSocket with an error code, not right
    /// after a client message.
    WsClosedByUpstream,
    /// Something on the upstream's side dropped a silent WebSocket without
    /// a close frame (an idle timeout in front of the backend).
    WsIdleDrop,
    /// The upstream refused an Engine.IO session it had issued (no sticky
    /// sessions between several server processes).
    SocketioSessionUnknown,
    /// A side never answered the other side's close frame: the close
    /// handshake did not complete.
    WsCloseUnanswered,
    /// A side answered pings much later than they came: its event loop was
    /// blocked, or it stopped reading.
    WsLatePong,
    /// A side sent compressed frames (RSV1) though no compression was
    /// negotiated.
    WsCompressionNotNegotiated,
}

impl Code {
    /// The code as written in reports and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::RestMissingServerField => "rest-missing-server-field",
            Code::RestErrorAfterSave => "rest-error-after-save",
            Code::RestUnknownField => "rest-unknown-field",
            Code::RestValidationFailed => "rest-validation-failed",
            Code::RestContentType => "rest-content-type",
            Code::RestBodyNotParsed => "rest-body-not-parsed",
            Code::RestUserMissing => "rest-user-missing",
            Code::CsrfFailed => "csrf-failed",
            Code::RestCorsRefused => "rest-cors-refused",
            Code::CredentialsMissing => "credentials-missing",
            Code::RestServerError => "rest-server-error",
            Code::RestFailed => "rest-failed",
            Code::WsHandshakeRefused => "ws-handshake-refused",
            Code::WsClosedAfterMessage => "ws-closed-after-message",
            Code::WsErrorReply => "ws-error-reply",
            Code::WsSubprotocolNotChosen => "ws-subprotocol-not-chosen",
            Code::WsSubprotocolNotOffered => "ws-subprotocol-not-offered",
            Code::WsClosedByUpstream => "ws-closed-by-upstream",
            Code::WsIdleDrop => "ws-idle-drop",
            Code::SocketioSessionUnknown => "socketio-session-unknown",
            Code::WsCloseUnanswered => "ws-close-unanswered",
            Code::WsLatePong => "ws-late-pong",
            Code::WsCompressionNotNegotiated => "ws-compression-not-negotiated",
        }
    }
}

/// One diagnosis result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The stable code.
    pub code: Code,
    /// The send path that fails.
    pub path: SendPath,
    /// One line: what fails, and why.
    pub title: String,
    /// The error as the upstream reported it (exception, status, message).
    pub error: Option<String>,
    /// Where in the application's code it was raised.
    pub location: Option<Frame>,
    /// The reasoning, a sentence per line.
    pub explanation: Vec<String>,
    /// What to do next.
    pub next_step: String,
    /// A code change to try, when one can be named.
    pub suggestion: Option<String>,
    /// The capture events (`seq`) the finding rests on.
    pub evidence: Vec<u64>,
    /// The action this finding belongs to (index in the report's actions).
    pub action: Option<usize>,
    /// The comparison of the two paths, when both were tried.
    pub comparison: Option<Comparison>,
}
