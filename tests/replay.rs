//! `wsdiag replay`, `diff` and `mock`: every sample capture replays against
//! a mock of itself; the demo session replays against the demo backend and
//! fails, naming what changed, against a backend that changed; JUnit is
//! read back; a real Django session replays against a fresh Django.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use wsdiag::capture::Capture;
use wsdiag::demo::Quirks;
use wsdiag::proxy::Upstream;
use wsdiag::replay::compare::Rules;
use wsdiag::replay::run::{self, Options, Overrides, Pace};
use wsdiag::replay::script::Script;
use wsdiag::replay::{mock, ActionResult};

fn captures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let mut all: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    all.sort();
    all
}

fn demo_capture() -> Capture {
    wsdiag::capture::read_path(&Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/demo.jsonl"))
        .unwrap()
}

fn options(target: &str) -> Options {
    Options {
        target: Upstream::parse(target).unwrap(),
        rules: Rules::default(),
        timeout: std::time::Duration::from_secs(2),
        pace: Pace::Fast,
        overrides: Overrides::default(),
    }
}

async fn replay(capture: &Capture, target: &str) -> Vec<ActionResult> {
    run::run(&Script::of(capture), &options(target), &|| {}).await
}

/// A demo backend (with `quirks`) on a port of its own.
async fn demo_backend(quirks: Quirks) -> (String, CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(wsdiag::demo::serve_with(listener, stop.clone(), quirks));
    (format!("http://{addr}"), stop)
}

fn failures(results: &[ActionResult]) -> Vec<&ActionResult> {
    results.iter().filter(|r| !r.passed()).collect()
}

#[tokio::test]
async fn every_sample_capture_replays_against_a_mock_of_itself() {
    for path in captures() {
        let capture = wsdiag::capture::read_path(&path).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let served = capture.clone();
        let notes: mock::Notes = Arc::new(|_| {});
        let server = tokio::spawn({
            let stop = stop.clone();
            async move { mock::serve(listener, &served, Rules::default(), notes, stop).await }
        });
        let results = replay(&capture, &format!("http://{addr}")).await;
        stop.cancel();
        let _ = server.await;
        assert!(!results.is_empty(), "{} replayed nothing", path.display());
        let failed = failures(&results);
        assert!(failed.is_empty(), "{}: {failed:#?}", path.display());
    }
}

#[tokio::test]
async fn the_demo_session_replays_against_the_demo_backend_broadcast_included() {
    let (target, stop) = demo_backend(Quirks::default()).await;
    let results = replay(&demo_capture(), &target).await;
    stop.cancel();
    assert!(failures(&results).is_empty(), "{:#?}", failures(&results));
    let observer = results
        .iter()
        .find(|r| r.name == "WebSocket #2 /ws/chat/3/")
        .expect("bob's socket is judged");
    assert!(observer.passed(), "the observer saw alice's broadcast");
    assert_eq!(results.len(), 4, "two REST exchanges, two WebSockets");
}

#[tokio::test]
async fn a_renamed_field_fails_and_the_diff_names_it() {
    let (target, stop) = demo_backend(Quirks {
        rename_field: Some(("message", "contenu")),
        ..Quirks::default()
    })
    .await;
    let results = replay(&demo_capture(), &target).await;
    stop.cancel();
    let failed = failures(&results);
    assert!(!failed.is_empty());
    let all_differences: Vec<String> = failed
        .iter()
        .flat_map(|r| r.differences.iter().map(|d| d.at.clone()))
        .collect();
    assert!(
        all_differences.iter().any(|at| at == "/data/message"),
        "{all_differences:?}"
    );
    assert!(
        all_differences.iter().any(|at| at == "/data/contenu"),
        "{all_differences:?}"
    );
}

#[tokio::test]
async fn a_different_status_fails_on_that_exchange() {
    let (target, stop) = demo_backend(Quirks {
        rest_status: Some(201),
        ..Quirks::default()
    })
    .await;
    let results = replay(&demo_capture(), &target).await;
    stop.cancel();
    let failed = failures(&results);
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0].name, "REST POST /api/conversations/3/messages/");
    let status = failed[0]
        .differences
        .iter()
        .find(|d| d.at == "status")
        .unwrap();
    assert_eq!(
        (status.expected.as_str(), status.actual.as_str()),
        ("500", "201")
    );
}

#[test]
fn one_message_fewer_fails_with_exit_1_and_junit_counts_it() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (target, stop) = runtime.block_on(demo_backend(Quirks {
        skip_personal_notification: true,
        ..Quirks::default()
    }));
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/demo.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_wsdiag"))
        .args([
            "replay",
            demo.to_str().unwrap(),
            "--target",
            &target,
            "--junit",
            junit.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    stop.cancel();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("✗ WebSocket #2 /ws/chat/3/"), "{text}");
    assert!(
        text.contains("missing: ← {\"type\":\"notification_personal\""),
        "{text}"
    );
    assert!(text.contains("4 actions: 3 passed, 1 failed"), "{text}");
    let xml = std::fs::read_to_string(junit).unwrap();
    assert!(
        xml.contains(r#"tests="4""#) && xml.contains(r#"failures="1""#),
        "{xml}"
    );
    assert_eq!(xml.matches("<testcase ").count(), 4);
    assert_eq!(xml.matches("<failure ").count(), 1);
    assert!(
        xml.contains("notification_personal"),
        "the failure says what is missing"
    );
}

#[test]
fn diff_of_a_capture_with_itself_passes_and_with_another_run_names_the_change() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/demo.jsonl");
    let diff = |a: &Path, b: &Path| {
        Command::new(env!("CARGO_BIN_EXE_wsdiag"))
            .args(["diff", a.to_str().unwrap(), b.to_str().unwrap(), "--json"])
            .output()
            .unwrap()
    };
    assert_eq!(diff(&demo, &demo).status.code(), Some(0));
    let other = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/django-working.jsonl");
    let out = diff(&demo, &other);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let status = report["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "REST POST /api/conversations/3/messages/")
        .unwrap();
    assert_eq!(status["differences"][0]["at"], "status");
}

#[tokio::test]
async fn the_mock_answers_unmatched_requests_with_a_clear_404_and_a_note() {
    let capture = demo_capture();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let notes_seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = notes_seen.clone();
    let notes: mock::Notes = Arc::new(move |n| sink.lock().unwrap().push(n));
    tokio::spawn({
        let stop = stop.clone();
        async move { mock::serve(listener, &capture, Rules::default(), notes, stop).await }
    });
    let request = http::Request::delete(format!("http://{addr}/api/nothing/"))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let (status, _, body) = crate::support::call(request).await;
    stop.cancel();
    assert_eq!(status, 404);
    let body = String::from_utf8_lossy(&body);
    assert!(
        body.contains("no recorded exchange for DELETE /api/nothing/")
            && body.contains("POST /api/conversations/3/messages/"),
        "{body}"
    );
    assert!(notes_seen.lock().unwrap()[0].contains("DELETE /api/nothing/"));
}
