//! Checks shared by the fuzz targets (`fuzz/`) and the corpus replay test
//! (`tests/fuzz_corpus.rs`). Each function panics if an invariant fails.

use super::{Endpoint, PingpongDest, ENDPOINT_MAX_LEN, MAX_24_BIT};
use rdma_verbs::Gid;
use rdma_verbs::RemoteBuf;

/// Parses `data` as a pingpong message; a message that parses must be the
/// canonical (lowercase) form of its value and round-trip. Also round-trips a
/// value built from the raw bytes.
pub fn check_pingpong(data: &[u8]) {
    match PingpongDest::parse(data) {
        Ok(d) => {
            assert_eq!(d.validate(), Ok(()), "parsed value out of range: {d:?}");
            let wire = d.to_wire();
            assert_eq!(
                wire[..],
                data.to_ascii_lowercase()[..],
                "accepted a non-canonical message"
            );
            assert_eq!(
                PingpongDest::parse(&wire),
                Ok(d),
                "round trip changed {d:?}"
            );
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    if let Some(d) = pingpong_from_raw(data) {
        assert_eq!(PingpongDest::parse(&d.to_wire()), Ok(d), "to_wire of {d:?}");
    }
}

/// Parses `data` as an `RDMA-EP/1` line; a line that parses must round-trip
/// through [`Endpoint::to_line`]. Also round-trips a value built from the raw bytes.
pub fn check_endpoint(data: &[u8]) {
    match Endpoint::parse(data) {
        Ok(e) => {
            assert_eq!(e.validate(), Ok(()), "parsed value out of range: {e:?}");
            let line = e.to_line();
            assert!(line.len() <= ENDPOINT_MAX_LEN, "line too long: {line:?}");
            assert_eq!(
                Endpoint::parse(line.as_bytes()),
                Ok(e),
                "round trip of {line:?}"
            );
        }
        Err(err) => assert!(!err.to_string().is_empty()),
    }
    if let Some(e) = endpoint_from_raw(data) {
        let line = e.to_line();
        assert!(line.len() <= ENDPOINT_MAX_LEN, "line too long: {line:?}");
        assert_eq!(
            Endpoint::parse(line.as_bytes()),
            Ok(e),
            "round trip of {line:?}"
        );
    }
}

fn take<const N: usize>(data: &mut &[u8]) -> Option<[u8; N]> {
    let (head, rest) = data.split_first_chunk::<N>()?;
    *data = rest;
    Some(*head)
}

fn pingpong_from_raw(mut data: &[u8]) -> Option<PingpongDest> {
    let d = &mut data;
    Some(PingpongDest {
        lid: u16::from_le_bytes(take(d)?),
        qpn: u32::from_le_bytes(take(d)?) & MAX_24_BIT,
        psn: u32::from_le_bytes(take(d)?) & MAX_24_BIT,
        gid: Gid(take(d)?),
    })
}

fn endpoint_from_raw(data: &[u8]) -> Option<Endpoint> {
    let mut rest = data.get(26..)?;
    let r = &mut rest;
    let dest = pingpong_from_raw(data)?;
    let mtu = take::<1>(r)?[0] % 5 + 1;
    let remote_buffer = match take::<1>(r)?[0] & 1 {
        0 => None,
        _ => Some(RemoteBuf {
            addr: u64::from_le_bytes(take(r)?),
            rkey: u32::from_le_bytes(take(r)?),
            len: u64::from_le_bytes(take(r)?),
        }),
    };
    Some(Endpoint {
        lid: dest.lid,
        qpn: dest.qpn,
        psn: dest.psn,
        gid: dest.gid,
        mtu,
        remote_buffer,
    })
}
