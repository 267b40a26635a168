//! The raw `unsafe` posts for experts: `ibv_send_wr`/`ibv_recv_wr` chains with a written
//! contract, outside the ownership model.

use super::QueuePair;
use crate::error::Error;
use crate::sys;
use std::ptr;

impl QueuePair {
    /// Posts raw send requests, bypassing the ownership checks. On a
    /// [`PostApi::Extended`](super::PostApi) QP the chain is built with `ibv_wr_*` (SEND, RDMA
    /// WRITE and READ, atomics, with immediate data, SGE lists, inline data in one piece) and
    /// posted all or nothing; another opcode fails with `EOPNOTSUPP`.
    ///
    /// # Safety
    /// - Every SGE of every request in the chain describes memory registered in this QP's PD
    ///   that stays mapped, and that no Rust code reads (if the device writes it, as RDMA READ
    ///   does) or writes, until that request's completion has been polled (or the QP destroyed).
    /// - Inline data and the chain itself need only live for the call.
    /// - `wr_id`s must not have bit 63 or 62 set (the crate's marks); completions of raw
    ///   requests are not to be passed to [`complete`](Self::complete), which rejects them.
    /// - The send queue has room: raw posts are not counted in the safe API's accounting, so
    ///   leave at least as many slots free as raw requests outstanding.
    pub unsafe fn post_send_raw(&mut self, wr: &mut sys::ibv_send_wr) -> Result<(), Error> {
        let mut bad = ptr::null_mut();
        // SAFETY: forwarded from this function's contract; the QP is live.
        let ret = unsafe { self.post_send_chain(wr, &mut bad) };
        crate::error::check(self.post_api().send_verb(), ret)
    }

    /// Posts raw receive requests, bypassing the ownership checks.
    ///
    /// # Safety
    /// As [`post_send_raw`](Self::post_send_raw): every SGE describes registered memory that
    /// stays mapped and untouched by Rust code until the completion has been polled.
    pub unsafe fn post_recv_raw(&mut self, wr: &mut sys::ibv_recv_wr) -> Result<(), Error> {
        let mut bad = ptr::null_mut();
        // SAFETY: forwarded from this function's contract; the QP is live.
        let ret = unsafe { sys::ibv_post_recv(self.as_raw(), wr, &mut bad) };
        crate::error::check("ibv_post_recv", ret)
    }
}
