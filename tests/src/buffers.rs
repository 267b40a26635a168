//! Buffers of the async device tests: filled with a pattern, read back whatever their access
//! rights, compared byte for byte, and taken back from a completion that must have succeeded.

use rdma_verbs::{Access, Completion, MemoryRegion, ProtectionDomain, WcOpcode, WcStatus};

/// One mebibyte.
pub const MIB: usize = 1 << 20;
/// Local writes and remote reads (not remote writes: the bytes stay a plain slice).
pub const READABLE: Access =
    Access::from_bits(Access::LOCAL_WRITE.bits() | Access::REMOTE_READ.bits());
/// Local writes, remote writes and remote reads.
pub const REMOTE: Access = Access::from_bits(
    Access::LOCAL_WRITE.bits() | Access::REMOTE_WRITE.bits() | Access::REMOTE_READ.bits(),
);

/// A region of `bytes.len()` bytes holding `bytes`.
pub fn filled(pd: &ProtectionDomain, bytes: &[u8], access: Access) -> MemoryRegion {
    let mut mr = MemoryRegion::new(pd, bytes.len(), access).expect("register");
    match mr.as_mut_slice() {
        Some(s) => s.copy_from_slice(bytes),
        None => assert!(mr.write_at(0, bytes)),
    }
    mr
}

/// A copy of the region's bytes (volatile reads when peers may write it).
pub fn contents(mr: &MemoryRegion) -> Vec<u8> {
    match mr.as_slice() {
        Some(s) => s.to_vec(),
        None => {
            let mut v = vec![0; mr.len()];
            assert!(mr.read_at(0, &mut v));
            v
        }
    }
}

/// Panics naming `what` and the first differing byte unless `got == want`.
pub fn assert_bytes(what: &str, got: &[u8], want: &[u8]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    if got == want {
        return; // memcmp: the per-byte search below is for the message only
    }
    if let Some(i) = got.iter().zip(want).position(|(g, w)| g != w) {
        panic!("{what}: first wrong byte at {i}: {} != {}", got[i], want[i]);
    }
}

/// The buffer of a completion that must be a success of `opcode`.
pub fn ok_buf(c: Completion, opcode: WcOpcode) -> MemoryRegion {
    assert_eq!((c.status, c.opcode), (WcStatus::Success, opcode), "{c:?}");
    c.buf.expect("the request owned a buffer")
}
