//! One HTTP exchange: the request, its response or failure, and their events.
//!
//! wsdiag's own forwarder (`h1`) and, for what it hands to hyper,
//! `upgrade` and `forward` use the helpers here to record the request,
//! relay the upstream's response while recording it, or answer with an
//! error of the proxy's own.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};

use super::body::{BodyOutcome, BoxError, TeeBody};
use super::conn_state::ConnState;
use super::headers::{self, Hop};
use super::{ProxyBody, Shared};
use crate::event::{
    headers_from, ErrorKind, EventKind, HttpError, HttpRequest, HttpResponse, Payload, Side,
};

/// The parts of a request the capture keeps, taken before forwarding
/// changes them.
pub(super) struct RequestHead {
    method: String,
    uri: String,
    version: String,
    headers: crate::event::Headers,
}

impl RequestHead {
    /// The head as the forwarder read it: `version` is `HTTP/1.1` or
    /// `HTTP/1.0`, `headers` as [`crate::event::Headers`] keeps them.
    pub fn new(
        method: String,
        uri: String,
        version: &str,
        headers: crate::event::Headers,
    ) -> RequestHead {
        RequestHead {
            method,
            uri,
            version: version.to_owned(),
            headers,
        }
    }

    /// The method.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The request target.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    pub fn of<B>(req: &Request<B>) -> RequestHead {
        RequestHead {
            method: req.method().to_string(),
            uri: req.uri().to_string(),
            version: format!("{:?}", req.version()),
            headers: headers_from(req.headers()),
        }
    }
}

/// One exchange in flight.
pub(super) struct Exchange {
    pub id: u64,
    pub conn: Arc<ConnState>,
    pub shared: Arc<Shared>,
    started: Instant,
}

impl Exchange {
    /// Starts the next exchange of `conn`, once the previous one is fully
    /// recorded.
    pub async fn start(conn: Arc<ConnState>, shared: Arc<Shared>) -> Exchange {
        let started = Instant::now();
        conn.previous_recorded().await;
        conn.exchange_started();
        Exchange {
            id: shared.recorder.next_exchange(),
            conn,
            shared,
            started,
        }
    }

    /// Microseconds since the request arrived.
    pub fn elapsed_us(&self) -> u64 {
        self.started.elapsed().as_micros() as u64
    }

    /// Records an event of this exchange's connection.
    pub async fn record(&self, kind: EventKind) {
        self.shared.recorder.record(Some(self.conn.id), kind).await;
    }

    /// Records without waiting when the hub keeps up; otherwise from a
    /// task that the connection's next exchange waits for, so the order of
    /// events stays the order things happened.
    pub fn record_soon(&self, kind: EventKind) {
        let recorder = &self.shared.recorder;
        let Err(event) = recorder.try_record(Some(self.conn.id), kind) else {
            return;
        };
        // Bodies end on the runtime; without one, the process is ending.
        if tokio::runtime::Handle::try_current().is_ok() {
            let recorder = recorder.clone();
            let task = self
                .shared
                .tasks
                .spawn(async move { recorder.send(event).await });
            self.conn.set_pending(task);
        }
    }

    /// Records the request with its body as it turned out.
    pub async fn record_request(&self, head: RequestHead, body: BodyOutcome) {
        let forwarded_host = self.forwarded_host(crate::event::header(&head.headers, "host"));
        let request = HttpRequest {
            exchange: self.id,
            method: head.method,
            uri: head.uri,
            version: head.version,
            headers: head.headers,
            forwarded_host,
            body: body.payload,
        };
        self.record(EventKind::HttpRequest(request)).await;
    }

    /// The `Host` the upstream gets when it is not the client's: the
    /// upstream's authority under `--rewrite-host`, or when the client sent
    /// none (see [`headers::prepare_request`]).
    fn forwarded_host(&self, client_host: Option<&str>) -> Option<String> {
        let authority = self.shared.config.upstream.authority.as_str();
        let rewritten = self.shared.config.rewrite_host || client_host.is_none();
        (rewritten && client_host != Some(authority)).then(|| authority.to_owned())
    }

    /// The hop as [`headers::prepare_request`] needs it.
    pub fn hop(&self) -> Hop<'_> {
        let config = &self.shared.config;
        Hop {
            peer_ip: &self.conn.peer_ip,
            rewrite_host_to: config
                .rewrite_host
                .then(|| config.upstream.authority.as_str()),
            upstream_authority: config.upstream.authority.as_str(),
            via: &self.shared.via,
        }
    }

    /// Records a failure and answers the client with `status` and a plain
    /// text body naming the upstream and the cause.
    pub async fn fail(
        &self,
        side: Side,
        kind: ErrorKind,
        message: String,
        status: StatusCode,
    ) -> Response<ProxyBody> {
        let body = self.failure(side, kind, message, status).await;
        let mut response = Response::new(full(body));
        *response.status_mut() = status;
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
    }

    /// Records a failure answered with `status`; returns the plain text
    /// body of that answer, naming the upstream and the cause.
    pub async fn failure(
        &self,
        side: Side,
        kind: ErrorKind,
        message: String,
        status: StatusCode,
    ) -> String {
        let body = format!(
            "wsdiag: {message}\n(upstream {}; the request was recorded)\n",
            self.shared.config.upstream.display
        );
        let error = HttpError {
            exchange: self.id,
            side,
            kind,
            message,
            status: Some(status.as_u16()),
            duration_us: self.elapsed_us(),
        };
        self.record(EventKind::HttpError(error)).await;
        body
    }

    /// What a response whose body ended as `outcome` is recorded as: an
    /// `http_response`, or an `http_error` for a body cut off.
    pub fn response_event(
        &self,
        status: u16,
        headers: crate::event::Headers,
        outcome: BodyOutcome,
    ) -> EventKind {
        match outcome.error {
            None => EventKind::HttpResponse(HttpResponse {
                exchange: self.id,
                status,
                headers,
                body: outcome.payload,
                duration_us: self.elapsed_us(),
            }),
            Some((side, message)) => EventKind::HttpError(HttpError {
                exchange: self.id,
                side,
                kind: ErrorKind::Body,
                message: format!(
                    "response body cut off after {} bytes: {message}",
                    outcome.payload.len
                ),
                status: Some(status),
                duration_us: self.elapsed_us(),
            }),
        }
    }

    /// Passes the upstream's response to the client, recording it once its
    /// body has been forwarded completely (or has failed).
    pub fn relay<B>(self, response: Response<B>) -> Response<ProxyBody>
    where
        B: Body<Data = Bytes> + Unpin + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let (mut parts, body) = response.into_parts();
        let status = parts.status;
        let recorded_headers = headers_from(&parts.headers);
        headers::strip_hop_by_hop(&mut parts.headers);
        let limit = self.shared.recorder.body_limit();
        // Recorded where the body ends, on the connection's own task: the
        // next request on this connection cannot start before, so the order
        // holds without a task per exchange.
        let tee = TeeBody::on_end(body, limit, Side::Upstream, move |outcome| {
            let kind = self.response_event(status.as_u16(), recorded_headers, outcome);
            self.record_soon(kind);
        });
        Response::from_parts(parts, tee.boxed_unsync())
    }
}

impl Exchange {
    /// Relays the upstream's answer to a WebSocket upgrade that it refused.
    ///
    /// A browser fails the WebSocket as soon as it reads a status other
    /// than 101 and drops the connection before any body, so this answer
    /// is read from the upstream first, up to [`READ_AHEAD`] bytes within
    /// `timeout`, and recorded as it came before the client gets it: the
    /// capture never depends on the client reading it (daphne's bodiless
    /// `500 Internal server error`, ended by closing the connection). A
    /// longer or slower body is relayed as it streams, the bytes read
    /// ahead first.
    ///
    /// `as_sent` is the head's header fields as read off the wire, when
    /// known: they are recorded instead of hyper's map of them.
    pub async fn relay_refusal(
        self,
        response: Response<Incoming>,
        timeout: std::time::Duration,
        as_sent: Option<crate::event::Headers>,
    ) -> Response<ProxyBody> {
        let (mut parts, mut body) = response.into_parts();
        let mut ahead: Vec<Bytes> = Vec::new();
        let mut size = 0;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut failure: Option<BoxError> = None;
        let ended = loop {
            if size > READ_AHEAD {
                break false;
            }
            match tokio::time::timeout_at(deadline, body.frame()).await {
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        size += data.len();
                        ahead.push(data);
                    }
                }
                Ok(None) => break true,
                // A failure is passed on after the bytes read ahead, so
                // the relay records the cut; a slow body is relayed as it
                // streams.
                Ok(Some(Err(e))) => {
                    failure = Some(e.into());
                    break false;
                }
                Err(_) => break false,
            }
        };
        if !ended {
            let read = futures_util::stream::iter(
                ahead
                    .into_iter()
                    .map(|b| Ok(Frame::data(b)))
                    .chain(failure.map(Err)),
            );
            let rest = http_body_util::BodyStream::new(
                body.map_err(|e: hyper::Error| -> BoxError { e.into() }),
            );
            let chained: std::pin::Pin<Box<dyn futures_util::Stream<Item = _> + Send>> =
                Box::pin(futures_util::StreamExt::chain(read, rest));
            let body = http_body_util::StreamBody::new(chained);
            return self.relay(Response::from_parts(parts, body));
        }
        let bytes: Bytes = ahead.concat().into();
        let recorded = HttpResponse {
            exchange: self.id,
            status: parts.status.as_u16(),
            headers: as_sent.unwrap_or_else(|| headers_from(&parts.headers)),
            body: Payload::capture(&bytes, self.shared.recorder.body_limit()),
            duration_us: self.elapsed_us(),
        };
        self.record(EventKind::HttpResponse(recorded)).await;
        headers::strip_hop_by_hop(&mut parts.headers);
        Response::from_parts(parts, full(bytes))
    }
}

/// How much of a refused upgrade's answer is read before relaying it.
const READ_AHEAD: usize = 64 << 10;

/// A complete body of the proxy's own.
pub(super) fn full(body: impl Into<Bytes>) -> ProxyBody {
    Full::new(body.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}
