//! The repository's sample captures, line by line, for tests that check
//! something against every recorded event (`tests/fixtures/**/*.jsonl`).

use std::path::PathBuf;

/// Every line of every `.jsonl` file under `tests/fixtures`, with its file.
pub(crate) fn lines() -> Vec<(PathBuf, String)> {
    let mut lines = Vec::new();
    let mut dirs = vec![PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures"
    ))];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "jsonl") {
                for line in std::fs::read_to_string(&path).unwrap().lines() {
                    lines.push((path.clone(), line.to_owned()));
                }
            }
        }
    }
    lines
}
