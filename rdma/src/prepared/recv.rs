//! Receive templates of a [`Run`](super::Run).

use super::run_qp::RunQp;
use super::Run;
use crate::error::{Error, Result};
use crate::qp::QueuePair;
use crate::sys;
use std::fmt;
use std::marker::PhantomData;
use std::ptr;

/// A receive into a range of a sink, checked once by [`Run::prepare_recv`] and posted any
/// number of times by [`post`](Self::post).
pub struct RecvTemplate<'r> {
    /// The run's QP (the template borrows the run, which holds it).
    pub(super) qp: RunQp,
    pub(super) _run: PhantomData<&'r Run<'r>>,
    pub(super) wr: sys::ibv_recv_wr,
    pub(super) sge: sys::ibv_sge,
}

impl RecvTemplate<'_> {
    /// Posts the receive once (`ibv_post_recv`) with the caller's `wr_id`. Checks only that
    /// the receive queue has room (which also says the QP's state allows receives). No
    /// allocation, no lock of ours.
    #[inline(always)]
    pub fn post(&mut self, wr_id: u64) -> Result<()> {
        let at = self.qp;
        let post = |qp: &mut QueuePair| {
            if !qp.rq.has_room_for_one() {
                qp.rq.make_room(0, 1).map_err(|why| qp.no_room(true, why))?;
            }
            self.wr.wr_id = qp.rq.stage_run(wr_id);
            self.wr.sg_list = &mut self.sge;
            let mut bad = ptr::null_mut();
            // The SGE, if any, describes a range of a sink of this QP (the one the template's
            // run holds), which no Rust code can reach and which stays in the QP until this
            // request completes (the slot's run mark keeps it past the run).
            // SAFETY: the QP is live, and the SGE is as said just above.
            let ret = unsafe { sys::ibv_post_recv(qp.as_raw(), &mut self.wr, &mut bad) };
            if ret != 0 {
                return Err(Error::from_ret("ibv_post_recv", ret));
            }
            qp.rq.commit(1);
            Ok(())
        };
        // SAFETY: the template's run is live (it borrows it); `post` runs no caller code.
        unsafe { at.with(post) }
    }
}

impl fmt::Debug for RecvTemplate<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvTemplate")
            .field("len", &self.sge.length)
            .finish()
    }
}
