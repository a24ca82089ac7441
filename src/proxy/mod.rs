//! The recording proxy: sockets only.
//!
//! [`run`] takes an already bound listener and a shutdown future (tests bind
//! port 0 and drive the real proxy). Each accepted connection gets a task
//! ([`connection`]) that serves HTTP/1.1 with upgrades: plain requests go
//! through wsdiag's own forwarder ([`h1`]), WebSocket upgrades are handed
//! to hyper, bridged ([`upgrade`]) and their frames relayed both ways
//! ([`relay`]); an HTTP/1.0 client's requests go through hyper too
//! ([`forward`]). Everything observed becomes an
//! event sent to the [`Recorder`]; this module never formats text for people
//! and never writes files.
//!
//! A connection's failure ends that connection only: it is recorded with its
//! side and never reaches the accept loop.

mod body;
mod conn_state;
mod connection;
mod error;
mod exchange;
mod forward;
pub mod h1;
pub mod head_tap;
pub mod headers;
mod linger;
mod refusal;
pub mod relay;
mod upgrade;
pub mod upstream;
mod write_through;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::sink::Recorder;
pub use body::BoxError;
pub use error::chain as error_chain;
pub use upstream::{Upstream, UpstreamError};

/// The body type of everything the proxy sends.
pub type ProxyBody = http_body_util::combinators::UnsyncBoxBody<bytes::Bytes, BoxError>;

/// Everything the proxy needs to know, fixed at start.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Where to forward.
    pub upstream: Upstream,
    /// Send the upstream's authority as `Host` instead of the client's.
    pub rewrite_host: bool,
    /// Skip TLS certificate verification of the upstream.
    pub insecure: bool,
    /// Limit on connecting (TCP and TLS) to the upstream.
    pub connect_timeout: Duration,
    /// Limit on the upstream's answer to a WebSocket upgrade request.
    pub handshake_timeout: Duration,
    /// Limit on the upstream's response headers to a plain request.
    pub response_timeout: Duration,
    /// Limit on a client sending a request's headers.
    pub header_read_timeout: Duration,
    /// A WebSocket side silent this long gets a ping; silent twice as long,
    /// it is taken for gone (a half-open connection). `None`: never.
    pub idle_timeout: Option<Duration>,
    /// How long connections get to finish after shutdown starts: a
    /// WebSocket gets wsdiag's close 1001 on each side and this long for
    /// both close handshakes to complete.
    pub shutdown_grace: Duration,
}

impl ProxyConfig {
    /// Defaults for everything but the upstream.
    pub fn new(upstream: Upstream) -> ProxyConfig {
        ProxyConfig {
            upstream,
            rewrite_host: false,
            insecure: false,
            connect_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(60),
            header_read_timeout: Duration::from_secs(30),
            idle_timeout: None,
            shutdown_grace: Duration::from_secs(2),
        }
    }
}

/// State shared by every connection of one proxy.
struct Shared {
    config: ProxyConfig,
    recorder: Recorder,
    /// Pooled client for the plain requests hyper serves ([`forward`]).
    client: Client<upstream::Connector, ProxyBody>,
    /// wsdiag's own connections: the forwarder's, and WebSocket upgrades'.
    connector: upstream::Dialer,
    /// Cancelled when shutdown starts: stop serving, close WebSockets (1001).
    shutdown: CancellationToken,
    /// Every task the proxy spawned, so shutdown can wait for them.
    tasks: TaskTracker,
    /// This proxy's `Via` entry (`1.1 wsdiag-…`, unique per run): a
    /// request that arrives carrying it went round in a loop.
    via: String,
}

/// Serves `listener` until `shutdown` resolves, then stops accepting, closes
/// WebSockets with 1001, and waits up to [`ProxyConfig::shutdown_grace`]
/// for connections to finish. Every event goes to `recorder`.
pub async fn run(
    listener: TcpListener,
    config: ProxyConfig,
    recorder: Recorder,
    shutdown: impl Future<Output = ()>,
) {
    let connector = upstream::connector(config.insecure, config.connect_timeout);
    let client = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(connector.clone());
    let connector = upstream::Dialer::new(connector, config.connect_timeout);
    let shared = Arc::new(Shared {
        config,
        recorder,
        client,
        connector,
        shutdown: CancellationToken::new(),
        tasks: TaskTracker::new(),
        via: headers::via_entry(),
    });
    let mut next_conn = 0;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    next_conn += 1;
                    let task = connection::serve(stream, peer, next_conn, shared.clone());
                    shared.tasks.spawn(task);
                }
                Err(e) => {
                    // Out of file descriptors and similar: the listener
                    // itself is fine; back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    shared.shutdown.cancel();
    shared.tasks.close();
    // Every task bounds its own shutdown by the grace; this is a backstop
    // against a bug there, not the normal path.
    let backstop = shared.config.shutdown_grace + Duration::from_secs(2);
    if tokio::time::timeout(backstop, shared.tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period");
    }
}
