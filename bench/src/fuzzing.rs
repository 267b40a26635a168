//! Checks shared by the cargo-fuzz targets (`fuzz/fuzz_targets/perftest_*.rs`) and
//! the corpus replay test (`bench/tests/fuzz_corpus.rs`). Each parser must never
//! panic, and every message it accepts must be canonical: encoding the parsed value
//! gives back the input bytes.

use crate::perftest::wire::{BwReportMsg, KeyMsg, Mtu, SysData, VersionMsg};

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
    if let Ok(m) = Mtu::parse(data) {
        assert_eq!(m.encode().as_slice(), data, "mtu does not round-trip");
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
