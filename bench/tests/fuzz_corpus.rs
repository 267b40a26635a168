//! Replays the perftest fuzz corpora in `fuzz/corpus/perftest_*` with the fuzz
//! targets' checks, so CI exercises them on the stable toolchain without
//! `cargo fuzz`.

use std::fs;
use std::path::{Path, PathBuf};

use rdma_bench::fuzzing;
use rdma_bench::perftest::wire::{BwReportMsg, KeyMsg, Mtu, SysData, VersionMsg};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

/// Runs `check` on every file of the corpus of `target`; fails if there is none.
/// Hand-written seeds named `valid-*` must also be accepted by `accepts`, and
/// those named `invalid-*` rejected (files the fuzzer added have hash names).
fn replay(target: &str, check: fn(&[u8]), accepts: fn(&[u8]) -> bool) {
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

#[test]
fn perftest_version_corpus() {
    replay("perftest_version", fuzzing::check_version, |d| {
        VersionMsg::parse(d).is_ok()
    });
}

#[test]
fn perftest_sys_data_corpus() {
    replay("perftest_sys_data", fuzzing::check_sys_data, |d| {
        SysData::parse(d).is_ok()
    });
}

#[test]
fn perftest_mtu_corpus() {
    replay("perftest_mtu", fuzzing::check_mtu, |d| {
        Mtu::parse(d).is_ok()
    });
}

#[test]
fn perftest_keys_corpus() {
    replay("perftest_keys", fuzzing::check_keys, |d| {
        KeyMsg::parse_form(d, false).is_ok()
    });
}

#[test]
fn perftest_keys_gid_corpus() {
    replay("perftest_keys_gid", fuzzing::check_keys_gid, |d| {
        KeyMsg::parse_form(d, true).is_ok()
    });
}

#[test]
fn perftest_bw_report_corpus() {
    replay("perftest_bw_report", fuzzing::check_bw_report, |d| {
        BwReportMsg::parse(d).is_ok()
    });
}
