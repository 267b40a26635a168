//! The raw twins of the safe sends on an extended QP ([`PostApi::Extended`]): the same
//! requests built by hand with `ibv_wr_start`, `ibv_wr_send`, a setter and `ibv_wr_complete`
//! on the stub's `ibv_qp_ex`. The safe side is the classic rounds' (`safe_send`,
//! `safe_batch16`) on a fixture made with [`Bench::with_api`].
//!
//! [`PostApi::Extended`]: rdma_verbs::PostApi::Extended

use crate::setup::{Bench, SIGNAL_EVERY};
use rdma_verbs::sys;
use rdma_verbs::sys::ibv_send_flags as flag;
use std::hint::black_box;

impl Bench {
    /// The stub QP's `ibv_qp_ex` (its `qp_base` is the `ibv_qp`).
    fn qpx(&self) -> *mut sys::ibv_qp_ex {
        self.qp.as_raw().cast()
    }

    /// One SEND (shared source or 32 inline bytes), one in 64 signaled and retired, in its
    /// own critical section.
    #[inline(always)]
    pub(crate) fn raw_send_ex(&mut self, inline: bool) {
        let i = self.next();
        let signaled = i % SIGNAL_EVERY == SIGNAL_EVERY - 1;
        let data = black_box(self.inline);
        let qpx = self.qpx();
        let sig = if signaled { flag::IBV_SEND_SIGNALED } else { 0 };
        // SAFETY: the fixture's extended stub QP, with every operation set; the SGE is the
        // shared source (kept by the QP for the whole run), or the inline bytes, copied by the
        // setter.
        let ret = unsafe {
            sys::ibv_wr_start(qpx);
            (*qpx).wr_id = i;
            if inline {
                (*qpx).wr_flags = sig | flag::IBV_SEND_INLINE;
                sys::ibv_wr_send(qpx);
                sys::ibv_wr_set_inline_data(qpx, data.as_ptr() as *mut _, data.len());
            } else {
                (*qpx).wr_flags = sig;
                sys::ibv_wr_send(qpx);
                sys::ibv_wr_set_sge(qpx, self.src.lkey, self.src.addr, self.src.length);
            }
            sys::ibv_wr_complete(qpx)
        };
        assert_eq!(ret, 0, "ibv_wr_complete");
        if signaled {
            self.raw_retire();
        }
    }

    /// 16 SENDs of the shared source in one critical section, the last signaled, retired.
    #[inline(always)]
    pub(crate) fn raw_batch16_ex(&mut self) {
        let base = self.next() * 16;
        let qpx = self.qpx();
        let src = self.src;
        // SAFETY: as in `raw_send_ex`, for 16 requests of the shared source.
        let ret = unsafe {
            sys::ibv_wr_start(qpx);
            for k in 0..16 {
                (*qpx).wr_id = base + k;
                (*qpx).wr_flags = if k == 15 { flag::IBV_SEND_SIGNALED } else { 0 };
                sys::ibv_wr_send(qpx);
                sys::ibv_wr_set_sge(qpx, src.lkey, src.addr, src.length);
            }
            sys::ibv_wr_complete(qpx)
        };
        assert_eq!(ret, 0, "ibv_wr_complete");
        self.raw_retire();
    }
}
