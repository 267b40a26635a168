//! Netlink messages in a datagram (`struct nlmsghdr`: u32 length, u16 type, u16 flags,
//! u32 sequence, u32 port id, then the payload, padded to 4 bytes) and the kernel's answers
//! `NLMSG_ERROR` (error or ACK) and `NLMSG_DONE`, with their extended-ACK text.

use super::attr::{align4, attrs};

/// Length of `struct nlmsghdr`.
pub const NLMSG_HDRLEN: usize = 16;
/// `NLMSG_NOOP`.
pub const NLMSG_NOOP: u16 = 1;
/// `NLMSG_ERROR`: an error, or an ACK when the code is 0.
pub const NLMSG_ERROR: u16 = 2;
/// `NLMSG_DONE`: the end of a dump.
pub const NLMSG_DONE: u16 = 3;
/// `NLMSG_OVERRUN`.
pub const NLMSG_OVERRUN: u16 = 4;

/// `NLM_F_REQUEST`.
pub const NLM_F_REQUEST: u16 = 0x1;
/// `NLM_F_ACK`.
pub const NLM_F_ACK: u16 = 0x4;
/// `NLM_F_DUMP` (`NLM_F_ROOT | NLM_F_MATCH`).
pub const NLM_F_DUMP: u16 = 0x300;
/// `NLM_F_EXCL` (new requests).
pub const NLM_F_EXCL: u16 = 0x200;
/// `NLM_F_CREATE` (new requests).
pub const NLM_F_CREATE: u16 = 0x400;
/// `NLM_F_CAPPED` (error messages): the original request is not echoed past its header.
pub const NLM_F_CAPPED: u16 = 0x100;
/// `NLM_F_ACK_TLVS` (error and done messages): extended-ACK attributes follow.
pub const NLM_F_ACK_TLVS: u16 = 0x200;
/// `NLMSGERR_ATTR_MSG`: the extended-ACK text.
pub const NLMSGERR_ATTR_MSG: u16 = 1;

/// One netlink message of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// `nlmsg_type`.
    pub ty: u16,
    /// `nlmsg_flags`.
    pub flags: u16,
    /// `nlmsg_seq`.
    pub seq: u32,
    /// The bytes after the header, up to `nlmsg_len`.
    pub payload: &'a [u8],
}

/// The messages of `datagram`, in order; an error names the first malformed header.
pub fn frames(datagram: &[u8]) -> Result<Vec<Frame<'_>>, String> {
    let mut out = Vec::new();
    let mut offset = 0;
    while offset < datagram.len() {
        let rest = &datagram[offset..];
        if rest.len() < NLMSG_HDRLEN {
            return Err(format!(
                "{} stray bytes at offset {offset} where a message header (16 bytes) should be",
                rest.len()
            ));
        }
        let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len < NLMSG_HDRLEN || len > rest.len() {
            return Err(format!(
                "message at offset {offset} has length {len} but {} bytes remain",
                rest.len()
            ));
        }
        out.push(Frame {
            ty: u16::from_ne_bytes([rest[4], rest[5]]),
            flags: u16::from_ne_bytes([rest[6], rest[7]]),
            seq: u32::from_ne_bytes([rest[8], rest[9], rest[10], rest[11]]),
            payload: &rest[NLMSG_HDRLEN..len],
        });
        offset += align4(len).min(rest.len());
    }
    Ok(out)
}

/// What an `NLMSG_ERROR` or `NLMSG_DONE` message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The errno, positive; 0 for an ACK or a successful end of dump.
    pub errno: i32,
    /// The extended-ACK text (`NLMSGERR_ATTR_MSG`), if any.
    pub extack: Option<String>,
}

/// Decodes the payload of an `NLMSG_ERROR` message: `struct nlmsgerr { int error; struct
/// nlmsghdr msg; }`, the rest of the original request unless `NLM_F_CAPPED`, then
/// extended-ACK attributes if `NLM_F_ACK_TLVS`.
pub fn error_status(flags: u16, payload: &[u8]) -> Result<Status, String> {
    let code = read_code(payload, "NLMSG_ERROR")?;
    let tlvs = if flags & NLM_F_ACK_TLVS == 0 {
        None
    } else if flags & NLM_F_CAPPED != 0 {
        payload.get(4 + NLMSG_HDRLEN..)
    } else {
        // The original message is echoed whole: skip its length (from its own header).
        payload
            .get(4..8)
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .and_then(|orig| 4usize.checked_add(align4(orig.max(NLMSG_HDRLEN))))
            .and_then(|start| payload.get(start..))
    };
    Ok(Status {
        errno: code.unsigned_abs().try_into().unwrap_or(i32::MAX),
        extack: tlvs.and_then(extack_text),
    })
}

/// Decodes the payload of an `NLMSG_DONE` message: an `int` (the dump's error, 0 when it
/// succeeded; the kernel may also send an empty payload) then extended-ACK attributes if
/// `NLM_F_ACK_TLVS`.
pub fn done_status(flags: u16, payload: &[u8]) -> Result<Status, String> {
    if payload.is_empty() {
        return Ok(Status {
            errno: 0,
            extack: None,
        });
    }
    let code = read_code(payload, "NLMSG_DONE")?;
    let extack = if flags & NLM_F_ACK_TLVS != 0 {
        extack_text(&payload[4..])
    } else {
        None
    };
    Ok(Status {
        errno: code.unsigned_abs().try_into().unwrap_or(i32::MAX),
        extack,
    })
}

fn read_code(payload: &[u8], what: &str) -> Result<i32, String> {
    match payload.get(..4) {
        Some(b) => Ok(i32::from_ne_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(format!(
            "{what} payload of {} bytes has no error code (4 bytes)",
            payload.len()
        )),
    }
}

/// The `NLMSGERR_ATTR_MSG` text among extended-ACK attributes. Garbled attributes only lose
/// the text: the errno is what matters.
fn extack_text(tlvs: &[u8]) -> Option<String> {
    attrs(tlvs)
        .map_while(Result::ok)
        .find(|a| a.kind == NLMSGERR_ATTR_MSG)
        .map(|a| a.string())
        .filter(|s| !s.is_empty())
}

/// Writes a `struct nlmsghdr` for a message of `len` bytes (header included).
pub fn put_header(buf: &mut Vec<u8>, len: u32, ty: u16, flags: u16, seq: u32) {
    buf.extend_from_slice(&len.to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes());
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::netlink::attr::put;

    /// A whole `NLMSG_ERROR` message as the kernel builds it for a socket with
    /// `NETLINK_CAP_ACK` and `NETLINK_EXT_ACK`.
    pub(crate) fn capped_error(seq: u32, errno: i32, extack: Option<&str>) -> Vec<u8> {
        let mut payload = (-errno).to_ne_bytes().to_vec();
        let mut orig = Vec::new();
        put_header(&mut orig, 32, 19, NLM_F_REQUEST | NLM_F_ACK, seq);
        payload.extend_from_slice(&orig);
        let mut flags = NLM_F_CAPPED;
        if let Some(m) = extack {
            flags |= NLM_F_ACK_TLVS;
            let mut text = m.as_bytes().to_vec();
            text.push(0);
            put(&mut payload, NLMSGERR_ATTR_MSG, &text);
        }
        let mut msg = Vec::new();
        put_header(
            &mut msg,
            (16 + payload.len()) as u32,
            NLMSG_ERROR,
            flags,
            seq,
        );
        msg.extend_from_slice(&payload);
        msg
    }

    #[test]
    fn splits_a_datagram_into_messages() {
        let mut d = capped_error(7, 0, None);
        d.extend_from_slice(&capped_error(8, 95, Some("nope")));
        let f = frames(&d).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(
            (f[0].ty, f[0].seq, f[0].payload.len()),
            (NLMSG_ERROR, 7, 20)
        );
        assert_eq!(f[1].seq, 8);
    }

    #[test]
    fn malformed_headers_are_errors() {
        assert!(frames(&[]).unwrap().is_empty());
        let e = frames(&[1, 2, 3]).unwrap_err();
        assert!(e.contains("3 stray bytes"), "{e}");
        let mut d = capped_error(7, 0, None);
        d[0] = 200;
        let e = frames(&d).unwrap_err();
        assert!(e.contains("length 200 but 36 bytes remain"), "{e}");
        d[0] = 8;
        let e = frames(&d).unwrap_err();
        assert!(e.contains("length 8"), "{e}");
    }

    #[test]
    fn error_with_extack_gives_errno_and_text() {
        let d = capped_error(3, libc::EOPNOTSUPP, Some("VF GUIDs not supported"));
        let f = frames(&d).unwrap()[0];
        assert_eq!(
            error_status(f.flags, f.payload).unwrap(),
            Status {
                errno: libc::EOPNOTSUPP,
                extack: Some("VF GUIDs not supported".into())
            }
        );
    }

    #[test]
    fn uncapped_error_skips_the_echoed_request() {
        // error -22, then the original 24-byte request (header + 8 bytes), then the text.
        let mut payload = (-22i32).to_ne_bytes().to_vec();
        put_header(&mut payload, 24, 19, NLM_F_REQUEST, 1);
        payload.extend_from_slice(&[0xaa; 8]);
        put(&mut payload, NLMSGERR_ATTR_MSG, b"bad attr\0");
        let s = error_status(NLM_F_ACK_TLVS, &payload).unwrap();
        assert_eq!(s.errno, libc::EINVAL);
        assert_eq!(s.extack.as_deref(), Some("bad attr"));
    }

    #[test]
    fn ack_and_done() {
        let d = capped_error(3, 0, None);
        let f = frames(&d).unwrap()[0];
        assert_eq!(error_status(f.flags, f.payload).unwrap().errno, 0);
        assert_eq!(done_status(0, &[]).unwrap().errno, 0);
        assert_eq!(done_status(0, &0i32.to_ne_bytes()).unwrap().errno, 0);
        let mut p = (-1i32).to_ne_bytes().to_vec();
        put(&mut p, NLMSGERR_ATTR_MSG, b"dump failed\0");
        let s = done_status(NLM_F_ACK_TLVS, &p).unwrap();
        assert_eq!((s.errno, s.extack.as_deref()), (1, Some("dump failed")));
    }

    #[test]
    fn truncated_status_payloads_are_errors_and_garbled_extack_is_dropped() {
        assert!(error_status(0, &[0, 0])
            .unwrap_err()
            .contains("no error code"));
        assert!(done_status(0, &[0, 0])
            .unwrap_err()
            .contains("no error code"));
        // Claims TLVs but the echoed header is cut short: errno still comes through.
        let s = error_status(NLM_F_ACK_TLVS | NLM_F_CAPPED, &(-5i32).to_ne_bytes()).unwrap();
        assert_eq!((s.errno, s.extack), (5, None));
        // Uncapped with an absurd original length.
        let mut p = (-5i32).to_ne_bytes().to_vec();
        put_header(&mut p, u32::MAX, 19, 0, 0);
        let s = error_status(NLM_F_ACK_TLVS, &p).unwrap();
        assert_eq!((s.errno, s.extack), (5, None));
        // i32::MIN does not overflow.
        let s = error_status(0, &i32::MIN.to_ne_bytes()).unwrap();
        assert_eq!(s.errno, i32::MAX);
    }
}
