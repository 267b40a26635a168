//! The `static inline` verbs of `<infiniband/verbs.h>`, re-implemented in Rust.
//!
//! libibverbs exports no symbol for the data-path verbs: the header's inline functions make one
//! indirect call through the provider's ops table. Doing the same here keeps the call inlinable
//! into the caller (no C shim on the data path). `ibv_reg_mr` and `ibv_query_port` are macro and
//! inline layers over older exported symbols; calling the exported names directly would give the
//! legacy behaviour, so their header logic is mirrored too.

use super::*;
use core::mem::{offset_of, size_of};
use core::ptr;

/// `ibv_post_send`: one indirect call through `qp->context->ops.post_send`.
///
/// # Safety
/// `qp` is a live QP; `wr` is a valid NULL-terminated chain whose SGEs describe registered memory
/// that stays valid until the WRs complete; `bad_wr` is writable.
#[inline(always)]
pub unsafe fn ibv_post_send(
    qp: *mut ibv_qp,
    wr: *mut ibv_send_wr,
    bad_wr: *mut *mut ibv_send_wr,
) -> i32 {
    // SAFETY: `qp` is live (caller), so its context's ops table is valid; no entry is NULL, as
    // rdma-core sets every op to a dummy (EOPNOTSUPP) before the provider's (verbs_set_ops over
    // verbs_dummy_ops) and the header's inline function likewise calls it unchecked.
    unsafe {
        let f = (*(*qp).context).ops.post_send.unwrap_unchecked();
        f(qp, wr, bad_wr)
    }
}

/// `ibv_post_recv`: one indirect call through `qp->context->ops.post_recv`.
///
/// # Safety
/// As [`ibv_post_send`], for receive WRs.
#[inline(always)]
pub unsafe fn ibv_post_recv(
    qp: *mut ibv_qp,
    wr: *mut ibv_recv_wr,
    bad_wr: *mut *mut ibv_recv_wr,
) -> i32 {
    // SAFETY: as ibv_post_send; the ops entry is always set.
    unsafe {
        let f = (*(*qp).context).ops.post_recv.unwrap_unchecked();
        f(qp, wr, bad_wr)
    }
}

/// `ibv_post_srq_recv`: one indirect call through `srq->context->ops.post_srq_recv`.
///
/// # Safety
/// `srq` is a live SRQ; otherwise as [`ibv_post_recv`].
#[inline(always)]
pub unsafe fn ibv_post_srq_recv(
    srq: *mut ibv_srq,
    wr: *mut ibv_recv_wr,
    bad_wr: *mut *mut ibv_recv_wr,
) -> i32 {
    // SAFETY: `srq` is live per the caller; the ops entry is always set.
    unsafe {
        let f = (*(*srq).context).ops.post_srq_recv.unwrap_unchecked();
        f(srq, wr, bad_wr)
    }
}

/// `ibv_poll_cq`: one indirect call through `cq->context->ops.poll_cq`.
///
/// # Safety
/// `cq` is a live CQ and `wc` points to `num_entries` writable `ibv_wc`.
#[inline(always)]
pub unsafe fn ibv_poll_cq(cq: *mut ibv_cq, num_entries: i32, wc: *mut ibv_wc) -> i32 {
    // SAFETY: `cq` is live per the caller; the ops entry is always set.
    unsafe {
        let f = (*(*cq).context).ops.poll_cq.unwrap_unchecked();
        f(cq, num_entries, wc)
    }
}

/// `ibv_req_notify_cq`: one indirect call through `cq->context->ops.req_notify_cq`.
///
/// # Safety
/// `cq` is a live CQ.
#[inline(always)]
pub unsafe fn ibv_req_notify_cq(cq: *mut ibv_cq, solicited_only: i32) -> i32 {
    // SAFETY: `cq` is live per the caller; the ops entry is always set.
    unsafe {
        let f = (*(*cq).context).ops.req_notify_cq.unwrap_unchecked();
        f(cq, solicited_only)
    }
}

/// `verbs_get_ctx`: the `verbs_context` that embeds `ctx`, or NULL for a legacy context.
///
/// # Safety
/// `ctx` is a live context.
#[inline]
pub unsafe fn verbs_get_ctx(ctx: *mut ibv_context) -> *mut verbs_context {
    // SAFETY: reading `abi_compat` of a live context. A context whose abi_compat is the
    // all-ones marker is the last field of a verbs_context (container_of, as the header does).
    unsafe {
        if (*ctx).abi_compat as usize != usize::MAX {
            return ptr::null_mut();
        }
        ctx.byte_sub(offset_of!(verbs_context, context)).cast()
    }
}

/// `verbs_get_ctx_op(ctx, query_port)`: the extended context when the provider implements
/// `query_port` and its `verbs_context` is large enough to hold that field.
///
/// # Safety
/// `ctx` is a live context.
#[inline]
unsafe fn verbs_ctx_with_query_port(ctx: *mut ibv_context) -> *mut verbs_context {
    // SAFETY: `vctx` comes from verbs_get_ctx of a live context; `sz` is read before the op
    // field, exactly like the header's size check, so a smaller (older) struct is never read
    // past its end.
    unsafe {
        let vctx = verbs_get_ctx(ctx);
        if vctx.is_null() {
            return vctx;
        }
        let needed = size_of::<verbs_context>() - offset_of!(verbs_context, query_port);
        if (*vctx).sz < needed || (*vctx).query_port.is_none() {
            return ptr::null_mut();
        }
        vctx
    }
}

/// `ibv_query_port` as the header's `___ibv_query_port` does it: the provider's extended
/// `query_port` with this header's `sizeof(struct ibv_port_attr)`, or the legacy exported symbol
/// on a zeroed struct (so a legacy provider never leaves the newer tail uninitialized).
///
/// # Safety
/// `ctx` is a live context and `attr` is writable.
pub unsafe fn ibv_query_port_full(
    ctx: *mut ibv_context,
    port: u8,
    attr: *mut ibv_port_attr,
) -> i32 {
    // SAFETY: per the caller `ctx` is live and `attr` writable; both branches are the header's.
    unsafe {
        let vctx = verbs_ctx_with_query_port(ctx);
        if vctx.is_null() {
            ptr::write_bytes(attr, 0, 1);
            return ibv_query_port(ctx, port, attr.cast());
        }
        let f = (*vctx).query_port.unwrap_unchecked();
        f(ctx, port, attr, size_of::<ibv_port_attr>())
    }
}

/// `ibv_reg_mr` as the header's `__ibv_reg_mr` does it: the exported `ibv_reg_mr` when no
/// optional access bit is set, `ibv_reg_mr_iova2` (with iova = addr) otherwise, so optional
/// flags such as relaxed ordering are honoured and silently ignored where unsupported.
///
/// # Safety
/// `pd` is a live PD; `addr..addr+length` stays mapped until the MR is deregistered.
pub unsafe fn ibv_reg_mr_full(
    pd: *mut ibv_pd,
    addr: *mut core::ffi::c_void,
    length: usize,
    access: u32,
) -> *mut ibv_mr {
    // SAFETY: per the caller; these are the two exported symbols the header chooses between.
    unsafe {
        if access & (ib_uverbs_access_flags::IB_UVERBS_ACCESS_OPTIONAL_RANGE) == 0 {
            ibv_reg_mr(pd, addr, length, access as i32)
        } else {
            ibv_reg_mr_iova2(pd, addr, length, addr as u64, access)
        }
    }
}

/// `ibv_query_gid_ex`: one GID table entry with its type, through the exported
/// `_ibv_query_gid_ex` with this header's entry size.
///
/// # Safety
/// `ctx` is a live context and `entry` is writable.
pub unsafe fn ibv_query_gid_ex(
    ctx: *mut ibv_context,
    port: u32,
    index: u32,
    entry: *mut ibv_gid_entry,
) -> i32 {
    // SAFETY: per the caller; the size argument is this header's struct size, as the header passes.
    unsafe { _ibv_query_gid_ex(ctx, port, index, entry, 0, size_of::<ibv_gid_entry>()) }
}

/// `ibv_create_qp_ex` as the header does it: `ibv_create_qp` when the mask is only
/// `IBV_QP_INIT_ATTR_PD`; else the provider's `create_qp_ex` when its `verbs_context` has one
/// (`verbs_get_ctx_op`), or NULL with `errno` `EOPNOTSUPP`.
///
/// # Safety
/// `ctx` is a live context; `attr` is a valid attribute struct whose PD and CQs (and SRQ)
/// are of `ctx` and live.
pub unsafe fn ibv_create_qp_ex(
    ctx: *mut ibv_context,
    attr: *mut ibv_qp_init_attr_ex,
) -> *mut ibv_qp {
    // SAFETY: per the caller; the size check before reading `create_qp_ex` is the header's
    // (`verbs_get_ctx_op`), so an older, smaller verbs_context is never read past its end.
    unsafe {
        if (*attr).comp_mask == ibv_qp_init_attr_mask::IBV_QP_INIT_ATTR_PD {
            return ibv_create_qp((*attr).pd, attr.cast());
        }
        let vctx = verbs_get_ctx(ctx);
        let needed = size_of::<verbs_context>() - offset_of!(verbs_context, create_qp_ex);
        if vctx.is_null() || (*vctx).sz < needed {
            *libc::__errno_location() = libc::EOPNOTSUPP;
            return ptr::null_mut();
        }
        match (*vctx).create_qp_ex {
            Some(f) => f(ctx, attr),
            None => {
                *libc::__errno_location() = libc::EOPNOTSUPP;
                ptr::null_mut()
            }
        }
    }
}

/// `ibv_wr_start`: opens the QP's posting critical section (`qp->wr_start`).
///
/// # Safety
/// `qp` is the live `ibv_qp_ex` of a QP created with `ibv_create_qp_ex` and send ops flags;
/// no critical section of it is open.
#[inline(always)]
pub unsafe fn ibv_wr_start(qp: *mut ibv_qp_ex) {
    // SAFETY: a provider that creates a QP with send ops flags sets wr_start, wr_complete and
    // wr_abort (the header calls them unchecked); the library checks them when it wraps one.
    unsafe { (*qp).wr_start.unwrap_unchecked()(qp) }
}

/// `ibv_wr_complete`: posts what was built since `ibv_wr_start`, or nothing (and an errno)
/// when a builder or setter failed; closes the critical section either way.
///
/// # Safety
/// As [`ibv_wr_start`], with a critical section open; every SGE built describes registered
/// memory that stays valid until its request completes.
#[inline(always)]
pub unsafe fn ibv_wr_complete(qp: *mut ibv_qp_ex) -> i32 {
    // SAFETY: as in ibv_wr_start.
    unsafe { (*qp).wr_complete.unwrap_unchecked()(qp) }
}

/// `ibv_wr_abort`: discards what was built since `ibv_wr_start` and closes the critical
/// section.
///
/// # Safety
/// As [`ibv_wr_start`], with a critical section open.
#[inline(always)]
pub unsafe fn ibv_wr_abort(qp: *mut ibv_qp_ex) {
    // SAFETY: as in ibv_wr_start.
    unsafe { (*qp).wr_abort.unwrap_unchecked()(qp) }
}

/// Defines the header's `ibv_wr_*` builder or setter `$name`: one indirect call through the
/// `ibv_qp_ex` field `$field`, which the QP must have (it was created with the op's send ops
/// flag; the setters are always set).
macro_rules! wr_op {
    ($(#[$doc:meta])* $name:ident => $field:ident ($($arg:ident: $ty:ty),*)) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// `qp` is a live `ibv_qp_ex` with a critical section open (`ibv_wr_start`) whose
        #[doc = concat!("`", stringify!($field), "` is set; the arguments are as verbs(3) asks.")]
        #[inline(always)]
        pub unsafe fn $name(qp: *mut ibv_qp_ex $(, $arg: $ty)*) {
            // SAFETY: per the caller, the field is set and the QP live.
            unsafe { (*qp).$field.unwrap_unchecked()(qp $(, $arg)*) }
        }
    };
}

wr_op!(
    /// `ibv_wr_send`: builds a SEND.
    ibv_wr_send => wr_send()
);
wr_op!(
    /// `ibv_wr_send_imm`: builds a SEND with immediate data (network order).
    ibv_wr_send_imm => wr_send_imm(imm_data: __be32)
);
wr_op!(
    /// `ibv_wr_rdma_write`: builds an RDMA WRITE.
    ibv_wr_rdma_write => wr_rdma_write(rkey: u32, remote_addr: u64)
);
wr_op!(
    /// `ibv_wr_rdma_write_imm`: builds an RDMA WRITE with immediate data (network order).
    ibv_wr_rdma_write_imm => wr_rdma_write_imm(rkey: u32, remote_addr: u64, imm_data: __be32)
);
wr_op!(
    /// `ibv_wr_rdma_read`: builds an RDMA READ.
    ibv_wr_rdma_read => wr_rdma_read(rkey: u32, remote_addr: u64)
);
wr_op!(
    /// `ibv_wr_atomic_cmp_swp`: builds an atomic compare-and-swap.
    ibv_wr_atomic_cmp_swp => wr_atomic_cmp_swp(rkey: u32, remote_addr: u64, compare: u64, swap: u64)
);
wr_op!(
    /// `ibv_wr_atomic_fetch_add`: builds an atomic fetch-and-add.
    ibv_wr_atomic_fetch_add => wr_atomic_fetch_add(rkey: u32, remote_addr: u64, add: u64)
);
wr_op!(
    /// `ibv_wr_set_sge`: the local memory of the request just built.
    ibv_wr_set_sge => wr_set_sge(lkey: u32, addr: u64, length: u32)
);
wr_op!(
    /// `ibv_wr_set_sge_list`: the local memory of the request just built, several pieces.
    ibv_wr_set_sge_list => wr_set_sge_list(num_sge: usize, sg_list: *const ibv_sge)
);
wr_op!(
    /// `ibv_wr_set_inline_data`: the request just built carries a copy of these bytes.
    ibv_wr_set_inline_data => wr_set_inline_data(addr: *mut core::ffi::c_void, length: usize)
);
wr_op!(
    /// `ibv_wr_set_inline_data_list`: the request just built carries a copy of these pieces,
    /// in order.
    ibv_wr_set_inline_data_list => wr_set_inline_data_list(num_buf: usize, buf_list: *const ibv_data_buf)
);
