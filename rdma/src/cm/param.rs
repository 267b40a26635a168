//! Connection parameters (`struct rdma_conn_param`) and their checks.

use crate::error::{Error, Result};
use crate::sys::cm::rdma_conn_param;

/// Most private data a connect request carries over InfiniBand/RoCE in the TCP port space
/// (the IB CM REQ's 92 bytes minus the RDMA CM's 36-byte header).
pub const CONNECT_PRIVATE_DATA_MAX: usize = 56;
/// Most private data an accept carries over InfiniBand/RoCE (the IB CM REP's).
pub const ACCEPT_PRIVATE_DATA_MAX: usize = 196;
/// Most private data a reject carries over InfiniBand/RoCE (the IB CM REJ's).
pub const REJECT_PRIVATE_DATA_MAX: usize = 148;

/// Parameters of a connection (`struct rdma_conn_param`), sent with a connect or an accept and
/// reported for the peer's side in [`ConnectRequest::param`](super::ConnectRequest::param) and
/// [`Connection::peer_param`](super::Connection::peer_param).
///
/// The default is what rdmacm-utils' `rping` sends: one outstanding RDMA read each way, 7
/// transport retries, 7 RNR retries (infinite), no private data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnParam {
    /// Application data for the peer: at most [`CONNECT_PRIVATE_DATA_MAX`] bytes on a
    /// connect, [`ACCEPT_PRIVATE_DATA_MAX`] on an accept. InfiniBand delivers it padded with
    /// zeroes to the message's fixed size, so a receiver sees a longer slice that starts with
    /// these bytes.
    pub private_data: Vec<u8>,
    /// RDMA reads/atomics the peer may have outstanding against us (our QP's
    /// `max_dest_rd_atomic`).
    pub responder_resources: u8,
    /// RDMA reads/atomics we may have outstanding against the peer (our QP's `max_rd_atomic`).
    pub initiator_depth: u8,
    /// Whether we support end-to-end flow control (InfiniBand only).
    pub flow_control: bool,
    /// Transport retries on a lost packet, 0..=7 (connect only).
    pub retry_count: u8,
    /// Retries after a receiver-not-ready NAK, 0..=7, 7 = forever.
    pub rnr_retry_count: u8,
}

impl Default for ConnParam {
    fn default() -> Self {
        ConnParam {
            private_data: Vec::new(),
            responder_resources: 1,
            initiator_depth: 1,
            flow_control: false,
            retry_count: 7,
            rnr_retry_count: 7,
        }
    }
}

impl ConnParam {
    /// The default parameters with `data` as private data.
    pub fn with_private_data(data: &[u8]) -> Self {
        ConnParam {
            private_data: data.to_vec(),
            ..ConnParam::default()
        }
    }

    /// Checks the parameters for a message that carries at most `max_private` bytes of private
    /// data; `what` names the message in the error ("connect", "accept").
    pub(crate) fn validate(&self, what: &str, max_private: usize) -> Result<()> {
        if self.private_data.len() > max_private {
            return Err(Error::InvalidArgument(format!(
                "RDMA CM {what}: {} bytes of private data, the most it carries is {max_private}",
                self.private_data.len()
            )));
        }
        for (name, value) in [
            ("retry_count", self.retry_count),
            ("rnr_retry_count", self.rnr_retry_count),
        ] {
            if value > 7 {
                return Err(Error::InvalidArgument(format!(
                    "RDMA CM {what}: {name} is {value}, it is a 3-bit field (0..=7)"
                )));
            }
        }
        Ok(())
    }

    /// The raw struct for `qp_num`, pointing into `self.private_data` (valid while `self`
    /// lives and is not changed). Call [`validate`](Self::validate) first.
    pub(crate) fn to_raw(&self, qp_num: u32, srq: bool) -> rdma_conn_param {
        rdma_conn_param {
            private_data: if self.private_data.is_empty() {
                std::ptr::null()
            } else {
                self.private_data.as_ptr().cast()
            },
            // validate() bounds the length by at most 196.
            private_data_len: self.private_data.len() as u8,
            responder_resources: self.responder_resources,
            initiator_depth: self.initiator_depth,
            flow_control: self.flow_control as u8,
            retry_count: self.retry_count,
            rnr_retry_count: self.rnr_retry_count,
            srq: srq as u8,
            qp_num,
        }
    }

    /// Copies what an event reports about the peer's side: its private data and parameters.
    ///
    /// # Safety
    /// `raw.private_data` must be null or valid for reads of `raw.private_data_len` bytes.
    pub(crate) unsafe fn from_raw(raw: &rdma_conn_param) -> Self {
        let len = usize::from(raw.private_data_len);
        let private_data = if raw.private_data.is_null() || len == 0 {
            Vec::new()
        } else {
            // SAFETY: the caller guarantees `len` readable bytes at `private_data`.
            unsafe { std::slice::from_raw_parts(raw.private_data.cast::<u8>(), len) }.to_vec()
        };
        ConnParam {
            private_data,
            responder_resources: raw.responder_resources,
            initiator_depth: raw.initiator_depth,
            flow_control: raw.flow_control != 0,
            retry_count: raw.retry_count,
            rnr_retry_count: raw.rnr_retry_count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn defaults_are_rpings() {
        let p = ConnParam::default();
        assert_eq!(
            (
                p.responder_resources,
                p.initiator_depth,
                p.retry_count,
                p.rnr_retry_count
            ),
            (1, 1, 7, 7)
        );
        assert!(p.private_data.is_empty() && !p.flow_control);
    }

    #[test]
    fn private_data_limits_name_the_message_and_sizes() {
        let ok = ConnParam::with_private_data(&[7; CONNECT_PRIVATE_DATA_MAX]);
        ok.validate("connect", CONNECT_PRIVATE_DATA_MAX).unwrap();
        let big = ConnParam::with_private_data(&[7; CONNECT_PRIVATE_DATA_MAX + 1]);
        let Err(Error::InvalidArgument(msg)) = big.validate("connect", CONNECT_PRIVATE_DATA_MAX)
        else {
            panic!("57 bytes on a connect must be refused");
        };
        assert!(
            msg.contains("connect") && msg.contains("57") && msg.contains("56"),
            "{msg}"
        );
        big.validate("accept", ACCEPT_PRIVATE_DATA_MAX).unwrap();
    }

    #[test]
    fn retry_counts_are_three_bits() {
        let p = ConnParam {
            rnr_retry_count: 8,
            ..ConnParam::default()
        };
        let Err(Error::InvalidArgument(msg)) = p.validate("connect", 56) else {
            panic!("rnr_retry_count 8 must be refused");
        };
        assert!(msg.contains("rnr_retry_count is 8"), "{msg}");
        let p = ConnParam {
            retry_count: 9,
            ..ConnParam::default()
        };
        assert!(p.validate("connect", 56).is_err());
    }

    #[test]
    fn raw_round_trip() {
        let p = ConnParam {
            private_data: b"hello".to_vec(),
            responder_resources: 2,
            initiator_depth: 3,
            flow_control: true,
            retry_count: 5,
            rnr_retry_count: 6,
        };
        let raw = p.to_raw(0x12345, true);
        assert_eq!((raw.qp_num, raw.srq, raw.private_data_len), (0x12345, 1, 5));
        // SAFETY: `raw` points into `p.private_data`, which lives and holds 5 bytes.
        assert_eq!(unsafe { ConnParam::from_raw(&raw) }, p);
        let empty = ConnParam::default().to_raw(1, false);
        assert!(empty.private_data.is_null());
        // SAFETY: a null pointer with length 0.
        assert_eq!(unsafe { ConnParam::from_raw(&empty) }, ConnParam::default());
    }
}
