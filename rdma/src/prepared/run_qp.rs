//! How a run and its templates reach the QP the run holds.
//!
//! A run borrows its QP mutably; its templates borrow the run shared, so that several can
//! be posted in turn, and each post needs the QP mutably. A safe cell would do this with a
//! borrow flag: set, checked and cleared on every post. Measured with the instruction guard,
//! such a flag adds 6 instructions to a template's post (15 added over a raw post become 21),
//! so the run keeps the pointer it took from its `&mut QueuePair` instead, and every access
//! goes through [`RunQp::with`], whose reference lives only for the closure it is given.

use crate::qp::QueuePair;
use std::ptr::NonNull;

/// The QP of a run: the pointer taken from the `&'q mut QueuePair` the run holds for `'q`,
/// kept by the run and copied into each of its templates (which borrow the run).
#[derive(Clone, Copy)]
pub(super) struct RunQp(NonNull<QueuePair>);

impl RunQp {
    /// The pointer of the QP a run holds for as long as the run lives.
    pub(super) fn new(qp: &mut QueuePair) -> Self {
        RunQp(NonNull::from(qp))
    }

    /// Calls `f` with the QP. The reference cannot outlive the call: `f` takes it for any
    /// lifetime, so it cannot return or keep it.
    ///
    /// # Safety
    /// `self` is of a live run (a template borrows its run, so a template's is). `f` does not
    /// call `with` (on this or another handle of the run) and runs no caller code. Then the
    /// reference `f` gets is the only one into the QP: the run's `&mut` borrow keeps everyone
    /// else out, and the run and its templates are neither `Send` nor `Sync`, so no other
    /// thread holds one.
    #[inline(always)]
    pub(super) unsafe fn with<R>(self, f: impl FnOnce(&mut QueuePair) -> R) -> R {
        // SAFETY: the caller's contract: a live, exclusive borrow for the call.
        f(unsafe { &mut *self.0.as_ptr() })
    }
}
