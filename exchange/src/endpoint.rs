//! The `RDMA-EP/1` line ([`Endpoint`]): a queue pair's address with the path MTU
//! and, optionally, a remote buffer.

use super::error::{check_24, clip, ParseError};
use super::hex::{gid_hex, hex_gid, hex_u64};
use super::{PingpongDest, ENDPOINT_MAGIC, ENDPOINT_MAX_LEN, MAX_24_BIT};
use rdma_verbs::Gid;
use rdma_verbs::RemoteBuf;

/// A queue pair's address with the extras our own tools need: the `RDMA-EP/1` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// Local identifier of the port (0 on RoCE).
    pub lid: u16,
    /// Queue pair number (24 bits).
    pub qpn: u32,
    /// Starting packet sequence number (24 bits).
    pub psn: u32,
    /// Port GID (all-zero when unused).
    pub gid: Gid,
    /// Path MTU as an `ibv_mtu` enum value: 1 = 256, 2 = 512, 3 = 1024, 4 = 2048, 5 = 4096 bytes.
    pub mtu: u8,
    /// The buffer the peer may access with one-sided operations (RDMA read/write,
    /// atomics), if any.
    pub remote_buffer: Option<RemoteBuf>,
}

const EP_KEYS: [&str; 8] = ["lid", "qpn", "psn", "gid", "mtu", "addr", "rkey", "len"];

impl Endpoint {
    /// Checks that `qpn` and `psn` fit in 24 bits and that `mtu` is 1..=5.
    pub fn validate(&self) -> Result<(), ParseError> {
        check_24("qpn", self.qpn)?;
        check_24("psn", self.psn)?;
        if !(1..=5).contains(&self.mtu) {
            return Err(ParseError::BadMtu {
                value: self.mtu.to_string(),
            });
        }
        Ok(())
    }

    /// Formats the `RDMA-EP/1` line, newline included (at most 153 bytes).
    ///
    /// Out-of-range values (see [`validate`](Self::validate)) are written as they
    /// are, so the peer's parser rejects them.
    pub fn to_line(&self) -> String {
        let mut line = format!(
            "{ENDPOINT_MAGIC} lid={:#x} qpn={:#x} psn={:#x} gid={} mtu={}",
            self.lid,
            self.qpn,
            self.psn,
            gid_hex(&self.gid),
            self.mtu
        );
        if let Some(b) = &self.remote_buffer {
            line.push_str(&format!(
                " addr={:#x} rkey={:#x} len={:#x}",
                b.addr, b.rkey, b.len
            ));
        }
        line.push('\n');
        line
    }

    /// Parses an `RDMA-EP/1` line (newline included). Never panics.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        if bytes.len() > ENDPOINT_MAX_LEN {
            return Err(ParseError::TooLong {
                max: ENDPOINT_MAX_LEN,
            });
        }
        let body = match bytes.split_last() {
            Some((b'\n', body)) => body,
            _ => return Err(ParseError::MissingNewline),
        };
        if let Some(pos) = body.iter().position(|&b| !(b' '..=b'~').contains(&b)) {
            return Err(ParseError::InvalidByte {
                pos,
                found: body[pos],
            });
        }
        // Printable ASCII only, so one char per byte.
        let text: String = body.iter().map(|&b| char::from(b)).collect();

        let mut tokens = text.split(' ');
        let magic = tokens.next().unwrap_or("");
        if magic != ENDPOINT_MAGIC {
            return Err(if magic.starts_with("RDMA-EP/") {
                ParseError::UnsupportedVersion { found: clip(magic) }
            } else {
                ParseError::BadMagic { found: clip(magic) }
            });
        }

        let mut values: [Option<&str>; 8] = [None; 8];
        let mut pos = magic.len() + 1;
        for token in tokens {
            if token.is_empty() {
                return Err(ParseError::EmptyField { pos });
            }
            let (key, value) = token
                .split_once('=')
                .ok_or_else(|| ParseError::MissingEquals { token: clip(token) })?;
            let idx = EP_KEYS
                .iter()
                .position(|k| *k == key)
                .ok_or_else(|| ParseError::UnknownKey { key: clip(key) })?;
            if values[idx].is_some() {
                return Err(ParseError::DuplicateKey { key: EP_KEYS[idx] });
            }
            values[idx] = Some(value);
            pos += token.len() + 1;
        }
        let [lid, qpn, psn, gid, mtu, addr, rkey, len] = values;

        let lid = lid.ok_or(ParseError::MissingKey { key: "lid" })?;
        let qpn = qpn.ok_or(ParseError::MissingKey { key: "qpn" })?;
        let psn = psn.ok_or(ParseError::MissingKey { key: "psn" })?;
        let gid = gid.ok_or(ParseError::MissingKey { key: "gid" })?;
        let mtu = mtu.ok_or(ParseError::MissingKey { key: "mtu" })?;

        let lid = ep_number("lid", lid, 0xffff)? as u16;
        let qpn = ep_number("qpn", qpn, u64::from(MAX_24_BIT))? as u32;
        let psn = ep_number("psn", psn, u64::from(MAX_24_BIT))? as u32;
        let gid = ep_gid(gid)?;
        let mtu = match mtu.as_bytes() {
            [d @ b'1'..=b'5'] => d - b'0',
            _ => return Err(ParseError::BadMtu { value: clip(mtu) }),
        };
        let remote_buffer = match (addr, rkey, len) {
            (None, None, None) => None,
            (Some(addr), Some(rkey), Some(len)) => Some(RemoteBuf {
                addr: ep_number("addr", addr, u64::MAX)?,
                rkey: ep_number("rkey", rkey, u64::from(u32::MAX))? as u32,
                len: ep_number("len", len, u64::MAX)?,
            }),
            (addr, rkey, _) => {
                let missing = if addr.is_none() {
                    "addr"
                } else if rkey.is_none() {
                    "rkey"
                } else {
                    "len"
                };
                return Err(ParseError::PartialRemoteBuffer { missing });
            }
        };
        Ok(Endpoint {
            lid,
            qpn,
            psn,
            gid,
            mtu,
            remote_buffer,
        })
    }
}

/// Parses a `0x`-prefixed hex number of 1 to 16 digits no greater than `max`.
fn ep_number(field: &'static str, value: &str, max: u64) -> Result<u64, ParseError> {
    let bad = |reason| ParseError::BadNumber {
        field,
        value: clip(value),
        reason,
    };
    let digits = value
        .strip_prefix("0x")
        .ok_or_else(|| bad("expected 0x followed by hex digits"))?;
    if digits.is_empty() {
        return Err(bad("no digits after 0x"));
    }
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad("not a hex number"));
    }
    if digits.len() > 16 {
        return Err(bad("more than 16 hex digits"));
    }
    let v = hex_u64(digits.as_bytes()).ok_or_else(|| bad("not a hex number"))?;
    if v > max {
        return Err(ParseError::OutOfRange {
            field,
            value: clip(value),
            max,
        });
    }
    Ok(v)
}

fn ep_gid(value: &str) -> Result<Gid, ParseError> {
    let bad = |reason| ParseError::BadNumber {
        field: "gid",
        value: clip(value),
        reason,
    };
    if !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad("not a hex number"));
    }
    hex_gid(value.as_bytes()).ok_or_else(|| bad("expected exactly 32 hex digits"))
}

impl From<&Endpoint> for PingpongDest {
    /// The queue-pair address part of an endpoint.
    fn from(e: &Endpoint) -> Self {
        PingpongDest {
            lid: e.lid,
            qpn: e.qpn,
            psn: e.psn,
            gid: e.gid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::{dest, endpoint, GOOD_EP};

    fn ep(s: &str) -> Result<Endpoint, ParseError> {
        Endpoint::parse(s.as_bytes())
    }

    #[test]
    fn endpoint_round_trip_and_known_line() {
        assert_eq!(endpoint().to_line(), GOOD_EP);
        assert_eq!(ep(GOOD_EP), Ok(endpoint()));
        let bare = Endpoint {
            remote_buffer: None,
            ..endpoint()
        };
        assert_eq!(ep(&bare.to_line()), Ok(bare));
        let max = Endpoint {
            lid: u16::MAX,
            qpn: MAX_24_BIT,
            psn: MAX_24_BIT,
            gid: Gid([0xff; 16]),
            mtu: 5,
            remote_buffer: Some(RemoteBuf {
                addr: u64::MAX,
                rkey: u32::MAX,
                len: u64::MAX,
            }),
        };
        let line = max.to_line();
        assert_eq!(line.len(), 153);
        assert_eq!(ep(&line), Ok(max));
        // Any key order, leading zeros and upper-case digits are accepted.
        let shuffled = "RDMA-EP/1 len=0x1000 mtu=3 gid=00000000000000000000FFFFC6120001 rkey=0x00001234 psn=0xABCDEF addr=0x7f0000001000 qpn=0x000011 lid=0x0000\n";
        assert_eq!(ep(shuffled), Ok(endpoint()));
        assert_eq!(PingpongDest::from(&endpoint()), dest());
    }

    #[test]
    fn endpoint_rejections() {
        use ParseError::*;
        let too_long = format!("{}{}\n", GOOD_EP.trim_end(), " ".repeat(200));
        assert_eq!(ep(&too_long), Err(TooLong { max: 256 }));
        assert_eq!(ep(GOOD_EP.trim_end()), Err(MissingNewline));
        assert_eq!(ep(""), Err(MissingNewline));
        assert_eq!(
            ep(&GOOD_EP.replace("mtu=3", "mtu=3\r")),
            Err(InvalidByte {
                pos: 82,
                found: b'\r'
            })
        );
        assert_eq!(
            ep(&GOOD_EP.replace("lid", "l\u{e9}d")),
            Err(InvalidByte {
                pos: 11,
                found: 0xc3
            })
        );
        assert_eq!(
            ep("\n"),
            Err(BadMagic {
                found: String::new()
            })
        );
        assert_eq!(
            ep(&GOOD_EP.replace("RDMA-EP/1", "RDMA-XP/1")),
            Err(BadMagic {
                found: "RDMA-XP/1".into()
            })
        );
        assert_eq!(
            ep(&GOOD_EP.replace("RDMA-EP/1", "RDMA-EP/2")),
            Err(UnsupportedVersion {
                found: "RDMA-EP/2".into()
            })
        );
        assert_eq!(
            ep(&GOOD_EP.replace(" qpn", "  qpn")),
            Err(EmptyField { pos: 18 })
        );
        assert_eq!(
            ep(&GOOD_EP.replace("\n", " \n")),
            Err(EmptyField { pos: 126 })
        );
        assert_eq!(
            ep(&GOOD_EP.replace("mtu=3", "mtu")),
            Err(MissingEquals {
                token: "mtu".into()
            })
        );
        assert_eq!(
            ep(&GOOD_EP.replace("mtu=3", "mtu=3 sl=0x0")),
            Err(UnknownKey { key: "sl".into() })
        );
        assert_eq!(
            ep(&GOOD_EP.replace("mtu=3", "mtu=3 qpn=0x12")),
            Err(DuplicateKey { key: "qpn" })
        );
        assert_eq!(
            ep(&GOOD_EP.replace(" psn=0xabcdef", "")),
            Err(MissingKey { key: "psn" })
        );
        assert_eq!(
            ep(&GOOD_EP.replace(" rkey=0x1234", "")),
            Err(PartialRemoteBuffer { missing: "rkey" })
        );
        assert_eq!(
            ep(&GOOD_EP.replace(" addr=0x7f0000001000", "")),
            Err(PartialRemoteBuffer { missing: "addr" })
        );
        assert_eq!(
            ep(&GOOD_EP.replace("qpn=0x11", "qpn=17")),
            Err(BadNumber {
                field: "qpn",
                value: "17".into(),
                reason: "expected 0x followed by hex digits"
            })
        );
        assert_eq!(
            ep(&GOOD_EP.replace("qpn=0x11", "qpn=0x")),
            Err(BadNumber {
                field: "qpn",
                value: "0x".into(),
                reason: "no digits after 0x"
            })
        );
        assert_eq!(
            ep(&GOOD_EP.replace("qpn=0x11", "qpn=0x1g")),
            Err(BadNumber {
                field: "qpn",
                value: "0x1g".into(),
                reason: "not a hex number"
            })
        );
        assert_eq!(
            ep(&GOOD_EP.replace("len=0x1000", "len=0x00000000000000001")),
            Err(BadNumber {
                field: "len",
                value: "0x00000000000000001".into(),
                reason: "more than 16 hex digits"
            })
        );
        assert_eq!(
            ep(&GOOD_EP.replace("qpn=0x11", "qpn=0x1000000")),
            Err(OutOfRange {
                field: "qpn",
                value: "0x1000000".into(),
                max: 0xffffff
            })
        );
        assert_eq!(
            ep(&GOOD_EP.replace("lid=0x0", "lid=0x10000")),
            Err(OutOfRange {
                field: "lid",
                value: "0x10000".into(),
                max: 0xffff
            })
        );
        assert_eq!(
            ep(&GOOD_EP.replace("rkey=0x1234", "rkey=0x100000000")),
            Err(OutOfRange {
                field: "rkey",
                value: "0x100000000".into(),
                max: 0xffff_ffff
            })
        );
        assert_eq!(
            ep(&GOOD_EP.replace("ffffc6120001", "ffffc612000")),
            Err(BadNumber {
                field: "gid",
                value: "00000000000000000000ffffc612000".into(),
                reason: "expected exactly 32 hex digits"
            })
        );
        assert_eq!(
            ep(&GOOD_EP.replace("gid=0000", "gid=::00")),
            Err(BadNumber {
                field: "gid",
                value: "::000000000000000000ffffc6120001".into(),
                reason: "not a hex number"
            })
        );
        for bad in ["mtu=0", "mtu=6", "mtu=03", "mtu=", "mtu=x"] {
            assert!(
                matches!(ep(&GOOD_EP.replace("mtu=3", bad)), Err(BadMtu { .. })),
                "{bad}"
            );
        }
        // Long peer-supplied text is shortened in errors.
        let long_key = format!("RDMA-EP/1 {}=1\n", "k".repeat(100));
        match ep(&long_key) {
            Err(UnknownKey { key }) => assert_eq!(key.len(), 43),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            ep(&GOOD_EP.replace("mtu=3", "mtu=6"))
                .unwrap_err()
                .to_string(),
            "mtu: \"6\" is not an ibv_mtu value (1 = 256 bytes .. 5 = 4096 bytes)"
        );
    }

    #[test]
    fn endpoint_validate() {
        assert_eq!(endpoint().validate(), Ok(()));
        let e = Endpoint {
            mtu: 0,
            ..endpoint()
        };
        assert!(matches!(e.validate(), Err(ParseError::BadMtu { .. })));
        // An invalid value is written as is and rejected by the peer.
        assert!(matches!(ep(&e.to_line()), Err(ParseError::BadMtu { .. })));
        let e = Endpoint {
            psn: 0x100_0000,
            ..endpoint()
        };
        assert!(matches!(
            e.validate(),
            Err(ParseError::OutOfRange { field: "psn", .. })
        ));
    }
}
