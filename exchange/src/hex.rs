//! Hex encoding and decoding shared by both message formats.

use rdma_verbs::Gid;

const HEX: &[u8; 16] = b"0123456789abcdef";

pub(super) fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Value of a run of hex digits, `None` if it does not fit in a `u64`.
pub(super) fn hex_u64(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |acc, &b| {
        let d = hex_val(b)?;
        acc.checked_mul(16)?.checked_add(u64::from(d))
    })
}

/// Decodes exactly 32 hex digits into a GID.
pub(super) fn hex_gid(digits: &[u8]) -> Option<Gid> {
    if digits.len() != 32 {
        return None;
    }
    let mut raw = [0u8; 16];
    for (byte, pair) in raw.iter_mut().zip(digits.chunks_exact(2)) {
        let (hi, lo) = (hex_val(pair[0])?, hex_val(pair[1])?);
        *byte = (hi << 4) | lo;
    }
    Some(Gid(raw))
}

/// Writes the GID as 32 lowercase hex digits, the bytes in order (the wire GID).
pub(super) fn gid_hex_into(gid: &Gid, out: &mut [u8]) {
    for (pair, &byte) in out.chunks_exact_mut(2).zip(gid.0.iter()) {
        pair[0] = HEX[usize::from(byte >> 4)];
        pair[1] = HEX[usize::from(byte & 0xf)];
    }
}

pub(super) fn gid_hex(gid: &Gid) -> String {
    let mut buf = [0u8; 32];
    gid_hex_into(gid, &mut buf);
    buf.iter().map(|&b| char::from(b)).collect()
}

/// Writes `value` as exactly `out.len()` lowercase hex digits (high digits dropped).
pub(super) fn hex_fixed_into(value: u64, out: &mut [u8]) {
    let mut v = value;
    for slot in out.iter_mut().rev() {
        *slot = HEX[(v & 0xf) as usize];
        v >>= 4;
    }
}
