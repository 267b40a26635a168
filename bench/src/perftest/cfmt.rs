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

/// `%g` as glibc prints it: 6 significant digits, trailing zeros (and a trailing point)
/// removed, exponent form (`1.5e+07`, at least two exponent digits) when the exponent is
/// below -4 or at least 6.
pub(crate) fn general(v: f64) -> String {
    const P: i32 = 6;
    if !v.is_finite() {
        return if v.is_nan() {
            float(v, 0)
        } else if v > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // The exponent after rounding to P significant digits, as %e would print it.
    let e_form = format!("{:.*e}", (P - 1) as usize, v);
    let (mant, exp) = e_form.split_once('e').unwrap_or((&e_form, "0"));
    let x: i32 = exp.parse().unwrap_or(0);
    let strip = |t: &str| -> String {
        if t.contains('.') {
            t.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            t.to_string()
        }
    };
    if !(-4..P).contains(&x) {
        let sign = if x < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", strip(mant), x.abs())
    } else {
        strip(&format!("{:.*}", (P - 1 - x) as usize, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn general_matches_glibc() {
        for (v, want) in [
            (10.6216, "10.6216"),
            (367.5381, "367.538"),
            (0.0001234, "0.0001234"),
            (0.00001234, "1.234e-05"),
            (1234567.0, "1.23457e+06"),
            (999999.5, "1e+06"),
            (100000.0, "100000"),
            (28000.0, "28000"),
            (1.5, "1.5"),
            (0.0, "0"),
            (-2.25, "-2.25"),
        ] {
            assert_eq!(general(v), want, "{v}");
        }
    }

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
