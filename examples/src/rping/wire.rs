//! rping's one message: `struct rping_rdma_info { __be64 buf; __be32 rkey; __be32 size; }`.

use std::fmt;

/// The length of an [`RdmaInfo`] on the wire.
pub const INFO_LEN: usize = 16;

/// A buffer the peer may access: its address, rkey and size (all big-endian on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RdmaInfo {
    /// The buffer's address in the sender's registration.
    pub addr: u64,
    /// The rkey that gives access to it.
    pub rkey: u32,
    /// Its size in bytes.
    pub size: u32,
}

/// A received message that is not [`INFO_LEN`] bytes long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BogusMessage {
    /// The number of bytes received.
    pub len: usize,
}

impl fmt::Display for BogusMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "received bogus data, size {} (an rping message is {INFO_LEN} bytes)",
            self.len
        )
    }
}

impl std::error::Error for BogusMessage {}

impl RdmaInfo {
    /// The message's bytes.
    pub fn encode(&self) -> [u8; INFO_LEN] {
        let mut out = [0; INFO_LEN];
        out[..8].copy_from_slice(&self.addr.to_be_bytes());
        out[8..12].copy_from_slice(&self.rkey.to_be_bytes());
        out[12..].copy_from_slice(&self.size.to_be_bytes());
        out
    }

    /// Reads a message; exactly [`INFO_LEN`] bytes, as the C tool insists.
    pub fn decode(bytes: &[u8]) -> Result<Self, BogusMessage> {
        let b: &[u8; INFO_LEN] = bytes
            .try_into()
            .map_err(|_| BogusMessage { len: bytes.len() })?;
        let [a0, a1, a2, a3, a4, a5, a6, a7, k0, k1, k2, k3, s0, s1, s2, s3] = *b;
        Ok(RdmaInfo {
            addr: u64::from_be_bytes([a0, a1, a2, a3, a4, a5, a6, a7]),
            rkey: u32::from_be_bytes([k0, k1, k2, k3]),
            size: u32::from_be_bytes([s0, s1, s2, s3]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_endian_like_the_c_struct() {
        let info = RdmaInfo {
            addr: 0x5644_e219_b600,
            rkey: 0x1406,
            size: 64,
        };
        let bytes = info.encode();
        assert_eq!(
            bytes,
            [0, 0, 0x56, 0x44, 0xe2, 0x19, 0xb6, 0, 0, 0, 0x14, 0x06, 0, 0, 0, 64]
        );
        assert_eq!(RdmaInfo::decode(&bytes), Ok(info));
    }

    #[test]
    fn other_lengths_are_bogus() {
        for len in [0, 1, 15, 17, 64] {
            let err = RdmaInfo::decode(&vec![0; len]).unwrap_err();
            assert_eq!(err.len, len);
            assert!(err.to_string().contains(&format!("size {len}")), "{err}");
        }
    }
}
