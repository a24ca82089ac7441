//! The upstream: where wsdiag forwards to, and how it connects there.
//!
//! One upstream per proxy: wsdiag is a reverse proxy, never an open one.
//! `http://` and `ws://` connect in plain TCP, `https://` and `wss://`
//! through rustls, with the system's roots plus the webpki roots, or no
//! verification at all with `--insecure` (self-signed staging certificates).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::uri::{Authority, PathAndQuery, Scheme, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};

use super::head_tap::{Head, HeadTap};

/// The connector shared by plain forwarding and WebSocket upgrades.
pub type Connector = HttpsConnector<HttpConnector>;

/// A parsed `--upstream` URL.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// Whether to speak TLS.
    pub tls: bool,
    /// `host:port` as given (default ports filled in).
    pub authority: Authority,
    /// A path prefix to put before every forwarded path ("" for none).
    pub base_path: String,
    /// The URL as the user gave it, for messages.
    pub display: String,
}

/// Why an `--upstream` URL was refused.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// Not a URL.
    #[error("{0:?} is not a URL: give one like http://127.0.0.1:8000")]
    Invalid(String),
    /// A scheme wsdiag does not forward to.
    #[error("{0:?}: the scheme must be http, https, ws or wss")]
    Scheme(String),
    /// A host and port without `http://`.
    #[error("{0:?} has no scheme: did you mean http://{0}?")]
    NoScheme(String),
    /// A port no TCP connection can have.
    #[error("{url:?}: {port} is not a TCP port (1-65535)")]
    Port {
        /// The URL given.
        url: String,
        /// Its port, as written.
        port: String,
    },
    /// Credentials in the URL would be sent as part of `Host`.
    #[error("must not carry credentials (user:password@): send them with the client's own Authorization header or cookies")]
    Credentials,
}

/// An [`UpstreamError`] with the flag that gave the URL, for the message:
/// `--target "127.0.0.1:8100" has no scheme: did you mean …?`.
#[derive(Debug, thiserror::Error)]
#[error("{flag} {source}")]
pub struct FlagError {
    /// The command-line flag (`--upstream`, `--target`).
    pub flag: &'static str,
    /// What is wrong with its URL.
    #[source]
    pub source: UpstreamError,
}

impl Upstream {
    /// Parses `--upstream`'s `http://host:port/prefix` (also https, ws,
    /// wss).
    pub fn parse(url: &str) -> Result<Upstream, FlagError> {
        Upstream::parse_as(url, "--upstream")
    }

    /// Parses the URL that `flag` gave; its errors name `flag`.
    pub fn parse_as(url: &str, flag: &'static str) -> Result<Upstream, FlagError> {
        Upstream::parse_url(url).map_err(|source| FlagError { flag, source })
    }

    fn parse_url(url: &str) -> Result<Upstream, UpstreamError> {
        let no_scheme = !url.contains("://");
        let uri: Uri = match url.parse() {
            Ok(uri) => uri,
            // `localhost:8000` reads as a scheme `localhost`; say what was meant.
            Err(_) if no_scheme && format!("http://{url}").parse::<Uri>().is_ok() => {
                return Err(UpstreamError::NoScheme(url.to_owned()))
            }
            Err(_) => return Err(UpstreamError::Invalid(url.to_owned())),
        };
        let tls = match uri.scheme_str() {
            Some("http") | Some("ws") => false,
            Some("https") | Some("wss") => true,
            _ if no_scheme => return Err(UpstreamError::NoScheme(url.to_owned())),
            _ => return Err(UpstreamError::Scheme(url.to_owned())),
        };
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| UpstreamError::Invalid(url.to_owned()))?;
        if authority.as_str().contains('@') {
            return Err(UpstreamError::Credentials);
        }
        // The port as written: after an IPv6 literal's `]`, else after the
        // last `:`. One that is not a u16 (or is 0) is refused, not ignored.
        let written = authority.as_str();
        let port_text = match written.rfind(']') {
            Some(end) => written[end + 1..].strip_prefix(':'),
            None => written.rsplit_once(':').map(|(_, p)| p),
        };
        if let (Some(port), None | Some(0)) = (port_text, authority.port_u16()) {
            return Err(UpstreamError::Port {
                url: url.to_owned(),
                port: port.to_owned(),
            });
        }
        let default_port = if tls { 443 } else { 80 };
        let authority = match authority.port_u16() {
            Some(_) => authority,
            None => format!("{}:{default_port}", authority.host())
                .parse()
                .map_err(|_| UpstreamError::Invalid(url.to_owned()))?,
        };
        Ok(Upstream {
            tls,
            authority,
            base_path: uri.path().trim_end_matches('/').to_owned(),
            display: url.to_owned(),
        })
    }

    /// True when this upstream is `listen` itself: the same port, and a
    /// host that is the same address, or both local (a loopback address,
    /// `localhost`, or `0.0.0.0` / `::`, which take every local address).
    /// Resolves the host name (at start only).
    pub fn is_address_of(&self, listen: SocketAddr) -> bool {
        use std::net::ToSocketAddrs as _;
        let local = |ip: std::net::IpAddr| ip.is_loopback() || ip.is_unspecified();
        let host = self
            .authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = self.authority.port_u16().unwrap_or(0);
        let resolved: Vec<SocketAddr> = (host, port)
            .to_socket_addrs()
            .map(Iterator::collect)
            .unwrap_or_default();
        // Within one address family: `localhost` may also be `::1`, where
        // another program can listen on the same port.
        resolved.iter().any(|a| {
            a.port() == listen.port()
                && a.is_ipv4() == listen.is_ipv4()
                && (a.ip() == listen.ip() || (local(a.ip()) && local(listen.ip())))
        })
    }

    /// Why nothing can be reached at this upstream right now (a refused
    /// or timed-out TCP connection, within 2 s), for a warning at start;
    /// `None` when it answers.
    pub async fn unreachable(&self) -> Option<String> {
        let address = (
            self.authority
                .host()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            self.authority.port_u16().unwrap_or(0),
        );
        let connect = tokio::net::TcpStream::connect(address);
        match tokio::time::timeout(std::time::Duration::from_secs(2), connect).await {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(super::error::explain(&e, &self.display)),
            Err(_) => Some(format!(
                "nothing answered at {} within 2 s: is the address right?",
                self.display
            )),
        }
    }

    /// The absolute URI of `path_and_query` on the upstream, for the client
    /// that connects there (always `http`/`https`, even for WebSockets).
    pub fn uri(&self, path_and_query: &str) -> Result<Uri, http::Error> {
        let scheme = if self.tls {
            Scheme::HTTPS
        } else {
            Scheme::HTTP
        };
        let full = format!("{}{}", self.base_path, path_and_query);
        Uri::builder()
            .scheme(scheme)
            .authority(self.authority.clone())
            .path_and_query(full.parse::<PathAndQuery>()?)
            .build()
    }
}

/// Makes wsdiag's own connections to the upstream: each client
/// connection's for plain requests, and a WebSocket upgrade's, which
/// becomes the socket and is held for its whole life. Plain TCP for an
/// `http` upstream, TLS for an `https` one; a plain socket is 1,104 bytes
/// smaller than the stream type that can also hold TLS.
#[derive(Clone, Debug)]
pub struct Dialer {
    tcp: HttpConnector,
    tls: Connector,
}

impl Dialer {
    /// `tls` (made by [`connector`]) for `https`, and plain TCP with the
    /// same `connect_timeout` for `http`.
    pub fn new(tls: Connector, connect_timeout: Duration) -> Dialer {
        Dialer {
            tcp: tcp_connector(connect_timeout),
            tls,
        }
    }

    /// A new connection to `target`, TLS for `https`. Errors are
    /// [`super::error::classify`]'s to name.
    pub async fn dial(&self, target: &Uri) -> Result<Box<dyn Io>, super::BoxError> {
        if target.scheme() == Some(&Scheme::HTTP) {
            let io = connect(self.tcp.clone(), target).await?;
            Ok(Box::new(io.into_inner()))
        } else {
            let io = connect(self.tls.clone(), target).await?;
            Ok(Box::new(hyper_util::rt::TokioIo::new(io)))
        }
    }
}

/// A connection to the upstream as the forwarder reads and writes it.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// Sends `request` on a connection of its own to `target` (a WebSocket
/// upgrade needs one: the connection becomes the socket). The connection
/// is driven by a task that ends once it switched protocols, or when
/// `stop` is cancelled if the upstream never answers. Returns the response
/// and its head as read off the wire ([`Head::headers`]).
pub async fn send_on_own_connection(
    connector: &Dialer,
    target: &Uri,
    request: http::Request<http_body_util::Empty<bytes::Bytes>>,
    stop: tokio_util::sync::CancellationToken,
) -> Result<(http::Response<hyper::body::Incoming>, Head), super::BoxError> {
    if target.scheme() == Some(&Scheme::HTTP) {
        let io = connect(connector.tcp.clone(), target).await?;
        send_on(io, request, stop).await
    } else {
        let io = connect(connector.tls.clone(), target).await?;
        send_on(io, request, stop).await
    }
}

/// A new connection to `target` made by `connector`.
async fn connect<C>(mut connector: C, target: &Uri) -> Result<C::Response, super::BoxError>
where
    C: tower_service::Service<Uri>,
    C::Error: Into<super::BoxError>,
{
    std::future::poll_fn(|cx| connector.poll_ready(cx))
        .await
        .map_err(Into::into)?;
    connector.call(target.clone()).await.map_err(Into::into)
}

/// Sends `request` on `io`; see [`send_on_own_connection`].
async fn send_on<I>(
    io: I,
    request: http::Request<http_body_util::Empty<bytes::Bytes>>,
    stop: tokio_util::sync::CancellationToken,
) -> Result<(http::Response<hyper::body::Incoming>, Head), super::BoxError>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    use hyper_util::rt::TokioIo;
    let (tap, head) = HeadTap::new(TokioIo::new(io));
    // With the header names' case kept, the response carries it to the
    // client as the upstream wrote it.
    let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
        .preserve_header_case(true)
        .handshake(TokioIo::new(tap))
        .await?;
    tokio::spawn(async move {
        tokio::select! {
            result = connection.with_upgrades() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "upgrade connection ended");
                }
            }
            () = stop.cancelled() => {}
        }
    });
    Ok((sender.send_request(request).await?, head))
}

/// Builds the connector: TCP with `TCP_NODELAY`, a connect timeout, and TLS
/// for `https` upstreams.
pub fn connector(insecure: bool, connect_timeout: Duration) -> Connector {
    hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls_config(insecure))
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp_connector(connect_timeout))
}

/// TCP with `TCP_NODELAY` and a connect timeout, for any scheme.
fn tcp_connector(connect_timeout: Duration) -> HttpConnector {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect_timeout));
    http.enforce_http(false);
    http
}

fn tls_config(insecure: bool) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        // The ring provider supports the default versions; this cannot fail.
        .unwrap_or_else(|e| panic!("rustls rejected its own default protocol versions: {e}"));
    // hyper-rustls sets ALPN to http/1.1 itself (enable_http1 only):
    // WebSocket upgrades need HTTP/1.1, and so does everything wsdiag forwards.
    if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
            .with_no_client_auth()
    } else {
        builder
            .with_root_certificates(root_store())
            .with_no_client_auth()
    }
}

fn root_store() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    // System roots add corporate and local CAs; a missing store is fine.
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    roots
}

/// Accepts any certificate: `--insecure`, for self-signed staging servers.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_schemes_ports_and_prefixes() {
        let u = Upstream::parse("wss://example.test/base/").unwrap();
        assert!(u.tls);
        assert_eq!(u.authority.as_str(), "example.test:443");
        assert_eq!(
            u.uri("/ws/chat/3/?token=x").unwrap().to_string(),
            "https://example.test:443/base/ws/chat/3/?token=x"
        );
        let u = Upstream::parse("http://127.0.0.1:8000").unwrap();
        assert!(!u.tls);
        assert_eq!(
            u.uri("/api/").unwrap().to_string(),
            "http://127.0.0.1:8000/api/"
        );
        assert!(matches!(
            Upstream::parse("ftp://x"),
            Err(FlagError {
                source: UpstreamError::Scheme(_),
                ..
            })
        ));
        let e = Upstream::parse_as("127.0.0.1:8100", "--target").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("--target \"127.0.0.1:8100\" has no scheme"),
            "{e}"
        );
        assert!(Upstream::parse("not a url").is_err());
    }

    #[test]
    fn first_contact_mistakes_get_what_to_try() {
        for url in ["127.0.0.1:8000", "localhost:8000"] {
            let e = Upstream::parse(url).unwrap_err().to_string();
            assert!(e.contains(&format!("did you mean http://{url}?")), "{e}");
        }
        assert!(Upstream::parse("http://[::1]/").is_ok());
        assert!(Upstream::parse("http://[::1]:8000/").is_ok());
        for (url, port) in [
            ("http://127.0.0.1:99999", "99999"),
            ("http://localhost:0", "0"),
        ] {
            let e = Upstream::parse(url).unwrap_err().to_string();
            assert!(
                e.contains(&format!("{port} is not a TCP port")),
                "{url}: {e}"
            );
        }
    }
}
