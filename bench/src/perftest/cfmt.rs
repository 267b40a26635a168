//! C `printf` conversions that Rust's `format!` does not reproduce exactly.

/// `%.{prec}f` (and `%lf`) as glibc prints it: like Rust's `{:.prec$}` (both round
/// the exact binary value half-to-even) except for NaN, which glibc prints as `nan`
/// or `-nan` by its sign bit (x86 produces negative NaNs, e.g. for `0.0 / 0.0`).
pub(crate) fn float(v: f64, prec: usize) -> String {
    if v.is_nan() {
        if v.is_sign_negative() {
            "-nan".to_string()
        } else {
            "nan".to_string()
        }
    } else {
        format!("{v:.prec$}")
    }
}

/// `%-{width}.{prec}f`.
pub(crate) fn float_left(v: f64, width: usize, prec: usize) -> String {
    format!("{:<width$}", float(v, prec))
}

/// `%#0{width}x`: zero is printed without the `0x` prefix; otherwise the prefix
/// counts towards `width` and zeros are inserted between it and the digits.
pub(crate) fn hex_alt(v: u64, width: usize) -> String {
    if v == 0 {
        format!("{:0width$}", 0)
    } else {
        let digits = format!("{v:x}");
        let pad = width.saturating_sub(2 + digits.len());
        format!("0x{}{digits}", "0".repeat(pad))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alt_hex_matches_glibc() {
        // Values seen in the captured perftest output.
        assert_eq!(hex_alt(0, 4), "0000");
        assert_eq!(hex_alt(0x12, 6), "0x0012");
        assert_eq!(hex_alt(0xa0ed3, 6), "0xa0ed3");
        assert_eq!(hex_alt(0x205, 8), "0x000205");
        assert_eq!(hex_alt(0x558d4ff71000, 16), "0x00558d4ff71000");
        assert_eq!(hex_alt(0x1234, 4), "0x1234");
    }

    #[test]
    fn floats_match_glibc() {
        assert_eq!(float(0.125, 2), "0.12");
        assert_eq!(float(0.375, 2), "0.38");
        assert_eq!(float(f64::INFINITY, 2), "inf");
        assert_eq!(float(-f64::NAN.abs(), 2), "-nan");
        assert_eq!(float(f64::NAN.abs(), 2), "nan");
        assert_eq!(float_left(34.45, 7, 2), "34.45  ");
        assert_eq!(float_left(223.61, 7, 2), "223.61 ");
        assert_eq!(float_left(2101.55, 7, 2), "2101.55");
    }
}
