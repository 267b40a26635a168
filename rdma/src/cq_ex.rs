//! Extended completion queues (`ibv_create_cq_ex`): completions read field by field in a poll
//! session (`ibv_start_poll`, `ibv_next_poll`, `ibv_end_poll`), with the device's completion
//! timestamps where it offers them.
//!
//! The safety model is the plain CQ's: [`CompletionQueue::poll_ex`] copies each completion's
//! fields, as the device wrote them, into a [`WorkCompletion`] (the one a QP's `complete`
//! takes) beside its timestamps, and closes the session before it returns: no caller code runs
//! while a session is open, and nothing refers into the CQ afterwards. An extended CQ can also
//! be polled with [`CompletionQueue::poll`] (`ibv_poll_cq`), and used by QPs like any other.

use crate::completion::WorkCompletion;
use crate::cq::{CompletionQueue, CqBuilder};
use crate::error::{Error, Result};
use crate::sys;
use crate::sys::ibv_create_cq_wc_flags as f;
use std::ptr::NonNull;

/// The `ibv_cq_ex` of an extended CQ and the fields it was created to report.
pub(crate) struct ExCq {
    raw: NonNull<sys::ibv_cq_ex>,
    wc_flags: u64,
}

/// A completion polled from an extended CQ ([`CompletionQueue::poll_ex`]), with the device's
/// timestamps.
#[derive(Clone, Copy, Debug, Default)]
pub struct TimedCompletion {
    /// The completion, as `ibv_poll_cq` gives it: hand it to the QP's `complete`.
    pub wc: WorkCompletion,
    /// The device clock when the completion was made (raw ticks of the device's core clock),
    /// for a CQ built with [`CqBuilder::completion_timestamps`].
    pub timestamp: Option<u64>,
    /// The completion time in nanoseconds of the wall clock, for a CQ built with
    /// [`CqBuilder::wallclock_timestamps`].
    pub wallclock_ns: Option<u64>,
}

impl CqBuilder<'_> {
    /// Builds an extended CQ (`ibv_create_cq_ex`, with every standard field), polled with
    /// [`CompletionQueue::poll_ex`] as well as [`CompletionQueue::poll`].
    pub fn extended(mut self) -> Self {
        self.wc_flags.get_or_insert(sys::IBV_WC_STANDARD_FLAGS);
        self
    }

    /// An extended CQ whose completions carry the device clock
    /// ([`TimedCompletion::timestamp`]). A device without it fails the build with
    /// [`Error::Unsupported`].
    pub fn completion_timestamps(mut self) -> Self {
        *self.wc_flags.get_or_insert(sys::IBV_WC_STANDARD_FLAGS) |=
            f::IBV_WC_EX_WITH_COMPLETION_TIMESTAMP as u64;
        self
    }

    /// An extended CQ whose completions carry the wall-clock time
    /// ([`TimedCompletion::wallclock_ns`]). A device without it fails the build with
    /// [`Error::Unsupported`].
    pub fn wallclock_timestamps(mut self) -> Self {
        *self.wc_flags.get_or_insert(sys::IBV_WC_STANDARD_FLAGS) |=
            f::IBV_WC_EX_WITH_COMPLETION_TIMESTAMP_WALLCLOCK as u64;
        self
    }

    /// `ibv_create_cq_ex` with `wc_flags`, notifying through `channel`.
    pub(crate) fn create_ex(
        &self,
        channel: *mut sys::ibv_comp_channel,
        wc_flags: u64,
    ) -> Result<(NonNull<sys::ibv_cq>, ExCq)> {
        let mut attr = sys::ibv_cq_init_attr_ex {
            cqe: self.depth,
            cq_context: std::ptr::null_mut(),
            channel,
            comp_vector: self.comp_vector as u32,
            wc_flags,
            comp_mask: 0,
            flags: 0,
            parent_domain: std::ptr::null_mut(),
        };
        // SAFETY: the context is live; `attr` is complete and its channel (if any) is of this
        // context and outlives the CQ (the CQ's inner drops it after destroying the CQ).
        let raw = unsafe { sys::ibv_create_cq_ex(self.ctx.as_raw(), &mut attr) };
        let Some(raw) = NonNull::new(raw) else {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EOPNOTSUPP) {
                return Err(Error::Unsupported {
                    what: unsupported(wc_flags),
                    device: self.ctx.name().to_string(),
                });
            }
            return Err(Error::Verb {
                verb: "ibv_create_cq_ex",
                source: err,
            });
        };
        let cq = NonNull::new(sys::ibv_cq_ex_to_cq(raw.as_ptr())).expect("non-null");
        Ok((cq, ExCq { raw, wc_flags }))
    }
}

/// What a device refusing `ibv_create_cq_ex` with `wc_flags` lacks.
fn unsupported(wc_flags: u64) -> &'static str {
    let ts = f::IBV_WC_EX_WITH_COMPLETION_TIMESTAMP as u64;
    let wall = f::IBV_WC_EX_WITH_COMPLETION_TIMESTAMP_WALLCLOCK as u64;
    match (wc_flags & ts != 0, wc_flags & wall != 0) {
        (true, true) => {
            "completion timestamps, device and wall clock (ibv_create_cq_ex with \
             IBV_WC_EX_WITH_COMPLETION_TIMESTAMP and _WALLCLOCK)"
        }
        (true, false) => {
            "completion timestamps (ibv_create_cq_ex with IBV_WC_EX_WITH_COMPLETION_TIMESTAMP)"
        }
        (false, true) => {
            "wall-clock completion timestamps (ibv_create_cq_ex with \
             IBV_WC_EX_WITH_COMPLETION_TIMESTAMP_WALLCLOCK)"
        }
        (false, false) => "extended completion queues (ibv_create_cq_ex)",
    }
}

impl CompletionQueue {
    /// True for a CQ built extended ([`CqBuilder::extended`]).
    pub fn is_extended(&self) -> bool {
        self.inner.ex.is_some()
    }

    /// Polls up to `out.len()` completions of an extended CQ into `out` and returns the
    /// filled prefix (empty when the CQ is empty). Each holds the completion as
    /// [`poll`](Self::poll) gives it and the timestamps the CQ was built to report. No
    /// allocation; a poll session (`ibv_start_poll` … `ibv_end_poll`) and one provider call
    /// per field, per completion.
    pub fn poll_ex<'a>(&self, out: &'a mut [TimedCompletion]) -> Result<&'a [TimedCompletion]> {
        let Some(ex) = self.inner.ex.as_ref() else {
            return Err(Error::InvalidArgument(
                "this CQ is not extended: build it with CqBuilder::extended".into(),
            ));
        };
        if out.is_empty() {
            return Ok(out);
        }
        let cq = ex.raw.as_ptr();
        // One session per completion, never `ibv_next_poll`: rxe before rdma-core 61 unlocks
        // the CQ and moves past the end when next_poll finds it empty, and end_poll, which
        // the man page asks for after that, then moves again and unlocks twice (5e7aa4102):
        // the next poll reads a slot the device has not written.
        let mut n = 0;
        while n < out.len() {
            let mut attr = sys::ibv_poll_cq_attr { comp_mask: 0 };
            // SAFETY: the CQ is live and no session is open on it: each opens and closes
            // within this loop, and the provider locks the CQ for one (concurrent polls of
            // `&self` wait).
            let ret = unsafe { sys::ibv_start_poll(cq, &mut attr) };
            if ret == libc::ENOENT {
                break;
            }
            if ret != 0 {
                if n > 0 {
                    // The completions read are returned; the failure shows at the next poll.
                    break;
                }
                return Err(Error::from_ret("ibv_start_poll", ret));
            }
            // SAFETY: a session is open on a completion; the fields read are the CQ's.
            out[n] = unsafe { read_current(cq, ex.wc_flags) };
            // SAFETY: a session is open; it closes here, consuming the completion.
            unsafe { sys::ibv_end_poll(cq) };
            n += 1;
        }
        Ok(&out[..n])
    }
}

/// The completion a session of `cq` is on, with the fields of `wc_flags`.
///
/// # Safety
/// A session is open on `cq` at a completion; `cq` was created with `wc_flags`, so the
/// readers of those fields are set (opcode, vendor_err and wc_flags always are).
unsafe fn read_current(cq: *mut sys::ibv_cq_ex, wc_flags: u64) -> TimedCompletion {
    let has = |bit: u32| wc_flags & bit as u64 != 0;
    // SAFETY: per this function's contract: the session is open and every reader called is
    // set (each only when its bit is in `wc_flags`).
    unsafe {
        let mut wc = sys::ibv_wc {
            wr_id: (*cq).wr_id,
            status: (*cq).status,
            opcode: sys::ibv_wc_read_opcode(cq),
            vendor_err: sys::ibv_wc_read_vendor_err(cq),
            wc_flags: sys::ibv_wc_read_wc_flags(cq),
            ..Default::default()
        };
        if has(f::IBV_WC_EX_WITH_BYTE_LEN) {
            wc.byte_len = sys::ibv_wc_read_byte_len(cq);
        }
        if has(f::IBV_WC_EX_WITH_IMM) && wc.wc_flags & sys::ibv_wc_flags::IBV_WC_WITH_IMM != 0 {
            wc.__bindgen_anon_1.imm_data = sys::ibv_wc_read_imm_data(cq);
        }
        if has(f::IBV_WC_EX_WITH_QP_NUM) {
            wc.qp_num = sys::ibv_wc_read_qp_num(cq);
        }
        if has(f::IBV_WC_EX_WITH_SRC_QP) {
            wc.src_qp = sys::ibv_wc_read_src_qp(cq);
        }
        if has(f::IBV_WC_EX_WITH_SLID) {
            wc.slid = sys::ibv_wc_read_slid(cq) as u16;
        }
        if has(f::IBV_WC_EX_WITH_SL) {
            wc.sl = sys::ibv_wc_read_sl(cq);
        }
        if has(f::IBV_WC_EX_WITH_DLID_PATH_BITS) {
            wc.dlid_path_bits = sys::ibv_wc_read_dlid_path_bits(cq);
        }
        TimedCompletion {
            wc: WorkCompletion(wc),
            timestamp: has(f::IBV_WC_EX_WITH_COMPLETION_TIMESTAMP)
                .then(|| sys::ibv_wc_read_completion_ts(cq)),
            wallclock_ns: has(f::IBV_WC_EX_WITH_COMPLETION_TIMESTAMP_WALLCLOCK)
                .then(|| sys::ibv_wc_read_completion_wallclock_ns(cq)),
        }
    }
}

// SAFETY: the pointer is used only inside `poll_ex` sessions (the provider locks the CQ) and
// freed with the CQ; libibverbs CQs may be used from any thread.
unsafe impl Send for ExCq {}
// SAFETY: as above.
unsafe impl Sync for ExCq {}
