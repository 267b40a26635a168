//! Work completions: the raw entries a CQ poll fills in, and their typed status.

use crate::sys;
use std::fmt;

macro_rules! wc_status {
    ($( $(#[$doc:meta])* $name:ident = $raw:ident, $text:literal; )*) => {
        /// The status of a work completion (`enum ibv_wc_status`), one variant per value.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum WcStatus {
            $( $(#[$doc])* $name, )*
            /// A value newer than this crate knows.
            Unknown(u32),
        }

        impl WcStatus {
            /// Maps a raw `ibv_wc_status`.
            #[inline]
            pub fn from_raw(raw: u32) -> Self {
                match raw {
                    $( sys::ibv_wc_status::$raw => WcStatus::$name, )*
                    other => WcStatus::Unknown(other),
                }
            }

            /// The raw `ibv_wc_status` value.
            pub fn to_raw(self) -> u32 {
                match self {
                    $( WcStatus::$name => sys::ibv_wc_status::$raw, )*
                    WcStatus::Unknown(raw) => raw,
                }
            }

            /// The text `ibv_wc_status_str` gives.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( WcStatus::$name => $text, )*
                    WcStatus::Unknown(_) => "unknown",
                }
            }
        }
    };
}

wc_status! {
    /// The work request completed successfully.
    Success = IBV_WC_SUCCESS, "success";
    /// Local length error: a receive buffer was too small, or a message exceeded the port MTU.
    LocalLength = IBV_WC_LOC_LEN_ERR, "local length error";
    /// Local QP operation error (e.g. too much inline data, a malformed WR).
    LocalQpOperation = IBV_WC_LOC_QP_OP_ERR, "local QP operation error";
    /// Local EE context operation error (RD only).
    LocalEecOperation = IBV_WC_LOC_EEC_OP_ERR, "local EE context operation error";
    /// Local protection error: an SGE used a bad lkey or fell outside its MR.
    LocalProtection = IBV_WC_LOC_PROT_ERR, "local protection error";
    /// The WR was flushed because the QP entered the error state.
    WrFlush = IBV_WC_WR_FLUSH_ERR, "Work Request Flushed Error";
    /// Memory window bind error.
    MwBind = IBV_WC_MW_BIND_ERR, "memory management operation error";
    /// Unexpected transport response from the responder.
    BadResponse = IBV_WC_BAD_RESP_ERR, "bad response error";
    /// Local access error (protection error on an incoming RDMA write with immediate or read response).
    LocalAccess = IBV_WC_LOC_ACCESS_ERR, "local access error";
    /// The responder saw an invalid request (e.g. a message too long for its receive buffer).
    RemoteInvalidRequest = IBV_WC_REM_INV_REQ_ERR, "remote invalid request error";
    /// Remote access error: bad rkey, access outside the remote MR, or missing remote access right.
    RemoteAccess = IBV_WC_REM_ACCESS_ERR, "remote access error";
    /// The responder could not complete the operation.
    RemoteOperation = IBV_WC_REM_OP_ERR, "remote operation error";
    /// Transport retries exhausted: the peer did not answer (gone, or unreachable).
    RetryExceeded = IBV_WC_RETRY_EXC_ERR, "transport retry counter exceeded";
    /// Receiver-not-ready retries exhausted: the peer had no receive posted.
    RnrRetryExceeded = IBV_WC_RNR_RETRY_EXC_ERR, "RNR retry counter exceeded";
    /// Local RDD violation (RD only).
    LocalRddViolation = IBV_WC_LOC_RDD_VIOL_ERR, "local RDD violation error";
    /// Remote invalid RD request (RD only).
    RemoteInvalidRdRequest = IBV_WC_REM_INV_RD_REQ_ERR, "remote invalid RD request";
    /// The remote side aborted the operation.
    RemoteAbort = IBV_WC_REM_ABORT_ERR, "aborted error";
    /// Invalid EE context number (RD only).
    InvalidEecn = IBV_WC_INV_EECN_ERR, "invalid EE context number";
    /// Invalid EE context state (RD only).
    InvalidEecState = IBV_WC_INV_EEC_STATE_ERR, "invalid EE context state";
    /// Fatal error.
    Fatal = IBV_WC_FATAL_ERR, "fatal error";
    /// Response timeout.
    ResponseTimeout = IBV_WC_RESP_TIMEOUT_ERR, "response timeout error";
    /// General error.
    General = IBV_WC_GENERAL_ERR, "general error";
    /// Tag matching error.
    TagMatching = IBV_WC_TM_ERR, "TM error";
    /// Tag matching rendezvous incomplete.
    TagMatchingRendezvousIncomplete = IBV_WC_TM_RNDV_INCOMPLETE, "TM software rendezvous";
}

impl fmt::Display for WcStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WcStatus::Unknown(raw) => write!(f, "unknown completion status {raw}"),
            s => f.write_str(s.as_str()),
        }
    }
}

/// What a work completion completed (`enum ibv_wc_opcode`); valid only for successful ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WcOpcode {
    /// A SEND (with or without immediate).
    Send,
    /// An RDMA WRITE (with or without immediate), on the requester.
    RdmaWrite,
    /// An RDMA READ.
    RdmaRead,
    /// An atomic compare-and-swap.
    CompSwap,
    /// An atomic fetch-and-add.
    FetchAdd,
    /// A memory window bind.
    BindMw,
    /// A local invalidate.
    LocalInv,
    /// A receive consumed by a SEND.
    Recv,
    /// A receive consumed by an RDMA WRITE with immediate.
    RecvRdmaWithImm,
    /// Another opcode.
    Other(u32),
}

impl WcOpcode {
    /// Maps a raw `ibv_wc_opcode`.
    #[inline]
    pub fn from_raw(raw: u32) -> Self {
        use sys::ibv_wc_opcode::*;
        match raw {
            IBV_WC_SEND => WcOpcode::Send,
            IBV_WC_RDMA_WRITE => WcOpcode::RdmaWrite,
            IBV_WC_RDMA_READ => WcOpcode::RdmaRead,
            IBV_WC_COMP_SWAP => WcOpcode::CompSwap,
            IBV_WC_FETCH_ADD => WcOpcode::FetchAdd,
            IBV_WC_BIND_MW => WcOpcode::BindMw,
            IBV_WC_LOCAL_INV => WcOpcode::LocalInv,
            IBV_WC_RECV => WcOpcode::Recv,
            IBV_WC_RECV_RDMA_WITH_IMM => WcOpcode::RecvRdmaWithImm,
            other => WcOpcode::Other(other),
        }
    }
}

/// One work completion exactly as the provider wrote it (`struct ibv_wc`).
///
/// Poll a CQ into a slice of these ([`crate::CompletionQueue::poll`]) and hand each to the queue
/// it belongs to ([`crate::QueuePair::complete`]) to get the buffer back. There is no public way
/// to build one with chosen contents: the `wr_id`s a queue checks on completion come only from
/// the device.
///
/// `Default` is an all-zero entry, to fill the slice before polling: `wr_id` 0 never matches
/// an outstanding request (queues number their `wr_id`s from 1).
#[repr(transparent)]
#[derive(Clone, Copy, Default)]
pub struct WorkCompletion(pub(crate) sys::ibv_wc);

impl WorkCompletion {
    /// The raw `wr_id` (the crate's own tag for posts made through the safe API).
    #[inline]
    pub fn raw_wr_id(&self) -> u64 {
        self.0.wr_id
    }
    /// The status.
    #[inline]
    pub fn status(&self) -> WcStatus {
        WcStatus::from_raw(self.0.status)
    }
    /// True when the status is success.
    #[inline]
    pub fn is_ok(&self) -> bool {
        self.0.status == sys::ibv_wc_status::IBV_WC_SUCCESS
    }
    /// The opcode (meaningful only when [`is_ok`](Self::is_ok)).
    #[inline]
    pub fn opcode(&self) -> WcOpcode {
        WcOpcode::from_raw(self.0.opcode)
    }
    /// True for completions of the receive side (receive queue or SRQ).
    #[inline]
    pub fn is_recv(&self) -> bool {
        self.0.opcode & sys::ibv_wc_opcode::IBV_WC_RECV != 0
    }
    /// Bytes received (receive completions) or read.
    #[inline]
    pub fn byte_len(&self) -> u32 {
        self.0.byte_len
    }
    /// The immediate data in host order, when the completion carries one.
    #[inline]
    pub fn imm_data(&self) -> Option<u32> {
        if self.0.wc_flags & sys::ibv_wc_flags::IBV_WC_WITH_IMM != 0 {
            // SAFETY: the provider wrote imm_data when it set IBV_WC_WITH_IMM; it is a plain u32.
            Some(u32::from_be(unsafe { self.0.__bindgen_anon_1.imm_data }))
        } else {
            None
        }
    }
    /// The local QP number the completion belongs to.
    #[inline]
    pub fn qp_num(&self) -> u32 {
        self.0.qp_num
    }
    /// The remote QP number (UD receives).
    #[inline]
    pub fn src_qp(&self) -> u32 {
        self.0.src_qp
    }
    /// The vendor-specific error syndrome.
    #[inline]
    pub fn vendor_err(&self) -> u32 {
        self.0.vendor_err
    }
    /// The raw `struct ibv_wc`.
    #[inline]
    pub fn as_raw(&self) -> &sys::ibv_wc {
        &self.0
    }
}

impl fmt::Debug for WorkCompletion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkCompletion")
            .field("wr_id", &self.0.wr_id)
            .field("status", &self.status())
            .field("opcode", &self.opcode())
            .field("byte_len", &self.0.byte_len)
            .field("qp_num", &self.0.qp_num)
            .field("imm_data", &self.imm_data())
            .finish()
    }
}

/// A work completion whose status was not success.
#[derive(Debug, Clone, thiserror::Error)]
#[error("work request {wr_id} on QP {qp_num:#x} failed: {status} (vendor error {vendor_err:#x})")]
pub struct CompletionError {
    /// The status.
    pub status: WcStatus,
    /// The caller's wr_id of the failed request.
    pub wr_id: u64,
    /// The QP it ran on.
    pub qp_num: u32,
    /// The vendor syndrome.
    pub vendor_err: u32,
}
