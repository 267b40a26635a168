//! Queue pairs this crate did not create: the control verbs they are driven with, and how
//! one is wrapped.

use super::{QpCaps, QpParts, QpState, QpType, QueuePair};
use crate::cq::CompletionQueue;
use crate::pd::ProtectionDomain;
use crate::sys;
use std::ffi::c_int;
use std::ptr::NonNull;

/// The control-path verbs a queue pair is modified, queried and destroyed with. Posting and
/// polling always go through the provider's ops table, as the header's inline verbs do.
#[derive(Clone, Copy, Debug)]
pub struct QpOps {
    /// Changes the QP's attributes (`ibv_modify_qp`).
    pub modify: unsafe extern "C" fn(*mut sys::ibv_qp, *mut sys::ibv_qp_attr, c_int) -> c_int,
    /// Reads the QP's attributes (`ibv_query_qp`).
    pub query: unsafe extern "C" fn(
        *mut sys::ibv_qp,
        *mut sys::ibv_qp_attr,
        c_int,
        *mut sys::ibv_qp_init_attr,
    ) -> c_int,
    /// Destroys the QP (`ibv_destroy_qp`).
    pub destroy: sys::DestroyFn<sys::ibv_qp>,
}

impl QpOps {
    /// libibverbs' own verbs: what every QP this crate creates uses.
    pub const VERBS: QpOps = QpOps {
        modify: sys::ibv_modify_qp,
        query: sys::ibv_query_qp,
        destroy: sys::ibv_destroy_qp,
    };
}

impl QueuePair {
    /// Wraps an RC or UC queue pair this crate did not create, in the state `raw->state` says.
    /// State changes, queries and destruction go through `ops`; dropping it calls
    /// `ops.destroy` first, then frees the buffers it held.
    ///
    /// # Safety
    /// `raw` is a live `IBV_QPT_RC` or `IBV_QPT_UC` `ibv_qp` of `pd` that nothing else destroys or posts on,
    /// created with `send_cq` and `recv_cq` (no SRQ), room for at least `caps` and
    /// `sq_sig_all` = `sig_all`. Posting on it through its context's ops table is valid, and
    /// each completion carries the `wr_id` its request was posted with. `ops` are valid for
    /// it, and `ops.destroy` stops the device's use of memory for it when it returns 0.
    pub unsafe fn from_raw_parts(
        raw: NonNull<sys::ibv_qp>,
        pd: &ProtectionDomain,
        send_cq: &CompletionQueue,
        recv_cq: &CompletionQueue,
        caps: QpCaps,
        sig_all: bool,
        ops: &'static QpOps,
    ) -> Self {
        // SAFETY: the caller's live QP; state is a plain field.
        let state = QpState::from_raw(unsafe { (*raw.as_ptr()).state });
        let parts = QpParts {
            pd,
            send_cq,
            recv_cq,
            srq: None,
            caps,
            sig_all,
            ops,
            // Not asked: the provider takes or refuses atomics itself.
            atomics: true,
            // SAFETY: per the contract, a live QP; qp_type is a plain field.
            qp_type: match unsafe { (*raw.as_ptr()).qp_type } {
                sys::ibv_qp_type::IBV_QPT_UC => QpType::Uc,
                sys::ibv_qp_type::IBV_QPT_UD => QpType::Ud,
                _ => QpType::Rc,
            },
        };
        // SAFETY: per this function's contract, `raw` is a live QP made over these parts.
        unsafe { QueuePair::assemble(raw, parts, state) }
    }
}
