//! The extended post API (`ibv_create_qp_ex`, `ibv_wr_*`): [`PostApi`], chosen when a QP is
//! built, and how an extended QP posts its sends.
//!
//! A QP keeps one function of `ibv_post_send`'s shape, chosen when it is made: the
//! provider's `post_send` (classic), or [`post_send_extended`], which translates a chain of
//! `ibv_send_wr`s into `ibv_wr_*` calls inside one `ibv_wr_start` … `ibv_wr_complete`.
//! Gathers, the prepared layer's templates and chains ([`crate::prepared`]) and
//! [`QueuePair::post_send_raw`] go through it. [`QueuePair::post_send`] and
//! [`SendBatch::post`](super::SendBatch::post) of an extended QP instead branch once per
//! post to [`extended_post`](super::extended_post), which calls the builders straight from
//! the checked request. Either way both APIs share the checks, the in-flight ring and the
//! ownership rules; only the call that hands requests to the provider differs. Receives are
//! the same on both (`ibv_post_recv`).
//!
//! `ibv_wr_complete` posts all the requests built since `ibv_wr_start` or none (rxe and mlx5
//! roll the whole batch back when a builder or setter failed): a failed post of an extended QP
//! posts nothing, and every buffer of the batch is handed back.
//!
//! Mixing the two APIs on one QP is valid: ibv_wr_post(3) allows `ibv_post_send` batches and
//! `ibv_wr_*` batches to interleave as long as neither is posted inside the other's critical
//! section, and rxe and mlx5 take the same send-queue lock and producer index in both
//! (`rxe_post_send` and `wr_start`; `_mlx5_post_send` and `mlx5_send_wr_start`). This crate
//! never leaves a critical section open past one post call, so nothing it does can interleave
//! inside one.

use super::extended_post::build_op;
use super::gather::MAX_PIECES;
use super::{QpType, QueuePair};
use crate::error::{Error, Result};
use crate::pd::ProtectionDomain;
use crate::sys;
use crate::sys::ibv_qp_create_send_ops_flags as with;
use crate::sys::ibv_send_flags as flag;
use std::ffi::c_int;
use std::ptr::{self, NonNull};

/// How a queue pair posts its sends, chosen when it is built ([`super::QpBuilder::post_api`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PostApi {
    /// `ibv_create_qp` and `ibv_post_send`: one call per post or chain.
    #[default]
    Classic,
    /// `ibv_create_qp_ex` with the send ops flags of the QP's type, and `ibv_wr_start`,
    /// `ibv_wr_*`, `ibv_wr_complete` per post or batch. Needs a provider that offers them
    /// (rxe and mlx5 do); otherwise building the QP fails with [`Error::Unsupported`].
    Extended,
}

impl PostApi {
    /// The verb that reports a failed send post of this API, for errors.
    pub(crate) fn send_verb(self) -> &'static str {
        match self {
            PostApi::Classic => "ibv_post_send",
            PostApi::Extended => "ibv_wr_complete",
        }
    }
}

/// A function of `ibv_post_send`'s shape: how a QP hands send requests to the provider.
pub(crate) type PostSendFn = unsafe extern "C" fn(
    *mut sys::ibv_qp,
    *mut sys::ibv_send_wr,
    *mut *mut sys::ibv_send_wr,
) -> c_int;

/// The send ops flags an extended QP of type `t` is created with: every operation the safe API
/// posts on it (atomics only when the device offers them).
pub(crate) fn send_ops_flags(t: QpType, atomics: bool) -> u64 {
    let uc = with::IBV_QP_EX_WITH_SEND
        | with::IBV_QP_EX_WITH_SEND_WITH_IMM
        | with::IBV_QP_EX_WITH_RDMA_WRITE
        | with::IBV_QP_EX_WITH_RDMA_WRITE_WITH_IMM;
    let flags = match t {
        QpType::Uc => uc,
        // Not built extended (a UdQueuePair posts with ibv_post_send): SEND only.
        QpType::Ud => with::IBV_QP_EX_WITH_SEND | with::IBV_QP_EX_WITH_SEND_WITH_IMM,
        QpType::Rc if atomics => {
            uc | with::IBV_QP_EX_WITH_RDMA_READ
                | with::IBV_QP_EX_WITH_ATOMIC_CMP_AND_SWP
                | with::IBV_QP_EX_WITH_ATOMIC_FETCH_AND_ADD
        }
        QpType::Rc => uc | with::IBV_QP_EX_WITH_RDMA_READ,
    };
    flags as u64
}

/// What a device that refuses `ibv_create_qp_ex` with `send_ops_flags(t, _)` lacks.
fn refused_flags(t: QpType) -> &'static str {
    match t {
        QpType::Rc => {
            "the extended post API for RC QPs (ibv_create_qp_ex with send_ops_flags SEND, \
             SEND_WITH_IMM, RDMA_WRITE, RDMA_WRITE_WITH_IMM, RDMA_READ and, when the device \
             has atomics, ATOMIC_CMP_AND_SWP and ATOMIC_FETCH_AND_ADD)"
        }
        QpType::Uc => {
            "the extended post API for UC QPs (ibv_create_qp_ex with send_ops_flags SEND, \
             SEND_WITH_IMM, RDMA_WRITE and RDMA_WRITE_WITH_IMM)"
        }
        QpType::Ud => {
            "the extended post API for UD QPs (ibv_create_qp_ex with send_ops_flags SEND and \
             SEND_WITH_IMM)"
        }
    }
}

/// The error of `ibv_create_qp_ex` failing with `err` for a QP of type `t` on `device`:
/// [`Error::Unsupported`] naming the send ops flags for `EOPNOTSUPP` (the provider has no
/// extended QPs, or not with these operations), the verb's error otherwise.
pub(crate) fn create_error(err: std::io::Error, t: QpType, device: &str) -> Error {
    if err.raw_os_error() == Some(libc::EOPNOTSUPP) {
        return Error::Unsupported {
            what: refused_flags(t),
            device: device.to_string(),
        };
    }
    Error::Verb {
        verb: "ibv_create_qp_ex",
        source: err,
    }
}

/// The first operation of the extended API that a QP of type `t` needs and `qpx` lacks (the
/// provider left its pointer NULL), by its verb and send ops flag; `None` when it has them
/// all. Atomics count only with `atomics`.
pub(crate) fn missing_op(qpx: &sys::ibv_qp_ex, t: QpType, atomics: bool) -> Option<&'static str> {
    let rc = t == QpType::Rc;
    let needed = [
        (qpx.wr_start.is_some(), true, "ibv_wr_start"),
        (qpx.wr_complete.is_some(), true, "ibv_wr_complete"),
        (qpx.wr_abort.is_some(), true, "ibv_wr_abort"),
        (qpx.wr_set_sge.is_some(), true, "ibv_wr_set_sge"),
        (qpx.wr_set_sge_list.is_some(), true, "ibv_wr_set_sge_list"),
        (
            qpx.wr_set_inline_data.is_some(),
            true,
            "ibv_wr_set_inline_data",
        ),
        (
            qpx.wr_set_inline_data_list.is_some(),
            true,
            "ibv_wr_set_inline_data_list",
        ),
        (
            qpx.wr_send.is_some(),
            true,
            "ibv_wr_send (IBV_QP_EX_WITH_SEND)",
        ),
        (
            qpx.wr_send_imm.is_some(),
            true,
            "ibv_wr_send_imm (IBV_QP_EX_WITH_SEND_WITH_IMM)",
        ),
        (
            qpx.wr_rdma_write.is_some(),
            true,
            "ibv_wr_rdma_write (IBV_QP_EX_WITH_RDMA_WRITE)",
        ),
        (
            qpx.wr_rdma_write_imm.is_some(),
            true,
            "ibv_wr_rdma_write_imm (IBV_QP_EX_WITH_RDMA_WRITE_WITH_IMM)",
        ),
        (
            qpx.wr_rdma_read.is_some(),
            rc,
            "ibv_wr_rdma_read (IBV_QP_EX_WITH_RDMA_READ)",
        ),
        (
            qpx.wr_atomic_cmp_swp.is_some(),
            rc && atomics,
            "ibv_wr_atomic_cmp_swp (IBV_QP_EX_WITH_ATOMIC_CMP_AND_SWP)",
        ),
        (
            qpx.wr_atomic_fetch_add.is_some(),
            rc && atomics,
            "ibv_wr_atomic_fetch_add (IBV_QP_EX_WITH_ATOMIC_FETCH_AND_ADD)",
        ),
    ];
    needed
        .into_iter()
        .find(|&(has, needs, _)| needs && !has)
        .map(|(_, _, name)| name)
}

/// Creates an extended QP of type `t` (`ibv_create_qp_ex` with `IBV_QP_INIT_ATTR_PD` and the
/// send ops flags of `t`) from `init`, whose capacities it updates as `ibv_create_qp` does.
/// Checks that the provider set every `ibv_wr_*` operation the QP needs, destroying it when
/// not.
pub(super) fn create(
    pd: &ProtectionDomain,
    init: &mut sys::ibv_qp_init_attr,
    t: QpType,
    atomics: bool,
) -> Result<NonNull<sys::ibv_qp>> {
    let mut attr = sys::ibv_qp_init_attr_ex {
        qp_context: init.qp_context,
        send_cq: init.send_cq,
        recv_cq: init.recv_cq,
        srq: init.srq,
        cap: init.cap,
        qp_type: init.qp_type,
        sq_sig_all: init.sq_sig_all,
        comp_mask: sys::ibv_qp_init_attr_mask::IBV_QP_INIT_ATTR_PD
            | sys::ibv_qp_init_attr_mask::IBV_QP_INIT_ATTR_SEND_OPS_FLAGS,
        pd: pd.as_raw(),
        send_ops_flags: send_ops_flags(t, atomics),
        ..Default::default()
    };
    let device = || pd.context().name().to_string();
    // SAFETY: the context, PD, CQs (and SRQ) are live and kept alive by the QueuePair the
    // caller makes; `attr` is a valid attribute struct the provider updates.
    let raw = unsafe { sys::ibv_create_qp_ex(pd.context().as_raw(), &mut attr) };
    let raw = NonNull::new(raw)
        .ok_or_else(|| create_error(std::io::Error::last_os_error(), t, &device()))?;
    init.cap = attr.cap;
    // SAFETY: a QP just created; ibv_qp_to_qp_ex only reads it.
    let qpx = unsafe { sys::ibv_qp_to_qp_ex(raw.as_ptr()) };
    let missing = if qpx.is_null() {
        Some("the extended post API (ibv_qp_to_qp_ex found no ibv_qp_ex)")
    } else if qpx.cast::<sys::ibv_qp>() != raw.as_ptr() {
        // The header puts `qp_base` first and rdma-core's verbs_qp overlays both: a QP's
        // `ibv_qp_ex` starts where it does. `post_send_extended` relies on it.
        Some("the extended post API (its ibv_qp_ex does not start at its ibv_qp)")
    } else {
        // SAFETY: the live ibv_qp_ex of the QP just created.
        missing_op(unsafe { &*qpx }, t, atomics)
    };
    if let Some(what) = missing {
        // SAFETY: the QP was created above and nothing else refers to it.
        unsafe { sys::ibv_destroy_qp(raw.as_ptr()) };
        return Err(Error::Unsupported {
            what,
            device: device(),
        });
    }
    Ok(raw)
}

/// Builds one request of a chain on `qpx`, whose critical section is open: its `wr_id` and
/// flags, the builder of its opcode, and the setter of its data. An error (nothing built) for
/// an opcode this QP was not created with, or data the extended API cannot express (inline
/// data in more than one piece).
///
/// # Safety
/// `qpx` is live with a critical section open; `w` is a valid request whose SGEs describe
/// memory as `ibv_post_send` asks.
#[inline(always)]
unsafe fn build(qpx: *mut sys::ibv_qp_ex, w: &sys::ibv_send_wr) -> Result<(), c_int> {
    // SAFETY: per the caller, `qpx` is live with its session open; the QP is an extended
    // one (only those post through here), whose SEND and WRITE builders and setters were
    // checked when it was wrapped; `w`'s SGEs are as the caller promises.
    unsafe {
        build_op(qpx, w)?;
        let inline = w.send_flags & flag::IBV_SEND_INLINE != 0;
        match w.num_sge {
            // A setter ends every request (mlx5 finishes the WQE there); length 0 adds no data.
            0 => sys::ibv_wr_set_sge(qpx, 0, 0, 0),
            1 if inline => {
                let s = *w.sg_list;
                sys::ibv_wr_set_inline_data(qpx, s.addr as *mut _, s.length as usize)
            }
            1 => {
                let s = *w.sg_list;
                sys::ibv_wr_set_sge(qpx, s.lkey, s.addr, s.length)
            }
            n if n > 1 && !inline => sys::ibv_wr_set_sge_list(qpx, n as usize, w.sg_list),
            n if n > 1 && n as usize <= MAX_PIECES => {
                let mut bufs = [sys::ibv_data_buf {
                    addr: ptr::null_mut(),
                    length: 0,
                }; MAX_PIECES];
                for (i, b) in bufs.iter_mut().take(n as usize).enumerate() {
                    let s = *w.sg_list.add(i);
                    (b.addr, b.length) = (s.addr as *mut _, s.length as usize);
                }
                sys::ibv_wr_set_inline_data_list(qpx, n as usize, bufs.as_ptr())
            }
            _ => return Err(libc::EINVAL),
        }
    }
    Ok(())
}

/// The send post of an extended QP, in `ibv_post_send`'s shape: `ibv_wr_start`, each request
/// of the chain at `wr` built with its `ibv_wr_*` builder and setter, `ibv_wr_complete`. All
/// or nothing: on failure (`ibv_wr_complete`'s errno, or `EOPNOTSUPP`/`EINVAL` for a request
/// the QP cannot build, after `ibv_wr_abort`) nothing was posted and `*bad_wr` is `wr`.
///
/// # Safety
/// `qp` is a live QP whose `ibv_qp_ex` starts at it (checked when the QP was wrapped) and has
/// every operation [`missing_op`] asks for; otherwise as `ibv_post_send`.
pub(crate) unsafe extern "C" fn post_send_extended(
    qp: *mut sys::ibv_qp,
    wr: *mut sys::ibv_send_wr,
    bad_wr: *mut *mut sys::ibv_send_wr,
) -> c_int {
    let qpx = qp.cast::<sys::ibv_qp_ex>();
    // SAFETY: per the caller, `qpx` is the QP's live ibv_qp_ex with start, complete and abort
    // set; the chain is valid, and the critical section opened here is closed on every path.
    unsafe {
        sys::ibv_wr_start(qpx);
        let mut cur = wr;
        while let Some(w) = cur.as_ref() {
            if let Err(e) = build(qpx, w) {
                sys::ibv_wr_abort(qpx);
                *bad_wr = wr;
                return e;
            }
            cur = w.next;
        }
        let ret = sys::ibv_wr_complete(qpx);
        if ret != 0 {
            *bad_wr = wr;
        }
        ret
    }
}

impl QueuePair {
    /// How this QP posts its sends.
    pub fn post_api(&self) -> PostApi {
        self.post_api
    }

    /// Hands the chain at `wr` to the provider through this QP's post API.
    ///
    /// # Safety
    /// As `ibv_post_send` for this QP: `wr` heads a valid chain whose memory stays valid as
    /// its contract asks; `bad` is writable (it may be uninitialized: it is only written).
    #[inline(always)]
    pub(crate) unsafe fn post_send_chain(
        &self,
        wr: *mut sys::ibv_send_wr,
        bad: *mut *mut sys::ibv_send_wr,
    ) -> c_int {
        // SAFETY: `post_send` is the provider's post_send for this QP, or post_send_extended
        // for a QP checked when wrapped; the rest is the caller's contract.
        unsafe { (self.post_send)(self.as_raw(), wr, bad) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eopnotsupp_is_unsupported_naming_the_flags() {
        let e = create_error(
            std::io::Error::from_raw_os_error(libc::EOPNOTSUPP),
            QpType::Uc,
            "dev0",
        );
        let msg = e.to_string();
        assert!(matches!(e, Error::Unsupported { .. }), "{e:?}");
        assert!(
            msg.starts_with("dev0 does not support the extended post API for UC"),
            "{msg}"
        );
        assert!(msg.contains("RDMA_WRITE_WITH_IMM"), "{msg}");
    }

    #[test]
    fn other_errors_name_the_verb() {
        let e = create_error(
            std::io::Error::from_raw_os_error(libc::ENOMEM),
            QpType::Rc,
            "d",
        );
        assert_eq!(e.errno(), Some(libc::ENOMEM));
        assert!(e.to_string().contains("ibv_create_qp_ex"), "{e}");
    }

    #[test]
    fn uc_asks_for_no_read_or_atomics() {
        let uc = send_ops_flags(QpType::Uc, true);
        assert_eq!(uc & with::IBV_QP_EX_WITH_RDMA_READ as u64, 0);
        assert_eq!(uc & with::IBV_QP_EX_WITH_ATOMIC_FETCH_AND_ADD as u64, 0);
        let rc = send_ops_flags(QpType::Rc, true);
        assert_ne!(rc & with::IBV_QP_EX_WITH_ATOMIC_CMP_AND_SWP as u64, 0);
        let rc_plain = send_ops_flags(QpType::Rc, false);
        assert_eq!(rc_plain & with::IBV_QP_EX_WITH_ATOMIC_CMP_AND_SWP as u64, 0);
        assert_ne!(rc_plain & with::IBV_QP_EX_WITH_RDMA_READ as u64, 0);
    }
}
