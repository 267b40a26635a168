//! The stable-toolchain replay of the cargo-fuzz corpora (`tests/corpus.rs` includes this
//! file with `#[path]`): every corpus file goes through the fuzz target's check, and
//! hand-written seeds must be accepted or rejected as their names say.

use std::fs;
use std::path::{Path, PathBuf};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

/// Runs `check` on every file of the corpus of `target`; fails if there is none.
/// Hand-written seeds named `valid-*` must also be accepted by `accepts`, and
/// those named `invalid-*` rejected (files the fuzzer added have hash names).
pub fn replay(target: &str, check: fn(&[u8]), accepts: fn(&[u8]) -> bool) {
    let dir = corpus_dir(target);
    let entries = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read corpus directory {}: {e}", dir.display()));
    let mut count = 0;
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
            .path();
        if !path.is_file() {
            continue;
        }
        let data =
            fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let outcome = std::panic::catch_unwind(|| check(&data));
        if outcome.is_err() {
            panic!("corpus file {} fails the {target} check", path.display());
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("valid-") {
            assert!(accepts(&data), "seed {} is rejected", path.display());
        } else if name.starts_with("invalid-") {
            assert!(!accepts(&data), "seed {} is accepted", path.display());
        }
        count += 1;
    }
    assert!(count > 0, "corpus directory {} is empty", dir.display());
}
