//! The fuzzers' inputs as an ordinary test: every hand-written seed (`fuzz/seeds/<target>/`) and
//! every input the fuzzer kept (`fuzz/corpus/<target>/`) goes through the same checks as the fuzz
//! target, so a regression on any of them fails `cargo test` without running the fuzzer.

use std::fs;
use std::path::{Path, PathBuf};

#[path = "../fuzz/checks/registry_config.rs"]
mod registry_config;
#[path = "../fuzz/checks/retry_after.rs"]
mod retry_after;

/// The files of `fuzz/seeds/<target>` and `fuzz/corpus/<target>`; fails if either is empty, so the
/// test cannot pass by checking nothing.
fn inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut inputs = Vec::new();
    for dir in ["seeds", "corpus"] {
        let dir = fuzz.join(dir).join(target);
        let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let files: Vec<_> = entries
            .map(|entry| entry.expect("a directory entry").path())
            .filter(|path| path.is_file())
            .collect();
        assert!(!files.is_empty(), "{} is empty", dir.display());
        inputs.extend(files);
    }
    inputs.sort();
    inputs
}

/// Runs `check` on every input of `target`, naming the input that fails.
fn replay(target: &str, check: fn(&[u8])) {
    for path in inputs(target) {
        let data = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "{} fails the checks", path.display());
    }
}

#[test]
fn retry_after_corpus() {
    replay("retry_after", retry_after::check);
}

#[test]
fn registry_config_corpus() {
    replay("registry_config", registry_config::check);
}
