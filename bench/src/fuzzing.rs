//! Checks shared by the cargo-fuzz targets (`fuzz/fuzz_targets/perftest_*.rs`) and
//! the corpus replay test (`bench/tests/fuzz_corpus.rs`). Each parser must never
//! panic, and every message it accepts must be canonical: encoding the parsed value
//! gives back the input bytes.

use crate::perftest::peer::PeerParams;
use crate::perftest::wire::{encode_mtu, parse_mtu, BwReportMsg, KeyMsg, SysData, VersionMsg};

/// The 16-byte version message.
pub fn check_version(data: &[u8]) {
    if let Ok(v) = VersionMsg::parse(data) {
        assert_eq!(v.encode().as_slice(), data, "version does not round-trip");
        let _ = (
            v.number(),
            v.is_compatible(),
            v.mtu_msg_len(),
            v.bw_iters_len(),
        );
    }
}

/// The system data messages (8 bytes: page size then cache line size).
pub fn check_sys_data(data: &[u8]) {
    if let Ok(s) = SysData::parse(data) {
        assert_eq!(s.encode().as_slice(), data, "sys data does not round-trip");
    }
}

/// The 2-byte MTU message.
pub fn check_mtu(data: &[u8]) {
    if let Ok(m) = parse_mtu(data) {
        assert_eq!(encode_mtu(m).as_slice(), data, "mtu does not round-trip");
    }
}

/// The 59-byte keys message (no GID).
pub fn check_keys(data: &[u8]) {
    if let Ok(k) = KeyMsg::parse_form(data, false) {
        assert!(k.gid.is_none());
        assert_eq!(
            k.encode().expect("parsed keys encode"),
            data,
            "keys do not round-trip"
        );
    }
}

/// The 108-byte keys message (with GID).
pub fn check_keys_gid(data: &[u8]) {
    if let Ok(k) = KeyMsg::parse_form(data, true) {
        assert!(k.gid.is_some());
        assert_eq!(
            k.encode().expect("parsed keys encode"),
            data,
            "keys do not round-trip"
        );
    }
}

/// The BW report (5 × 8 bytes).
pub fn check_bw_report(data: &[u8]) {
    if let Ok(r) = BwReportMsg::parse(data) {
        assert_eq!(r.encode().as_slice(), data, "bw report does not round-trip");
    }
}

/// rdma-perf's own options message (128 bytes). Keys may come in any order, so the check
/// is that what it parses encodes to a message that parses to the same options.
pub fn check_peer_params(data: &[u8]) {
    if let Ok(p) = PeerParams::parse(data) {
        let again = p.encode().expect("parsed options encode");
        assert_eq!(
            PeerParams::parse(&again).as_ref(),
            Ok(&p),
            "options do not round-trip"
        );
        let _ = p.mismatches(&p);
    }
}
