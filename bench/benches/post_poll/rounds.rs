//! One round of each operation, safe and raw: a send (shared or inline, one in 64 signaled
//! and retired), a receive cycle, an empty poll, a 16-send batch and a poll of 16 completions.
//! Criterion times these rounds; the interleaved table and the instruction counts loop them.

use crate::setup::{link16, raw_chain16, used, Bench, POLL, SIGNAL_EVERY};
use rdma_verbs::{sys, Local, RecvWr, SendWr};
use std::hint::black_box;
use std::ptr;

impl Bench {
    #[inline(always)]
    pub(crate) fn safe_send(&mut self, inline: bool) {
        let i = self.next();
        let signaled = i % SIGNAL_EVERY == SIGNAL_EVERY - 1;
        let data = black_box(self.inline);
        let local = if inline {
            Local::Inline(&data)
        } else {
            Local::Shared(self.shared)
        };
        self.qp
            .post_send(SendWr::send(local).wr_id(i).signaled(signaled))
            .expect("post_send");
        if signaled {
            self.safe_retire();
        }
    }

    #[inline(always)]
    pub(crate) fn raw_send(&mut self, inline: bool) {
        let i = self.next();
        let signaled = i % SIGNAL_EVERY == SIGNAL_EVERY - 1;
        let data = black_box(self.inline);
        let (mut sge, flags) = if inline {
            let sge = sys::ibv_sge {
                addr: data.as_ptr() as u64,
                length: data.len() as u32,
                lkey: 0,
            };
            (sge, sys::ibv_send_flags::IBV_SEND_INLINE)
        } else {
            (self.src, 0)
        };
        let mut wr = sys::ibv_send_wr {
            wr_id: i,
            next: ptr::null_mut(),
            sg_list: &mut sge,
            num_sge: 1,
            opcode: sys::ibv_wr_opcode::IBV_WR_SEND,
            send_flags: flags
                | if signaled {
                    sys::ibv_send_flags::IBV_SEND_SIGNALED
                } else {
                    0
                },
            ..Default::default()
        };
        let mut bad = ptr::null_mut();
        // SAFETY: the stub QP is live; the SGE describes the shared source (kept by the QP for
        // the whole run) or inline bytes alive for the call.
        let ret = unsafe { sys::ibv_post_send(self.qp.as_raw(), &mut wr, &mut bad) };
        assert_eq!(ret, 0, "ibv_post_send");
        if signaled {
            self.raw_retire();
        }
    }

    #[inline(always)]
    pub(crate) fn safe_recv_cycle(&mut self) {
        let i = self.next();
        let buf = self.recv_buf.take().expect("handed back by the last round");
        self.qp
            .post_recv(RecvWr::recv(buf).wr_id(i))
            .expect("post_recv");
        for wc in self.cq.poll(&mut self.wcs).expect("poll") {
            self.recv_buf = used(self.qp.complete(wc).expect("complete"));
        }
    }

    #[inline(always)]
    pub(crate) fn raw_recv_cycle(&mut self) {
        let i = self.next();
        let sge = sys::ibv_sge {
            addr: self.raw_recv.addr(),
            length: self.raw_recv.len() as u32,
            lkey: self.raw_recv.lkey(),
        };
        // SAFETY: `raw_recv` is a region of the stub PD and lives as long as the bench.
        unsafe { self.raw_post_recv(sge, i) };
        self.raw_retire();
    }

    #[inline(always)]
    pub(crate) fn safe_poll_empty(&mut self) {
        black_box(self.cq.poll(&mut self.wcs).expect("poll").len());
    }

    #[inline(always)]
    pub(crate) fn raw_poll_empty(&mut self) {
        // SAFETY: the stub CQ is live and `raw_wcs` has room for POLL entries.
        let n =
            unsafe { sys::ibv_poll_cq(self.cq.as_raw(), POLL as i32, self.raw_wcs.as_mut_ptr()) };
        assert!(n >= 0, "ibv_poll_cq: {n}");
        black_box(n);
    }

    #[inline(always)]
    pub(crate) fn safe_batch16(&mut self) {
        let base = self.next() * 16;
        let mut batch = self.qp.send_batch::<16>();
        for k in 0..16 {
            let wr = SendWr::send(self.shared).wr_id(base + k).signaled(k == 15);
            batch.push(wr).expect("push");
        }
        batch.post().expect("post");
        self.safe_retire();
    }

    #[inline(always)]
    pub(crate) fn raw_batch16(&mut self) {
        let base = self.next() * 16;
        let mut sges = [self.src; 16];
        let mut wrs = raw_chain16(&mut sges, base);
        let head = link16(&mut wrs);
        let mut bad = ptr::null_mut();
        // SAFETY: the stub QP is live; `wrs` is a chain of 16 requests, each with its SGE in
        // `sges` describing the shared source; both arrays live until the call returns.
        let ret = unsafe { sys::ibv_post_send(self.qp.as_raw(), head, &mut bad) };
        assert_eq!(ret, 0, "ibv_post_send");
        self.raw_retire();
    }

    /// One round of the poll measurement: `POLL` raw receives posted (the same on both sides),
    /// then one poll that returns their `POLL` completions, safe (`CompletionQueue::poll`)
    /// or raw, each checked for success.
    #[inline(always)]
    pub(crate) fn poll_full(&mut self, safe: bool) {
        for k in 0..POLL as u64 {
            // SAFETY: `raw_sink` is 64 bytes of `raw_recv`, a region of the stub PD that lives
            // as long as the bench (the stub never writes it).
            unsafe { self.raw_post_recv(self.raw_sink, k) };
        }
        if safe {
            let wcs = self.cq.poll(&mut self.wcs).expect("poll");
            assert_eq!(wcs.len(), POLL);
            for wc in wcs {
                assert!(wc.is_ok());
                black_box(wc.raw_wr_id());
            }
        } else {
            // SAFETY: the stub CQ is live and `raw_wcs` has room for POLL entries.
            let n = unsafe {
                sys::ibv_poll_cq(self.cq.as_raw(), POLL as i32, self.raw_wcs.as_mut_ptr())
            };
            assert_eq!(n, POLL as i32, "ibv_poll_cq");
            for wc in &self.raw_wcs {
                assert_eq!(wc.status, sys::ibv_wc_status::IBV_WC_SUCCESS);
                black_box(wc.wr_id);
            }
        }
    }
}
