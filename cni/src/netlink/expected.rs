//! Hand-written kernel layouts for the byte-level tests of the request encoders: written here
//! field by field from `linux/netlink.h`, independent of the encoders they check.

/// `struct nlmsghdr` (16 bytes): length, type, flags, sequence number, port ID 0.
pub fn nlmsghdr(len: u32, ty: u16, flags: u16, seq: u32) -> Vec<u8> {
    let mut b = len.to_ne_bytes().to_vec();
    b.extend_from_slice(&ty.to_ne_bytes());
    b.extend_from_slice(&flags.to_ne_bytes());
    b.extend_from_slice(&seq.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes());
    b
}
