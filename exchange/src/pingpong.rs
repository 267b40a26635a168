//! The `ibv_rc_pingpong` address message ([`PingpongDest`]): 52 bytes,
//! byte-compatible with rdma-core's `rc_pingpong.c`.

use std::fmt;

use super::error::{check_24, clip, ParseError};
use super::hex::{gid_hex_into, hex_fixed_into, hex_gid, hex_u64};
use super::{MAX_24_BIT, PINGPONG_MSG_LEN};
use rdma_verbs::Gid;

/// A queue pair's address as `ibv_rc_pingpong` exchanges it (`struct pingpong_dest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PingpongDest {
    /// Local identifier of the port (0 on RoCE, where the GID addresses the port).
    pub lid: u16,
    /// Queue pair number (24 bits).
    pub qpn: u32,
    /// Starting packet sequence number (24 bits).
    pub psn: u32,
    /// Port GID; all-zero when the C tool runs without `-g` (InfiniBand, LID routed).
    pub gid: Gid,
}

/// Numeric fields of the pingpong message: (name, width in hex digits, maximum).
const PP_LID: (&str, usize, u64) = ("lid", 4, 0xffff);
const PP_QPN: (&str, usize, u64) = ("qpn", 6, MAX_24_BIT as u64);
const PP_PSN: (&str, usize, u64) = ("psn", 6, MAX_24_BIT as u64);

impl PingpongDest {
    /// Formats the 52-byte message exactly as the C tool's
    /// `sprintf("%04x:%06x:%06x:%s")` does, NUL included.
    ///
    /// `qpn` and `psn` are 24-bit fields: higher bits are dropped here (the C tool
    /// would overflow its buffer instead). [`validate`](Self::validate) reports such
    /// values, and [`OobStream::send_pingpong`] refuses to send them.
    ///
    /// [`OobStream::send_pingpong`]: super::OobStream::send_pingpong
    pub fn to_wire(&self) -> [u8; PINGPONG_MSG_LEN] {
        let mut msg = [0u8; PINGPONG_MSG_LEN];
        hex_fixed_into(u64::from(self.lid), &mut msg[0..4]);
        msg[4] = b':';
        hex_fixed_into(u64::from(self.qpn & MAX_24_BIT), &mut msg[5..11]);
        msg[11] = b':';
        hex_fixed_into(u64::from(self.psn & MAX_24_BIT), &mut msg[12..18]);
        msg[18] = b':';
        gid_hex_into(&self.gid, &mut msg[19..51]);
        msg[51] = 0;
        msg
    }

    /// Checks that `qpn` and `psn` fit in 24 bits, so that [`to_wire`](Self::to_wire)
    /// loses nothing.
    pub fn validate(&self) -> Result<(), ParseError> {
        check_24("qpn", self.qpn)?;
        check_24("psn", self.psn)
    }

    /// Parses a message in the C tool's format.
    ///
    /// Strict: exactly `llll:qqqqqq:pppppp:` followed by 32 GID digits and a NUL,
    /// 52 bytes in all. Hex digits may be upper or lower case (the C tool's
    /// `sscanf("%x")` reads both; it writes lower case). Never panics.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let (lid, pos) = pp_field(bytes, 0, PP_LID, b':')?;
        let (qpn, pos) = pp_field(bytes, pos + 1, PP_QPN, b':')?;
        let (psn, pos) = pp_field(bytes, pos + 1, PP_PSN, b':')?;
        let (gid_digits, end) = pp_digits(bytes, pos + 1, ("gid", 32, None), 0)?;
        let extra = bytes.len().saturating_sub(end + 1);
        if extra > 0 {
            return Err(ParseError::TrailingBytes { count: extra });
        }
        let gid = hex_gid(gid_digits).ok_or(ParseError::BadWidth {
            field: "gid",
            expected: 32,
            found: gid_digits.len(),
        })?;
        // Widths were checked, so the values fit their types.
        let as_u32 = |field: &'static str, v: u64| {
            u32::try_from(v).map_err(|_| ParseError::OutOfRange {
                field,
                value: format!("{v:#x}"),
                max: u64::from(MAX_24_BIT),
            })
        };
        Ok(PingpongDest {
            lid: u16::try_from(lid).map_err(|_| ParseError::OutOfRange {
                field: "lid",
                value: format!("{lid:#x}"),
                max: 0xffff,
            })?,
            qpn: as_u32("qpn", qpn)?,
            psn: as_u32("psn", psn)?,
            gid,
        })
    }
}

/// Reads a fixed-width numeric field; returns its value and the terminator's offset.
fn pp_field(
    bytes: &[u8],
    start: usize,
    (field, width, max): (&'static str, usize, u64),
    term: u8,
) -> Result<(u64, usize), ParseError> {
    let (digits, end) = pp_digits(bytes, start, (field, width, Some(max)), term)?;
    let value = hex_u64(digits).ok_or(ParseError::BadWidth {
        field,
        expected: width,
        found: digits.len(),
    })?;
    Ok((value, end))
}

/// Reads a run of exactly `width` hex digits at `start` followed by `term`.
/// Returns the digits and the offset of the terminator.
fn pp_digits<'a>(
    bytes: &'a [u8],
    start: usize,
    (field, width, max): (&'static str, usize, Option<u64>),
    term: u8,
) -> Result<(&'a [u8], usize), ParseError> {
    let mut pos = start;
    while bytes.get(pos).is_some_and(|b| b.is_ascii_hexdigit()) {
        pos += 1;
    }
    let digits = bytes.get(start..pos).unwrap_or(&[]);
    if digits.len() > width {
        if let Some(max) = max {
            if hex_u64(digits).is_none_or(|v| v > max) {
                let text: String = digits.iter().map(|&b| char::from(b)).collect();
                return Err(ParseError::OutOfRange {
                    field,
                    value: format!("0x{}", clip(&text)),
                    max,
                });
            }
        }
        return Err(ParseError::BadWidth {
            field,
            expected: width,
            found: digits.len(),
        });
    }
    match bytes.get(pos) {
        None => Err(ParseError::Truncated {
            field,
            len: bytes.len(),
        }),
        Some(&b) if b == term => {
            if digits.len() == width {
                Ok((digits, pos))
            } else {
                Err(ParseError::BadWidth {
                    field,
                    expected: width,
                    found: digits.len(),
                })
            }
        }
        Some(&b) if digits.len() < width => Err(ParseError::NotHex {
            field,
            pos,
            found: b,
        }),
        Some(&b) if term == 0 => Err(ParseError::MissingNul { pos, found: b }),
        Some(&b) => Err(ParseError::BadSeparator {
            field,
            pos,
            found: b,
        }),
    }
}

impl fmt::Display for PingpongDest {
    /// Formats like the C tool's "local address:" line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "LID {:#06x}, QPN {:#08x}, PSN {:#08x}, GID {}",
            self.lid, self.qpn, self.psn, self.gid
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzzing;
    use crate::test_fixtures::{c_sprintf, dest, MAPPED};

    fn pp(s: &str) -> Result<PingpongDest, ParseError> {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        PingpongDest::parse(&v)
    }

    const GOOD_PP: &str = "0000:000011:abcdef:00000000000000000000ffffc6120001";

    #[test]
    fn pingpong_known_c_string() {
        let expected = b"0000:000011:abcdef:00000000000000000000ffffc6120001\0";
        assert_eq!(expected.len(), PINGPONG_MSG_LEN);
        assert_eq!(c_sprintf(0, 0x11, 0xabcdef, &MAPPED), expected.to_vec());
        assert_eq!(&dest().to_wire(), expected);
        assert_eq!(PingpongDest::parse(expected), Ok(dest()));
        assert_eq!(MAPPED.to_string(), "::ffff:198.18.0.1");
    }

    #[test]
    fn pingpong_matches_c_for_various_values() {
        let gids = [
            Gid::ZERO,
            MAPPED,
            Gid([
                0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55,
            ]),
            Gid([0xff; 16]),
            Gid(core::array::from_fn(|i| i as u8)),
        ];
        for (i, gid) in gids.iter().enumerate() {
            let d = PingpongDest {
                lid: [0, 1, 0x1a, 0xbeef, 0xffff][i],
                qpn: [0, 0x11, 0x123456, 0xffffff, 0xabc][i],
                psn: [0xffffff, 0, 0x654321, 1, 0xabcdef][i],
                gid: *gid,
            };
            let wire = d.to_wire();
            assert_eq!(wire.to_vec(), c_sprintf(d.lid, d.qpn, d.psn, &d.gid));
            assert_eq!(PingpongDest::parse(&wire), Ok(d));
        }
    }

    #[test]
    fn pingpong_accepts_uppercase() {
        let upper = "0ABC:00001F:ABCDEF:FE800000000000000211223344556677";
        let d = pp(upper).unwrap();
        assert_eq!(d.lid, 0xabc);
        assert_eq!(d.qpn, 0x1f);
        assert_eq!(d.gid.0[0], 0xfe);
        assert_eq!(d.to_wire()[..51], upper.to_ascii_lowercase().as_bytes()[..]);
    }

    #[test]
    fn pingpong_to_wire_masks_and_validate_reports() {
        let d = PingpongDest {
            qpn: 0x1000011,
            ..dest()
        };
        assert_eq!(PingpongDest::parse(&d.to_wire()).unwrap().qpn, 0x11);
        assert!(matches!(
            d.validate(),
            Err(ParseError::OutOfRange { field: "qpn", .. })
        ));
        let d = PingpongDest {
            psn: u32::MAX,
            ..dest()
        };
        assert!(matches!(
            d.validate(),
            Err(ParseError::OutOfRange { field: "psn", .. })
        ));
        assert_eq!(dest().validate(), Ok(()));
    }

    #[test]
    fn pingpong_rejections() {
        use ParseError::*;
        // Empty and truncated input.
        assert_eq!(
            PingpongDest::parse(b""),
            Err(Truncated {
                field: "lid",
                len: 0
            })
        );
        assert_eq!(
            PingpongDest::parse(&GOOD_PP.as_bytes()[..30]),
            Err(Truncated {
                field: "gid",
                len: 30
            })
        );
        // Missing NUL: the 51 characters alone.
        assert_eq!(
            PingpongDest::parse(GOOD_PP.as_bytes()),
            Err(Truncated {
                field: "gid",
                len: 51
            })
        );
        // Garbage instead of the NUL.
        let mut bad = GOOD_PP.as_bytes().to_vec();
        bad.push(b'x');
        assert_eq!(
            PingpongDest::parse(&bad),
            Err(MissingNul {
                pos: 51,
                found: b'x'
            })
        );
        // Garbage after the NUL.
        let mut bad = dest().to_wire().to_vec();
        bad.extend_from_slice(b"zz");
        assert_eq!(PingpongDest::parse(&bad), Err(TrailingBytes { count: 2 }));
        // Non-hex digits.
        assert_eq!(
            pp("00g0:000011:abcdef:00000000000000000000ffffc6120001"),
            Err(NotHex {
                field: "lid",
                pos: 2,
                found: b'g'
            })
        );
        assert_eq!(
            pp("0000:000011:abcdef:0000000000000000000 ffffc6120001"),
            Err(NotHex {
                field: "gid",
                pos: 38,
                found: b' '
            })
        );
        assert_eq!(
            pp("0000:-00011:abcdef:00000000000000000000ffffc6120001"),
            Err(NotHex {
                field: "qpn",
                pos: 5,
                found: b'-'
            })
        );
        // Wrong separators.
        assert_eq!(
            pp("0000-000011:abcdef:00000000000000000000ffffc6120001"),
            Err(BadSeparator {
                field: "lid",
                pos: 4,
                found: b'-'
            })
        );
        assert_eq!(
            pp("0000:000011;abcdef:00000000000000000000ffffc6120001"),
            Err(BadSeparator {
                field: "qpn",
                pos: 11,
                found: b';'
            })
        );
        // Out of range: a 7-digit QPN or PSN, a 5-digit LID.
        assert_eq!(
            pp("0000:1000000:abcdef:00000000000000000000ffffc612000"),
            Err(OutOfRange {
                field: "qpn",
                value: "0x1000000".into(),
                max: 0xffffff
            })
        );
        assert_eq!(
            pp("0000:000011:fabcdef:00000000000000000000ffffc612000"),
            Err(OutOfRange {
                field: "psn",
                value: "0xfabcdef".into(),
                max: 0xffffff
            })
        );
        assert_eq!(
            pp("10000:00011:abcdef:00000000000000000000ffffc6120001"),
            Err(OutOfRange {
                field: "lid",
                value: "0x10000".into(),
                max: 0xffff
            })
        );
        // Wrong widths: too few digits, or a padded value that still fits.
        assert_eq!(
            pp("000:0000011:abcdef:00000000000000000000ffffc6120001"),
            Err(BadWidth {
                field: "lid",
                expected: 4,
                found: 3
            })
        );
        assert_eq!(
            pp("0000:0000011:abcdef:0000000000000000000ffffc6120001"),
            Err(BadWidth {
                field: "qpn",
                expected: 6,
                found: 7
            })
        );
        assert_eq!(
            pp("0000:000011:abcdef:00000000000000000000ffffc612000"),
            Err(BadWidth {
                field: "gid",
                expected: 32,
                found: 31
            })
        );
        assert_eq!(
            pp("0000:000011:abcdef:00000000000000000000ffffc61200012"),
            Err(BadWidth {
                field: "gid",
                expected: 32,
                found: 33
            })
        );
        // Error messages name the field and the problem.
        let msg = pp("0000:1000000:abcdef:00000000000000000000ffffc612000")
            .unwrap_err()
            .to_string();
        assert_eq!(msg, "qpn: value 0x1000000 exceeds the maximum 0xffffff");
        let msg = PingpongDest::parse(GOOD_PP.as_bytes())
            .unwrap_err()
            .to_string();
        assert_eq!(msg, "message ends after 51 bytes, inside the gid field");
    }

    #[test]
    fn pingpong_parse_never_panics_on_prefixes_and_mutations() {
        let wire = dest().to_wire();
        for len in 0..=wire.len() {
            let _ = PingpongDest::parse(&wire[..len]);
        }
        for i in 0..wire.len() {
            for b in [0u8, b':', b'g', b'F', 0xff, b'\n'] {
                let mut m = wire;
                m[i] = b;
                fuzzing::check_pingpong(&m);
            }
        }
    }
}
