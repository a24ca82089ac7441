//! The diagnosis of the real Django Channels captures in `captures/` (one
//! per switchable bug, recorded through the proxy by
//! `tests/django_chat/record_captures.sh`): runs without Python.

use std::path::Path;
use std::process::Command;

use wsdiag::diagnose::{self, report, Code, Diagnosis, Finding};

fn diagnose_capture(name: &str) -> Diagnosis {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(name);
    let capture = wsdiag::capture::read_path(&path).unwrap();
    diagnose::run(&capture.events, &diagnose::Options::default())
}

fn only_finding(d: &Diagnosis) -> &Finding {
    assert_eq!(
        d.findings.len(),
        1,
        "{}",
        report::render(d, report::Format::Text)
    );
    &d.findings[0]
}

/// Checks the report a developer reads for the sender bug.
fn assert_sender_not_set(d: &Diagnosis) {
    let f = only_finding(d);
    assert_eq!(f.code, Code::RestMissingServerField);
    assert!(f.title.contains("`expediteur`"), "{}", f.title);
    assert_eq!(
        f.error.as_deref(),
        Some("IntegrityError: NOT NULL constraint failed: chat_message.expediteur_id")
    );
    let at = f
        .location
        .as_ref()
        .expect("the line of the application's code");
    assert!(
        at.file.ends_with("chat/views.py") && at.function == "perform_create",
        "{at:?}"
    );
    assert!(
        f.next_step
            .contains("serializer.save(expediteur=self.request.user)"),
        "{}",
        f.next_step
    );
    assert!(f.suggestion.as_deref().unwrap().starts_with(
        "message = serializer.save(conversation=conversation, expediteur=self.request.user)"
    ));
    assert!(f
        .explanation
        .iter()
        .any(|l| l.contains("consumer fills `expediteur` from the connection")));
    let comparison = f.comparison.as_ref().unwrap();
    assert!(comparison
        .missing_in_rest
        .contains(&"expediteur".to_owned()));
}

#[test]
fn sender_not_set_with_the_html_debug_page() {
    assert_sender_not_set(&diagnose_capture("django-sender-not-set-html.jsonl"));
}

#[test]
fn sender_not_set_with_the_plain_text_debug_page() {
    assert_sender_not_set(&diagnose_capture("django-sender-not-set-text.jsonl"));
}

#[test]
fn sender_not_set_without_debug_names_the_likely_field_and_the_log() {
    let d = diagnose_capture("django-sender-not-set-nodebug.jsonl");
    let f = only_finding(&d);
    assert_eq!(f.code, Code::RestServerError);
    assert!(
        f.title.contains("likely cause: it never sets `expediteur`"),
        "{}",
        f.title
    );
    assert!(
        f.next_step.contains("only in the server's log"),
        "{}",
        f.next_step
    );
    assert!(f
        .explanation
        .iter()
        .any(|l| l.contains("serializer.save(expediteur=self.request.user)")));
}

#[test]
fn a_crash_after_saving_warns_that_a_retry_duplicates() {
    let d = diagnose_capture("django-render-crash.jsonl");
    let f = only_finding(&d);
    assert_eq!(f.code, Code::RestErrorAfterSave);
    assert_eq!(
        f.error.as_deref(),
        Some("AttributeError: 'User' object has no attribute 'profile'")
    );
    let at = f.location.as_ref().unwrap();
    assert!(
        at.file.ends_with("chat/serializers.py") && at.line == 39 && at.function == "get_apercu",
        "{at:?}"
    );
    assert!(f
        .explanation
        .iter()
        .any(|l| l.contains("a retry would save it twice")));
}

#[test]
fn a_wrong_field_name_is_named_with_the_one_expected() {
    let d = diagnose_capture("django-wrong-field.jsonl");
    let f = only_finding(&d);
    assert_eq!(f.code, Code::RestUnknownField);
    assert!(
        f.title.contains("`contenu`") && f.title.contains("`message`"),
        "{}",
        f.title
    );
    assert_eq!(
        f.next_step,
        "rename `contenu` to `message` in the frontend's REST call"
    );
}

#[test]
fn a_working_app_has_no_findings_and_both_paths_succeed() {
    let d = diagnose_capture("django-working.jsonl");
    assert!(
        d.findings.is_empty(),
        "{}",
        report::render(&d, report::Format::Text)
    );
    let both = d
        .actions
        .iter()
        .filter(|a| a.both_paths(&d.attempts))
        .count();
    assert_eq!(both, 1);
}

#[test]
fn the_demo_capture_gets_the_same_diagnosis_as_django() {
    let d = diagnose_capture("demo.jsonl");
    assert_eq!(only_finding(&d).code, Code::RestMissingServerField);
}

#[test]
fn the_command_exits_1_on_a_failing_path_and_0_otherwise_in_every_format() {
    let captures = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let run = |name: &str, format: &str| {
        Command::new(env!("CARGO_BIN_EXE_wsdiag"))
            .args([
                "diagnose",
                &captures.join(name).to_string_lossy(),
                "--format",
                format,
            ])
            .output()
            .unwrap()
    };
    let text = run("django-sender-not-set-html.jsonl", "text");
    assert_eq!(text.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&text.stdout).contains("✗ rest-missing-server-field (REST)"));
    let json = run("django-sender-not-set-html.jsonl", "json");
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["findings"][0]["code"], "rest-missing-server-field");
    let markdown = run("django-wrong-field.jsonl", "markdown");
    assert!(String::from_utf8_lossy(&markdown.stdout).contains("### ✗ `rest-unknown-field`"));
    assert_eq!(run("django-working.jsonl", "text").status.code(), Some(0));
}

/// Findings from live traffic through the proxy in front of the sample
/// backend: each failure made for real, then diagnosed from the capture.
mod live {
    use bytes::Bytes;
    use http::Request;
    use http_body_util::Full;
    use wsdiag::diagnose::{self, Code};

    use crate::support::{call, send_text, wait_for, Harness};

    fn codes(capture: &wsdiag::capture::Capture) -> Vec<Code> {
        let d = diagnose::run(&capture.events, &diagnose::Options::default());
        d.findings.iter().map(|f| f.code).collect()
    }

    #[tokio::test]
    async fn credentials_on_the_websocket_only() {
        let h = Harness::start().await;
        let mut ws = h.ws("/ws/chat/3/?token=alice-token-51c2", &[]).await;
        send_text(&mut ws, r#"{"type":"chat_message","message":"cc"}"#).await;
        wait_for(&mut ws, "chat_message").await;
        let post = Request::post(h.url("/api/conversations/3/messages/"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(b"{\"message\":\"cc\"}")))
            .unwrap();
        assert_eq!(call(post).await.0, 403);
        drop(ws);
        let capture = h.finish().await;
        let d = diagnose::run(&capture.events, &diagnose::Options::default());
        assert_eq!(d.findings.len(), 1);
        let f = &d.findings[0];
        assert_eq!(f.code, Code::CredentialsMissing);
        assert!(
            f.title.contains("while the WebSocket handshake does"),
            "{}",
            f.title
        );
        assert!(
            f.explanation
                .iter()
                .any(|l| l.contains("a token in the query")),
            "{:?}",
            f.explanation
        );
        // The request-context table keeps its columns even where a label
        // is longer than the usual width ("token in the query").
        let text = wsdiag::diagnose::report::render(&d, wsdiag::diagnose::report::Format::Text);
        let table: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("Request context"))
            .take_while(|l| !l.trim().is_empty())
            .collect();
        assert!(table.len() >= 2, "{text}");
        let second_column = |line: &str| {
            let label_end = line.trim_start().find("  ").map_or(0, |i| i + 2);
            let rest = &line.trim_start()[label_end..];
            line.len() - rest.trim_start().len()
        };
        let columns: Vec<usize> = table.iter().map(|l| second_column(l)).collect();
        assert!(columns.windows(2).all(|w| w[0] == w[1]), "{text}");
    }

    #[tokio::test]
    async fn refused_handshakes_by_origin_and_by_route() {
        let h = Harness::start().await;
        assert!(h
            .try_ws("/ws/chat/3/", &[("origin", "https://evil.example")])
            .await
            .is_err());
        assert!(h.try_ws("/ws/nope/", &[]).await.is_err());
        let capture = h.finish().await;
        let d = diagnose::run(&capture.events, &diagnose::Options::default());
        let titles: Vec<&str> = d.findings.iter().map(|f| f.title.as_str()).collect();
        assert_eq!(
            codes(&capture),
            [Code::WsHandshakeRefused, Code::WsHandshakeRefused]
        );
        assert!(
            titles[0].contains("refused with 403") && titles[0].contains("origin validator"),
            "{titles:?}"
        );
        assert!(
            titles[1].contains("refused with 404") && titles[1].contains("no WebSocket route"),
            "{titles:?}"
        );
    }

    #[tokio::test]
    async fn a_consumer_that_raises_closes_with_1011_after_the_message() {
        let h = Harness::start().await;
        let mut ws = h.ws("/ws/chat/3/?token=alice-token-51c2", &[]).await;
        send_text(&mut ws, r#"{"type":"chat_message","text":"oops"}"#).await;
        // As a browser does: answer the close, then go.
        crate::support::close_of(&mut ws).await;
        drop(ws);
        let capture = h.finish().await;
        let d = diagnose::run(&capture.events, &diagnose::Options::default());
        assert_eq!(codes(&capture), [Code::WsClosedAfterMessage]);
        let f = &d.findings[0];
        assert!(f.title.contains("with close 1011"), "{}", f.title);
        assert!(
            f.explanation
                .iter()
                .any(|e| e.contains("Channels closes with 1011 when a consumer raises")),
            "{:?}",
            f.explanation
        );
    }

    #[tokio::test]
    async fn an_error_reply_to_a_websocket_message() {
        let h = Harness::start().await;
        let mut ws = h.ws("/ws/chat/3/?token=alice-token-51c2", &[]).await;
        send_text(
            &mut ws,
            r#"{"type":"chat_mesage","message":"typo in the type"}"#,
        )
        .await;
        wait_for(&mut ws, "error").await;
        drop(ws);
        let capture = h.finish().await;
        let d = diagnose::run(&capture.events, &diagnose::Options::default());
        assert_eq!(codes(&capture), [Code::WsErrorReply]);
        assert!(d.findings[0].title.contains("unknown message type"));
    }
}
