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
