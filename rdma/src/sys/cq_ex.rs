//! The `static inline` extended-CQ verbs of `<infiniband/verbs.h>` (`ibv_create_cq_ex`,
//! `ibv_start_poll`, `ibv_next_poll`, `ibv_end_poll`, `ibv_wc_read_*`), re-implemented in
//! Rust as the header does them: one indirect call through the provider's function pointers.

use super::*;
use core::mem::{offset_of, size_of};
use core::ptr;

/// `ibv_create_cq_ex`: the provider's `create_cq_ex`, or NULL with `errno` EOPNOTSUPP when it
/// has none (an older or smaller `verbs_context`).
///
/// # Safety
/// `ctx` is a live context; `attr` is a valid attribute struct (its channel, if any, of `ctx`).
#[inline]
pub unsafe fn ibv_create_cq_ex(
    ctx: *mut ibv_context,
    attr: *mut ibv_cq_init_attr_ex,
) -> *mut ibv_cq_ex {
    // SAFETY: per the caller; the size check before reading `create_cq_ex` is the header's
    // (`verbs_get_ctx_op`), so an older, smaller verbs_context is never read past its end.
    unsafe {
        let vctx = verbs_get_ctx(ctx);
        let needed = size_of::<verbs_context>() - offset_of!(verbs_context, create_cq_ex);
        if vctx.is_null() || (*vctx).sz < needed {
            *libc::__errno_location() = libc::EOPNOTSUPP;
            return ptr::null_mut();
        }
        match (*vctx).create_cq_ex {
            Some(f) => f(ctx, attr),
            None => {
                *libc::__errno_location() = libc::EOPNOTSUPP;
                ptr::null_mut()
            }
        }
    }
}

/// `IBV_WC_STANDARD_FLAGS`: the fields of `struct ibv_wc` an extended CQ can report (an
/// anonymous enum of the header, which bindgen names unstably).
pub const IBV_WC_STANDARD_FLAGS: u64 = (ibv_create_cq_wc_flags::IBV_WC_EX_WITH_BYTE_LEN
    | ibv_create_cq_wc_flags::IBV_WC_EX_WITH_IMM
    | ibv_create_cq_wc_flags::IBV_WC_EX_WITH_QP_NUM
    | ibv_create_cq_wc_flags::IBV_WC_EX_WITH_SRC_QP
    | ibv_create_cq_wc_flags::IBV_WC_EX_WITH_SLID
    | ibv_create_cq_wc_flags::IBV_WC_EX_WITH_SL
    | ibv_create_cq_wc_flags::IBV_WC_EX_WITH_DLID_PATH_BITS)
    as u64;

/// `ibv_cq_ex_to_cq`: the `ibv_cq` an extended CQ starts with.
#[inline(always)]
pub fn ibv_cq_ex_to_cq(cq: *mut ibv_cq_ex) -> *mut ibv_cq {
    cq.cast()
}

/// `ibv_start_poll`: opens a poll session at the first completion (0), or returns ENOENT
/// when the CQ is empty (no session then), another errno on failure.
///
/// # Safety
/// `cq` is a live extended CQ with no session open on it.
#[inline(always)]
pub unsafe fn ibv_start_poll(cq: *mut ibv_cq_ex, attr: *mut ibv_poll_cq_attr) -> i32 {
    // SAFETY: a provider that creates an extended CQ sets start_poll, next_poll and end_poll
    // (the header calls them unchecked).
    unsafe { (*cq).start_poll.unwrap_unchecked()(cq, attr) }
}

/// `ibv_next_poll`: moves the session to the next completion (0), or ENOENT past the last.
///
/// # Safety
/// `cq` is a live extended CQ with a session open.
#[inline(always)]
pub unsafe fn ibv_next_poll(cq: *mut ibv_cq_ex) -> i32 {
    // SAFETY: as in ibv_start_poll.
    unsafe { (*cq).next_poll.unwrap_unchecked()(cq) }
}

/// `ibv_end_poll`: closes the session, consuming the completions it went through.
///
/// # Safety
/// `cq` is a live extended CQ with a session open.
#[inline(always)]
pub unsafe fn ibv_end_poll(cq: *mut ibv_cq_ex) {
    // SAFETY: as in ibv_start_poll.
    unsafe { (*cq).end_poll.unwrap_unchecked()(cq) }
}

/// Defines the header's `ibv_wc_read_$field`: one indirect call through the `ibv_cq_ex` field
/// `read_$field`, which the CQ must have (it was created with the field's `wc_flags` bit, or it
/// is one every provider sets: opcode, vendor_err, wc_flags).
macro_rules! wc_read {
    ($(#[$doc:meta])* $name:ident => $field:ident -> $ty:ty) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// `cq` is a live extended CQ with a session open on a completion, and
        #[doc = concat!("`", stringify!($field), "` is set.")]
        #[inline(always)]
        pub unsafe fn $name(cq: *mut ibv_cq_ex) -> $ty {
            // SAFETY: per the caller, the field is set and the session open.
            unsafe { (*cq).$field.unwrap_unchecked()(cq) }
        }
    };
}

wc_read!(
    /// `ibv_wc_read_opcode`.
    ibv_wc_read_opcode => read_opcode -> ibv_wc_opcode::Type
);
wc_read!(
    /// `ibv_wc_read_vendor_err`.
    ibv_wc_read_vendor_err => read_vendor_err -> u32
);
wc_read!(
    /// `ibv_wc_read_byte_len`.
    ibv_wc_read_byte_len => read_byte_len -> u32
);
wc_read!(
    /// `ibv_wc_read_imm_data` (network order).
    ibv_wc_read_imm_data => read_imm_data -> __be32
);
wc_read!(
    /// `ibv_wc_read_qp_num`.
    ibv_wc_read_qp_num => read_qp_num -> u32
);
wc_read!(
    /// `ibv_wc_read_src_qp`.
    ibv_wc_read_src_qp => read_src_qp -> u32
);
wc_read!(
    /// `ibv_wc_read_wc_flags`.
    ibv_wc_read_wc_flags => read_wc_flags -> ::std::os::raw::c_uint
);
wc_read!(
    /// `ibv_wc_read_slid`.
    ibv_wc_read_slid => read_slid -> u32
);
wc_read!(
    /// `ibv_wc_read_sl`.
    ibv_wc_read_sl => read_sl -> u8
);
wc_read!(
    /// `ibv_wc_read_dlid_path_bits`.
    ibv_wc_read_dlid_path_bits => read_dlid_path_bits -> u8
);
wc_read!(
    /// `ibv_wc_read_completion_ts`: the device clock when the completion was made.
    ibv_wc_read_completion_ts => read_completion_ts -> u64
);
wc_read!(
    /// `ibv_wc_read_completion_wallclock_ns`: the completion time in nanoseconds of the
    /// wall clock.
    ibv_wc_read_completion_wallclock_ns => read_completion_wallclock_ns -> u64
);
