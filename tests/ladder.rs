//! The imports form a ladder (`../shared/DESIGN.md`, "Next shape of the
//! house"): a module imports only modules below it, and no two files of one
//! folder import each other. Read from the source, tests excluded.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The top-level modules, lowest first; a module may import a module of a
/// lower rank, or of its own rank when that one does not import it back.
const LADDER: &[(&str, u8)] = &[
    ("event", 0),
    ("dialects", 1),
    ("stacks", 1),
    ("http_server", 1),
    ("capture", 2),
    ("diagnose", 3),
    ("sink", 4),
    ("proxy", 5),
    ("export", 6),
    ("replay", 6),
    ("ui", 6),
    ("demo", 6),
    ("probe", 6),
    ("cli", 7),
    ("commands", 7),
];

fn rank(module: &str) -> Option<u8> {
    LADDER.iter().find(|(m, _)| *m == module).map(|(_, r)| *r)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .expect("src/ is readable")
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The file's code without comments and without its `#[cfg(test)]` part.
fn code(path: &Path) -> String {
    let text = fs::read_to_string(path).expect("a source file is readable");
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The names that follow `prefix` (`crate::` or `super::`), including each
/// name of a `prefix{a, b::c}` group.
fn names_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (i, _) in code.match_indices(prefix) {
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let rest = &code[i + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = group.split('}').next().unwrap_or_default();
            for item in group.split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    names.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn top_level_modules_import_only_lower_rungs() {
    let src = src();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let relative = file.strip_prefix(&src).expect("under src/");
        let top = relative
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .unwrap_or_default()
            .trim_end_matches(".rs")
            .to_owned();
        if top == "main" || top == "lib" {
            continue;
        }
        for name in names_after(&code(file), "crate::") {
            if name != top && rank(&name).is_some() {
                edges.entry(top.clone()).or_default().insert(name);
            }
        }
    }
    let mut wrong = Vec::new();
    for (from, targets) in &edges {
        let Some(from_rank) = rank(from) else {
            wrong.push(format!("{from} is not on the ladder: add it to LADDER"));
            continue;
        };
        for to in targets {
            let to_rank = rank(to).unwrap_or(u8::MAX);
            let back = edges.get(to).is_some_and(|t| t.contains(from));
            if to_rank > from_rank || (to_rank == from_rank && back) {
                wrong.push(format!("{from} imports {to}"));
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the ladder: {wrong:?}");
}

#[test]
fn no_two_files_of_a_folder_import_each_other() {
    let src = src();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    // Sibling imports: `super::name` in a file that is not a `mod.rs`.
    let mut edges: BTreeSet<(PathBuf, String, String)> = BTreeSet::new();
    for file in &files {
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        if stem == "mod" {
            continue;
        }
        let dir = file.parent().expect("a folder").to_owned();
        for name in names_after(&code(file), "super::") {
            let sibling = dir.join(format!("{name}.rs"));
            let folder = dir.join(&name);
            if name != stem && (sibling.exists() || folder.is_dir()) {
                edges.insert((dir.clone(), stem.clone(), name));
            }
        }
    }
    let mutual: Vec<_> = edges
        .iter()
        .filter(|(dir, a, b)| a < b && edges.contains(&(dir.clone(), b.clone(), a.clone())))
        .map(|(dir, a, b)| format!("{}: {a} <-> {b}", dir.display()))
        .collect();
    assert!(
        mutual.is_empty(),
        "files that import each other: {mutual:?}"
    );
}
