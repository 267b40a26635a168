//! Replays the perftest fuzz corpora in `fuzz/corpus/perftest_*` with the fuzz
//! targets' checks, so CI exercises them on the stable toolchain without
//! `cargo fuzz`.

#[path = "../../fuzz/corpus_replay.rs"]
mod corpus_replay;

use corpus_replay::replay;
use rdma_bench::fuzzing;
use rdma_bench::perftest::peer::PeerParams;
use rdma_bench::perftest::wire::{parse_mtu, BwReportMsg, KeyMsg, SysData, VersionMsg};

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
    replay("perftest_mtu", fuzzing::check_mtu, |d| parse_mtu(d).is_ok());
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

#[test]
fn perftest_peer_params_corpus() {
    replay("perftest_peer_params", fuzzing::check_peer_params, |d| {
        PeerParams::parse(d).is_ok()
    });
}
