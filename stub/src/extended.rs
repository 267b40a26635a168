//! The stub's extended QPs: `create_qp_ex` and the `ibv_qp_ex` operations (`wr_start`, the
//! builders, the setters, `wr_complete`, `wr_abort`).
//!
//! Like rxe, the builders and setters only record: each builder appends a request (the QP's
//! `wr_id` and `wr_flags`, its opcode and remote fields) to the QP's pending list, each setter
//! fills in the last one's data; a failure (the list full: `ENOSPC`; inline data longer than
//! the QP allows: `ENOSPC`; more SGEs than it allows: `EINVAL`) is remembered and reported by
//! `wr_complete`, which then posts nothing. `wr_complete` posts all or nothing: it queues one
//! completion per signaled request when the send CQ has room for all of them (else `ENOMEM`),
//! counts the requests and one doorbell, and keeps the requests for [`crate::built`].
//! `wr_abort` drops the pending list. Nothing allocates after the QP is made.

use crate::provider::{send_wc_opcode, StubCq, StubQp};
use rdma_verbs::sys;
use std::ffi::{c_int, c_void};
use sys::ibv_qp_create_send_ops_flags as with;
use sys::ibv_wr_opcode as op;

/// Bytes of inline data a stub request keeps (a stub extended QP allows at most this many).
pub const INLINE_KEPT: usize = 256;

/// One request built on a stub extended QP, as the provider recorded it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuiltWr {
    /// The `wr_id` the QP had when the builder ran.
    pub wr_id: u64,
    /// The `wr_flags` the QP had when the builder ran.
    pub flags: u32,
    /// The `ibv_wr_opcode` of the builder.
    pub opcode: u32,
    /// Remote address (RDMA and atomics), else 0.
    pub remote_addr: u64,
    /// Remote key (RDMA and atomics), else 0.
    pub rkey: u32,
    /// Immediate data as given (network order), else 0.
    pub imm: u32,
    /// Compare or add operand (atomics), else 0.
    pub compare_add: u64,
    /// Swap operand (compare-and-swap), else 0.
    pub swap: u64,
    /// The first SGE's local key, address and the data's total length (inline or not).
    pub lkey: u32,
    /// The first SGE's address (0 for inline data).
    pub addr: u64,
    /// Total length of the data.
    pub len: u32,
    /// SGEs set (0 for none or inline).
    pub num_sge: u32,
    /// True when the data was given inline (`wr_set_inline_data`).
    pub inline: bool,
    /// The inline bytes (the first `len`).
    pub inline_data: [u8; INLINE_KEPT],
}

impl BuiltWr {
    const EMPTY: BuiltWr = BuiltWr {
        wr_id: 0,
        flags: 0,
        opcode: 0,
        remote_addr: 0,
        rkey: 0,
        imm: 0,
        compare_add: 0,
        swap: 0,
        lkey: 0,
        addr: 0,
        len: 0,
        num_sge: 0,
        inline: false,
        inline_data: [0; INLINE_KEPT],
    };

    /// The inline bytes given.
    pub fn inline_bytes(&self) -> &[u8] {
        &self.inline_data[..(self.len as usize).min(INLINE_KEPT)]
    }
}

/// The extended-post state of a stub QP: the requests built since `wr_start` (`pending`),
/// and those of the last successful `wr_complete` (`posted`).
pub(crate) struct Extended {
    pending: Box<[BuiltWr]>,
    n_pending: usize,
    posted: Box<[BuiltWr]>,
    n_posted: usize,
    err: c_int,
    open: bool,
}

impl Extended {
    /// State for a QP of `depth` send requests.
    pub(crate) fn new(depth: u32) -> Self {
        let n = depth.max(1) as usize;
        Extended {
            pending: vec![BuiltWr::EMPTY; n].into_boxed_slice(),
            n_pending: 0,
            posted: vec![BuiltWr::EMPTY; n].into_boxed_slice(),
            n_posted: 0,
            err: 0,
            open: false,
        }
    }

    /// The requests of the last successful `wr_complete`.
    pub(crate) fn posted(&self) -> &[BuiltWr] {
        &self.posted[..self.n_posted]
    }

    /// True while a critical section is open (`wr_start` without its end).
    pub(crate) fn is_open(&self) -> bool {
        self.open
    }
}

/// The stub QP of `qpx` and its extended state.
///
/// # Safety
/// `qpx` is the `ibv_qp_ex` of a live stub QP (its first field), used by one thread.
#[allow(clippy::mut_from_ref)]
unsafe fn parts<'a>(qpx: *mut sys::ibv_qp_ex) -> (&'a StubQp, &'a mut Extended) {
    // SAFETY: per the caller: a live StubQp, whose extended state only the thread posting on
    // it (the library serializes posts with `&mut QueuePair`) touches.
    unsafe {
        let sqp = &*qpx.cast::<StubQp>();
        (sqp, &mut *sqp.ext.get())
    }
}

/// Appends a request built by a builder of `opcode`, with the QP's `wr_id` and `wr_flags`,
/// then `fill` for its remote fields; records `ENOSPC` when the list is full.
///
/// # Safety
/// As [`parts`].
unsafe fn push(qpx: *mut sys::ibv_qp_ex, opcode: u32, fill: impl FnOnce(&mut BuiltWr)) {
    // SAFETY: per the caller.
    let (_, ext) = unsafe { parts(qpx) };
    if ext.err != 0 {
        return;
    }
    if ext.n_pending == ext.pending.len() {
        ext.err = libc::ENOSPC;
        return;
    }
    // SAFETY: per the caller, a live ibv_qp_ex; wr_id and wr_flags are plain fields.
    let (wr_id, flags) = unsafe { ((*qpx).wr_id, (*qpx).wr_flags) };
    let w = &mut ext.pending[ext.n_pending];
    // Field by field: the inline bytes stay (only `len` of them count).
    (w.wr_id, w.flags, w.opcode) = (wr_id, flags, opcode);
    (w.remote_addr, w.rkey, w.imm, w.compare_add, w.swap) = (0, 0, 0, 0, 0);
    (w.lkey, w.addr, w.len, w.num_sge, w.inline) = (0, 0, 0, 0, false);
    fill(w);
    ext.n_pending += 1;
}

/// Runs a setter's `f` on the last request built, with the QP; records the error `f`
/// returns, or `EINVAL` when no request was built. Nothing after a recorded error.
///
/// # Safety
/// As [`parts`].
unsafe fn set(
    qpx: *mut sys::ibv_qp_ex,
    f: impl FnOnce(&StubQp, &mut BuiltWr) -> Result<(), c_int>,
) {
    // SAFETY: per the caller.
    let (sqp, ext) = unsafe { parts(qpx) };
    if ext.err != 0 {
        return;
    }
    let Some(i) = ext.n_pending.checked_sub(1) else {
        ext.err = libc::EINVAL;
        return;
    };
    if let Err(e) = f(sqp, &mut ext.pending[i]) {
        ext.err = e;
    }
}

unsafe extern "C" fn wr_start(qpx: *mut sys::ibv_qp_ex) {
    // SAFETY: the ops of a stub extended QP are reached only through its ibv_qp_ex.
    let (_, ext) = unsafe { parts(qpx) };
    assert!(!ext.open, "wr_start inside an open critical section");
    ext.open = true;
    ext.n_pending = 0;
    ext.err = 0;
}

unsafe extern "C" fn wr_abort(qpx: *mut sys::ibv_qp_ex) {
    // SAFETY: as in wr_start.
    let (_, ext) = unsafe { parts(qpx) };
    assert!(ext.open, "wr_abort without wr_start");
    ext.open = false;
    ext.n_pending = 0;
}

unsafe extern "C" fn wr_complete(qpx: *mut sys::ibv_qp_ex) -> c_int {
    // SAFETY: as in wr_start.
    let (sqp, ext) = unsafe { parts(qpx) };
    assert!(ext.open, "wr_complete without wr_start");
    ext.open = false;
    let n = ext.n_pending;
    ext.n_pending = 0;
    if ext.err != 0 {
        return ext.err;
    }
    // SAFETY: a stub QP's send CQ is a live StubCq.
    let cq = unsafe { &*sqp.qpx.qp_base.send_cq.cast::<StubCq>() };
    let signaled =
        |w: &BuiltWr| sqp.sig_all || w.flags & sys::ibv_send_flags::IBV_SEND_SIGNALED != 0;
    {
        let locked = cq.lock();
        let wanted = ext.pending[..n].iter().filter(|w| signaled(w)).count();
        if locked.room() < wanted {
            return libc::ENOMEM;
        }
        for w in ext.pending[..n].iter().filter(|w| signaled(w)) {
            let opcode = send_wc_opcode(w.opcode).expect("the builders set known opcodes");
            let wc = crate::provider::success(w.wr_id, opcode, w.len, sqp.qpx.qp_base.qp_num);
            locked.push(wc);
        }
    }
    ext.posted[..n].copy_from_slice(&ext.pending[..n]);
    ext.n_posted = n;
    crate::provider::bump(&sqp.send_wrs, n as u64);
    crate::provider::bump(&sqp.send_doorbells, 1);
    crate::provider::bump(&sqp.wr_completes, 1);
    0
}

unsafe extern "C" fn wr_send(qpx: *mut sys::ibv_qp_ex) {
    // SAFETY: as in wr_start.
    unsafe { push(qpx, op::IBV_WR_SEND, |_| {}) }
}

unsafe extern "C" fn wr_send_imm(qpx: *mut sys::ibv_qp_ex, imm: sys::__be32) {
    // SAFETY: as in wr_start.
    unsafe { push(qpx, op::IBV_WR_SEND_WITH_IMM, |w| w.imm = imm) }
}

unsafe extern "C" fn wr_rdma_write(qpx: *mut sys::ibv_qp_ex, rkey: u32, remote_addr: u64) {
    let fill = |w: &mut BuiltWr| (w.rkey, w.remote_addr) = (rkey, remote_addr);
    // SAFETY: as in wr_start.
    unsafe { push(qpx, op::IBV_WR_RDMA_WRITE, fill) }
}

unsafe extern "C" fn wr_rdma_write_imm(
    qpx: *mut sys::ibv_qp_ex,
    rkey: u32,
    remote_addr: u64,
    imm: sys::__be32,
) {
    let fill = |w: &mut BuiltWr| (w.rkey, w.remote_addr, w.imm) = (rkey, remote_addr, imm);
    // SAFETY: as in wr_start.
    unsafe { push(qpx, op::IBV_WR_RDMA_WRITE_WITH_IMM, fill) }
}

unsafe extern "C" fn wr_rdma_read(qpx: *mut sys::ibv_qp_ex, rkey: u32, remote_addr: u64) {
    let fill = |w: &mut BuiltWr| (w.rkey, w.remote_addr) = (rkey, remote_addr);
    // SAFETY: as in wr_start.
    unsafe { push(qpx, op::IBV_WR_RDMA_READ, fill) }
}

unsafe extern "C" fn wr_atomic_cmp_swp(
    qpx: *mut sys::ibv_qp_ex,
    rkey: u32,
    remote_addr: u64,
    compare: u64,
    swap: u64,
) {
    let fill = |w: &mut BuiltWr| {
        (w.rkey, w.remote_addr, w.compare_add, w.swap) = (rkey, remote_addr, compare, swap)
    };
    // SAFETY: as in wr_start.
    unsafe { push(qpx, op::IBV_WR_ATOMIC_CMP_AND_SWP, fill) }
}

unsafe extern "C" fn wr_atomic_fetch_add(
    qpx: *mut sys::ibv_qp_ex,
    rkey: u32,
    remote_addr: u64,
    add: u64,
) {
    let fill = |w: &mut BuiltWr| (w.rkey, w.remote_addr, w.compare_add) = (rkey, remote_addr, add);
    // SAFETY: as in wr_start.
    unsafe { push(qpx, op::IBV_WR_ATOMIC_FETCH_AND_ADD, fill) }
}

unsafe extern "C" fn wr_set_sge(qpx: *mut sys::ibv_qp_ex, lkey: u32, addr: u64, length: u32) {
    let f = |_: &StubQp, w: &mut BuiltWr| {
        (w.lkey, w.addr, w.len, w.num_sge) = (lkey, addr, length, (length != 0) as u32);
        Ok(())
    };
    // SAFETY: as in wr_start.
    unsafe { set(qpx, f) }
}

unsafe extern "C" fn wr_set_sge_list(
    qpx: *mut sys::ibv_qp_ex,
    num_sge: usize,
    sg_list: *const sys::ibv_sge,
) {
    let f = |sqp: &StubQp, w: &mut BuiltWr| {
        if num_sge > sqp.caps.max_send_sge as usize {
            return Err(libc::EINVAL);
        }
        // SAFETY: the caller's list has `num_sge` readable entries.
        let sges = unsafe { std::slice::from_raw_parts(sg_list, num_sge) };
        let len = sges
            .iter()
            .map(|s| s.length)
            .fold(0u32, u32::saturating_add);
        let first = sges.first().copied().unwrap_or_default();
        (w.lkey, w.addr, w.len, w.num_sge) = (first.lkey, first.addr, len, num_sge as u32);
        Ok(())
    };
    // SAFETY: as in wr_start.
    unsafe { set(qpx, f) }
}

unsafe extern "C" fn wr_set_inline_data(
    qpx: *mut sys::ibv_qp_ex,
    addr: *mut c_void,
    length: usize,
) {
    let f = |sqp: &StubQp, w: &mut BuiltWr| {
        let writes_local = matches!(
            w.opcode,
            op::IBV_WR_RDMA_READ | op::IBV_WR_ATOMIC_CMP_AND_SWP | op::IBV_WR_ATOMIC_FETCH_AND_ADD
        );
        if length > sqp.caps.max_inline_data as usize || writes_local {
            return Err(libc::ENOSPC);
        }
        if length > 0 {
            // SAFETY: the caller's `length` readable bytes; `length <= max_inline_data <=
            // INLINE_KEPT` (checked when the QP was made).
            let bytes = unsafe { std::slice::from_raw_parts(addr.cast::<u8>(), length) };
            w.inline_data[..length].copy_from_slice(bytes);
        }
        (w.lkey, w.addr, w.len, w.inline, w.num_sge) = (0, 0, length as u32, true, 0);
        Ok(())
    };
    // SAFETY: as in wr_start.
    unsafe { set(qpx, f) }
}

unsafe extern "C" fn wr_set_inline_data_list(
    qpx: *mut sys::ibv_qp_ex,
    num_buf: usize,
    buf_list: *const sys::ibv_data_buf,
) {
    let f = |sqp: &StubQp, w: &mut BuiltWr| {
        let writes_local = matches!(
            w.opcode,
            op::IBV_WR_RDMA_READ | op::IBV_WR_ATOMIC_CMP_AND_SWP | op::IBV_WR_ATOMIC_FETCH_AND_ADD
        );
        // SAFETY: the caller's `num_buf` readable entries.
        let bufs = unsafe { std::slice::from_raw_parts(buf_list, num_buf) };
        let total: usize = bufs.iter().map(|b| b.length).sum();
        if total > sqp.caps.max_inline_data as usize || writes_local {
            return Err(libc::ENOSPC);
        }
        let mut at = 0;
        for b in bufs.iter().filter(|b| b.length > 0) {
            // SAFETY: each entry's `length` readable bytes; the sum fits INLINE_KEPT (checked
            // above: `total <= max_inline_data <= INLINE_KEPT`).
            let bytes = unsafe { std::slice::from_raw_parts(b.addr.cast::<u8>(), b.length) };
            w.inline_data[at..at + b.length].copy_from_slice(bytes);
            at += b.length;
        }
        (w.lkey, w.addr, w.len, w.inline, w.num_sge) = (0, 0, total as u32, true, 0);
        Ok(())
    };
    // SAFETY: as in wr_start.
    unsafe { set(qpx, f) }
}

/// The send ops flags a stub extended QP of `qp_type` can be created with (as rxe: RC has
/// every operation the stub completes, UC SEND and RDMA WRITE with their immediate forms).
fn supported(qp_type: sys::ibv_qp_type::Type) -> Option<u64> {
    let uc = with::IBV_QP_EX_WITH_SEND
        | with::IBV_QP_EX_WITH_SEND_WITH_IMM
        | with::IBV_QP_EX_WITH_RDMA_WRITE
        | with::IBV_QP_EX_WITH_RDMA_WRITE_WITH_IMM;
    match qp_type {
        sys::ibv_qp_type::IBV_QPT_UC => Some(uc as u64),
        sys::ibv_qp_type::IBV_QPT_RC => Some(
            (uc | with::IBV_QP_EX_WITH_RDMA_READ
                | with::IBV_QP_EX_WITH_ATOMIC_CMP_AND_SWP
                | with::IBV_QP_EX_WITH_ATOMIC_FETCH_AND_ADD) as u64,
        ),
        _ => None,
    }
}

/// Checks `attr` as a provider's `create_qp_ex` does: only `IBV_QP_INIT_ATTR_PD` and
/// `IBV_QP_INIT_ATTR_SEND_OPS_FLAGS` in the mask, an RC or UC QP, send ops flags the stub has
/// for it. `Err(EOPNOTSUPP)` otherwise, as rxe answers.
pub(crate) fn check_attr(attr: &sys::ibv_qp_init_attr_ex) -> Result<(), c_int> {
    use sys::ibv_qp_init_attr_mask as mask;
    let known = mask::IBV_QP_INIT_ATTR_PD | mask::IBV_QP_INIT_ATTR_SEND_OPS_FLAGS;
    let ok = attr.comp_mask & !known == 0
        && supported(attr.qp_type).is_some_and(|s| attr.send_ops_flags & !s == 0);
    if ok {
        Ok(())
    } else {
        Err(libc::EOPNOTSUPP)
    }
}

/// Sets the operations of `qpx` for `flags` (the builders asked for, and every setter), as
/// rxe's `set_qp_send_ops` does.
pub(crate) fn set_ops(qpx: &mut sys::ibv_qp_ex, flags: u64) {
    let has = |f: u32| flags & f as u64 != 0;
    if has(with::IBV_QP_EX_WITH_SEND) {
        qpx.wr_send = Some(wr_send);
    }
    if has(with::IBV_QP_EX_WITH_SEND_WITH_IMM) {
        qpx.wr_send_imm = Some(wr_send_imm);
    }
    if has(with::IBV_QP_EX_WITH_RDMA_WRITE) {
        qpx.wr_rdma_write = Some(wr_rdma_write);
    }
    if has(with::IBV_QP_EX_WITH_RDMA_WRITE_WITH_IMM) {
        qpx.wr_rdma_write_imm = Some(wr_rdma_write_imm);
    }
    if has(with::IBV_QP_EX_WITH_RDMA_READ) {
        qpx.wr_rdma_read = Some(wr_rdma_read);
    }
    if has(with::IBV_QP_EX_WITH_ATOMIC_CMP_AND_SWP) {
        qpx.wr_atomic_cmp_swp = Some(wr_atomic_cmp_swp);
    }
    if has(with::IBV_QP_EX_WITH_ATOMIC_FETCH_AND_ADD) {
        qpx.wr_atomic_fetch_add = Some(wr_atomic_fetch_add);
    }
    qpx.wr_set_sge = Some(wr_set_sge);
    qpx.wr_set_sge_list = Some(wr_set_sge_list);
    qpx.wr_set_inline_data = Some(wr_set_inline_data);
    qpx.wr_set_inline_data_list = Some(wr_set_inline_data_list);
    qpx.wr_start = Some(wr_start);
    qpx.wr_complete = Some(wr_complete);
    qpx.wr_abort = Some(wr_abort);
}
