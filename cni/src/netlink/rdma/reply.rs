//! Decoding what the kernel answers on NETLINK_RDMA: pure functions over bytes that never
//! panic (the `rdma_netlink` fuzz target drives [`parse_reply`]).

use super::request::{
    RDMA_NLDEV_ATTR_DEV_INDEX, RDMA_NLDEV_ATTR_DEV_NAME, RDMA_NLDEV_SYS_ATTR_NETNS_MODE,
    RDMA_NL_NLDEV,
};
use super::NetnsMode;
use crate::netlink::attr::attrs;
use crate::netlink::frame::{self, done_status, error_status, frames};

/// One nldev message, with the attributes this crate reads (others are skipped).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NldevMessage {
    /// The command (`RDMA_NL_GET_OP` of the message type), e.g. 1 for `RDMA_NLDEV_CMD_GET`.
    pub command: u16,
    /// `RDMA_NLDEV_ATTR_DEV_INDEX`.
    pub dev_index: Option<u32>,
    /// `RDMA_NLDEV_ATTR_DEV_NAME`.
    pub dev_name: Option<String>,
    /// `RDMA_NLDEV_SYS_ATTR_NETNS_MODE`.
    pub netns_mode: Option<NetnsMode>,
}

/// One message of an RDMA netlink answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RdmaReply {
    /// An nldev message.
    Nldev {
        /// Its sequence number (that of the request it answers).
        seq: u32,
        /// What it says.
        message: NldevMessage,
    },
    /// `NLMSG_ERROR` with code 0.
    Ack {
        /// Its sequence number.
        seq: u32,
    },
    /// `NLMSG_ERROR` with an errno.
    Error {
        /// Its sequence number.
        seq: u32,
        /// The errno, positive.
        errno: i32,
        /// The extended-ACK text.
        extack: Option<String>,
    },
    /// `NLMSG_DONE`: the end of a dump (`errno` 0 when it succeeded).
    Done {
        /// Its sequence number.
        seq: u32,
        /// The dump's errno, 0 on success.
        errno: i32,
        /// The extended-ACK text.
        extack: Option<String>,
    },
    /// `NLMSG_NOOP`.
    Noop,
}

/// Why an RDMA netlink reply could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed RDMA netlink reply: {0}")]
pub struct ReplyError(pub String);

/// Decodes one datagram the kernel sent on an RDMA netlink socket: its messages in order.
pub fn parse_reply(datagram: &[u8]) -> Result<Vec<RdmaReply>, ReplyError> {
    if datagram.is_empty() {
        return Err(ReplyError("empty datagram".into()));
    }
    let mut out = Vec::new();
    for f in frames(datagram).map_err(ReplyError)? {
        let seq = f.seq;
        out.push(match f.ty {
            frame::NLMSG_NOOP => RdmaReply::Noop,
            frame::NLMSG_ERROR => {
                let s = error_status(f.flags, f.payload).map_err(ReplyError)?;
                if s.errno == 0 {
                    RdmaReply::Ack { seq }
                } else {
                    RdmaReply::Error {
                        seq,
                        errno: s.errno,
                        extack: s.extack,
                    }
                }
            }
            frame::NLMSG_DONE => {
                let s = done_status(f.flags, f.payload).map_err(ReplyError)?;
                RdmaReply::Done {
                    seq,
                    errno: s.errno,
                    extack: s.extack,
                }
            }
            ty => RdmaReply::Nldev {
                seq,
                message: parse_nldev(ty, f.payload).map_err(ReplyError)?,
            },
        });
    }
    Ok(out)
}

/// The fuzz target's check (also replayed over `fuzz/corpus/rdma_netlink` by the host tests):
/// [`parse_reply`] must not panic, and what it accepts must be consistent: at least one
/// message, errnos positive, commands within `RDMA_NL_GET_OP`'s 10 bits, names without NUL.
#[doc(hidden)]
pub fn check_reply(data: &[u8]) {
    let Ok(replies) = parse_reply(data) else {
        return;
    };
    assert!(!replies.is_empty(), "an accepted datagram has messages");
    for r in &replies {
        match r {
            RdmaReply::Nldev { message, .. } => {
                assert!(message.command < 1024, "command {}", message.command);
                if let Some(n) = &message.dev_name {
                    assert!(!n.contains('\0'), "NUL in {n:?}");
                }
            }
            RdmaReply::Error { errno, .. } => assert!(*errno > 0, "errno {errno}"),
            RdmaReply::Done { errno, .. } => assert!(*errno >= 0, "errno {errno}"),
            RdmaReply::Ack { .. } | RdmaReply::Noop => {}
        }
    }
}

/// Decodes an nldev message of type `ty` whose attributes are `payload`.
pub fn parse_nldev(ty: u16, payload: &[u8]) -> Result<NldevMessage, String> {
    let client = ty >> 10;
    if client != RDMA_NL_NLDEV {
        return Err(format!(
            "message type {ty} is of RDMA netlink client {client}, not nldev ({RDMA_NL_NLDEV})"
        ));
    }
    let mut m = NldevMessage {
        command: ty & 0x3ff,
        ..NldevMessage::default()
    };
    for a in attrs(payload) {
        let a = a.map_err(|e| format!("nldev attributes: {e}"))?;
        match a.kind {
            RDMA_NLDEV_ATTR_DEV_INDEX => {
                m.dev_index = Some(a.u32("RDMA_NLDEV_ATTR_DEV_INDEX")?);
            }
            RDMA_NLDEV_ATTR_DEV_NAME => m.dev_name = Some(a.string()),
            RDMA_NLDEV_SYS_ATTR_NETNS_MODE => {
                let v = a.u8("RDMA_NLDEV_SYS_ATTR_NETNS_MODE")?;
                m.netns_mode = Some(NetnsMode::from_u8(v).ok_or_else(|| {
                    format!(
                        "RDMA_NLDEV_SYS_ATTR_NETNS_MODE is {v}, neither 1 (shared) nor 0 (exclusive)"
                    )
                })?);
            }
            _ => {}
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::attr::{put, put_u32, put_u8};
    use crate::netlink::frame::put_header;

    fn msg(ty: u16, flags: u16, seq: u32, attrs: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        put_header(&mut b, 16 + attrs.len() as u32, ty, flags, seq);
        b.extend_from_slice(attrs);
        b
    }

    /// What `RDMA_NLDEV_CMD_SYS_GET` answers: the settings then the ACK, one datagram.
    pub(super) fn sys_get_answer(mode: u8) -> Vec<u8> {
        let mut a = Vec::new();
        put_u8(&mut a, 66, mode);
        put_u8(&mut a, 93, 0); // RDMA_NLDEV_SYS_ATTR_COPY_ON_FORK: skipped
        let mut d = msg(5126, 0, 4, &a);
        let mut ack = 0i32.to_ne_bytes().to_vec();
        put_header(&mut ack, 16, 5126, 5, 4);
        d.extend(msg(2, 0x100, 4, &ack));
        d
    }

    /// One device of an `RDMA_NLDEV_CMD_GET` dump, with the attributes rxe sends first.
    pub(super) fn device_message(seq: u32, index: u32, name: &str) -> Vec<u8> {
        let mut a = Vec::new();
        put_u32(&mut a, 1, index);
        let mut n = name.as_bytes().to_vec();
        n.push(0);
        put(&mut a, 2, &n);
        put_u32(&mut a, 3, 1); // RDMA_NLDEV_ATTR_PORT_INDEX: skipped
        put(&mut a, 6, &0x0200_5eff_fe10_0001u64.to_ne_bytes()); // NODE_GUID: skipped
        msg(5121, 2, seq, &a)
    }

    #[test]
    fn sys_get_answer_gives_the_mode_then_the_ack() {
        let r = parse_reply(&sys_get_answer(1)).unwrap();
        assert_eq!(
            r,
            vec![
                RdmaReply::Nldev {
                    seq: 4,
                    message: NldevMessage {
                        command: 6,
                        netns_mode: Some(NetnsMode::Shared),
                        ..Default::default()
                    }
                },
                RdmaReply::Ack { seq: 4 },
            ]
        );
        let r = parse_reply(&sys_get_answer(0)).unwrap();
        assert!(matches!(&r[0], RdmaReply::Nldev { message, .. }
            if message.netns_mode == Some(NetnsMode::Exclusive)));
    }

    #[test]
    fn device_dump_gives_indexes_and_names_then_done() {
        let mut d = device_message(9, 0, "rxe0");
        d.extend(device_message(9, 3, "mlx5_1"));
        d.extend(msg(3, 2, 9, &0i32.to_ne_bytes()));
        let r = parse_reply(&d).unwrap();
        let names: Vec<_> = r
            .iter()
            .filter_map(|m| match m {
                RdmaReply::Nldev { message, .. } => Some((
                    message.dev_index.unwrap(),
                    message.dev_name.clone().unwrap(),
                )),
                _ => None,
            })
            .collect();
        assert_eq!(names, vec![(0, "rxe0".into()), (3, "mlx5_1".into())]);
        assert_eq!(
            r[2],
            RdmaReply::Done {
                seq: 9,
                errno: 0,
                extack: None
            }
        );
    }

    #[test]
    fn errors_carry_errno_and_extack() {
        let mut p = (-libc::EBUSY).to_ne_bytes().to_vec();
        put_header(&mut p, 24, 5127, 5, 2);
        put(&mut p, 1, b"busy\0");
        let r = parse_reply(&msg(2, 0x300, 2, &p)).unwrap();
        assert_eq!(
            r,
            vec![RdmaReply::Error {
                seq: 2,
                errno: libc::EBUSY,
                extack: Some("busy".into())
            }]
        );
    }

    #[test]
    fn every_truncation_of_an_answer_is_an_error() {
        let mut d = device_message(9, 0, "rxe0");
        let first = d.len();
        d.extend(sys_get_answer(1));
        // Cuts at message boundaries parse the messages before; any other cut breaks a length.
        let boundaries = [first, first + 32];
        for n in 1..d.len() {
            match parse_reply(&d[..n]) {
                Ok(r) => assert!(boundaries.contains(&n), "cut at {n} accepted: {r:?}"),
                Err(e) => assert!(!boundaries.contains(&n), "cut at {n}: {e}"),
            }
        }
        assert_eq!(parse_reply(&d).unwrap().len(), 3);
    }

    #[test]
    fn bad_attribute_lengths_are_named() {
        // DEV_INDEX of 2 bytes.
        let e = parse_reply(&msg(5121, 2, 1, &[6, 0, 1, 0, 7, 0, 0, 0])).unwrap_err();
        assert!(
            e.0.contains("RDMA_NLDEV_ATTR_DEV_INDEX has 2 bytes, expected 4"),
            "{e}"
        );
        // Attribute running past its message.
        let e = parse_reply(&msg(5121, 2, 1, &[40, 0, 1, 0, 7, 0, 0, 0])).unwrap_err();
        assert!(e.0.contains("length 40"), "{e}");
        // Netns mode of 4 bytes, and of an unknown value.
        let e = parse_reply(&msg(5126, 0, 1, &[8, 0, 66, 0, 1, 0, 0, 0])).unwrap_err();
        assert!(e.0.contains("NETNS_MODE has 4 bytes, expected 1"), "{e}");
        let e = parse_reply(&msg(5126, 0, 1, &[5, 0, 66, 0, 2, 0, 0, 0])).unwrap_err();
        assert!(e.0.contains("is 2, neither"), "{e}");
    }

    #[test]
    fn an_empty_datagram_is_refused() {
        assert_eq!(parse_reply(&[]), Err(ReplyError("empty datagram".into())));
    }

    #[test]
    fn messages_of_other_clients_are_refused() {
        let e = parse_reply(&msg(4 << 10, 0, 1, &[])).unwrap_err();
        assert!(e.0.contains("client 4, not nldev (5)"), "{e}");
    }
}
