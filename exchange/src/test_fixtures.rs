//! Values shared by the unit tests of the exchange modules.

use super::{Endpoint, PingpongDest};
use rdma_verbs::Gid;
use rdma_verbs::RemoteBuf;

/// `::ffff:198.18.0.1`
pub(super) const MAPPED: Gid = Gid([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 1]);

pub(super) fn dest() -> PingpongDest {
    PingpongDest {
        lid: 0,
        qpn: 0x11,
        psn: 0xabcdef,
        gid: MAPPED,
    }
}

/// What the C tool's `sprintf("%04x:%06x:%06x:%s", ...)` produces, NUL included,
/// with the GID built the way `gid_to_wire_gid` does it: each 4-byte word read
/// in host order, `htobe32`, printed `%08x`.
pub(super) fn c_sprintf(lid: u16, qpn: u32, psn: u32, gid: &Gid) -> Vec<u8> {
    let mut wgid = String::new();
    for word in gid.0.chunks_exact(4) {
        let host_word = u32::from_ne_bytes([word[0], word[1], word[2], word[3]]);
        wgid.push_str(&format!("{:08x}", host_word.to_be()));
    }
    let mut msg = format!("{lid:04x}:{qpn:06x}:{psn:06x}:{wgid}").into_bytes();
    msg.push(0);
    msg
}

pub(super) fn endpoint() -> Endpoint {
    Endpoint {
        lid: 0,
        qpn: 0x11,
        psn: 0xabcdef,
        gid: MAPPED,
        mtu: 3,
        remote_buffer: Some(RemoteBuf {
            addr: 0x7f00_0000_1000,
            rkey: 0x1234,
            len: 0x1000,
        }),
    }
}

pub(super) const GOOD_EP: &str = "RDMA-EP/1 lid=0x0 qpn=0x11 psn=0xabcdef gid=00000000000000000000ffffc6120001 mtu=3 addr=0x7f0000001000 rkey=0x1234 len=0x1000\n";
