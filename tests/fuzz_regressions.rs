//! Fuzz regressions: every input under `fuzz/corpus/<target>/` and
//! `fuzz/artifacts/<target>/` goes through the fuzz target's own body
//! (`fuzz/src/lib.rs`, compiled in here), which must not panic. A crash
//! found by `cargo fuzz` stays a failing test until it is fixed.

use std::panic::catch_unwind;
use std::path::Path;

#[path = "../fuzz/src/lib.rs"]
mod targets;

/// Runs `body` on every input of `target`; fails naming the inputs that
/// panicked.
fn replay(target: &str, body: fn(&[u8])) {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut inputs = 0;
    let mut panicked = Vec::new();
    for dir in ["corpus", "artifacts"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if !path.is_file() {
                continue;
            }
            let data = std::fs::read(&path).unwrap();
            inputs += 1;
            if catch_unwind(|| body(&data)).is_err() {
                panicked.push(path.display().to_string());
            }
        }
    }
    assert!(inputs > 0, "no inputs in fuzz/corpus/{target}/");
    assert!(
        panicked.is_empty(),
        "{target} panicked on {} of {inputs} inputs (reproduce with \
         `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -s none {target} FILE`):\n{}",
        panicked.len(),
        panicked.join("\n")
    );
}

#[test]
fn capture_reader_corpus_and_crashes_read_without_panicking() {
    replay("capture_reader", targets::capture_reader);
}

#[test]
fn error_pages_corpus_and_crashes_parse_without_panicking() {
    replay("error_pages", targets::error_pages);
}

#[test]
fn frames_corpus_and_crashes_read_without_panicking() {
    replay("frames", targets::frames);
}

#[test]
fn http_heads_corpus_and_crashes_read_without_panicking() {
    replay("http_heads", targets::http_heads);
}

#[test]
fn message_classifier_corpus_and_crashes_diagnose_without_panicking() {
    replay("message_classifier", targets::message_classifier);
}
