//! A fake verbs provider that runs in-process, for host benchmarks and tests of `rdma-verbs`
//! (unpublished; not for production).
//!
//! [`context`] builds a heap-allocated `ibv_context` whose ops table points at the
//! `extern "C"` functions of this crate; [`protection_domain`], [`completion_queue`],
//! [`queue_pair`] and [`memory_region`] build the safe types over fake `ibv_pd`, `ibv_cq`,
//! `ibv_qp` and `ibv_mr` structs that point at it, with the library's `from_raw_parts`
//! constructors. The data path then runs exactly as over a real provider:
//! [`sys::ibv_post_send`] & co. make their one indirect call through `qp->context->ops`,
//! which lands here. So the safe API's posting, polling and `QueuePair::complete` run for
//! real, and can be compared with raw calls on the same stub.
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
//! - QP state changes ([`QpOps`] `modify`) set the fake QP's state and nothing else; a query
//!   reads it back.
//!
//! The context's `abi_compat` is not the extended-context marker (it points at this crate's
//! own marker, which tells stub contexts apart), so nothing treats it as a `verbs_context`; the other control-path verbs of libibverbs cannot work on it. That is
//! why [`context`] is `unsafe`: see its contract.

mod extended;
mod provider;

pub use extended::{BuiltWr, INLINE_KEPT};
pub use provider::Counters;

use extended::Extended;
use memmap2::MmapMut;
use provider::{ops, StubContext, StubCq, StubQp};
use rdma_verbs::{
    sys, Access, CompletionQueue, Context, Error, MemoryRegion, ProtectionDomain, QpCaps, QpOps,
    QpState, QpType, QueuePair, Result,
};
use std::cell::UnsafeCell;
use std::ffi::{c_int, c_void};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};

/// The device name of every stub context.
pub const DEVICE_NAME: &str = "stub0";

/// The control verbs of a stub QP: state changes touch only the fake QP.
static STUB_QP_OPS: QpOps = QpOps {
    modify: modify_qp,
    query: query_qp,
    destroy: free_qp,
};

/// What a stub context's `abi_compat` points at: it tells stub contexts from real ones (whose
/// `abi_compat` is the extended-context marker, all ones).
static MARKER: u8 = 0;

fn marker() -> *mut c_void {
    ptr::addr_of!(MARKER).cast_mut().cast()
}

/// True when `raw` is a context of this provider.
///
/// # Safety
/// `raw` is a live `ibv_context`.
unsafe fn is_stub_raw(raw: *const sys::ibv_context) -> bool {
    // SAFETY: per the caller; `abi_compat` is a plain field.
    unsafe { (*raw).abi_compat == marker() }
}

/// True when `ctx` is a context of this provider.
pub fn is_stub(ctx: &Context) -> bool {
    // SAFETY: the context is live.
    unsafe { is_stub_raw(ctx.as_raw()) }
}

/// The stub part of a stub context.
fn stub_ctx(ctx: &Context) -> &StubContext {
    assert!(is_stub(ctx), "not a context of the stub provider");
    // SAFETY: a stub context's `ibv_context` is the first field of a StubContext that lives as
    // long as the Context.
    unsafe { &*ctx.as_raw().cast::<StubContext>() }
}

/// The stub part of a stub CQ.
fn stub_cq(cq: &CompletionQueue) -> &StubCq {
    // SAFETY: the CQ and its context are live; `context` is a plain field.
    let stub = unsafe { is_stub_raw((*cq.as_raw()).context) };
    assert!(stub, "not a CQ of the stub provider");
    // SAFETY: a stub CQ's ibv_cq is the first field of a StubCq that lives as long as `cq`.
    unsafe { &*cq.as_raw().cast::<StubCq>() }
}

/// A new context of the stub provider (device [`DEVICE_NAME`]).
///
/// # Safety
/// Only this crate's constructors, posting, polling, completing, QP state changes and
/// queries ([`QueuePair::modify`], [`QueuePair::set_error`], [`QueuePair::query_state`]) and
/// dropping may be used on the context and what is made from it. Any other verb (creating a
/// resource with the library's own constructors, device and port queries, registering
/// memory) hands a fake struct to libibverbs: undefined behaviour.
pub unsafe fn context() -> Context {
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
            abi_compat: marker(),
            ..Default::default()
        },
        device,
        next_qpn: AtomicU32::new(0x100),
        next_key: AtomicU32::new(0x1000),
        live_mrs: AtomicUsize::new(0),
    }));
    // SAFETY: `raw` is the fresh, uniquely owned allocation; the device lives in it.
    unsafe { (*raw).ctx.device = ptr::addr_of_mut!((*raw).device) };
    let raw = NonNull::new(raw.cast::<sys::ibv_context>()).expect("Box is never NULL");
    // SAFETY: the caller keeps to this function's contract, so only the data path and this
    // crate's functions reach `raw`; free_context frees it once.
    unsafe { Context::from_raw_parts(raw, DEVICE_NAME, free_context) }
}

/// A protection domain of the stub context `ctx`.
///
/// # Panics
/// When `ctx` is not a stub context.
pub fn protection_domain(ctx: &Context) -> ProtectionDomain {
    stub_ctx(ctx);
    let raw = Box::into_raw(Box::new(sys::ibv_pd {
        context: ctx.as_raw(),
        handle: 0,
    }));
    let raw = NonNull::new(raw).expect("Box is never NULL");
    // SAFETY: a fake PD of the stub context (whose contract covers it); freed once by free_pd.
    unsafe { ProtectionDomain::from_raw_parts(raw, ctx, free_pd) }
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
            context: ctx.as_raw(),
            cqe: depth as i32,
            ..Default::default()
        },
        lock: AtomicBool::new(false),
        head: AtomicUsize::new(0),
        tail: AtomicUsize::new(0),
        slots: (0..depth).map(|_| UnsafeCell::default()).collect(),
    }));
    let raw = NonNull::new(raw.cast::<sys::ibv_cq>()).expect("Box is never NULL");
    // SAFETY: a fake CQ of the stub context, polled through its ops table; freed by free_cq.
    unsafe { CompletionQueue::from_raw_parts(raw, ctx, free_cq) }
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
    queue_pair_in(QpState::Rts, pd, send_cq, recv_cq, caps, sig_all)
}

/// As [`queue_pair`], in `state` instead of RTS.
///
/// # Panics
/// As [`queue_pair`].
pub fn queue_pair_in(
    state: QpState,
    pd: &ProtectionDomain,
    send_cq: &CompletionQueue,
    recv_cq: &CompletionQueue,
    caps: QpCaps,
    sig_all: bool,
) -> QueuePair {
    let ctx = pd.context();
    stub_ctx(&ctx);
    let ctx_raw = ctx.as_raw();
    for cq in [send_cq, recv_cq] {
        // SAFETY: the CQ is live; `context` is a plain field of its ibv_cq.
        let cq_ctx = unsafe { (*cq.as_raw()).context };
        assert!(
            cq_ctx == ctx_raw,
            "the CQs of a stub QP must be of its PD's stub context"
        );
    }
    let qp = sys::ibv_qp {
        context: ctx_raw,
        pd: pd.as_raw(),
        send_cq: send_cq.as_raw(),
        recv_cq: recv_cq.as_raw(),
        state: state.to_raw(),
        qp_type: sys::ibv_qp_type::IBV_QPT_RC,
        ..Default::default()
    };
    // SAFETY: a stub context (checked above).
    let raw = unsafe { new_qp(qp, caps, sig_all) };
    let raw = NonNull::new(raw.cast::<sys::ibv_qp>()).expect("Box is never NULL");
    // SAFETY: a fake RC QP over `pd` and both CQs with exactly `caps` and `sig_all`; posts
    // land in this crate's ops, which complete each request with its own wr_id; the stub
    // QP ops change only the fake struct, and free_qp frees it once.
    unsafe { QueuePair::from_raw_parts(raw, pd, send_cq, recv_cq, caps, sig_all, &STUB_QP_OPS) }
}

/// A fresh stub QP over `qp` (its context, PD, CQs, state and type; the number is assigned
/// here), with no `wr_*` operation set; leaked until `free_qp`.
///
/// # Safety
/// `qp.context` is a live stub context.
unsafe fn new_qp(mut qp: sys::ibv_qp, caps: QpCaps, sig_all: bool) -> *mut StubQp {
    // SAFETY: per the caller, the ibv_context is the first field of a live StubContext.
    let sctx = unsafe { &*qp.context.cast::<StubContext>() };
    qp.qp_num = sctx.next_qpn.fetch_add(1, Relaxed) & 0xff_ffff;
    // SAFETY: ibv_qp_ex is plain data (integers, pointers, optional function pointers), for
    // which all zeroes is valid: no operation set.
    let mut qpx: sys::ibv_qp_ex = unsafe { std::mem::zeroed() };
    qpx.qp_base = qp;
    Box::into_raw(Box::new(StubQp {
        qpx,
        caps,
        sig_all,
        send_wrs: AtomicU64::new(0),
        send_doorbells: AtomicU64::new(0),
        recv_wrs: AtomicU64::new(0),
        recv_doorbells: AtomicU64::new(0),
        wr_completes: AtomicU64::new(0),
        ext: UnsafeCell::new(Extended::new(caps.max_send_wr)),
    }))
}

/// The stub's `create_qp_ex` (the `verbs_context` op behind `ibv_create_qp_ex`): checks `attr`
/// as rxe does (only `IBV_QP_INIT_ATTR_PD` and `IBV_QP_INIT_ATTR_SEND_OPS_FLAGS`, an RC or UC
/// QP, send ops flags it has for that type, at most [`INLINE_KEPT`] inline bytes) and makes
/// an RTS QP with exactly `attr.cap` whose builders are those of the flags; NULL with errno
/// `EOPNOTSUPP` (`EINVAL` for the inline size) otherwise.
///
/// # Safety
/// `ctx` is a stub context; `attr` is readable and names a PD and CQs of it.
pub unsafe extern "C" fn create_qp_ex(
    ctx: *mut sys::ibv_context,
    attr: *mut sys::ibv_qp_init_attr_ex,
) -> *mut sys::ibv_qp {
    // SAFETY: per the caller.
    let attr = unsafe { &*attr };
    let fail = |e| {
        // SAFETY: the calling thread's errno.
        unsafe { *libc::__errno_location() = e };
        ptr::null_mut()
    };
    if let Err(e) = extended::check_attr(attr) {
        return fail(e);
    }
    if attr.cap.max_inline_data as usize > INLINE_KEPT {
        return fail(libc::EINVAL);
    }
    let c = attr.cap;
    let caps = QpCaps {
        max_send_wr: c.max_send_wr,
        max_recv_wr: c.max_recv_wr,
        max_send_sge: c.max_send_sge,
        max_recv_sge: c.max_recv_sge,
        max_inline_data: c.max_inline_data,
    };
    let sig_all = attr.sq_sig_all != 0;
    let qp = sys::ibv_qp {
        context: ctx,
        pd: attr.pd,
        send_cq: attr.send_cq,
        recv_cq: attr.recv_cq,
        state: sys::ibv_qp_state::IBV_QPS_RTS,
        qp_type: attr.qp_type,
        ..Default::default()
    };
    // SAFETY: a stub context, per the caller.
    let raw = unsafe { new_qp(qp, caps, sig_all) };
    // SAFETY: the fresh QP, owned here.
    extended::set_ops(unsafe { &mut (*raw).qpx }, attr.send_ops_flags);
    raw.cast()
}

/// An RTS queue pair of the stub provider created with send ops flags (the stub's
/// [`create_qp_ex`], with `IBV_QP_INIT_ATTR_PD` and `IBV_QP_INIT_ATTR_SEND_OPS_FLAGS`), of
/// type `qp_type`, with exactly `caps`: it posts with the extended API
/// ([`rdma_verbs::PostApi::Extended`]). The error is the stub's refusal of the attributes
/// (`ibv_create_qp_ex`, errno `EOPNOTSUPP`), or the library's [`Error::Unsupported`] when
/// `send_ops_flags` lack an operation the QP type needs.
///
/// # Panics
/// As [`queue_pair`].
pub fn queue_pair_ex(
    pd: &ProtectionDomain,
    send_cq: &CompletionQueue,
    recv_cq: &CompletionQueue,
    caps: QpCaps,
    sig_all: bool,
    qp_type: QpType,
    send_ops_flags: u64,
) -> Result<QueuePair> {
    let ctx = pd.context();
    stub_ctx(&ctx);
    let mut attr = sys::ibv_qp_init_attr_ex {
        send_cq: send_cq.as_raw(),
        recv_cq: recv_cq.as_raw(),
        cap: sys::ibv_qp_cap {
            max_send_wr: caps.max_send_wr,
            max_recv_wr: caps.max_recv_wr,
            max_send_sge: caps.max_send_sge,
            max_recv_sge: caps.max_recv_sge,
            max_inline_data: caps.max_inline_data,
        },
        qp_type: match qp_type {
            QpType::Rc => sys::ibv_qp_type::IBV_QPT_RC,
            QpType::Uc => sys::ibv_qp_type::IBV_QPT_UC,
            QpType::Ud => sys::ibv_qp_type::IBV_QPT_UD,
        },
        sq_sig_all: sig_all as c_int,
        comp_mask: sys::ibv_qp_init_attr_mask::IBV_QP_INIT_ATTR_PD
            | sys::ibv_qp_init_attr_mask::IBV_QP_INIT_ATTR_SEND_OPS_FLAGS,
        pd: pd.as_raw(),
        send_ops_flags,
        ..Default::default()
    };
    // SAFETY: a stub context, and an attribute struct naming its PD and CQs.
    let raw = unsafe { create_qp_ex(ctx.as_raw(), &mut attr) };
    let raw = NonNull::new(raw.cast::<sys::ibv_qp_ex>()).ok_or_else(|| Error::Verb {
        verb: "ibv_create_qp_ex",
        source: std::io::Error::last_os_error(),
    })?;
    // SAFETY: a fake QP made above over `pd` and both CQs with exactly `caps` and `sig_all`,
    // whose set operations are this crate's; free_qp frees it once (also on refusal).
    unsafe {
        QueuePair::from_raw_parts_extended(raw, pd, send_cq, recv_cq, caps, sig_all, &STUB_QP_OPS)
    }
}

/// The requests that the last successful `wr_complete` on the stub extended QP `qp` posted,
/// as its builders and setters recorded them.
///
/// # Panics
/// When `qp` is not of the stub provider.
pub fn built(qp: &QueuePair) -> Vec<BuiltWr> {
    stub_ctx(&qp.pd().context());
    // SAFETY: a live stub QP; its extended state is touched only while posting, which
    // `&QueuePair` excludes.
    unsafe {
        (*(*qp.as_raw().cast::<StubQp>()).ext.get())
            .posted()
            .to_vec()
    }
}

/// True while a critical section (`wr_start` without `wr_complete` or `wr_abort`) is open on
/// the stub QP `qp`.
///
/// # Panics
/// When `qp` is not of the stub provider.
pub fn in_critical_section(qp: &QueuePair) -> bool {
    stub_ctx(&qp.pd().context());
    // SAFETY: as in `built`.
    unsafe { (*(*qp.as_raw().cast::<StubQp>()).ext.get()).is_open() }
}

/// A fake `ibv_mr` and the memory it describes, freed together.
#[repr(C)]
struct StubMr {
    mr: sys::ibv_mr,
    _map: MmapMut,
}

/// A memory region of `len` zeroed bytes on the stub PD `pd`, with fake keys (lkey = rkey,
/// unique per context). The memory is mapped like `MemoryRegion::new` does, but not
/// registered.
///
/// # Panics
/// When `pd` is not of the stub provider.
pub fn memory_region(pd: &ProtectionDomain, len: usize, access: Access) -> Result<MemoryRegion> {
    if len == 0 {
        return Err(Error::InvalidArgument(
            "a memory region needs at least one byte".into(),
        ));
    }
    let ctx = pd.context();
    let sctx = stub_ctx(&ctx);
    let key = sctx.next_key.fetch_add(1, Relaxed);
    let mut map = memmap2::MmapOptions::new()
        .len(len)
        .map_anon()
        .map_err(|source| Error::Verb {
            verb: "mmap",
            source,
        })?;
    let raw = Box::into_raw(Box::new(StubMr {
        mr: sys::ibv_mr {
            context: ctx.as_raw(),
            pd: pd.as_raw(),
            addr: map.as_mut_ptr().cast(),
            length: len,
            handle: 0,
            lkey: key,
            rkey: key,
        },
        _map: map,
    }));
    let raw = NonNull::new(raw.cast::<sys::ibv_mr>()).expect("Box is never NULL");
    sctx.live_mrs.fetch_add(1, Relaxed);
    // SAFETY: the fake MR describes its own mapping of `len` bytes, reached only through the
    // region; free_mr unmaps it once, after the region's last piece is gone.
    Ok(unsafe { MemoryRegion::from_raw_parts(raw, pd, access, free_mr) })
}

/// What the stub provider saw posted on `qp`.
///
/// # Panics
/// When `qp` is not of the stub provider.
pub fn counters(qp: &QueuePair) -> Counters {
    stub_ctx(&qp.pd().context());
    // SAFETY: a live QP of a stub context.
    unsafe { counters_raw(qp.as_raw()) }
}

/// [`counters`] of the stub QP `qp`, by its raw pointer (for a QP that a `Run` holds).
///
/// # Safety
/// `qp` is a live QP made by [`queue_pair`] or [`queue_pair_in`].
pub unsafe fn counters_raw(qp: *mut sys::ibv_qp) -> Counters {
    // SAFETY: per the caller, its ibv_qp is the first field of a live StubQp.
    let sqp = unsafe { &*qp.cast::<StubQp>() };
    Counters {
        send_wrs: sqp.send_wrs.load(Relaxed),
        send_doorbells: sqp.send_doorbells.load(Relaxed),
        recv_wrs: sqp.recv_wrs.load(Relaxed),
        recv_doorbells: sqp.recv_doorbells.load(Relaxed),
        wr_completes: sqp.wr_completes.load(Relaxed),
    }
}

/// Regions of the stub context `ctx` made by [`memory_region`] and not yet freed (every piece
/// of one dropped).
///
/// # Panics
/// When `ctx` is not a stub context.
pub fn live_regions(ctx: &Context) -> usize {
    stub_ctx(ctx).live_mrs.load(Relaxed)
}

/// Completions queued on the stub CQ `cq`, not yet polled.
///
/// # Panics
/// When `cq` is not of the stub provider.
pub fn queued(cq: &CompletionQueue) -> usize {
    let scq = stub_cq(cq);
    let _locked = scq.lock();
    scq.tail.load(Relaxed) - scq.head.load(Relaxed)
}

/// Queues `wc` on the stub CQ `cq` as if the provider had reported it (a completion no
/// request asked for, or a corrupted one); false when the CQ is full.
///
/// # Panics
/// When `cq` is not of the stub provider.
pub fn inject(cq: &CompletionQueue, wc: sys::ibv_wc) -> bool {
    let scq = stub_cq(cq);
    scq.lock().push(wc)
}

/// `modify` of a stub QP: records the new state, if the mask names one.
///
/// # Safety
/// `qp` is a live stub QP and `attr` is readable.
unsafe extern "C" fn modify_qp(
    qp: *mut sys::ibv_qp,
    attr: *mut sys::ibv_qp_attr,
    mask: c_int,
) -> c_int {
    if mask as u32 & sys::ibv_qp_attr_mask::IBV_QP_STATE != 0 {
        // SAFETY: per the caller; the library serializes state changes (`&mut QueuePair`).
        unsafe { (*qp).state = (*attr).qp_state };
    }
    0
}

/// `query` of a stub QP: its state.
///
/// # Safety
/// `qp` is a live stub QP and `attr` is writable.
unsafe extern "C" fn query_qp(
    qp: *mut sys::ibv_qp,
    attr: *mut sys::ibv_qp_attr,
    _mask: c_int,
    _init: *mut sys::ibv_qp_init_attr,
) -> c_int {
    // SAFETY: per the caller.
    unsafe { (*attr).qp_state = (*qp).state };
    0
}

/// Frees a context made by [`context`].
///
/// # Safety
/// `raw` came from [`context`], nothing uses it any more, and it is freed once.
unsafe extern "C" fn free_context(raw: *mut sys::ibv_context) -> c_int {
    // SAFETY: per the caller, `raw` is the Box::into_raw of a StubContext.
    drop(unsafe { Box::from_raw(raw.cast::<StubContext>()) });
    0
}

/// Frees a PD made by [`protection_domain`].
///
/// # Safety
/// As [`free_context`], for a stub PD.
unsafe extern "C" fn free_pd(raw: *mut sys::ibv_pd) -> c_int {
    // SAFETY: per the caller, `raw` is the Box::into_raw of an ibv_pd.
    drop(unsafe { Box::from_raw(raw) });
    0
}

/// Frees a CQ made by [`completion_queue`].
///
/// # Safety
/// As [`free_context`], for a stub CQ.
unsafe extern "C" fn free_cq(raw: *mut sys::ibv_cq) -> c_int {
    // SAFETY: per the caller, `raw` is the Box::into_raw of a StubCq.
    drop(unsafe { Box::from_raw(raw.cast::<StubCq>()) });
    0
}

/// Frees a QP made by [`queue_pair_in`].
///
/// # Safety
/// As [`free_context`], for a stub QP.
unsafe extern "C" fn free_qp(raw: *mut sys::ibv_qp) -> c_int {
    // SAFETY: per the caller, `raw` is the Box::into_raw of a StubQp.
    drop(unsafe { Box::from_raw(raw.cast::<StubQp>()) });
    0
}

/// Frees a region made by [`memory_region`] and unmaps its memory.
///
/// # Safety
/// As [`free_context`], for a stub MR.
unsafe extern "C" fn free_mr(raw: *mut sys::ibv_mr) -> c_int {
    // SAFETY: per the caller, `raw` is the Box::into_raw of a StubMr, whose context (a
    // StubContext) outlives it.
    let mr = unsafe { Box::from_raw(raw.cast::<StubMr>()) };
    // SAFETY: as above.
    let sctx = unsafe { &*mr.mr.context.cast::<StubContext>() };
    sctx.live_mrs.fetch_sub(1, Relaxed);
    drop(mr);
    0
}
