//! A fake verbs provider that runs in-process, for host benchmarks and tests (cargo feature
//! `stub-provider`; hidden from the docs, not for production).
//!
//! [`context`] builds a heap-allocated `ibv_context` whose ops table points at the
//! `extern "C"` functions of this module; [`protection_domain`], [`completion_queue`],
//! [`queue_pair`] and [`memory_region`] build the safe types over fake `ibv_pd`, `ibv_cq`,
//! `ibv_qp` and `ibv_mr` structs that point at it. The data path then runs exactly as over a
//! real provider: [`sys::ibv_post_send`] & co. make their one indirect call through
//! `qp->context->ops`, which lands here. So the safe API's posting, polling and
//! [`QueuePair::complete`] run for real, and can be compared with raw calls on the same stub.
//!
//! What the provider does:
//! - `post_send`/`post_recv` walk the chain and check each request against the QP's caps (SGE
//!   count, inline size, opcode), count requests and doorbells ([`counters`]), and queue one
//!   successful completion per signaled send (every send when the QP signals all) and per
//!   receive on the QP's send or receive CQ: the request's `wr_id`, the QP number, the
//!   matching `ibv_wc_opcode`, and the SGEs' total length as `byte_len`. A receive completes
//!   at once, as if a message of its full length had arrived; no data moves. A request that
//!   fails a check, or whose completion does not fit the CQ (a real CQ would overrun), fails
//!   the post with `EINVAL` or `ENOMEM` and is reported in `bad_wr`; the ones before it are
//!   posted.
//! - `poll_cq` returns up to `num_entries` queued completions, oldest first. Each CQ keeps its
//!   completions in a ring allocated with it, under a spin lock (a real provider locks its CQ
//!   too); an empty CQ is seen without taking the lock.
//! - `req_notify_cq` succeeds (a stub CQ has no channel to notify); every other op fails with
//!   `EOPNOTSUPP` or returns NULL, so no entry of the table is NULL.
//!
//! The context's `abi_compat` is not the extended-context marker, so nothing treats it as a
//! `verbs_context`. Control-path verbs (creating resources from a stub context or PD, device
//! and port queries, QP state changes) would hand the fake structs to libibverbs: the safe
//! API panics on them instead. Dropping a stub object frees its fake struct instead of calling
//! libibverbs.

use crate::access::Access;
use crate::context::Context;
use crate::cq::CompletionQueue;
use crate::error::Result;
use crate::mr::MemoryRegion;
use crate::pd::ProtectionDomain;
use crate::qp::{QpCaps, QueuePair};
use crate::sys;
use std::cell::UnsafeCell;
use std::ffi::{c_int, c_void};
use std::hint::spin_loop;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::*};

/// The device name of every stub context.
pub const DEVICE_NAME: &str = "stub0";

/// The fake context: `ibv_context` first, so a `*mut ibv_context` is a `*mut StubContext`.
#[repr(C)]
struct StubContext {
    ctx: sys::ibv_context,
    device: sys::ibv_device,
    next_qpn: AtomicU32,
    next_key: AtomicU32,
}

/// The fake CQ: `ibv_cq` first. `head..tail` (counted from 0, never wrapping) are queued.
#[repr(C)]
struct StubCq {
    cq: sys::ibv_cq,
    lock: AtomicBool,
    /// The next completion to poll; changed under the lock.
    head: AtomicUsize,
    /// The next slot to fill; changed under the lock.
    tail: AtomicUsize,
    slots: Box<[UnsafeCell<sys::ibv_wc>]>,
}

/// The fake QP: `ibv_qp` first.
#[repr(C)]
struct StubQp {
    qp: sys::ibv_qp,
    caps: QpCaps,
    sig_all: bool,
    send_wrs: AtomicU64,
    send_doorbells: AtomicU64,
    recv_wrs: AtomicU64,
    recv_doorbells: AtomicU64,
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
}

/// Adds `n` to a counter. A load and a store, not an atomic add (no locked instruction on the
/// data path): posts to one QP are serialized (`&mut QueuePair`), so nothing is lost there.
#[inline(always)]
fn bump(c: &AtomicU64, n: u64) {
    c.store(c.load(Relaxed) + n, Relaxed);
}

/// The spin lock of a stub CQ, held while the guard lives.
struct Locked<'a>(&'a StubCq);

impl StubCq {
    #[inline(always)]
    fn lock(&self) -> Locked<'_> {
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
    /// Queues `wc`; false when the CQ is full.
    #[inline(always)]
    fn push(&self, wc: sys::ibv_wc) -> bool {
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

fn success(wr_id: u64, opcode: u32, byte_len: u32, qp_num: u32) -> sys::ibv_wc {
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
fn send_wc_opcode(opcode: u32) -> Option<u32> {
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

/// `ops.post_send`.
///
/// # Safety
/// As [`sys::ibv_post_send`], on a QP made by [`queue_pair`].
unsafe extern "C" fn post_send(
    qp: *mut sys::ibv_qp,
    wr: *mut sys::ibv_send_wr,
    bad_wr: *mut *mut sys::ibv_send_wr,
) -> c_int {
    // SAFETY: the ops table of a stub context is reachable only through stub QPs, whose
    // `ibv_qp` is the first field of a live StubQp and whose send CQ is a live StubCq.
    let (sqp, cq) = unsafe {
        let sqp = &*qp.cast::<StubQp>();
        (sqp, &*sqp.qp.send_cq.cast::<StubCq>())
    };
    let mut cur = wr;
    let mut n = 0;
    let mut ret = 0;
    while !cur.is_null() {
        // SAFETY: a request of the caller's valid chain.
        let w = unsafe { &*cur };
        // SAFETY: the request is valid per the caller.
        match unsafe { check_send(sqp, w) } {
            Ok((opcode, len)) => {
                let signaled =
                    sqp.sig_all || w.send_flags & sys::ibv_send_flags::IBV_SEND_SIGNALED != 0;
                if signaled && !cq.lock().push(success(w.wr_id, opcode, len, sqp.qp.qp_num)) {
                    ret = libc::ENOMEM;
                    break;
                }
            }
            Err(e) => {
                ret = e;
                break;
            }
        }
        n += 1;
        cur = w.next;
    }
    bump(&sqp.send_wrs, n);
    bump(&sqp.send_doorbells, 1);
    if ret != 0 {
        // SAFETY: `bad_wr` is writable per the caller.
        unsafe { *bad_wr = cur };
    }
    ret
}

/// `ops.post_recv`.
///
/// # Safety
/// As [`sys::ibv_post_recv`], on a QP made by [`queue_pair`].
unsafe extern "C" fn post_recv(
    qp: *mut sys::ibv_qp,
    wr: *mut sys::ibv_recv_wr,
    bad_wr: *mut *mut sys::ibv_recv_wr,
) -> c_int {
    // SAFETY: as in post_send, for the receive CQ.
    let (sqp, cq) = unsafe {
        let sqp = &*qp.cast::<StubQp>();
        (sqp, &*sqp.qp.recv_cq.cast::<StubCq>())
    };
    let mut cur = wr;
    let mut n = 0;
    let mut ret = 0;
    while !cur.is_null() {
        // SAFETY: a request of the caller's valid chain.
        let w = unsafe { &*cur };
        // SAFETY: the request's SGE list is readable per the caller.
        match unsafe { sge_len(w.sg_list, w.num_sge, sqp.caps.max_recv_sge) } {
            Ok(len) => {
                let wc = success(w.wr_id, sys::ibv_wc_opcode::IBV_WC_RECV, len, sqp.qp.qp_num);
                if !cq.lock().push(wc) {
                    ret = libc::ENOMEM;
                    break;
                }
            }
            Err(e) => {
                ret = e;
                break;
            }
        }
        n += 1;
        cur = w.next;
    }
    bump(&sqp.recv_wrs, n);
    bump(&sqp.recv_doorbells, 1);
    if ret != 0 {
        // SAFETY: `bad_wr` is writable per the caller.
        unsafe { *bad_wr = cur };
    }
    ret
}

/// `ops.poll_cq`.
///
/// # Safety
/// As [`sys::ibv_poll_cq`], on a CQ made by [`completion_queue`].
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

fn ops() -> sys::ibv_context_ops {
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

/// The stub part of a stub context.
fn stub_ctx(ctx: &Context) -> &StubContext {
    assert!(ctx.inner.stub, "not a context of the stub provider");
    // SAFETY: a stub context's `ibv_context` is the first field of a StubContext that lives as
    // long as the Context.
    unsafe { &*ctx.inner.raw.as_ptr().cast::<StubContext>() }
}

/// A new context of the stub provider (device [`DEVICE_NAME`]).
pub fn context() -> Context {
    let mut device = sys::ibv_device {
        node_type: sys::ibv_node_type::IBV_NODE_CA,
        transport_type: sys::ibv_transport_type::IBV_TRANSPORT_IB,
        ..Default::default()
    };
    for (d, s) in device.name.iter_mut().zip(DEVICE_NAME.bytes()) {
        *d = s as _;
    }
    let raw = Box::into_raw(Box::new(StubContext {
        ctx: sys::ibv_context {
            device: ptr::null_mut(),
            ops: ops(),
            cmd_fd: -1,
            async_fd: -1,
            num_comp_vectors: 1,
            // Not the extended-context marker (all ones): this is no verbs_context.
            abi_compat: ptr::null_mut(),
            ..Default::default()
        },
        device,
        next_qpn: AtomicU32::new(0x100),
        next_key: AtomicU32::new(0x1000),
    }));
    // SAFETY: `raw` is the fresh, uniquely owned allocation; the device lives in it.
    unsafe { (*raw).ctx.device = ptr::addr_of_mut!((*raw).device) };
    let raw = NonNull::new(raw.cast::<sys::ibv_context>()).expect("Box is never NULL");
    Context::from_stub_parts(raw, DEVICE_NAME.to_string())
}

/// A protection domain of the stub context `ctx`.
///
/// # Panics
/// When `ctx` is not a stub context.
pub fn protection_domain(ctx: &Context) -> ProtectionDomain {
    stub_ctx(ctx);
    let raw = Box::into_raw(Box::new(sys::ibv_pd {
        context: ctx.inner.raw.as_ptr(),
        handle: 0,
    }));
    ProtectionDomain::from_stub_parts(NonNull::new(raw).expect("Box is never NULL"), ctx)
}

/// A completion queue of the stub context `ctx` with room for `depth` completions (no
/// channel).
///
/// # Panics
/// When `ctx` is not a stub context, or `depth` is 0 or more than `i32::MAX`.
pub fn completion_queue(ctx: &Context, depth: u32) -> CompletionQueue {
    stub_ctx(ctx);
    assert!(depth > 0 && depth <= i32::MAX as u32, "CQ depth {depth}");
    let raw = Box::into_raw(Box::new(StubCq {
        cq: sys::ibv_cq {
            context: ctx.inner.raw.as_ptr(),
            cqe: depth as i32,
            ..Default::default()
        },
        lock: AtomicBool::new(false),
        head: AtomicUsize::new(0),
        tail: AtomicUsize::new(0),
        slots: (0..depth).map(|_| UnsafeCell::default()).collect(),
    }));
    let raw = NonNull::new(raw.cast::<sys::ibv_cq>()).expect("Box is never NULL");
    CompletionQueue::from_stub_parts(raw, depth, ctx)
}

/// A connected (RTS) RC queue pair of the stub provider with exactly `caps`, whose sends
/// complete on `send_cq` and receives on `recv_cq`; with `sig_all`, every send is signaled.
///
/// # Panics
/// When `pd` or a CQ is not of the stub provider, or they are of different contexts.
pub fn queue_pair(
    pd: &ProtectionDomain,
    send_cq: &CompletionQueue,
    recv_cq: &CompletionQueue,
    caps: QpCaps,
    sig_all: bool,
) -> QueuePair {
    let ctx = pd.context();
    let sctx = stub_ctx(&ctx);
    let ctx_raw = ctx.inner.raw.as_ptr();
    for cq in [send_cq, recv_cq] {
        // SAFETY: the CQ is live; `context` is a plain field of its ibv_cq.
        let cq_ctx = unsafe { (*cq.as_raw()).context };
        assert!(
            cq.is_stub() && cq_ctx == ctx_raw,
            "the CQs of a stub QP must be of its PD's stub context"
        );
    }
    let raw = Box::into_raw(Box::new(StubQp {
        qp: sys::ibv_qp {
            context: ctx_raw,
            pd: pd.inner.raw.as_ptr(),
            send_cq: send_cq.as_raw(),
            recv_cq: recv_cq.as_raw(),
            qp_num: sctx.next_qpn.fetch_add(1, Relaxed) & 0xff_ffff,
            state: sys::ibv_qp_state::IBV_QPS_RTS,
            qp_type: sys::ibv_qp_type::IBV_QPT_RC,
            ..Default::default()
        },
        caps,
        sig_all,
        send_wrs: AtomicU64::new(0),
        send_doorbells: AtomicU64::new(0),
        recv_wrs: AtomicU64::new(0),
        recv_doorbells: AtomicU64::new(0),
    }));
    let raw = NonNull::new(raw.cast::<sys::ibv_qp>()).expect("Box is never NULL");
    QueuePair::from_stub_parts(raw, caps, sig_all, pd, send_cq, recv_cq)
}

/// A memory region of `len` zeroed bytes on the stub PD `pd`, with fake keys (lkey = rkey,
/// unique per context). The memory is mapped like [`MemoryRegion::new`] does, but not
/// registered.
///
/// # Panics
/// When `pd` is not of the stub provider.
pub fn memory_region(pd: &ProtectionDomain, len: usize, access: Access) -> Result<MemoryRegion> {
    let ctx = pd.context();
    let key = stub_ctx(&ctx).next_key.fetch_add(1, Relaxed);
    let (ctx_raw, pd_raw) = (ctx.inner.raw.as_ptr(), pd.inner.raw.as_ptr());
    MemoryRegion::from_stub_parts(pd, len, access, |addr| {
        let raw = Box::into_raw(Box::new(sys::ibv_mr {
            context: ctx_raw,
            pd: pd_raw,
            addr: addr.as_ptr().cast(),
            length: len,
            handle: 0,
            lkey: key,
            rkey: key,
        }));
        NonNull::new(raw).expect("Box is never NULL")
    })
}

/// What the stub provider saw posted on `qp`.
///
/// # Panics
/// When `qp` is not of the stub provider.
pub fn counters(qp: &QueuePair) -> Counters {
    stub_ctx(&qp.pd().context());
    // SAFETY: a QP of a stub context was made by `queue_pair`: its ibv_qp is the first field
    // of a StubQp that lives as long as the QueuePair.
    let sqp = unsafe { &*qp.as_raw().cast::<StubQp>() };
    Counters {
        send_wrs: sqp.send_wrs.load(Relaxed),
        send_doorbells: sqp.send_doorbells.load(Relaxed),
        recv_wrs: sqp.recv_wrs.load(Relaxed),
        recv_doorbells: sqp.recv_doorbells.load(Relaxed),
    }
}

/// Completions queued on the stub CQ `cq`, not yet polled.
///
/// # Panics
/// When `cq` is not of the stub provider.
pub fn queued(cq: &CompletionQueue) -> usize {
    assert!(cq.is_stub(), "not a CQ of the stub provider");
    // SAFETY: a stub CQ's ibv_cq is the first field of a StubCq that lives as long as `cq`.
    let scq = unsafe { &*cq.as_raw().cast::<StubCq>() };
    let _locked = scq.lock();
    scq.tail.load(Relaxed) - scq.head.load(Relaxed)
}

/// Frees a context made by [`context`].
///
/// # Safety
/// `raw` came from [`context`], nothing uses it any more, and it is freed once.
pub(crate) unsafe fn free_context(raw: NonNull<sys::ibv_context>) {
    // SAFETY: per the caller, `raw` is the Box::into_raw of a StubContext.
    drop(unsafe { Box::from_raw(raw.as_ptr().cast::<StubContext>()) });
}

/// Frees a PD made by [`protection_domain`].
///
/// # Safety
/// As [`free_context`], for a stub PD.
pub(crate) unsafe fn free_pd(raw: NonNull<sys::ibv_pd>) {
    // SAFETY: per the caller, `raw` is the Box::into_raw of an ibv_pd.
    drop(unsafe { Box::from_raw(raw.as_ptr()) });
}

/// Frees a CQ made by [`completion_queue`].
///
/// # Safety
/// As [`free_context`], for a stub CQ.
pub(crate) unsafe fn free_cq(raw: NonNull<sys::ibv_cq>) {
    // SAFETY: per the caller, `raw` is the Box::into_raw of a StubCq.
    drop(unsafe { Box::from_raw(raw.as_ptr().cast::<StubCq>()) });
}

/// Frees a QP made by [`queue_pair`].
///
/// # Safety
/// As [`free_context`], for a stub QP.
pub(crate) unsafe fn free_qp(raw: NonNull<sys::ibv_qp>) {
    // SAFETY: per the caller, `raw` is the Box::into_raw of a StubQp.
    drop(unsafe { Box::from_raw(raw.as_ptr().cast::<StubQp>()) });
}

/// Frees the `ibv_mr` of a region made by [`memory_region`].
///
/// # Safety
/// As [`free_context`], for a stub MR.
pub(crate) unsafe fn free_mr(raw: NonNull<sys::ibv_mr>) {
    // SAFETY: per the caller, `raw` is the Box::into_raw of an ibv_mr.
    drop(unsafe { Box::from_raw(raw.as_ptr()) });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Error, Local, SendWr, WcOpcode, WorkCompletion};

    struct Fixture {
        pd: ProtectionDomain,
        cq: CompletionQueue,
        qp: QueuePair,
    }

    fn fixture(caps: QpCaps, cq_depth: u32) -> Fixture {
        let ctx = context();
        let pd = protection_domain(&ctx);
        let cq = completion_queue(&ctx, cq_depth);
        let qp = queue_pair(&pd, &cq, &cq, caps, false);
        Fixture { pd, cq, qp }
    }

    fn caps() -> QpCaps {
        QpCaps {
            max_send_wr: 64,
            max_recv_wr: 64,
            max_send_sge: 1,
            max_recv_sge: 1,
            max_inline_data: 64,
        }
    }

    #[test]
    fn stub_recv_completes_with_its_buffer() {
        let Fixture { pd, cq, mut qp } = fixture(caps(), 64);
        let mut buf = memory_region(&pd, 4096, Access::LOCAL_WRITE).unwrap();
        buf.as_mut_slice().unwrap()[..4].copy_from_slice(b"abcd");
        let pieces = buf.chunks(1024);
        let addrs: Vec<u64> = pieces.iter().map(|p| p.addr()).collect();
        for (i, p) in pieces.into_iter().enumerate() {
            qp.post_recv(p, 100 + i as u64).unwrap();
        }
        assert_eq!(qp.recv_outstanding(), 4);
        assert_eq!(queued(&cq), 4);
        let mut wcs = [WorkCompletion::default(); 3];
        let mut got = Vec::new();
        loop {
            let polled = cq.poll(&mut wcs).unwrap();
            if polled.is_empty() {
                break;
            }
            for wc in polled {
                assert!(wc.is_ok() && wc.is_recv());
                assert_eq!(wc.qp_num(), qp.qpn());
                let done = qp.complete(wc).unwrap();
                assert_eq!((done.opcode, done.byte_len), (WcOpcode::Recv, 1024));
                got.push((done.wr_id, done.buf.unwrap()));
            }
        }
        assert_eq!(qp.recv_outstanding(), 0);
        let ids: Vec<u64> = got.iter().map(|g| g.0).collect();
        assert_eq!(ids, [100, 101, 102, 103]);
        let back: Vec<u64> = got.iter().map(|g| g.1.addr()).collect();
        assert_eq!(
            back, addrs,
            "each completion hands back the buffer posted with it"
        );
        let mut it = got.into_iter().map(|g| g.1);
        let first = it.next().unwrap();
        let whole = it.fold(first, |acc, p| acc.unsplit(p).unwrap());
        assert_eq!(whole.len(), 4096);
        assert_eq!(&whole.as_slice().unwrap()[..4], b"abcd");
        let c = counters(&qp);
        assert_eq!((c.recv_wrs, c.recv_doorbells), (4, 4));
    }

    #[test]
    fn stub_unsignaled_pinned_sends_retire_with_the_signaled_one() {
        let Fixture { pd, cq, mut qp } = fixture(caps(), 64);
        let src = memory_region(&pd, 256, Access::LOCAL_WRITE).unwrap();
        let p = qp.pin(src);
        for i in 0..9 {
            qp.post_send(SendWr::send(p).wr_id(i).signaled(false))
                .unwrap();
        }
        assert_eq!(queued(&cq), 0, "unsignaled sends queue no completion");
        assert!(qp.unpin(p).is_err(), "in use by 9 sends");
        let owned = memory_region(&pd, 128, Access::LOCAL_WRITE).unwrap();
        let addr = owned.addr();
        qp.post_send(SendWr::send(owned).wr_id(77)).unwrap();
        assert_eq!(qp.send_outstanding(), 10);
        let mut wcs = [WorkCompletion::default(); 4];
        let wc = cq.poll(&mut wcs).unwrap()[0];
        assert_eq!(wc.opcode(), WcOpcode::Send);
        assert_eq!(wc.byte_len(), 128);
        let done = qp.complete(&wc).unwrap();
        assert_eq!(done.wr_id, 77);
        assert_eq!(done.buf.unwrap().addr(), addr);
        assert_eq!(qp.send_outstanding(), 0);
        assert_eq!(qp.unpin(p).unwrap().len(), 256, "no send uses it any more");
        assert!(
            matches!(qp.complete(&wc), Err(Error::ForeignCompletion { .. })),
            "a completion is accepted once"
        );
        let c = counters(&qp);
        assert_eq!((c.send_wrs, c.send_doorbells), (10, 10));
    }

    #[test]
    fn stub_sink_takes_many_receives_and_reads_and_is_never_readable() {
        let Fixture { pd, cq, mut qp } = fixture(caps(), 64);
        // A stale pinned handle must never reach a sink that reuses its slot.
        let p = qp.pin(memory_region(&pd, 64, Access::LOCAL_WRITE).unwrap());
        qp.unpin(p).unwrap();
        let sink = qp.sink(memory_region(&pd, 256, Access::LOCAL_WRITE).unwrap());
        assert!(qp.pinned(p).is_none(), "a pinned handle cannot read a sink");
        assert!(qp.unpin(p).is_err(), "nor take it");
        assert!(qp.post_send(SendWr::send(p)).is_err(), "nor send from it");
        assert_eq!(qp.sink_len(sink), Some(256));
        for i in 0..5 {
            qp.post_recv_sink(sink, 0, 256, i).unwrap();
        }
        let err = qp.post_recv_sink(sink, 128, 256, 9).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
        assert!(qp.unsink(sink).is_err(), "five receives use it");
        let mut wcs = [WorkCompletion::default(); 8];
        let polled = cq.poll(&mut wcs).unwrap();
        assert_eq!(polled.len(), 5);
        for wc in polled {
            let done = qp.complete(wc).unwrap();
            assert!(done.buf.is_none(), "a sink receive hands back no buffer");
        }
        // RDMA READs into the sink; a SEND from it is refused.
        let remote = crate::RemoteBuf {
            addr: 0x1000,
            rkey: 1,
            len: 256,
        };
        qp.post_send(SendWr::read_to_sink(sink, remote).signaled(false))
            .unwrap();
        let bad = SendWr::send(Local::Sink(sink));
        assert!(matches!(
            qp.post_send(bad).unwrap_err().error,
            Error::InvalidArgument(_)
        ));
        assert!(qp.unsink(sink).is_err(), "an unsignaled read still uses it");
        qp.post_send(SendWr::read_to_sink(sink, remote).wr_id(3))
            .unwrap();
        let wc = cq.poll(&mut wcs).unwrap()[0];
        qp.complete(&wc).unwrap();
        assert_eq!(qp.unsink(sink).unwrap().len(), 256);
        assert!(qp.unsink(sink).is_err(), "taken once");
    }

    #[test]
    fn stub_batch_is_one_doorbell_and_inline_is_checked() {
        let Fixture { pd, cq, mut qp } = fixture(caps(), 64);
        let p = qp.pin(memory_region(&pd, 64, Access::LOCAL_WRITE).unwrap());
        let data = [7u8; 32];
        let mut b = qp.send_batch::<16>();
        for i in 0..15 {
            b.push(SendWr::send(p).wr_id(i).signaled(false)).unwrap();
        }
        b.push(SendWr::send(&data[..]).wr_id(15)).unwrap();
        b.post().unwrap();
        let c = counters(&qp);
        assert_eq!((c.send_wrs, c.send_doorbells), (16, 1));
        let mut wcs = [WorkCompletion::default(); 4];
        let polled = cq.poll(&mut wcs).unwrap();
        assert_eq!(polled.len(), 1);
        let done = qp.complete(&polled[0]).unwrap();
        assert_eq!((done.wr_id, done.byte_len), (15, 32));
        assert!(done.buf.is_none());
        assert_eq!(qp.send_outstanding(), 0);
        let big = [0u8; 65];
        assert!(
            qp.post_send(SendWr::send(&big[..])).is_err(),
            "over max_inline_data"
        );
        assert_eq!(
            counters(&qp).send_doorbells,
            1,
            "rejected before the provider"
        );
    }

    #[test]
    fn stub_full_cq_fails_the_post_and_hands_the_buffer_back() {
        let Fixture { pd, cq, mut qp } = fixture(caps(), 2);
        for i in 0..2 {
            let b = memory_region(&pd, 64, Access::LOCAL_WRITE).unwrap();
            qp.post_recv(b, i).unwrap();
        }
        let b = memory_region(&pd, 64, Access::LOCAL_WRITE).unwrap();
        let addr = b.addr();
        let err = qp.post_recv(b, 2).unwrap_err();
        assert_eq!(err.error.errno(), Some(libc::ENOMEM));
        assert_eq!(err.returned.len(), 1);
        assert_eq!(err.returned[0].addr(), addr);
        assert_eq!(qp.recv_outstanding(), 2);
        let mut wcs = [WorkCompletion::default(); 4];
        let polled = cq.poll(&mut wcs).unwrap();
        assert_eq!(polled.len(), 2);
        // Handing in the second retires the first too (in order); its buffer is dropped.
        let done = qp.complete(&polled[1]).unwrap();
        assert_eq!(done.wr_id, 1);
        assert!(matches!(
            qp.complete(&polled[0]),
            Err(Error::ForeignCompletion { .. })
        ));
    }

    #[test]
    fn stub_completions_of_another_qp_are_foreign() {
        let ctx = context();
        let pd = protection_domain(&ctx);
        let cq = completion_queue(&ctx, 16);
        let mut a = queue_pair(&pd, &cq, &cq, caps(), false);
        let mut b = queue_pair(&pd, &cq, &cq, caps(), false);
        assert_ne!(a.qpn(), b.qpn());
        a.post_recv(memory_region(&pd, 64, Access::LOCAL_WRITE).unwrap(), 1)
            .unwrap();
        let mut wcs = [WorkCompletion::default(); 4];
        let wc = cq.poll(&mut wcs).unwrap()[0];
        assert!(matches!(
            b.complete(&wc),
            Err(Error::ForeignCompletion { .. })
        ));
        assert_eq!(a.complete(&wc).unwrap().wr_id, 1);
    }

    #[test]
    fn stub_raw_posts_and_polls_through_the_ops_table() {
        let Fixture { pd, cq, mut qp } = fixture(caps(), 16);
        let mr = memory_region(&pd, 64, Access::LOCAL_WRITE).unwrap();
        let mut sge = sys::ibv_sge {
            addr: mr.addr(),
            length: 64,
            lkey: mr.lkey(),
        };
        let mut wr = sys::ibv_recv_wr {
            wr_id: 42,
            next: ptr::null_mut(),
            sg_list: &mut sge,
            num_sge: 1,
        };
        // SAFETY: `mr` outlives the request, which completes at once on the stub.
        unsafe { qp.post_recv_raw(&mut wr) }.unwrap();
        let mut sge2 = sge;
        let mut swr = sys::ibv_send_wr {
            wr_id: 43,
            sg_list: &mut sge2,
            num_sge: 2, // more than max_send_sge
            opcode: sys::ibv_wr_opcode::IBV_WR_SEND,
            send_flags: sys::ibv_send_flags::IBV_SEND_SIGNALED,
            ..Default::default()
        };
        let mut bad = ptr::null_mut();
        // SAFETY: a live QP and a valid request; the provider rejects it before reading sge 2.
        let ret = unsafe { sys::ibv_post_send(qp.as_raw(), &mut swr, &mut bad) };
        assert_eq!((ret, bad), (libc::EINVAL, &mut swr as *mut _));
        let mut wc = [sys::ibv_wc::default(); 4];
        // SAFETY: a live CQ and room for 4 entries.
        let n = unsafe { sys::ibv_poll_cq(cq.as_raw(), 4, wc.as_mut_ptr()) };
        assert_eq!(n, 1);
        assert_eq!((wc[0].wr_id, wc[0].byte_len), (42, 64));
        assert_eq!(wc[0].opcode, sys::ibv_wc_opcode::IBV_WC_RECV);
        assert_eq!(wc[0].qp_num, qp.qpn());
        // SAFETY: as above.
        assert_eq!(
            unsafe { sys::ibv_poll_cq(cq.as_raw(), 4, wc.as_mut_ptr()) },
            0
        );
    }

    #[test]
    fn stub_sig_all_and_drop_in_any_order() {
        let ctx = context();
        let pd = protection_domain(&ctx);
        let cq = completion_queue(&ctx, 16);
        let mut qp = queue_pair(&pd, &cq, &cq, caps(), true);
        let p = qp.pin(memory_region(&pd, 64, Access::LOCAL_WRITE).unwrap());
        qp.post_send(SendWr::send(p).signaled(false)).unwrap();
        assert_eq!(queued(&cq), 1, "sig_all signals every send");
        let b = memory_region(&pd, 64, Access::LOCAL_WRITE).unwrap();
        qp.post_recv(b, 1).unwrap();
        // Outstanding buffers are freed with the QP; the context goes last whatever the order.
        drop(ctx);
        drop(pd);
        drop(cq);
        assert_eq!(qp.pd().context().name(), DEVICE_NAME);
        drop(qp);
    }

    #[test]
    #[should_panic(expected = "stub provider")]
    fn stub_control_path_verbs_panic() {
        let ctx = context();
        let _ = ProtectionDomain::new(&ctx);
    }

    #[test]
    #[should_panic(expected = "stub provider")]
    fn stub_qp_state_changes_panic() {
        let Fixture { mut qp, .. } = fixture(caps(), 4);
        let _ = qp.set_error();
    }

    #[test]
    #[should_panic(expected = "stub provider")]
    fn stub_registration_panics() {
        let Fixture { pd, .. } = fixture(caps(), 4);
        let _ = MemoryRegion::new(&pd, 64, Access::LOCAL_WRITE);
    }
}
