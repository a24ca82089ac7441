//! The responses of the sample backend: JSON and other bodies, whole.

use bytes::Bytes;
use http::{header, Response, StatusCode};
use http_body_util::Full;
use serde_json::Value;

/// A response of the sample backend.
pub type DemoResponse = Response<Full<Bytes>>;

/// A JSON response.
pub fn json(status: StatusCode, value: &Value) -> DemoResponse {
    respond(status, "application/json", value.to_string())
}

/// A response with a body, its `Content-Type`, and the demo's `Server`.
pub fn respond(status: StatusCode, content_type: &'static str, body: String) -> DemoResponse {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    // Named like the server it imitates, so that wsdiag reads it as
    // Django's (daphne names itself in `Server`).
    response.headers_mut().insert(
        header::SERVER,
        header::HeaderValue::from_static("wsdiag-demo (a daphne look-alike)"),
    );
    response
}
