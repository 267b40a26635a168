//! Queue pairs this crate did not create: the control verbs they are driven with, and how
//! one is wrapped.

use super::extended::missing_op;
use super::{PostApi, QpCaps, QpParts, QpState, QpType, QueuePair};
use crate::cq::CompletionQueue;
use crate::error::{Error, Result};
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
        // SAFETY: forwarded from this function's contract.
        unsafe {
            Self::wrap_raw(
                raw,
                pd,
                send_cq,
                recv_cq,
                caps,
                sig_all,
                ops,
                PostApi::Classic,
            )
        }
    }

    /// As [`from_raw_parts`](Self::from_raw_parts), for a QP created with send ops flags
    /// (`ibv_create_qp_ex`), given by its `ibv_qp_ex`: it posts its sends with `ibv_wr_*`
    /// ([`PostApi::Extended`]). The QP offers atomics when its atomic builders are set.
    /// Fails with [`Error::Unsupported`] naming the first `ibv_wr_*` operation of the QP's type
    /// that the provider left unset; the QP is then destroyed with `ops.destroy`.
    ///
    /// # Safety
    /// As [`from_raw_parts`](Self::from_raw_parts), for `raw`'s `qp_base`; the operations
    /// `raw` has set are valid for it.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn from_raw_parts_extended(
        raw: NonNull<sys::ibv_qp_ex>,
        pd: &ProtectionDomain,
        send_cq: &CompletionQueue,
        recv_cq: &CompletionQueue,
        caps: QpCaps,
        sig_all: bool,
        ops: &'static QpOps,
    ) -> Result<Self> {
        // SAFETY: per the contract, a live ibv_qp_ex; its `qp_base` is its first field, so
        // the two pointers are one (what `post_send_extended` relies on).
        let qpx = unsafe { raw.as_ref() };
        let t = qp_type_of(&qpx.qp_base);
        let atomics = qpx.wr_atomic_cmp_swp.is_some() && qpx.wr_atomic_fetch_add.is_some();
        let qp = raw.cast::<sys::ibv_qp>();
        if let Some(what) = missing_op(qpx, t, atomics) {
            // SAFETY: per the contract, ours to destroy, and destroyed once.
            unsafe { (ops.destroy)(qp.as_ptr()) };
            return Err(Error::Unsupported {
                what,
                device: pd.context().name().to_string(),
            });
        }
        // SAFETY: forwarded from this function's contract; the operations were just checked.
        let mut qp = unsafe {
            Self::wrap_raw(
                qp,
                pd,
                send_cq,
                recv_cq,
                caps,
                sig_all,
                ops,
                PostApi::Extended,
            )
        };
        qp.atomics = atomics;
        Ok(qp)
    }

    /// The handle of a QP made by other code, by `from_raw_parts`' contract.
    ///
    /// # Safety
    /// As [`from_raw_parts`](Self::from_raw_parts); for [`PostApi::Extended`], as
    /// [`QueuePair::assemble`]'s.
    #[allow(clippy::too_many_arguments)]
    unsafe fn wrap_raw(
        raw: NonNull<sys::ibv_qp>,
        pd: &ProtectionDomain,
        send_cq: &CompletionQueue,
        recv_cq: &CompletionQueue,
        caps: QpCaps,
        sig_all: bool,
        ops: &'static QpOps,
        post_api: PostApi,
    ) -> Self {
        // SAFETY: the caller's live QP; state and qp_type are plain fields.
        let (state, qp_type) = unsafe {
            let r = raw.as_ref();
            (QpState::from_raw(r.state), qp_type_of(r))
        };
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
            qp_type,
            post_api,
        };
        // SAFETY: per this function's contract, `raw` is a live QP made over these parts.
        unsafe { QueuePair::assemble(raw, parts, state) }
    }
}

/// The transport of a raw QP: UC or UD if it says so, else RC (the contracts allow RC and
/// UC; a UD one is known as such, so that `connect` refuses it).
fn qp_type_of(qp: &sys::ibv_qp) -> QpType {
    match qp.qp_type {
        sys::ibv_qp_type::IBV_QPT_UC => QpType::Uc,
        sys::ibv_qp_type::IBV_QPT_UD => QpType::Ud,
        _ => QpType::Rc,
    }
}
