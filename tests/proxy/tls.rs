//! `https://` and `wss://` upstreams, through rustls: a TLS terminator with
//! a self-signed certificate in front of the sample backend, like a staging
//! server. Verified by default (refused), accepted with `--insecure`.

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::Message;
use wsdiag::event::{ErrorKind, EventKind};

use crate::support::{self, call, next, send_text, Backend, Harness, Options};

/// Accepts TLS on a port of its own and pipes each connection to `backend`.
async fn tls_front(backend: std::net::SocketAddr) -> std::net::SocketAddr {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![certified.cert.der().clone()], key)
    .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) = TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn https_and_wss_upstreams_work_with_insecure() {
    let backend = Backend::start().await;
    let front = tls_front(backend.addr).await;
    let options = Options {
        configure: Box::new(|c| c.insecure = true),
        ..Options::default()
    };
    let h = Harness::in_front_of(&format!("https://localhost:{}", front.port()), options).await;
    let request = Request::get(h.url("/api/echo/"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (status, _, body) = call(request).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));

    let mut ws = h.ws("/ws/echo/", &[]).await;
    send_text(&mut ws, "over tls").await;
    assert_eq!(next(&mut ws).await, Some(Message::Text("over tls".into())));
    drop(ws);
    let capture = h.finish().await;
    backend.stop().await;
    let texts: Vec<_> = support::messages(&capture)
        .iter()
        .filter(|m| m.opcode == wsdiag::event::Opcode::Text)
        .map(|m| m.payload.text().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(texts, ["over tls", "over tls"]);
}

#[tokio::test]
async fn a_self_signed_upstream_is_refused_without_insecure_as_a_tls_error() {
    let backend = Backend::start().await;
    let front = tls_front(backend.addr).await;
    let h = Harness::in_front_of(
        &format!("https://localhost:{}", front.port()),
        Options::default(),
    )
    .await;
    let request = Request::get(h.url("/api/echo/"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (status, _, body) = call(request).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(
        String::from_utf8_lossy(&body).contains("certificate"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    let capture = h.finish().await;
    backend.stop().await;
    let kinds = support::events(&capture, |e| match &e.kind {
        EventKind::HttpError(x) => Some(x.kind),
        _ => None,
    });
    assert_eq!(kinds, [ErrorKind::Tls]);
}
