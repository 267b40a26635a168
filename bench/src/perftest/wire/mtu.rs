//! The MTU message (2 bytes): [`encode_mtu`] and [`parse_mtu`].

use rdma_verbs::Mtu;

use super::error::{field_err, WireError};

/// Size of the MTU message (`sizeof(char[2])`).
pub const MTU_MSG_LEN: usize = 2;

const MTU: &str = "mtu";

/// `check_mtu`'s message for `mtu`: `sprintf(cur, "%d", enum ibv_mtu)`, the NUL included,
/// e.g. `"3\0"` for 1024 bytes. Both sides then use the smaller MTU
/// ([`rdma_verbs::Mtu`] is ordered by size).
pub fn encode_mtu(mtu: Mtu) -> [u8; MTU_MSG_LEN] {
    [b'0' + mtu.to_raw() as u8, 0]
}

/// Parses the 2-byte MTU message: one digit `1`..`5` (`enum ibv_mtu`) and a NUL.
pub fn parse_mtu(bytes: &[u8]) -> Result<Mtu, WireError> {
    if bytes.len() != MTU_MSG_LEN {
        return Err(WireError::Length {
            msg: MTU,
            expected: "2",
            got: bytes.len(),
        });
    }
    if bytes[1] != 0 {
        return Err(field_err(MTU, "terminator", "second byte is not NUL"));
    }
    match bytes[0] {
        b'1'..=b'5' => Ok(Mtu::from_raw(u32::from(bytes[0] - b'0')).expect("1..=5")),
        b => Err(field_err(
            MTU,
            "mtu",
            format!("byte 0x{b:02x} is not an ibv_mtu digit 1-5"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mtu_captured() {
        assert_eq!(parse_mtu(b"3\0").unwrap(), Mtu::Mtu1024);
        assert_eq!(encode_mtu(Mtu::Mtu1024), *b"3\0");
        assert_eq!(
            Mtu::Mtu4096.min(Mtu::Mtu1024),
            Mtu::Mtu1024,
            "ordered by size"
        );
        assert!(parse_mtu(b"6\0").is_err());
        assert!(parse_mtu(b"0\0").is_err());
        assert!(parse_mtu(b"3x").is_err());
        assert!(parse_mtu(b"3\0\0\0").is_err());
    }
}
