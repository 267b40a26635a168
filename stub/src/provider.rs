//! The provider itself: the fake structs and the `extern "C"` functions their context's ops
//! table points at.

use crate::extended::Extended;
use rdma_verbs::sys;
use rdma_verbs::QpCaps;
use std::cell::UnsafeCell;
use std::ffi::{c_int, c_void};
use std::hint::spin_loop;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::*};

/// The fake context: `ibv_context` first, so a `*mut ibv_context` is a `*mut StubContext`.
#[repr(C)]
pub(crate) struct StubContext {
    pub(crate) ctx: sys::ibv_context,
    pub(crate) device: sys::ibv_device,
    pub(crate) next_qpn: AtomicU32,
    pub(crate) next_key: AtomicU32,
    /// Regions made and not yet freed.
    pub(crate) live_mrs: AtomicUsize,
}

/// The fake CQ: `ibv_cq` first. `head..tail` (counted from 0, never wrapping) are queued.
#[repr(C)]
pub(crate) struct StubCq {
    pub(crate) cq: sys::ibv_cq,
    pub(crate) lock: AtomicBool,
    /// The next completion to poll; changed under the lock.
    pub(crate) head: AtomicUsize,
    /// The next slot to fill; changed under the lock.
    pub(crate) tail: AtomicUsize,
    pub(crate) slots: Box<[UnsafeCell<sys::ibv_wc>]>,
}

/// The fake QP: `ibv_qp_ex` first, whose `qp_base` is the `ibv_qp` (its `wr_*` operations
/// are set only on a QP made by `create_qp_ex`).
#[repr(C)]
pub(crate) struct StubQp {
    pub(crate) qpx: sys::ibv_qp_ex,
    pub(crate) caps: QpCaps,
    pub(crate) sig_all: bool,
    pub(crate) send_wrs: AtomicU64,
    pub(crate) send_doorbells: AtomicU64,
    pub(crate) recv_wrs: AtomicU64,
    pub(crate) recv_doorbells: AtomicU64,
    pub(crate) wr_completes: AtomicU64,
    /// The extended posts' state (see `extended`), touched only by the thread posting.
    pub(crate) ext: UnsafeCell<Extended>,
}

/// What the stub provider saw posted on one QP (raw and safe posts alike).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Send requests accepted.
    pub send_wrs: u64,
    /// `post_send` calls.
    pub send_doorbells: u64,
    /// Receive requests accepted.
    pub recv_wrs: u64,
    /// `post_recv` calls.
    pub recv_doorbells: u64,
    /// Extended posts: `wr_complete` calls that posted (each also counts as a send doorbell).
    pub wr_completes: u64,
}

/// Adds `n` to a counter. A load and a store, not an atomic add (no locked instruction on the
/// data path): posts to one QP are serialized (`&mut QueuePair`), so nothing is lost there.
#[inline(always)]
pub(crate) fn bump(c: &AtomicU64, n: u64) {
    c.store(c.load(Relaxed) + n, Relaxed);
}

/// The spin lock of a stub CQ, held while the guard lives.
pub(crate) struct Locked<'a>(&'a StubCq);

impl StubCq {
    #[inline(always)]
    pub(crate) fn lock(&self) -> Locked<'_> {
        while self.lock.swap(true, Acquire) {
            while self.lock.load(Relaxed) {
                spin_loop();
            }
        }
        Locked(self)
    }

    #[inline(always)]
    fn is_empty(&self) -> bool {
        self.head.load(Relaxed) == self.tail.load(Relaxed)
    }
}

impl Drop for Locked<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        self.0.lock.store(false, Release);
    }
}

impl Locked<'_> {
    /// Completions the CQ has room for.
    pub(crate) fn room(&self) -> usize {
        let cq = self.0;
        cq.slots.len() - (cq.tail.load(Relaxed) - cq.head.load(Relaxed))
    }

    /// Queues `wc`; false when the CQ is full.
    #[inline(always)]
    pub(crate) fn push(&self, wc: sys::ibv_wc) -> bool {
        let cq = self.0;
        let (head, tail) = (cq.head.load(Relaxed), cq.tail.load(Relaxed));
        if tail - head == cq.slots.len() {
            return false;
        }
        // SAFETY: under the lock nobody else reads or writes the slots, and slot `tail` is not
        // a queued one (the ring is not full).
        unsafe { *cq.slots[tail % cq.slots.len()].get() = wc };
        cq.tail.store(tail + 1, Relaxed);
        true
    }
}

pub(crate) fn success(wr_id: u64, opcode: u32, byte_len: u32, qp_num: u32) -> sys::ibv_wc {
    sys::ibv_wc {
        wr_id,
        status: sys::ibv_wc_status::IBV_WC_SUCCESS,
        opcode,
        byte_len,
        qp_num,
        ..Default::default()
    }
}

/// The total length of a request's SGEs, or `EINVAL` when it has more than `max` of them.
///
/// # Safety
/// `sg_list` is NULL or points to `num_sge` readable SGEs.
#[inline(always)]
unsafe fn sge_len(sg_list: *const sys::ibv_sge, num_sge: c_int, max: u32) -> Result<u32, c_int> {
    if num_sge < 0 || num_sge as u32 > max || (num_sge > 0 && sg_list.is_null()) {
        return Err(libc::EINVAL);
    }
    let mut len = 0u32;
    for i in 0..num_sge as usize {
        // SAFETY: i < num_sge, readable per the caller.
        len = len.saturating_add(unsafe { (*sg_list.add(i)).length });
    }
    Ok(len)
}

/// The completion opcode of a send request's opcode, if the stub supports it.
#[inline(always)]
pub(crate) fn send_wc_opcode(opcode: u32) -> Option<u32> {
    use sys::ibv_wc_opcode as wc;
    use sys::ibv_wr_opcode as wr;
    Some(match opcode {
        wr::IBV_WR_SEND | wr::IBV_WR_SEND_WITH_IMM => wc::IBV_WC_SEND,
        wr::IBV_WR_RDMA_WRITE | wr::IBV_WR_RDMA_WRITE_WITH_IMM => wc::IBV_WC_RDMA_WRITE,
        wr::IBV_WR_RDMA_READ => wc::IBV_WC_RDMA_READ,
        wr::IBV_WR_ATOMIC_CMP_AND_SWP => wc::IBV_WC_COMP_SWAP,
        wr::IBV_WR_ATOMIC_FETCH_AND_ADD => wc::IBV_WC_FETCH_ADD,
        _ => return None,
    })
}

/// Checks one send request; its completion opcode and length.
///
/// # Safety
/// `wr` is a valid request (its SGE list readable).
#[inline(always)]
unsafe fn check_send(qp: &StubQp, wr: &sys::ibv_send_wr) -> Result<(u32, u32), c_int> {
    let opcode = send_wc_opcode(wr.opcode).ok_or(libc::EINVAL)?;
    // SAFETY: per the caller.
    let len = unsafe { sge_len(wr.sg_list, wr.num_sge, qp.caps.max_send_sge) }?;
    let inline = wr.send_flags & sys::ibv_send_flags::IBV_SEND_INLINE != 0;
    if inline
        && (len > qp.caps.max_inline_data || wr.opcode == sys::ibv_wr_opcode::IBV_WR_RDMA_READ)
    {
        return Err(libc::EINVAL);
    }
    Ok((opcode, len))
}

/// Walks the chain from `wr` (linked by `next`), calling `each` on every request until one
/// fails: returns how many passed and the error (0: none), and on error points `*bad_wr` at
/// the failing request, as a provider does.
///
/// # Safety
/// `wr` is NULL or heads a valid chain of requests; `bad_wr` is writable.
#[inline(always)]
unsafe fn walk<W>(
    wr: *mut W,
    bad_wr: *mut *mut W,
    next: impl Fn(&W) -> *mut W,
    mut each: impl FnMut(&W) -> Result<(), c_int>,
) -> (u64, c_int) {
    let mut cur = wr;
    let mut n = 0;
    while !cur.is_null() {
        // SAFETY: a request of the caller's valid chain.
        let w = unsafe { &*cur };
        if let Err(e) = each(w) {
            // SAFETY: writable per the caller.
            unsafe { *bad_wr = cur };
            return (n, e);
        }
        n += 1;
        cur = next(w);
    }
    (n, 0)
}

/// `ops.post_send`.
///
/// # Safety
/// As [`sys::ibv_post_send`], on a QP made by [`crate::queue_pair`].
unsafe extern "C" fn post_send(
    qp: *mut sys::ibv_qp,
    wr: *mut sys::ibv_send_wr,
    bad_wr: *mut *mut sys::ibv_send_wr,
) -> c_int {
    // SAFETY: the ops table of a stub context is reachable only through stub QPs, whose
    // `ibv_qp` is the first field of a live StubQp and whose send CQ is a live StubCq.
    let (sqp, cq) = unsafe {
        let sqp = &*qp.cast::<StubQp>();
        (sqp, &*sqp.qpx.qp_base.send_cq.cast::<StubCq>())
    };
    let each = |w: &sys::ibv_send_wr| {
        // SAFETY: the request is valid per the caller.
        let (opcode, len) = unsafe { check_send(sqp, w) }?;
        let signaled = sqp.sig_all || w.send_flags & sys::ibv_send_flags::IBV_SEND_SIGNALED != 0;
        if signaled
            && !cq
                .lock()
                .push(success(w.wr_id, opcode, len, sqp.qpx.qp_base.qp_num))
        {
            return Err(libc::ENOMEM);
        }
        Ok(())
    };
    // SAFETY: per the caller, a valid chain and a writable `bad_wr`.
    let (n, ret) = unsafe { walk(wr, bad_wr, |w| w.next, each) };
    bump(&sqp.send_wrs, n);
    bump(&sqp.send_doorbells, 1);
    ret
}

/// `ops.post_recv`.
///
/// # Safety
/// As [`sys::ibv_post_recv`], on a QP made by [`crate::queue_pair`].
unsafe extern "C" fn post_recv(
    qp: *mut sys::ibv_qp,
    wr: *mut sys::ibv_recv_wr,
    bad_wr: *mut *mut sys::ibv_recv_wr,
) -> c_int {
    // SAFETY: as in post_send, for the receive CQ.
    let (sqp, cq) = unsafe {
        let sqp = &*qp.cast::<StubQp>();
        (sqp, &*sqp.qpx.qp_base.recv_cq.cast::<StubCq>())
    };
    let each = |w: &sys::ibv_recv_wr| {
        // SAFETY: the request's SGE list is readable per the caller.
        let len = unsafe { sge_len(w.sg_list, w.num_sge, sqp.caps.max_recv_sge) }?;
        let wc = success(
            w.wr_id,
            sys::ibv_wc_opcode::IBV_WC_RECV,
            len,
            sqp.qpx.qp_base.qp_num,
        );
        if !cq.lock().push(wc) {
            return Err(libc::ENOMEM);
        }
        Ok(())
    };
    // SAFETY: per the caller, a valid chain and a writable `bad_wr`.
    let (n, ret) = unsafe { walk(wr, bad_wr, |w| w.next, each) };
    bump(&sqp.recv_wrs, n);
    bump(&sqp.recv_doorbells, 1);
    ret
}

/// `ops.poll_cq`.
///
/// # Safety
/// As [`sys::ibv_poll_cq`], on a CQ made by [`crate::completion_queue`].
unsafe extern "C" fn poll_cq(
    cq: *mut sys::ibv_cq,
    num_entries: c_int,
    wc: *mut sys::ibv_wc,
) -> c_int {
    // SAFETY: the ops table of a stub context is reachable only through stub CQs, whose
    // `ibv_cq` is the first field of a live StubCq.
    let scq = unsafe { &*cq.cast::<StubCq>() };
    if num_entries <= 0 || scq.is_empty() {
        return 0;
    }
    let _locked = scq.lock();
    let (head, tail) = (scq.head.load(Relaxed), scq.tail.load(Relaxed));
    let n = (tail - head).min(num_entries as usize);
    for i in 0..n {
        let slot = &scq.slots[(head + i) % scq.slots.len()];
        // SAFETY: `wc` has room for num_entries >= n entries (caller); the slot is a queued
        // completion and nobody else touches the slots under the lock.
        unsafe { wc.add(i).write(*slot.get()) };
    }
    scq.head.store(head + n, Relaxed);
    n as c_int
}

/// `ops.req_notify_cq`: a stub CQ has no channel; nothing to arm.
unsafe extern "C" fn req_notify_cq(_cq: *mut sys::ibv_cq, _solicited_only: c_int) -> c_int {
    0
}

unsafe extern "C" fn post_srq_recv(
    _srq: *mut sys::ibv_srq,
    _wr: *mut sys::ibv_recv_wr,
    _bad_wr: *mut *mut sys::ibv_recv_wr,
) -> c_int {
    libc::EOPNOTSUPP
}

unsafe extern "C" fn query_device(
    _ctx: *mut sys::ibv_context,
    _attr: *mut sys::ibv_device_attr,
) -> c_int {
    libc::EOPNOTSUPP
}

unsafe extern "C" fn query_port(
    _ctx: *mut sys::ibv_context,
    _port: u8,
    _attr: *mut sys::_compat_ibv_port_attr,
) -> c_int {
    libc::EOPNOTSUPP
}

unsafe extern "C" fn alloc_mw(
    _pd: *mut sys::ibv_pd,
    _type: sys::ibv_mw_type::Type,
) -> *mut sys::ibv_mw {
    ptr::null_mut()
}

unsafe extern "C" fn bind_mw(
    _qp: *mut sys::ibv_qp,
    _mw: *mut sys::ibv_mw,
    _bind: *mut sys::ibv_mw_bind,
) -> c_int {
    libc::EOPNOTSUPP
}

unsafe extern "C" fn dealloc_mw(_mw: *mut sys::ibv_mw) -> c_int {
    libc::EOPNOTSUPP
}

/// The legacy placeholders of the table (never called by libibverbs).
unsafe extern "C" fn compat() -> *mut c_void {
    ptr::null_mut()
}

pub(crate) fn ops() -> sys::ibv_context_ops {
    sys::ibv_context_ops {
        _compat_query_device: Some(query_device),
        _compat_query_port: Some(query_port),
        _compat_alloc_pd: Some(compat),
        _compat_dealloc_pd: Some(compat),
        _compat_reg_mr: Some(compat),
        _compat_rereg_mr: Some(compat),
        _compat_dereg_mr: Some(compat),
        alloc_mw: Some(alloc_mw),
        bind_mw: Some(bind_mw),
        dealloc_mw: Some(dealloc_mw),
        _compat_create_cq: Some(compat),
        poll_cq: Some(poll_cq),
        req_notify_cq: Some(req_notify_cq),
        _compat_cq_event: Some(compat),
        _compat_resize_cq: Some(compat),
        _compat_destroy_cq: Some(compat),
        _compat_create_srq: Some(compat),
        _compat_modify_srq: Some(compat),
        _compat_query_srq: Some(compat),
        _compat_destroy_srq: Some(compat),
        post_srq_recv: Some(post_srq_recv),
        _compat_create_qp: Some(compat),
        _compat_query_qp: Some(compat),
        _compat_modify_qp: Some(compat),
        _compat_destroy_qp: Some(compat),
        post_send: Some(post_send),
        post_recv: Some(post_recv),
        _compat_create_ah: Some(compat),
        _compat_destroy_ah: Some(compat),
        _compat_attach_mcast: Some(compat),
        _compat_detach_mcast: Some(compat),
        _compat_async_event: Some(compat),
    }
}
