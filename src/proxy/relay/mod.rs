//! The frame relay: both directions of one WebSocket, after the upgrade.
//!
//! Each direction reads what one side sends and writes the very same bytes
//! to the other side (opcode, FIN, RSV bits, the client's masking keys,
//! fragmentation, control frames between fragments), then records the
//! messages and control frames those bytes held ([`direction`]). The
//! endpoints do all protocol work themselves: the far endpoint answers a
//! ping, the endpoints complete a close, and a protocol violation is met
//! by the endpoint that gets it; wsdiag only names it (an `error` event,
//! and `violator`/`violation` on the `ws_close`).
//!
//! permessage-deflate passes through as negotiated; each direction keeps
//! its own inflater to record what the application sent ([`inflate`]).
//!
//! wsdiag sends frames of its own only when told to: keepalive pings with
//! `--idle-timeout` ([`keepalive`]), and on shutdown a close 1001 to each
//! side; it then keeps relaying until both close handshakes complete or
//! the shutdown grace ends. Everything of wsdiag's own is recorded with
//! `origin: proxy`.
//!
//! The relay is generic over the socket types so tests can drive it on any
//! stream pair.

use std::time::Duration;

use futures_concurrency::future::Join as _;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use super::linger::linger;
use crate::event::{Direction, Side, WsClose};
use crate::sink::Recorder;

mod direction;
pub mod frame;
pub mod inflate;
mod keepalive;
pub mod message;
mod signal;
mod state;

use inflate::Extensions;
use signal::Waiter;
use state::{First, Shared};

/// How long the other side gets to end its connection after the first
/// side's connection ended.
pub const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// What a relay needs from its connection.
pub(super) struct RelayContext {
    pub recorder: Recorder,
    pub conn: u64,
    /// Cancelled when the proxy shuts down.
    pub shutdown: CancellationToken,
    /// How long both sides get to answer wsdiag's shutdown close.
    pub shutdown_grace: Duration,
    /// A side silent this long gets a ping of wsdiag's; one that has not
    /// answered it this long later is taken for gone (see
    /// [`keepalive::Keepalive`]). `None`: never.
    pub idle_timeout: Option<Duration>,
    /// The extensions the upstream's 101 accepted.
    pub extensions: Extensions,
}

/// Relays frames between `client` and `upstream` until the WebSocket ends;
/// returns how it ended.
pub(super) async fn relay<C, U>(client: C, upstream: U, ctx: &RelayContext) -> WsClose
where
    C: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    let (client_rx, client_tx) = tokio::io::split(client);
    let (upstream_rx, upstream_tx) = tokio::io::split(upstream);
    let shared = Shared::new();
    // The proxy's shutdown token, turned into the relay's own signal by a
    // task of its own: polling the token, shared by every connection,
    // takes a mutex on every wake-up of the relay.
    let shutdown = ctx.shutdown.clone();
    let raise = shared.shutdown.clone();
    // Aborted when the relay ends, or is dropped.
    let _bridge = AbortOnDropHandle::new(tokio::spawn(async move {
        shutdown.cancelled().await;
        raise.raise();
    }));
    // Joined so that a wake-up polls only the direction it was for (each
    // has a waker of its own): a message one way does not poll the other
    // way's read, signals and timers too, as `tokio::join!` would.
    let both = (
        direction::run(
            client_rx,
            upstream_tx,
            Direction::ClientToUpstream,
            ctx,
            &shared,
        ),
        direction::run(
            upstream_rx,
            client_tx,
            Direction::UpstreamToClient,
            ctx,
            &shared,
        ),
    )
        .join();
    tokio::pin!(both);
    let ((sent, client_rx, upstream_tx), (received, upstream_rx, client_tx)) = tokio::select! {
        biased;
        ends = &mut both => ends,
        () = watchdog(ctx, &shared) => both.await,
    };
    if ctx.shutdown.is_cancelled() {
        tokio::join!(
            linger(client_rx.unsplit(client_tx), LINGER),
            linger(upstream_rx.unsplit(upstream_tx), LINGER)
        );
    }
    outcome(&shared, sent, received)
}

/// How long a connection is drained before it is dropped on shutdown.
const LINGER: Duration = Duration::from_secs(1);

/// Stops the relay when the shutdown grace has passed since shutdown, or
/// [`CLOSE_GRACE`] since one side's connection ended; then resolves.
async fn watchdog(ctx: &RelayContext, shared: &Shared) {
    tokio::select! {
        () = shared.shutdown.raised(Waiter::Watchdog) => tokio::time::sleep(ctx.shutdown_grace).await,
        () = shared.first_end.raised(Waiter::Watchdog) => tokio::time::sleep(CLOSE_GRACE).await,
    }
    shared.stop.raise();
}

/// The `ws_close` of a relay that has ended.
fn outcome(shared: &Shared, sent: u64, received: u64) -> WsClose {
    let first = shared.first.lock().ok().and_then(|f| f.clone());
    let first = first.unwrap_or(First {
        side: Side::Proxy,
        code: None,
        reason: String::new(),
        error: Some("the WebSocket ended without a close frame".to_owned()),
    });
    let unanswered = shared.unanswered();
    let complete = shared.handshake_done(Side::Client) && shared.handshake_done(Side::Upstream);
    let error = first.error.or_else(|| {
        unanswered
            .map(|side| format!("the {} never answered the close", side.as_str()))
            .or_else(|| (!complete).then(|| "the close handshake did not complete".to_owned()))
    });
    let violation = shared.violation.get();
    WsClose {
        initiator: first.side,
        code: first.code,
        reason: first.reason,
        clean: error.is_none(),
        error,
        unanswered,
        violator: violation.map(|v| v.side),
        violation: violation.map(|v| v.what.clone()),
        messages_sent: sent,
        messages_received: received,
    }
}
