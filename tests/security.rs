//! What docs/security.md promises, checked: loopback by default and a
//! warning otherwise, a reverse proxy to one upstream only (see
//! proxy::bad_input for CONNECT and absolute-form requests), captures with
//! mode 0600 (see cli), and no secret in wsdiag's own logs.

use std::process::{Command, Stdio};

use clap::Parser;
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use wsdiag::cli::{Cli, Command as Sub};

use crate::support::{address_in, next, Backend, Running};

#[test]
fn the_proxy_listens_on_loopback_unless_told_otherwise() {
    let cli =
        Cli::try_parse_from(["wsdiag", "proxy", "--upstream", "http://127.0.0.1:8000"]).unwrap();
    let Sub::Proxy(args) = cli.command else {
        unreachable!()
    };
    assert!(args.listen.ip().is_loopback(), "{}", args.listen);
}

#[test]
fn listening_on_a_public_address_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let mut proxy = Running::start(
        &[
            "proxy",
            "--upstream",
            "http://127.0.0.1:9",
            "--listen",
            "0.0.0.0:0",
            "--no-capture",
        ],
        dir.path(),
    );
    let warning = proxy.line_with("WARNING");
    assert!(warning.contains("non-loopback"), "{warning}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_in_traffic_never_reach_wsdiags_logs() {
    const SECRETS: [&str; 3] = ["tok-s3cr3t-1", "sess-s3cr3t-2", "msg-s3cr3t-3"];
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr.log");
    let mut command = Command::new(env!("CARGO_BIN_EXE_wsdiag"));
    command
        .args(["proxy", "--upstream", &format!("http://{}", backend.addr)])
        .args(["--listen", "127.0.0.1:0", "--capture", "s.jsonl", "--quiet"])
        .current_dir(dir.path())
        .env("RUST_LOG", "info,wsdiag=debug")
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()));
    let mut proxy = Running::spawn(command);
    let addr = address_in(&proxy.line_with("proxy on"));

    let mut request = format!("ws://{addr}/ws/echo/?token={}", SECRETS[0])
        .into_client_request()
        .unwrap();
    let cookie = format!("sessionid={}", SECRETS[1]).parse().unwrap();
    request.headers_mut().insert("cookie", cookie);
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let text = format!("{{\"type\":\"auth\",\"password\":\"{}\"}}", SECRETS[2]);
    ws.send(Message::Text(text.clone().into())).await.unwrap();
    assert_eq!(next(&mut ws).await, Some(Message::Text(text.into())));
    // Failure paths, which are what wsdiag logs: the client vanishes
    // mid-WebSocket, and a malformed request carries a secret cookie.
    drop(ws);
    let mut raw = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let malformed = format!(
        "GET / HTTP/1.1\r\nCookie: sessionid={}\r\nno colon here\r\n\r\n",
        SECRETS[1]
    );
    tokio::io::AsyncWriteExt::write_all(&mut raw, malformed.as_bytes())
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut raw, &mut answer)
        .await
        .unwrap();
    let (_, status) = proxy.stop("INT");
    assert!(status.success());

    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("client connection failed"),
        "nothing was logged:\n{logged}"
    );
    for secret in SECRETS {
        assert!(!logged.contains(secret), "{secret} in the logs:\n{logged}");
    }
    // The capture, private to its owner, does hold them: it is the record.
    let captured = std::fs::read_to_string(dir.path().join("s.jsonl")).unwrap();
    assert!(SECRETS.iter().all(|s| captured.contains(s)));
    backend.stop().await;
}
