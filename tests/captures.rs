//! Every sample capture in `captures/` is a fixture: it must follow the
//! documented schema, read back, and print.

use crate::support::schema;

#[test]
fn every_sample_capture_follows_the_schema_and_reads_back() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "jsonl") {
            schema::check_capture(&std::fs::read_to_string(&path).unwrap());
            let capture = wsdiag::capture::read_path(&path).unwrap();
            assert!(capture.cut_off.is_none(), "{} is cut off", path.display());
            assert!(
                capture.trailer().is_some(),
                "{} has no trailer",
                path.display()
            );
            seen += 1;
        }
    }
    assert!(seen > 0, "captures/ holds sample captures");
}
