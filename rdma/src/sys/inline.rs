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
