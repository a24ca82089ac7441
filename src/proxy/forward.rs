//! Plain HTTP forwarding through hyper, for the requests wsdiag's own
//! forwarder ([`super::h1`]) hands over: those of an HTTP/1.0 client, and
//! those after a refused WebSocket upgrade on the same connection. The
//! request goes to the upstream (hyper's pooled client) with only
//! hop-by-hop headers changed, its body streamed; the response comes back
//! the same way. The request is recorded as soon as its body has been
//! forwarded, so a request that never gets an answer is still captured.

use std::future::Future;

use http::{Request, Response, StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::body::{BodyOutcome, BodyWatch, TeeBody};
use super::error;
use super::exchange::{Exchange, RequestHead};
use super::ProxyBody;
use crate::event::{ErrorKind, Side};

/// Forwards one request and relays the answer.
pub(super) async fn forward(req: Request<Incoming>, ex: Exchange) -> Response<ProxyBody> {
    let head = RequestHead::of(&req);
    let (mut parts, body) = req.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let uri = match ex.shared.config.upstream.uri(path) {
        Ok(uri) => uri,
        Err(e) => {
            drop(body); // not forwarded: the request stops here
            ex.record_request(head, BodyOutcome::default()).await;
            let message = format!("cannot forward the request target {path:?}: {e}");
            return ex
                .fail(
                    Side::Client,
                    ErrorKind::Protocol,
                    message,
                    StatusCode::BAD_REQUEST,
                )
                .await;
        }
    };
    super::headers::prepare_request(&mut parts.headers, &ex.hop());
    parts.uri = uri;
    parts.version = Version::HTTP_11;
    let limit = ex.shared.recorder.body_limit();
    let (tee, watch) = TeeBody::new(body, limit, Side::Client);
    let timeout = ex.shared.config.response_timeout;
    let sent = ex
        .shared
        .client
        .request(Request::from_parts(parts, tee.boxed_unsync()));
    match record_while_sending(&ex, head, watch, sent, timeout).await {
        Ok(Ok(response)) => ex.relay(response),
        Err(_) => {
            let message =
                format!("the upstream did not answer within {timeout:?} (--response-timeout)");
            ex.fail(
                Side::Upstream,
                ErrorKind::Timeout,
                message,
                StatusCode::GATEWAY_TIMEOUT,
            )
            .await
        }
        Ok(Err(e)) => {
            let kind = error::classify(&e);
            let message = error::explain(&e, &ex.shared.config.upstream.display);
            let status = match kind {
                ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
                _ => StatusCode::BAD_GATEWAY,
            };
            ex.fail(Side::Upstream, kind, message, status).await
        }
    }
}

/// Drives `sent` and records the request as soon as its body has been
/// forwarded, or when the response arrives first (an upstream that answers
/// early, e.g. 413), with as much of the body as was forwarded by then.
/// Once the body is forwarded, the response head must come within
/// `timeout` (a slow upload is not the upstream's delay).
async fn record_while_sending<T>(
    ex: &Exchange,
    head: RequestHead,
    watch: BodyWatch,
    sent: impl Future<Output = T>,
    timeout: std::time::Duration,
) -> Result<T, tokio::time::error::Elapsed> {
    tokio::pin!(sent);
    let (kept, done) = watch.into_parts();
    tokio::select! {
        biased;
        _ = done => {
            ex.record_request(head, kept.outcome()).await;
            tokio::time::timeout(timeout, sent).await
        }
        result = &mut sent => {
            ex.record_request(head, kept.outcome()).await;
            Ok(result)
        }
    }
}
