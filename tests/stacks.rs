//! Error responses of real frameworks (`tests/fixtures/stacks`: recorded
//! from Express, NestJS, Flask, Rails, or written from the sources of
//! Spring Boot, Laravel, ASP.NET Core and Phoenix, each citing what it
//! follows) and database errors of SQLite, PostgreSQL and MySQL/MariaDB
//! through drivers and ORMs, read by `wsdiag::stacks`.

use std::path::Path;

use serde_json::Value;
use wsdiag::stacks::{self, DbErrorKind};

use crate::support::root;

fn dir() -> std::path::PathBuf {
    root().join("tests/fixtures/stacks")
}

/// A `.http` fixture: status and body.
fn response(path: &Path) -> (u16, String) {
    let text = std::fs::read_to_string(path).unwrap();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .or_else(|| text.split_once("\n\n"))
        .unwrap();
    let status = head.split_whitespace().next().unwrap().parse().unwrap();
    (status, body.to_owned())
}

/// Every database error text gives its constraint, and its table and
/// column where the text names them.
#[test]
fn database_errors_of_three_databases_through_drivers_and_orms() {
    let list: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(dir().join("db-errors.json")).unwrap())
            .unwrap();
    let mut wrong = Vec::new();
    for e in &list {
        let text = e["text"].as_str().unwrap();
        let want_kind = match e["kind"].as_str().unwrap() {
            "not_null" => DbErrorKind::NotNull,
            "unique" => DbErrorKind::Unique,
            _ => DbErrorKind::ForeignKey,
        };
        match stacks::db::parse(text) {
            None => wrong.push(format!("not read: {text}")),
            Some(got) => {
                if got.kind != want_kind {
                    wrong.push(format!("{:?} for {text}", got.kind));
                }
                if let Some(column) = e["column"].as_str() {
                    if got.column.as_deref() != Some(column) {
                        wrong.push(format!("column {:?}, want {column}: {text}", got.column));
                    }
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} wrong:\n{}",
        wrong.len(),
        list.len(),
        wrong.join("\n")
    );
}

/// The fixture's expectations (`<name>.json`).
fn expected(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir().join(format!("{name}.json"))).unwrap())
        .unwrap()
}

/// Express's own pages, development and production, for each bug of the
/// chat of `tests/dialect_apps`: the error, the route's line, or that the
/// details are only in the log.
#[test]
fn express_pages_give_the_error_and_the_route_line() {
    let mut read = 0;
    for entry in std::fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("express-") || path.extension().is_none_or(|e| e != "http") {
            continue;
        }
        let want = expected(&name);
        let (status, body) = response(&path);
        let got = stacks::parse(status, &body).unwrap_or_else(|| panic!("{name}: not read"));
        assert_eq!(
            got.details_in_log,
            want["details_only_in_log"] == true,
            "{name}"
        );
        if let Some(exception) = want["exception_type"].as_str() {
            assert_eq!(got.exception.as_deref(), Some(exception), "{name}");
        }
        match want["app_frame"].as_object() {
            Some(frame) => {
                let at = got
                    .location
                    .unwrap_or_else(|| panic!("{name}: no app frame"));
                assert_eq!(at.file, frame["file"].as_str().unwrap(), "{name}");
                assert_eq!(
                    u64::from(at.line),
                    frame["line"].as_u64().unwrap(),
                    "{name}"
                );
                assert_eq!(at.language(), frame["language"].as_str().unwrap(), "{name}");
            }
            None => assert!(got.location.is_none(), "{name}"),
        }
        read += 1;
    }
    assert_eq!(read, 8, "four bugs, development and production");
}

/// Validation errors in the generic shapes other frameworks share (NestJS
/// class-validator, ASP.NET Core ValidationProblemDetails, Laravel's 422,
/// a Phoenix changeset): the fields they name.
#[test]
fn validation_errors_of_other_frameworks_name_their_fields() {
    for name in [
        "nestjs-validation",
        "aspnet-validation-problem",
        "laravel-422-validation",
        "phoenix-changeset-422",
    ] {
        let (status, body) = response(&dir().join(format!("{name}.http")));
        let got = stacks::parse(status, &body).unwrap_or_else(|| panic!("{name}: not read"));
        let mut fields: Vec<String> = got.fields.iter().map(|f| f.field.clone()).collect();
        let mut want: Vec<String> = expected(name)["field_errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap().to_owned())
            .collect();
        fields.sort();
        fields.dedup();
        want.sort();
        want.dedup();
        assert_eq!(fields, want, "{name}");
    }
}

/// What `stacks::parse` reads in fixture `name`, against its expectations:
/// the mismatches, in words.
fn mismatches(name: &str) -> Vec<String> {
    let want = expected(name);
    let (status, body) = response(&dir().join(format!("{name}.http")));
    let Some(got) = stacks::parse(status, &body) else {
        return vec![format!("{name}: not read")];
    };
    let mut out = Vec::new();
    let mut differ = |what: &str, got: String, want: String| {
        if got != want {
            out.push(format!("{name} {what}: got {got:?}, want {want:?}"));
        }
    };
    differ(
        "details in log",
        got.details_in_log.to_string(),
        want["details_only_in_log"].to_string(),
    );
    if let Some(exception) = want["exception_type"].as_str() {
        differ(
            "exception",
            got.exception.clone().unwrap_or_default(),
            exception.to_owned(),
        );
    }
    if let Some(frame) = want["app_frame"].as_object() {
        let at = got.location.clone();
        differ(
            "file",
            at.as_ref().map(|f| f.file.clone()).unwrap_or_default(),
            frame["file"].as_str().unwrap().to_owned(),
        );
        differ(
            "line",
            at.as_ref().map(|f| f.line.to_string()).unwrap_or_default(),
            frame["line"].to_string(),
        );
        if let Some(function) = frame["function"].as_str() {
            differ(
                "function",
                at.map(|f| f.function).unwrap_or_default(),
                function.to_owned(),
            );
        }
    }
    if let Some(column) = want["db_error"]["column"].as_str() {
        differ(
            "column",
            got.database.and_then(|d| d.column).unwrap_or_default(),
            column.to_owned(),
        );
    }
    let mut fields: Vec<String> = got.fields.iter().map(|f| f.field.clone()).collect();
    fields.sort();
    fields.dedup();
    let mut want_fields: Vec<String> = want["field_errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap().to_owned())
        .collect();
    want_fields.sort();
    want_fields.dedup();
    differ("fields", fields.join(","), want_fields.join(","));
    out
}

/// Spring Boot (its JSON with the trace, the Whitelabel page, binding
/// errors), Laravel (debug JSON, production, 419), ASP.NET Core (the
/// developer page's text, a bare ProblemDetails 500), Phoenix (Plug's
/// Markdown page) and NestJS's 500, written from their sources or recorded.
#[test]
fn spring_laravel_aspnet_phoenix_and_nestjs_errors() {
    let names = [
        "spring-500-default",
        "spring-500-message-trace",
        "spring-400-binding-errors",
        "spring-whitelabel-500-trace",
        "laravel-500-debug",
        "laravel-500-prod",
        "laravel-419-csrf",
        "aspnet-devpage-plain",
        "aspnet-problem-500",
        "phoenix-debug-markdown",
        "nestjs-unhandled",
    ];
    let wrong: Vec<String> = names.iter().flat_map(|n| mismatches(n)).collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Flask (Werkzeug's debugger and error pages) and Rails (the development
/// exception page in HTML and, for API apps, JSON): the exception, the
/// application's line, the database column, the parameter Rails required,
/// or that the details are only in the log.
#[test]
fn flask_and_rails_pages_give_the_error_and_the_application_line() {
    let names = [
        "flask-keyerror-debug",
        "flask-integrity-debug",
        "flask-abort-html",
        "flask-keyerror-prod",
        "rails-no-method-html",
        "rails-not-null-html",
        "rails-parameter-missing-html",
        "rails-parameter-missing-accept-json",
        "rails-api-no-method",
        "rails-api-not-null",
        "rails-api-parameter-missing",
        "rails-no-method-accept-json",
        "rails-no-method-prod-json",
    ];
    let wrong: Vec<String> = names.iter().flat_map(|n| mismatches(n)).collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A `.http` fixture's header lines, as the capture records them.
fn response_headers(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let head = text
        .split_once("\r\n\r\n")
        .or_else(|| text.split_once("\n\n"))
        .map_or("", |(head, _)| head);
    head.lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect()
}

/// `wsdiag diagnose --format json` on a capture of one REST write
/// (`{"text":"cc"}`) answered with fixture `name` (its status, headers and
/// body).
fn diagnose_answer(name: &str) -> Value {
    use serde_json::json;
    let path = dir().join(format!("{name}.http"));
    let (status, body) = response(&path);
    let headers = response_headers(&path);
    let header = json!({"type":"header","format_version":2,"wsdiag_version":"0.1.0",
        "started_at":"2026-11-29T10:00:00Z","listen":"127.0.0.1:9000",
        "upstream":"http://127.0.0.1:8000","body_limit":262144});
    let request = json!({"seq":1,"t_us":1000,"conn":1,"type":"http_request","exchange":1,
        "method":"POST","uri":"/messages","version":"HTTP/1.1",
        "headers":[["content-type","application/json"]],"body":{"len":13,"text":"{\"text\":\"cc\"}"}});
    let answer = json!({"seq":2,"t_us":2000,"conn":1,"type":"http_response","exchange":1,
        "status":status,"headers":headers,"body":{"len":body.len(),"text":body},"duration_us":1000});
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("capture.jsonl");
    std::fs::write(&file, format!("{header}\n{request}\n{answer}\n")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wsdiag"))
        .arg("diagnose")
        .arg(&file)
        .args(["--format", "json"])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Rails' `InvalidAuthenticityToken` and Laravel's 419 are CSRF refusals,
/// explained in each framework's words.
#[test]
fn rails_and_laravel_csrf_refusals_in_their_words() {
    for (name, words) in [
        ("rails-csrf-html", "X-CSRF-Token"),
        ("rails-csrf-accept-json", "X-CSRF-Token"),
        ("laravel-419-csrf", "X-XSRF-TOKEN"),
    ] {
        let d = diagnose_answer(name);
        let f = &d["findings"][0];
        assert_eq!(f["code"], "csrf-failed", "{name}: {d:#}");
        assert!(
            f["next_step"].as_str().unwrap().contains(words),
            "{name}: {}",
            f["next_step"]
        );
    }
}

/// Spring Boot and ASP.NET Core production 500s (no details in the body)
/// say where the details are, in each framework's words.
#[test]
fn spring_and_aspnet_answers_in_their_words() {
    for (name, words) in [
        ("spring-500-default", "server.error.include-stacktrace"),
        ("aspnet-problem-500", "ASPNETCORE_ENVIRONMENT=Development"),
    ] {
        let d = diagnose_answer(name);
        let f = &d["findings"][0];
        assert_eq!(f["code"], "rest-server-error", "{name}: {d:#}");
        assert!(
            f["next_step"].as_str().unwrap().contains(words),
            "{name}: {}",
            f["next_step"]
        );
    }
}

/// An error page of many MiB (a 20 MiB body of a real Express page padded
/// with markup, and of a page no stack knows) is read by what matters at
/// its start: the exception and the route's line, or the title and
/// heading. How long it takes is in `cargo bench --bench diagnose`.
#[test]
fn enormous_pages_are_read_by_their_start() {
    let (status, express) = response(&dir().join("express-no-sender.http"));
    let unknown = "<html><head><title>Oops</title></head><body><h1>Something broke</h1>";
    for page in [express.as_str(), unknown] {
        let mut body = page.to_owned();
        while body.len() < 20 << 20 {
            body.push_str("<p>lorem ipsum dolor sit amet</p>\n");
        }
        let payload = wsdiag::event::Payload::capture(&bytes::Bytes::from(body), 30 << 20);
        let parsed = wsdiag::diagnose::ErrorBody::parse(status, &payload).unwrap();
        if page == unknown {
            assert_eq!(parsed.summary(), "HTML page: Oops — Something broke");
        } else {
            let at = parsed.location().unwrap();
            assert!(at.file.ends_with("socketio_chat.js"), "{at:?}");
            assert!(
                parsed.summary().contains("TypeError"),
                "{}",
                parsed.summary()
            );
        }
    }
}
