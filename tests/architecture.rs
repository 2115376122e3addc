//! The layering promises of ARCHITECTURE.md, checked: the pure modules import neither axum, sqlx
//! nor tokio, and the database is spoken to only from `src/store/`.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Lines of code (not comments) of the files under `src/<dir>` that mention `word`.
fn mentions(dir: &str, word: &str) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(&src().join(dir), &mut files);
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("a readable source file");
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if code.contains(word) {
                found.push(format!("{}:{}: {}", file.display(), i + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn the_pure_modules_import_neither_axum_sqlx_nor_tokio() {
    for dir in ["domain", "assign", "hotspot", "tiles"] {
        for word in ["axum", "sqlx", "tokio"] {
            let found = mentions(dir, word);
            assert!(
                found.is_empty(),
                "src/{dir} uses {word}:\n{}",
                found.join("\n")
            );
        }
    }
}

#[test]
fn only_the_store_speaks_to_the_database() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let store = src().join("store");
    let mut found = Vec::new();
    for file in files.iter().filter(|f| !f.starts_with(&store)) {
        let text = std::fs::read_to_string(file).expect("a readable source file");
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let sql = [
                "\"SELECT ",
                "\"INSERT INTO",
                "\"UPDATE ",
                "\"DELETE FROM",
                "\"CREATE ",
            ]
            .iter()
            .any(|k| code.contains(k));
            if code.contains("sqlx::") || code.contains("use sqlx") || sql {
                found.push(format!("{}:{}: {}", file.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "database access outside src/store:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_checks_above_would_see_a_violation() {
    // The scanner itself: the store, which does use sqlx, is seen to.
    assert!(!mentions("store", "sqlx").is_empty());
}
