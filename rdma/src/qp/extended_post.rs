//! The data path of an extended QP ([`PostApi::Extended`](super::PostApi)): single posts and
//! batches of requests that [`check_send`](QueuePair::check_send) accepted, built straight
//! with `ibv_wr_*` inside one `ibv_wr_start` … `ibv_wr_complete`.
//!
//! [`QueuePair::post_send`] and [`SendBatch::post`](super::SendBatch::post) branch here once
//! per post on the QP's post API. The checked request is still filled in as an
//! `ibv_send_wr` (the check is the classic API's, so both share it), but a single post's
//! request never leaves the stack frame: the compiler keeps its fields in registers and
//! calls the builders with them. Gathers (several SGEs) and raw posts keep the translation
//! of [`extended`](super::extended): they are not on this path.

use super::post::not_posted;
use super::post_error::PostError;
use super::send_wr::SendWr;
use super::QueuePair;
use crate::sys;
use crate::sys::ibv_send_flags as flag;
use crate::sys::ibv_wr_opcode as op;
use std::ffi::c_int;
use std::mem::MaybeUninit;

/// The verb whose failure an extended post reports.
const VERB: &str = "ibv_wr_complete";

/// Starts one request on `qpx`, whose critical section is open: its `wr_id` and flags and
/// the builder of its opcode, its data setter left to the caller. `EOPNOTSUPP` (nothing
/// built) for a READ or an atomic whose builder the QP lacks, or an opcode it has none for.
///
/// # Safety
/// `qpx` is the live `ibv_qp_ex` of an extended `QueuePair` (so the SEND and WRITE
/// builders, which `missing_op` asks of every type when the QP is wrapped, are set); `w`'s
/// union holds the view of its opcode.
#[inline(always)]
pub(super) unsafe fn build_op(qpx: *mut sys::ibv_qp_ex, w: &sys::ibv_send_wr) -> Result<(), c_int> {
    // SAFETY: per the caller, `qpx` is live and has the SEND and WRITE builders; READ and
    // the atomics are called only when set. The union fields read are those of the request's
    // opcode.
    unsafe {
        let q = &*qpx;
        (*qpx).wr_id = w.wr_id;
        (*qpx).wr_flags = w.send_flags;
        let imm = w.__bindgen_anon_1.imm_data;
        // Only the view of the opcode is read: the other's bytes may be uninitialized (a
        // struct assignment of the smaller view leaves its padding so).
        match w.opcode {
            op::IBV_WR_SEND => sys::ibv_wr_send(qpx),
            op::IBV_WR_SEND_WITH_IMM => sys::ibv_wr_send_imm(qpx, imm),
            op::IBV_WR_RDMA_WRITE => {
                sys::ibv_wr_rdma_write(qpx, w.wr.rdma.rkey, w.wr.rdma.remote_addr)
            }
            op::IBV_WR_RDMA_WRITE_WITH_IMM => {
                sys::ibv_wr_rdma_write_imm(qpx, w.wr.rdma.rkey, w.wr.rdma.remote_addr, imm)
            }
            op::IBV_WR_RDMA_READ if q.wr_rdma_read.is_some() => {
                sys::ibv_wr_rdma_read(qpx, w.wr.rdma.rkey, w.wr.rdma.remote_addr)
            }
            op::IBV_WR_ATOMIC_CMP_AND_SWP if q.wr_atomic_cmp_swp.is_some() => {
                sys::ibv_wr_atomic_cmp_swp(
                    qpx,
                    w.wr.atomic.rkey,
                    w.wr.atomic.remote_addr,
                    w.wr.atomic.compare_add,
                    w.wr.atomic.swap,
                )
            }
            op::IBV_WR_ATOMIC_FETCH_AND_ADD if q.wr_atomic_fetch_add.is_some() => {
                sys::ibv_wr_atomic_fetch_add(
                    qpx,
                    w.wr.atomic.rkey,
                    w.wr.atomic.remote_addr,
                    w.wr.atomic.compare_add,
                )
            }
            _ => return Err(libc::EOPNOTSUPP),
        }
    }
    Ok(())
}

/// Builds one checked request on `qpx`, whose critical section is open: [`build_op`], then
/// the setter of its one SGE (or an empty one).
/// `EOPNOTSUPP` (nothing built) for a READ or an atomic whose builder the QP lacks.
///
/// # Safety
/// `qpx` is the live `ibv_qp_ex` of `QueuePair` whose `check_send` accepted `w` (so
/// `num_sge` is 0 or 1, and the SEND and WRITE builders, which `missing_op` asks of every
/// type, are set); with `num_sge` 1, `sge` points to the request's SGE, describing memory
/// as `ibv_post_send` asks.
#[inline(always)]
pub(super) unsafe fn build_checked(
    qpx: *mut sys::ibv_qp_ex,
    w: &sys::ibv_send_wr,
    sge: *const sys::ibv_sge,
) -> Result<(), c_int> {
    // SAFETY: per the caller: an extended QP's `qpx` with its session open, and `w` checked;
    // every setter is set (checked when the QP was wrapped); `sge` as the caller promises.
    unsafe {
        build_op(qpx, w)?;
        if w.num_sge == 0 {
            // A setter ends every request (mlx5 finishes the WQE there); length 0 adds no data.
            sys::ibv_wr_set_sge(qpx, 0, 0, 0);
        } else if w.send_flags & flag::IBV_SEND_INLINE != 0 {
            let s = *sge;
            sys::ibv_wr_set_inline_data(qpx, s.addr as *mut _, s.length as usize);
        } else {
            let s = *sge;
            sys::ibv_wr_set_sge(qpx, s.lkey, s.addr, s.length);
        }
    }
    Ok(())
}

/// Posts the `n` checked requests `wrs[..n]` (each with its SGE at the same index of `sges`)
/// in one critical section: all or nothing. Returns 0, `ibv_wr_complete`'s errno, or
/// `EOPNOTSUPP` after `ibv_wr_abort` for a request the QP cannot build.
///
/// # Safety
/// As [`build_checked`] for each request, `1 <= n <= N`; `wrs[..n]` are initialized, and so is
/// the SGE of each of them with `num_sge` 1.
#[inline(always)]
pub(super) unsafe fn post_checked<const N: usize>(
    qpx: *mut sys::ibv_qp_ex,
    wrs: &[MaybeUninit<sys::ibv_send_wr>; N],
    sges: &[MaybeUninit<sys::ibv_sge>; N],
    n: usize,
) -> c_int {
    // SAFETY: per the caller; the critical section opened here is closed on every path.
    unsafe {
        sys::ibv_wr_start(qpx);
        // One counter (an iterator over both arrays would keep two).
        for i in 0..n {
            let (w, s) = (wrs.get_unchecked(i), sges.get_unchecked(i));
            if let Err(e) = build_checked(qpx, w.assume_init_ref(), s.as_ptr()) {
                sys::ibv_wr_abort(qpx);
                return e;
            }
        }
        sys::ibv_wr_complete(qpx)
    }
}

impl QueuePair {
    /// The QP's `ibv_qp_ex` (an extended QP's starts at its `ibv_qp`: checked when wrapped).
    #[inline(always)]
    pub(super) fn as_raw_ex(&self) -> *mut sys::ibv_qp_ex {
        self.as_raw().cast()
    }

    /// [`post_send`](Self::post_send) of a single request on an extended QP: the same check
    /// and staging, then `ibv_wr_start`, its builder and setter, `ibv_wr_complete`.
    #[inline(always)]
    pub(super) fn post_send_ex(&mut self, wr: SendWr<'_>) -> Result<(), PostError> {
        let mut raw = [MaybeUninit::new(sys::ibv_send_wr::default())];
        let mut sge = [MaybeUninit::uninit()];
        // SAFETY: just written.
        self.stage_send(0, wr, unsafe { raw[0].assume_init_mut() }, &mut sge[0])?;
        // SAFETY: an extended QP; `raw` was accepted by `check_send` and its SGE (if any)
        // describes memory owned by the ring entry just staged, shared with this QP, or
        // (inline) copied by the setter before it returns.
        let ret = unsafe { post_checked(self.as_raw_ex(), &raw, &sge, 1) };
        if ret != 0 {
            return Err(not_posted(&mut self.sq, VERB, ret, 0, 1));
        }
        self.sq.commit(1);
        Ok(())
    }

    /// [`SendBatch::post`](super::SendBatch::post) on an extended QP: the `n` staged requests
    /// in one critical section, all posted or none (then all handed back).
    ///
    /// # Safety
    /// `wrs[..n]` were staged by `stage_send` on this QP (and the SGE of each with data
    /// written), and what their SGEs describe stays valid as `ibv_post_send` asks.
    #[inline(always)]
    pub(super) unsafe fn post_batch_ex<const N: usize>(
        &mut self,
        wrs: &[MaybeUninit<sys::ibv_send_wr>; N],
        sges: &[MaybeUninit<sys::ibv_sge>; N],
        n: usize,
    ) -> Result<(), PostError> {
        if n == 0 {
            return Ok(());
        }
        // SAFETY: an extended QP; the rest is the caller's contract.
        let ret = unsafe { post_checked(self.as_raw_ex(), wrs, sges, n) };
        if ret != 0 {
            return Err(not_posted(&mut self.sq, VERB, ret, 0, n));
        }
        self.sq.commit(n);
        Ok(())
    }
}
