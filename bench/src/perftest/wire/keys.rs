//! The keys message ([`KeyMsg`], `struct pingpong_dest`): 59 or 108 bytes of text over TCP,
//! the raw struct (56 bytes) over rdma_cm.

use super::error::{field_err, WireError};

/// Size of the keys message without GID (`KEY_MSG_SIZE`).
pub const KEY_MSG_LEN: usize = 59;

/// Size of the keys message with GID (`KEY_MSG_SIZE_GID`).
pub const KEY_MSG_GID_LEN: usize = 108;

/// Size of `struct pingpong_dest`, the keys message over rdma_cm (`-R`).
pub const KEY_RAW_LEN: usize = 56;

/// The bytes of `struct pingpong_dest` perftest reads over rdma_cm (up to the GID).
pub const KEY_RAW_READ_LEN: usize = 48;

/// One QP's address as perftest exchanges it (`struct pingpong_dest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyMsg {
    /// Port LID (0 on RoCE).
    pub lid: u16,
    /// Outstanding RDMA reads/atomics this side accepts (1 for write/send tests).
    pub out_reads: u16,
    /// QP number (24 bits).
    pub qpn: u32,
    /// Starting packet sequence number (24 bits; perftest: `lrand48() & 0xffffff`).
    pub psn: u32,
    /// rkey of the buffer.
    pub rkey: u32,
    /// Address of the buffer the peer may write/read.
    pub vaddr: u64,
    /// The GID (raw bytes), present when this side has a GID index: it selects the
    /// 108-byte form.
    pub gid: Option<[u8; 16]>,
    /// SRQ number (XRC/DC; 0 otherwise).
    pub srqn: u32,
}

const KEYS: &str = "keys";

/// The fields of the keys message before the GID: (name, hex digits).
const KEY_FIELDS: [(&str, usize); 6] = [
    ("lid", 4),
    ("out_reads", 4),
    ("qpn", 6),
    ("psn", 6),
    ("rkey", 8),
    ("vaddr", 16),
];

impl KeyMsg {
    /// Size of this message on the wire: 108 with a GID, 59 without.
    pub fn wire_len(&self) -> usize {
        if self.gid.is_some() {
            KEY_MSG_GID_LEN
        } else {
            KEY_MSG_LEN
        }
    }

    /// The message, exactly as perftest's `sprintf` + `write(sizeof msg)` sends it.
    /// Fails if `qpn` or `psn` do not fit in 24 bits (their field width).
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        if self.qpn > 0xff_ffff {
            return Err(field_err(KEYS, "qpn", "does not fit in 24 bits"));
        }
        if self.psn > 0xff_ffff {
            return Err(field_err(KEYS, "psn", "does not fit in 24 bits"));
        }
        let mut s = format!(
            "{:04x}:{:04x}:{:06x}:{:06x}:{:08x}:{:016x}:",
            self.lid, self.out_reads, self.qpn, self.psn, self.rkey, self.vaddr
        );
        match &self.gid {
            None => s.push_str(&format!("{:08x}", self.srqn)),
            Some(gid) => {
                for b in gid {
                    s.push_str(&format!("{b:02x}:"));
                }
                s.push_str(&format!("{:08x}:", self.srqn));
            }
        }
        let mut out = s.into_bytes();
        out.push(0);
        debug_assert_eq!(out.len(), self.wire_len());
        Ok(out)
    }

    /// The keys as perftest sends them over rdma_cm (`-R`, `rdma_write_keys`): the raw
    /// `struct pingpong_dest`, every integer big-endian: `lid`, `out_reads`, `qpn`, `psn`,
    /// `rkey` (4 bytes each), 4 bytes of padding, `vaddr` (8), the GID (16, zeroes when
    /// there is none), `srqn` and `gid_index` (4 each; -1 without a GID).
    pub fn encode_raw(&self, gid_index: Option<u32>) -> [u8; KEY_RAW_LEN] {
        let mut b = [0u8; KEY_RAW_LEN];
        b[0..4].copy_from_slice(&u32::from(self.lid).to_be_bytes());
        b[4..8].copy_from_slice(&u32::from(self.out_reads).to_be_bytes());
        b[8..12].copy_from_slice(&self.qpn.to_be_bytes());
        b[12..16].copy_from_slice(&self.psn.to_be_bytes());
        b[16..20].copy_from_slice(&self.rkey.to_be_bytes());
        b[24..32].copy_from_slice(&self.vaddr.to_be_bytes());
        b[32..48].copy_from_slice(&self.gid.unwrap_or([0; 16]));
        b[48..52].copy_from_slice(&self.srqn.to_be_bytes());
        let gi = gid_index.map_or(-1, |i| i32::try_from(i).unwrap_or(i32::MAX));
        b[52..56].copy_from_slice(&gi.to_be_bytes());
        b
    }

    /// Parses [`encode_raw`](Self::encode_raw)'s form as perftest's `rdma_read_keys` does:
    /// `lid`, `out_reads`, `qpn`, `psn`, `rkey`, `vaddr` and the GID (kept when `with_gid`,
    /// the form this side uses); `srqn` and `gid_index` are not read.
    pub fn parse_raw(bytes: &[u8], with_gid: bool) -> Result<KeyMsg, WireError> {
        if bytes.len() < KEY_RAW_READ_LEN {
            return Err(WireError::Length {
                msg: KEYS,
                expected: "at least 48 (struct pingpong_dest)",
                got: bytes.len(),
            });
        }
        let u32_at =
            |o: usize| u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]);
        let mut vaddr = [0u8; 8];
        vaddr.copy_from_slice(&bytes[24..32]);
        let mut gid = [0u8; 16];
        gid.copy_from_slice(&bytes[32..48]);
        Ok(KeyMsg {
            lid: u32_at(0) as u16,
            out_reads: u32_at(4) as u16,
            qpn: u32_at(8),
            psn: u32_at(12),
            rkey: u32_at(16),
            vaddr: u64::from_be_bytes(vaddr),
            gid: with_gid.then_some(gid),
            srqn: 0,
        })
    }

    /// Parses either form (by its length, 59 or 108). The text must be canonical:
    /// exact field widths, lower-case hex, `:` separators, the trailing NUL.
    pub fn parse(bytes: &[u8]) -> Result<KeyMsg, WireError> {
        match bytes.len() {
            KEY_MSG_LEN => Self::parse_form(bytes, false),
            KEY_MSG_GID_LEN => Self::parse_form(bytes, true),
            got => Err(WireError::Length {
                msg: KEYS,
                expected: "59 or 108",
                got,
            }),
        }
    }

    /// Parses the form a side expects (perftest reads the form it writes).
    pub fn parse_form(bytes: &[u8], with_gid: bool) -> Result<KeyMsg, WireError> {
        let (len, expected) = if with_gid {
            (KEY_MSG_GID_LEN, "108")
        } else {
            (KEY_MSG_LEN, "59")
        };
        if bytes.len() != len {
            return Err(WireError::Length {
                msg: KEYS,
                expected,
                got: bytes.len(),
            });
        }
        if bytes[len - 1] != 0 {
            return Err(field_err(KEYS, "terminator", "last byte is not NUL"));
        }
        let mut pos = 0;
        let mut vals = [0u64; 6];
        for (i, (name, width)) in KEY_FIELDS.iter().enumerate() {
            vals[i] = hex_field(bytes, &mut pos, name, *width)?;
            sep(bytes, &mut pos, name)?;
        }
        let gid = if with_gid {
            let mut gid = [0u8; 16];
            for g in gid.iter_mut() {
                *g = hex_field(bytes, &mut pos, "gid", 2)? as u8;
                sep(bytes, &mut pos, "gid")?;
            }
            Some(gid)
        } else {
            None
        };
        let srqn = hex_field(bytes, &mut pos, "srqn", 8)? as u32;
        if with_gid {
            sep(bytes, &mut pos, "srqn")?;
        }
        debug_assert_eq!(pos, len - 1);
        Ok(KeyMsg {
            lid: vals[0] as u16,
            out_reads: vals[1] as u16,
            qpn: vals[2] as u32,
            psn: vals[3] as u32,
            rkey: vals[4] as u32,
            vaddr: vals[5],
            gid,
            srqn,
        })
    }
}

fn hex_field(
    bytes: &[u8],
    pos: &mut usize,
    field: &'static str,
    width: usize,
) -> Result<u64, WireError> {
    let mut v = 0u64;
    for &b in &bytes[*pos..*pos + width] {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => {
                return Err(field_err(
                    KEYS,
                    field,
                    format!("byte 0x{b:02x} is not a lower-case hex digit ({width} expected)"),
                ))
            }
        };
        v = (v << 4) | u64::from(d);
    }
    *pos += width;
    Ok(v)
}

fn sep(bytes: &[u8], pos: &mut usize, after: &'static str) -> Result<(), WireError> {
    if bytes[*pos] != b':' {
        return Err(field_err(
            KEYS,
            after,
            format!(
                "expected ':' after the field, got byte 0x{:02x}",
                bytes[*pos]
            ),
        ));
    }
    *pos += 1;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from Debian's ib_write_bw (client keys, Soft-RoCE, `-x 1`).
    const CAPTURED_KEYS_GID: &[u8] = b"0000:0001:000011:1794de:00000363:000056037ecc8000:00:00:00:00:00:00:00:00:00:00:ff:ff:c6:12:00:01:00000000:\0";

    #[test]
    fn raw_keys_are_struct_pingpong_dest_big_endian() {
        let k = KeyMsg {
            lid: 0x12,
            out_reads: 1,
            qpn: 0x11,
            psn: 0x1794de,
            rkey: 0x363,
            vaddr: 0x5603_7ecc_8000,
            gid: Some([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 1]),
            srqn: 0,
        };
        let b = k.encode_raw(Some(1));
        assert_eq!(b.len(), KEY_RAW_LEN);
        assert_eq!(&b[0..8], &[0, 0, 0, 0x12, 0, 0, 0, 1]);
        assert_eq!(&b[8..12], &[0, 0, 0, 0x11]);
        assert_eq!(&b[20..24], &[0; 4], "padding before vaddr");
        assert_eq!(&b[24..32], &0x5603_7ecc_8000u64.to_be_bytes());
        assert_eq!(&b[52..56], &[0, 0, 0, 1], "gid_index");
        assert_eq!(KeyMsg::parse_raw(&b, true).unwrap(), k);
        let no_gid = KeyMsg::parse_raw(&b, false).unwrap();
        assert_eq!(no_gid.gid, None);
        assert_eq!(KeyMsg { gid: None, ..k }.encode_raw(None)[52..], [0xff; 4]);
        assert!(KeyMsg::parse_raw(&b[..47], true).is_err(), "short message");
    }

    #[test]
    fn keys_captured_gid_form() {
        assert_eq!(CAPTURED_KEYS_GID.len(), KEY_MSG_GID_LEN);
        let k = KeyMsg::parse(CAPTURED_KEYS_GID).unwrap();
        assert_eq!(k.lid, 0);
        assert_eq!(k.out_reads, 1);
        assert_eq!(k.qpn, 0x11);
        assert_eq!(k.psn, 0x1794de);
        assert_eq!(k.rkey, 0x363);
        assert_eq!(k.vaddr, 0x56037ecc8000);
        assert_eq!(
            k.gid,
            Some([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 1])
        );
        assert_eq!(k.srqn, 0);
        assert_eq!(k.encode().unwrap(), CAPTURED_KEYS_GID);
    }

    #[test]
    fn keys_short_form() {
        let k = KeyMsg {
            lid: 0x1a,
            out_reads: 16,
            qpn: 0xabcdef,
            psn: 0x12,
            rkey: 0xdeadbeef,
            vaddr: 0x7f00_1234_5000,
            gid: None,
            srqn: 7,
        };
        let w = k.encode().unwrap();
        assert_eq!(
            w,
            b"001a:0010:abcdef:000012:deadbeef:00007f0012345000:00000007\0"
        );
        assert_eq!(KeyMsg::parse(&w).unwrap(), k);
        assert!(KeyMsg::parse_form(&w, true).is_err());
    }

    #[test]
    fn keys_reject() {
        let mut w = CAPTURED_KEYS_GID.to_vec();
        w[0] = b'A';
        assert!(matches!(
            KeyMsg::parse(&w),
            Err(WireError::Field { field: "lid", .. })
        ));
        let mut w = CAPTURED_KEYS_GID.to_vec();
        w[106] = b'x';
        assert!(matches!(
            KeyMsg::parse(&w),
            Err(WireError::Field { field: "srqn", .. })
        ));
        let mut w = CAPTURED_KEYS_GID.to_vec();
        w[107] = b'\n';
        assert!(KeyMsg::parse(&w).is_err());
        assert!(KeyMsg::parse(&CAPTURED_KEYS_GID[..100]).is_err());
        let k = KeyMsg::parse(CAPTURED_KEYS_GID).unwrap();
        assert!(KeyMsg { qpn: 1 << 24, ..k }.encode().is_err());
        assert!(KeyMsg { psn: 1 << 24, ..k }.encode().is_err());
    }
}
