//! One exchange through the forwarder: the request forwarded on the
//! client connection's own upstream connection, the response relayed as
//! it streams, and all of it recorded, each message before its last bytes
//! leave (so what the receiver does on getting them comes after it in the
//! capture).

use http::StatusCode;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::answer::{final_head, read_response_head, Interim, UpstreamFailure};
use super::body::{self, Cut, Peer, Tail};
use super::head::{self, FieldList, Framing, RequestHead, ResponseHead};
use super::{fail, Next};
use crate::event::{ErrorEvent, ErrorKind, EventKind, Side};
use crate::proxy::body::{BodyOutcome, Kept};
use crate::proxy::exchange::{self, Exchange};
use crate::proxy::headers::{self, Fields};
use crate::proxy::upstream::Io;
use crate::proxy::Shared;

/// One exchange: the request forwarded, the response relayed, all of it
/// recorded.
pub(super) async fn exchange(
    ex: &Exchange,
    head: RequestHead,
    client: &mut Peer<TcpStream>,
    upstream: &mut Option<Peer<Box<dyn Io>>>,
    out: &mut Vec<u8>,
) -> Next {
    let shared = &ex.shared;
    let recorded_headers = head.fields.recorded();
    let admitted = admit(ex, &head);
    let RequestHead {
        method,
        target,
        mut fields,
        ..
    } = head;
    let to_head = method == "HEAD";
    let idempotent = matches!(
        method.as_str(),
        "GET" | "HEAD" | "OPTIONS" | "TRACE" | "PUT" | "DELETE"
    );
    let recorded = exchange::RequestHead::new(method, target, "HTTP/1.1", recorded_headers);
    let (framing, distrusted) = match admitted {
        Ok(framing) => framing,
        Err((kind, message, status)) => {
            ex.record_request(recorded, BodyOutcome::default()).await;
            return fail(ex, client, Side::Client, kind, message, status).await;
        }
    };
    let mut close_after = distrusted || fields.wants_close(1);
    headers::prepare_request(&mut fields, &ex.hop());
    frame(&mut fields, framing, b"chunked");
    let continue_first = framing != Framing::Empty
        && client.buf.is_empty()
        && headers::has_token(&fields, "expect", "100-continue");
    out.clear();
    for part in [
        recorded.method().as_bytes(),
        b" ",
        shared.config.upstream.base_path.as_bytes(),
        recorded.uri().as_bytes(),
        b" HTTP/1.1\r\n",
    ] {
        out.extend_from_slice(part);
    }
    fields.write_to(out);
    out.extend_from_slice(b"\r\n");

    // A connection the upstream closed since the last exchange is
    // replaced before it is used.
    let reused = upstream.as_mut().is_some_and(|up| !closed(up));
    if !reused {
        *upstream = None;
    }
    let mut request = Unrecorded(Some(recorded));
    let up = match connected(ex, upstream).await {
        Ok(up) => up,
        Err((kind, message, status)) => {
            request.record(ex, Kept::default().ended(None)).await;
            return fail(ex, client, Side::Upstream, kind, message, status).await;
        }
    };
    if continue_first {
        let _ = client.io.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await;
    }
    let mut kept = Kept::default();
    let mut cut = None;
    let mut interim = Interim::new(continue_first);
    let relayed =
        match send_request(shared, client, up, framing, out, &mut kept, &mut interim).await {
            Sent::Relayed(relayed) => relayed,
            Sent::Answered(answer) => {
                // Whatever came of it, nothing more of this body goes to the
                // upstream, and the connection to it is not used again.
                let body = kept.ended(None);
                let seen = body.payload.len;
                request.record(ex, body).await;
                let next = match answer {
                    Ok(response) => {
                        let early = early_answer(ex, response.status, seen, framing);
                        ex.record(EventKind::Error(early)).await;
                        interim.pass_on(&mut client.io).await;
                        relay_response(ex, response, to_head, client, upstream, out, true).await
                    }
                    Err(failure) => {
                        let (kind, message, status) = failure.described(shared);
                        fail(ex, client, Side::Upstream, kind, message, status).await
                    }
                };
                *upstream = None;
                return next;
            }
        };
    let tail = match relayed {
        Ok(tail) => Some(tail),
        Err(Cut::From(message)) => {
            // The client's body broke off: nothing more can be said to
            // the upstream on this connection, or heard from the client.
            *upstream = None;
            let outcome = kept.ended(Some((Side::Client, message.clone())));
            request.record(ex, outcome).await;
            let message = format!("the request body was cut off: {message}");
            let status = StatusCode::BAD_REQUEST;
            return fail(ex, client, Side::Client, ErrorKind::Body, message, status).await;
        }
        // The upstream stopped taking the body: it may have answered
        // already (a 413); the rest of the body is never read.
        Err(Cut::To(e)) => {
            close_after = true;
            cut = Some((
                Side::Upstream,
                format!("the upstream stopped taking the body: {e}"),
            ));
            None
        }
        Err(Cut::ShutDown) => {
            *upstream = None;
            let message = "wsdiag shut down before the request body's end".to_owned();
            request
                .record(ex, kept.ended(Some((Side::Proxy, message.clone()))))
                .await;
            let status = StatusCode::SERVICE_UNAVAILABLE;
            return fail(ex, client, Side::Proxy, ErrorKind::Body, message, status).await;
        }
    };
    request.record(ex, kept.ended(cut)).await;
    if let Some(tail) = &tail {
        // Failed, the upstream's answer (or its close) tells why.
        let _ = body::finish(&mut up.io, out, tail).await;
    }
    let mut response = read_response_head(up, shared, &mut client.io, &mut interim).await;
    // A kept-alive connection closed before a byte of the answer: its
    // keep-alive ran out as the request came, or the server died on the
    // request, which wsdiag cannot tell apart. So the request goes once
    // more, on a new connection, only when sending it twice does no harm
    // (an idempotent method, RFC 9110 section 9.2.2, as nginx does) and it
    // went whole in one write (it is still in `out`).
    if matches!(response, Err(UpstreamFailure::Closed))
        && reused
        && idempotent
        && tail.as_ref().is_some_and(|t| t.whole)
    {
        tracing::debug!(
            exchange = ex.id,
            "kept-alive upstream connection closed; sending once more"
        );
        *upstream = None;
        response = match connected(ex, upstream).await {
            Ok(up) => match up.io.write_all(out).await {
                Ok(()) => read_response_head(up, shared, &mut client.io, &mut interim).await,
                Err(e) => Err(UpstreamFailure::Io(e)),
            },
            Err((kind, message, status)) => {
                return fail(ex, client, Side::Upstream, kind, message, status).await
            }
        };
    }
    match response {
        Ok(response) => {
            relay_response(ex, response, to_head, client, upstream, out, close_after).await
        }
        Err(failure) => {
            *upstream = None;
            let (kind, message, status) = failure.described(shared);
            fail(ex, client, Side::Upstream, kind, message, status).await
        }
    }
}

/// How the sending of a request went.
enum Sent {
    /// Its body was relayed up to its last bytes, or cut off
    /// ([`body::relay`]).
    Relayed(Result<Tail, Cut>),
    /// The upstream answered, or failed, before the body's end.
    Answered(Result<ResponseHead, UpstreamFailure>),
}

/// Sends the request head in `out` and the body framed by `framing` from
/// the client to the upstream `up`, up to the body's last bytes (see
/// [`body::relay`]). A body not all read yet is sent while the upstream is
/// watched: a final answer before the body's end (a 413, a 401) ends the
/// sending, as RFC 9112 section 9.3 asks of a client, and so does the
/// upstream's close or a broken response head.
async fn send_request(
    shared: &Shared,
    client: &mut Peer<TcpStream>,
    up: &mut Peer<Box<dyn Io>>,
    framing: Framing,
    out: &mut Vec<u8>,
    kept: &mut Kept,
    interim: &mut Interim,
) -> Sent {
    let limit = shared.recorder.body_limit();
    let here = match framing {
        Framing::Empty => true,
        Framing::Length(n) => client.buf.len() as u64 >= n,
        Framing::Chunked | Framing::UntilClose => false,
    };
    if here {
        // All read already: relayed at once (nothing is written before
        // `body::finish`), with nothing to watch.
        return Sent::Relayed(body::relay(client, &mut up.io, framing, out, kept, limit).await);
    }
    let (mut reader, mut writer) = tokio::io::split(&mut up.io);
    tokio::select! {
        biased;
        relayed = body::relay(client, &mut writer, framing, out, kept, limit) => Sent::Relayed(relayed),
        answer = final_head(&mut reader, &mut up.buf, interim) => Sent::Answered(answer),
        () = shut_down(shared) => Sent::Relayed(Err(Cut::ShutDown)),
    }
}

/// What the capture says of a final answer that came before the request
/// body's end: how much of the body wsdiag had, and that the rest was not
/// sent.
fn early_answer(ex: &Exchange, status: u16, seen: u64, framing: Framing) -> ErrorEvent {
    let part = match framing {
        Framing::Length(n) => format!("{seen} of its {n} bytes"),
        _ => format!("{seen} bytes of it"),
    };
    ErrorEvent {
        side: Side::Upstream,
        kind: ErrorKind::Body,
        message: format!(
            "the upstream answered {status} to exchange {} before the request body's end, \
             when {part} had come from the client; wsdiag sent the upstream no more of it \
             and closes both connections after the response (RFC 9112 section 9.3)",
            ex.id
        ),
    }
}

/// Whether the request is forwarded: how its body is framed, and whether
/// nothing after it on the connection can be trusted; or why not, as
/// recorded and answered (a refusal, [`crate::proxy::refusal`], or framing
/// that cannot be read).
fn admit(
    ex: &Exchange,
    head: &RequestHead,
) -> Result<(Framing, bool), (ErrorKind, String, StatusCode)> {
    let looped = headers::came_through(&head.fields, &ex.shared.via);
    if let Some((status, message)) =
        crate::proxy::refusal::refusal(&head.method, &head.target, looped)
    {
        return Err((ErrorKind::Refused, message, status));
    }
    if head.fields.values("host").count() > 1 {
        let message = "the request has more than one Host field (RFC 9112 section 3.2)";
        return Err((
            ErrorKind::Protocol,
            message.to_owned(),
            StatusCode::BAD_REQUEST,
        ));
    }
    head.framing().map_err(|e| {
        let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
        (ErrorKind::Protocol, e.message, status)
    })
}

/// Sets the fields that say how the body goes on (RFC 9112 section 6),
/// whatever the sender's `Connection` removed with the hop-by-hop fields
/// (`Connection: content-length` would otherwise leave a body unframed:
/// a smuggled request, or a client waiting forever). `codings`: the
/// `Transfer-Encoding` value for a body that passes in transfer codings.
fn frame(fields: &mut FieldList, framing: Framing, codings: &[u8]) {
    match framing {
        Framing::Length(n) => fields.set("content-length", n.to_string().as_bytes()),
        Framing::Chunked => {
            fields.remove("content-length");
            fields.set("transfer-encoding", codings);
        }
        Framing::UntilClose if codings != b"chunked" => {
            fields.set("transfer-encoding", codings);
        }
        Framing::Empty | Framing::UntilClose => {}
    }
}

/// A request head not recorded yet; recorded once, by the first
/// [`Unrecorded::record`].
struct Unrecorded(Option<exchange::RequestHead>);

impl Unrecorded {
    async fn record(&mut self, ex: &Exchange, body: BodyOutcome) {
        if let Some(head) = self.0.take() {
            ex.record_request(head, body).await;
        }
    }
}

/// The connection to the upstream: the kept-alive one, or a new one; or
/// how the failure to connect is recorded and answered.
async fn connected<'a>(
    ex: &Exchange,
    upstream: &'a mut Option<Peer<Box<dyn Io>>>,
) -> Result<&'a mut Peer<Box<dyn Io>>, (ErrorKind, String, StatusCode)> {
    let up = match upstream.take() {
        Some(up) => up,
        None => dial(ex).await.map_err(|(kind, message)| {
            let status = match kind {
                ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
                _ => StatusCode::BAD_GATEWAY,
            };
            (kind, message, status)
        })?,
    };
    Ok(upstream.insert(up))
}

/// Ends when shutdown started and its grace ran out: a response still
/// streaming then (server-sent events) is cut off, and recorded so.
async fn shut_down(shared: &Shared) {
    shared.shutdown.cancelled().await;
    tokio::time::sleep(shared.config.shutdown_grace).await;
}

/// Whether the kept-alive connection `up` was closed by the upstream (or
/// sent something unasked) since its last exchange.
fn closed(up: &mut Peer<Box<dyn Io>>) -> bool {
    use futures_util::FutureExt as _;
    !up.buf.is_empty() || up.fill().now_or_never().is_some()
}

/// A new connection to the upstream, or why there is none.
async fn dial(ex: &Exchange) -> Result<Peer<Box<dyn Io>>, (ErrorKind, String)> {
    let config = &ex.shared.config;
    let target = config
        .upstream
        .uri("/")
        .map_err(|e| (ErrorKind::Connect, e.to_string()))?;
    match ex.shared.connector.dial(&target).await {
        Ok(io) => Ok(Peer::new(io)),
        Err(e) => Err((
            crate::proxy::error::classify(e.as_ref()),
            crate::proxy::error::explain(e.as_ref(), &config.upstream.display),
        )),
    }
}

/// Relays the response whose head is `response` to the client as it
/// streams, and records it where its body ends.
async fn relay_response(
    ex: &Exchange,
    response: ResponseHead,
    to_head: bool,
    client: &mut Peer<TcpStream>,
    upstream: &mut Option<Peer<Box<dyn Io>>>,
    out: &mut Vec<u8>,
    close_after: bool,
) -> Next {
    let Some(up) = upstream.as_mut() else {
        return Next::Close;
    };
    let framing = match response.framing(to_head) {
        Ok(framing) => framing,
        Err(message) => {
            *upstream = None;
            let message = format!("the upstream's response is malformed: {message}");
            return fail(
                ex,
                client,
                Side::Upstream,
                ErrorKind::Protocol,
                message,
                StatusCode::BAD_GATEWAY,
            )
            .await;
        }
    };
    let status = response.status;
    let recorded = response.fields.recorded();
    let upstream_closes =
        framing == Framing::UntilClose || response.fields.wants_close(response.minor_version);
    let close_client =
        close_after || framing == Framing::UntilClose || ex.shared.shutdown.is_cancelled();
    let mut fields = response.fields;
    // Its codings pass on as they came (`gzip, chunked`): the body does.
    let codings = fields.first("transfer-encoding").map(<[u8]>::to_vec);
    headers::strip_hop_by_hop(&mut fields);
    frame(
        &mut fields,
        framing,
        codings.as_deref().unwrap_or(b"chunked"),
    );
    if close_client {
        fields.append("connection", b"close");
    }
    out.clear();
    head::write_response_head(out, status, &response.reason, &fields);
    let mut kept = Kept::default();
    let limit = ex.shared.recorder.body_limit();
    let relayed = tokio::select! {
        biased;
        relayed = body::relay(up, &mut client.io, framing, out, &mut kept, limit) => relayed,
        () = shut_down(&ex.shared) => Err(Cut::ShutDown),
    };
    let error = match &relayed {
        Ok(_) => None,
        Err(Cut::From(message)) => Some((Side::Upstream, message.clone())),
        Err(Cut::To(e)) => Some((Side::Client, e.to_string())),
        Err(Cut::ShutDown) => Some((Side::Proxy, "wsdiag shut down before its end".to_owned())),
    };
    let mut broken = error.is_some();
    ex.record_soon(ex.response_event(status, recorded, kept.ended(error)));
    if let Ok(tail) = &relayed {
        if let Err(Cut::To(e)) = body::finish(&mut client.io, out, tail).await {
            // Recorded whole a moment ago: the client left before the last
            // bytes, which only this says.
            broken = true;
            // After the response's event, even if that one waits in a task
            // for room in the hub's channel.
            ex.conn.previous_recorded().await;
            let error = ErrorEvent {
                side: Side::Client,
                kind: ErrorKind::Reset,
                message: format!(
                    "the client left before the end of the response to exchange {}: {e}",
                    ex.id
                ),
            };
            ex.record(EventKind::Error(error)).await;
        }
    }
    if broken || upstream_closes {
        *upstream = None;
    }
    if broken || close_client {
        // The client may still be sending (a body the upstream did not
        // take): a plain close would reset the connection under the answer.
        crate::proxy::linger::linger(&mut client.io, super::CLOSE_LINGER).await;
        Next::Close
    } else {
        Next::KeepAlive
    }
}
