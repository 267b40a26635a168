//! The raw side: the same operations through `ibv_post_send`, `ibv_post_recv` and
//! `ibv_poll_cq` on the same QPs and CQs, every completion checked.

use super::{Bench, Deadline, DEPTH, MSG, PIPE_RAW, POLL, SEND_RAW, WRITE_RAW};
use rdma_verbs::{sys, CompletionQueue};
use std::ptr;

impl Bench {
    /// Polls `cq` raw until at least one completion came; checks each (success, `opcode`,
    /// `byte_len` when given, ids in order from `first_id`); returns how many.
    #[inline(always)]
    fn raw_reap(
        cq: &CompletionQueue,
        wcs: &mut [sys::ibv_wc; POLL],
        opcode: u32,
        byte_len: Option<u32>,
        first_id: u64,
        what: &str,
    ) -> usize {
        let mut d = Deadline::new();
        loop {
            // SAFETY: the CQ is live and `wcs` has room for POLL entries.
            let n = unsafe { sys::ibv_poll_cq(cq.as_raw(), POLL as i32, wcs.as_mut_ptr()) };
            assert!(n >= 0, "ibv_poll_cq: {n}");
            if n == 0 {
                d.tick(what);
                continue;
            }
            for (k, wc) in wcs[..n as usize].iter().enumerate() {
                assert_eq!(
                    wc.status,
                    sys::ibv_wc_status::IBV_WC_SUCCESS,
                    "{what}: status"
                );
                assert_eq!(wc.opcode, opcode, "{what}: opcode");
                assert_eq!(wc.wr_id, first_id + k as u64, "{what}: wr_id");
                if let Some(len) = byte_len {
                    assert_eq!(wc.byte_len, len, "{what}: byte_len");
                }
            }
            return n as usize;
        }
    }

    /// Posts one signaled 64-byte RDMA WRITE of `slot` raw.
    #[inline(always)]
    fn raw_post_write(&mut self, slot: usize, id: u64) {
        let mut sge = sys::ibv_sge {
            addr: self.raw_src.addr() + (slot * MSG) as u64,
            length: MSG as u32,
            lkey: self.raw_src.lkey(),
        };
        let mut wr = sys::ibv_send_wr {
            wr_id: id,
            next: ptr::null_mut(),
            sg_list: &mut sge,
            num_sge: 1,
            opcode: sys::ibv_wr_opcode::IBV_WR_RDMA_WRITE,
            send_flags: sys::ibv_send_flags::IBV_SEND_SIGNALED,
            ..Default::default()
        };
        wr.wr.rdma = sys::ibv_send_wr__bindgen_ty_2__bindgen_ty_1 {
            remote_addr: self.remote.addr + (slot * MSG) as u64,
            rkey: self.remote.rkey,
        };
        let mut bad = ptr::null_mut();
        // The callers poll each completion before `self` can go away; at most DEPTH (< the SQ
        // depth) are in flight, and raw and safe requests are never outstanding together.
        // SAFETY: A is live and connected; the SGE describes `raw_src`, registered in A's PD,
        // alive as long as `self` and never written after setup; the request is complete.
        let ret = unsafe { sys::ibv_post_send(self.a.as_raw(), &mut wr, &mut bad) };
        assert_eq!(ret, 0, "ibv_post_send");
    }

    #[inline(always)]
    pub(crate) fn raw_write(&mut self) {
        let id = self.next_id();
        self.raw_post_write(WRITE_RAW, id);
        let wc = sys::ibv_wc_opcode::IBV_WC_RDMA_WRITE;
        Self::raw_reap(&self.cq_a, &mut self.raw_wcs, wc, None, id, "write64/raw");
        self.done[WRITE_RAW] += 1;
    }

    #[inline(always)]
    pub(crate) fn raw_send_recv(&mut self) {
        let id = self.next_id();
        let mut rsge = sys::ibv_sge {
            addr: self.raw_recv.addr(),
            length: self.raw_recv.len() as u32,
            lkey: self.raw_recv.lkey(),
        };
        let mut rwr = sys::ibv_recv_wr {
            wr_id: id,
            next: ptr::null_mut(),
            sg_list: &mut rsge,
            num_sge: 1,
        };
        let mut rbad = ptr::null_mut();
        // SAFETY: B is live; `raw_recv` is registered in B's PD and outlives the request, whose
        // completion is polled below before anything reads the buffer.
        let ret = unsafe { sys::ibv_post_recv(self.b.as_raw(), &mut rwr, &mut rbad) };
        assert_eq!(ret, 0, "ibv_post_recv");
        let mut sge = sys::ibv_sge {
            addr: self.raw_src.addr() + (SEND_RAW * MSG) as u64,
            length: MSG as u32,
            lkey: self.raw_src.lkey(),
        };
        let mut wr = sys::ibv_send_wr {
            wr_id: id,
            next: ptr::null_mut(),
            sg_list: &mut sge,
            num_sge: 1,
            opcode: sys::ibv_wr_opcode::IBV_WR_SEND,
            send_flags: sys::ibv_send_flags::IBV_SEND_SIGNALED,
            ..Default::default()
        };
        let mut bad = ptr::null_mut();
        // SAFETY: A is live; the SGE describes `raw_src` (see raw_post_write); the completion
        // is polled below.
        let ret = unsafe { sys::ibv_post_send(self.a.as_raw(), &mut wr, &mut bad) };
        assert_eq!(ret, 0, "ibv_post_send");
        let (mut sent, mut received) = (false, false);
        while !(sent && received) {
            // Each reap spins until its completion: the send's comes first on rxe, and waiting
            // for one then the other is what the safe side's loop amounts to.
            if !sent {
                let op = sys::ibv_wc_opcode::IBV_WC_SEND;
                Self::raw_reap(
                    &self.cq_a,
                    &mut self.raw_wcs,
                    op,
                    None,
                    id,
                    "send_recv64/raw",
                );
                sent = true;
            }
            if !received {
                let op = sys::ibv_wc_opcode::IBV_WC_RECV;
                let what = "send_recv64/raw receive";
                Self::raw_reap(
                    &self.cq_b,
                    &mut self.raw_wcs,
                    op,
                    Some(MSG as u32),
                    id,
                    what,
                );
                received = true;
            }
        }
        self.done[SEND_RAW] += 1;
    }

    #[inline(always)]
    pub(crate) fn raw_pipeline(&mut self) {
        if self.pipe_raw == DEPTH {
            let first = self.next_id - DEPTH as u64 + 1;
            let op = sys::ibv_wc_opcode::IBV_WC_RDMA_WRITE;
            let what = "write64_pipeline16/raw";
            self.pipe_raw -= Self::raw_reap(&self.cq_a, &mut self.raw_wcs, op, None, first, what);
        }
        let id = self.next_id();
        self.raw_post_write(PIPE_RAW, id);
        self.pipe_raw += 1;
        self.done[PIPE_RAW] += 1;
    }

    pub(crate) fn raw_drain(&mut self) {
        while self.pipe_raw > 0 {
            let first = self.next_id - self.pipe_raw as u64 + 1;
            let op = sys::ibv_wc_opcode::IBV_WC_RDMA_WRITE;
            let what = "write64_pipeline16/raw drain";
            self.pipe_raw -= Self::raw_reap(&self.cq_a, &mut self.raw_wcs, op, None, first, what);
        }
    }
}
