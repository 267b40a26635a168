//! The RDMA netlink requests, encoded by hand (`include/uapi/rdma/rdma_netlink.h`; iproute2's
//! `rdma` tool sends the same bytes). nldev messages have no family header: attributes follow
//! the `struct nlmsghdr` directly.

use super::NetnsMode;
use crate::netlink::attr::{put_u32, put_u8};
use crate::netlink::frame::{put_header, NLMSG_HDRLEN, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST};

/// `RDMA_NL_NLDEV`: the RDMA device client of NETLINK_RDMA.
pub const RDMA_NL_NLDEV: u16 = 5;
/// `RDMA_NLDEV_CMD_GET` (can dump).
pub const RDMA_NLDEV_CMD_GET: u16 = 1;
/// `RDMA_NLDEV_CMD_SET`.
pub const RDMA_NLDEV_CMD_SET: u16 = 2;
/// `RDMA_NLDEV_CMD_SYS_GET`.
pub const RDMA_NLDEV_CMD_SYS_GET: u16 = 6;
/// `RDMA_NLDEV_CMD_SYS_SET`.
pub const RDMA_NLDEV_CMD_SYS_SET: u16 = 7;
/// `RDMA_NLDEV_ATTR_DEV_INDEX` (u32).
pub const RDMA_NLDEV_ATTR_DEV_INDEX: u16 = 1;
/// `RDMA_NLDEV_ATTR_DEV_NAME` (NUL-terminated string).
pub const RDMA_NLDEV_ATTR_DEV_NAME: u16 = 2;
/// `RDMA_NLDEV_SYS_ATTR_NETNS_MODE` (u8: 1 shared, 0 exclusive).
pub const RDMA_NLDEV_SYS_ATTR_NETNS_MODE: u16 = 66;
/// `RDMA_NLDEV_NET_NS_FD` (u32).
pub const RDMA_NLDEV_NET_NS_FD: u16 = 68;

/// `RDMA_NL_GET_TYPE(client, op)`: `(client << 10) + op`.
pub const fn nl_type(op: u16) -> u16 {
    (RDMA_NL_NLDEV << 10) + op
}

fn message(seq: u32, op: u16, flags: u16, attrs: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(NLMSG_HDRLEN + attrs.len());
    // Attribute bytes are a few dozen at most: the length always fits.
    let len = u32::try_from(NLMSG_HDRLEN + attrs.len()).unwrap_or(u32::MAX);
    put_header(&mut buf, len, nl_type(op), flags, seq);
    buf.extend_from_slice(attrs);
    buf
}

/// `RDMA_NLDEV_CMD_SYS_GET`: the subsystem settings (netns mode among them).
pub fn sys_get(seq: u32) -> Vec<u8> {
    message(seq, RDMA_NLDEV_CMD_SYS_GET, NLM_F_REQUEST | NLM_F_ACK, &[])
}

/// `RDMA_NLDEV_CMD_SYS_SET` of the netns mode.
pub fn sys_set_netns_mode(seq: u32, mode: NetnsMode) -> Vec<u8> {
    let mut a = Vec::new();
    put_u8(&mut a, RDMA_NLDEV_SYS_ATTR_NETNS_MODE, mode.as_u8());
    message(seq, RDMA_NLDEV_CMD_SYS_SET, NLM_F_REQUEST | NLM_F_ACK, &a)
}

/// `RDMA_NLDEV_CMD_GET` dump: one message per RDMA device visible in the socket's namespace.
pub fn get_dump(seq: u32) -> Vec<u8> {
    message(seq, RDMA_NLDEV_CMD_GET, NLM_F_REQUEST | NLM_F_DUMP, &[])
}

/// `RDMA_NLDEV_CMD_SET` moving device `dev_index` into the namespace of `netns_fd`.
pub fn set_netns(seq: u32, dev_index: u32, netns_fd: u32) -> Vec<u8> {
    let mut a = Vec::new();
    put_u32(&mut a, RDMA_NLDEV_ATTR_DEV_INDEX, dev_index);
    put_u32(&mut a, RDMA_NLDEV_NET_NS_FD, netns_fd);
    message(seq, RDMA_NLDEV_CMD_SET, NLM_F_REQUEST | NLM_F_ACK, &a)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::netlink::expected::nlmsghdr;

    #[test]
    fn message_types_are_rdma_nl_get_type_of_nldev() {
        assert_eq!(nl_type(RDMA_NLDEV_CMD_GET), 5121);
        assert_eq!(nl_type(RDMA_NLDEV_CMD_SET), 5122);
        assert_eq!(nl_type(RDMA_NLDEV_CMD_SYS_GET), 5126);
        assert_eq!(nl_type(RDMA_NLDEV_CMD_SYS_SET), 5127);
    }

    #[test]
    fn sys_get_is_a_bare_header() {
        assert_eq!(sys_get(3), nlmsghdr(16, 5126, 0x5, 3));
    }

    #[test]
    fn sys_set_carries_the_mode_as_a_padded_u8() {
        for (mode, byte) in [(NetnsMode::Shared, 1u8), (NetnsMode::Exclusive, 0)] {
            let mut want = nlmsghdr(24, 5127, 0x5, 4);
            want.extend(5u16.to_ne_bytes()); // nla_len: 4 + 1
            want.extend(66u16.to_ne_bytes()); // RDMA_NLDEV_SYS_ATTR_NETNS_MODE
            want.extend([byte, 0, 0, 0]); // value + 3 bytes of padding
            assert_eq!(sys_set_netns_mode(4, mode), want);
        }
    }

    #[test]
    fn get_dump_asks_for_a_dump() {
        assert_eq!(get_dump(5), nlmsghdr(16, 5121, 0x301, 5));
    }

    #[test]
    fn set_netns_carries_index_and_fd() {
        let mut want = nlmsghdr(32, 5122, 0x5, 6);
        want.extend(8u16.to_ne_bytes());
        want.extend(1u16.to_ne_bytes()); // RDMA_NLDEV_ATTR_DEV_INDEX
        want.extend(2u32.to_ne_bytes());
        want.extend(8u16.to_ne_bytes());
        want.extend(68u16.to_ne_bytes()); // RDMA_NLDEV_NET_NS_FD
        want.extend(9u32.to_ne_bytes());
        assert_eq!(set_netns(6, 2, 9), want);
    }
}
