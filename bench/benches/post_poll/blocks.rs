//! Blocks of operations that are timed as a whole or split into phases: `RECV_DEPTH`
//! receives posted and then completed (each phase timed alone), and the runs
//! ([`QueuePair::run`](rdma_verbs::QueuePair::run)): templates checked once against raw
//! requests built once, `SEND_BLOCK` sends per block.

use crate::setup::{link16, raw_chain16, used, Bench, POLL, RECV_DEPTH, SIGNAL_EVERY};
use rdma_verbs::{sys, MemoryRegion, RecvWr, SendWr};
use std::hint::black_box;
use std::ptr;
use std::time::Instant;

/// Sends per timed block (the ring retires them every 64, so this keeps nothing queued).
pub(crate) const SEND_BLOCK: u64 = 1024;

/// Receives and their completions, split so that each phase is timed alone: `RECV_DEPTH`
/// receives posted (each into its own piece), then all polled (`POLL` at a time) and, safe
/// side, handed to `complete`, which gives the pieces back.
impl Bench {
    /// Posts `RECV_DEPTH` receives from the pool; returns the ns this took.
    #[inline(always)]
    pub(crate) fn safe_post_recvs(&mut self) -> f64 {
        let t = Instant::now();
        for k in 0..RECV_DEPTH as u64 {
            let buf = self.pool.pop().expect("every piece is back");
            self.qp
                .post_recv(RecvWr::recv(buf).wr_id(k))
                .expect("post_recv");
        }
        t.elapsed().as_nanos() as f64
    }

    /// Polls and completes every receive posted; returns the ns this took.
    #[inline(always)]
    pub(crate) fn safe_complete_recvs(&mut self) -> f64 {
        self.safe_drain_recvs(|pool, buf| pool.push(buf.expect("a receive's piece")))
    }

    /// Polls (`POLL` at a time) until `RECV_DEPTH` completions came, hands each to `complete`
    /// and [`used`], and the buffer it gave back to `each` with the pool; returns the ns.
    #[inline(always)]
    pub(crate) fn safe_drain_recvs(
        &mut self,
        mut each: impl FnMut(&mut Vec<MemoryRegion>, Option<MemoryRegion>),
    ) -> f64 {
        let t = Instant::now();
        let mut left = RECV_DEPTH;
        while left > 0 {
            for wc in self.cq.poll(&mut self.wcs).expect("poll") {
                each(
                    &mut self.pool,
                    used(self.qp.complete(wc).expect("complete")),
                );
                left -= 1;
            }
        }
        t.elapsed().as_nanos() as f64
    }

    #[inline(always)]
    pub(crate) fn raw_post_recvs(&mut self) -> f64 {
        let t = Instant::now();
        for _ in 0..RECV_DEPTH {
            let k = self.raw_free.pop().expect("every piece is back");
            // SAFETY: the pieces are of a region of the stub PD that lives as long as the
            // bench (the raw side completes all its receives before the safe side posts them).
            unsafe { self.raw_post_recv(self.raw_pieces[k], k as u64) };
        }
        t.elapsed().as_nanos() as f64
    }

    #[inline(always)]
    pub(crate) fn raw_complete_recvs(&mut self) -> f64 {
        self.raw_drain_recvs(|b, wr_id| b.raw_free.push(wr_id as usize))
    }

    /// Polls raw (`POLL` at a time) until `RECV_DEPTH` completions came, checks each one's
    /// status and hands its `wr_id` to `each`; returns the ns this took.
    #[inline(always)]
    pub(crate) fn raw_drain_recvs(&mut self, mut each: impl FnMut(&mut Self, u64)) -> f64 {
        let t = Instant::now();
        let mut left = RECV_DEPTH;
        while left > 0 {
            // SAFETY: the stub CQ is live and `raw_wcs` has room for POLL entries.
            let n = unsafe {
                sys::ibv_poll_cq(self.cq.as_raw(), POLL as i32, self.raw_wcs.as_mut_ptr())
            };
            assert!(n >= 0, "ibv_poll_cq: {n}");
            for k in 0..n as usize {
                let wc = &self.raw_wcs[k];
                assert_eq!(wc.status, sys::ibv_wc_status::IBV_WC_SUCCESS);
                let wr_id = wc.wr_id;
                each(self, wr_id);
            }
            left -= n as usize;
        }
        t.elapsed().as_nanos() as f64
    }
}

/// Runs: templates checked once ([`QueuePair::run`]), against raw requests built once.
impl Bench {
    /// `SEND_BLOCK` sends in one run of a shared-source SEND template (run and template made
    /// and ended in the block), one in 64 signaled, polled and completed; ns per send.
    #[inline(always)]
    pub(crate) fn run_sends(&mut self) -> f64 {
        let t0 = Instant::now();
        let run = self.qp.run();
        let mut t = run.prepare(SendWr::send(self.shared)).expect("prepare");
        for _ in 0..SEND_BLOCK {
            self.i = self.i.wrapping_add(1);
            let i = self.i;
            let signaled = i % SIGNAL_EVERY == SIGNAL_EVERY - 1;
            t.post(i, signaled).expect("post");
            if signaled {
                for wc in self.cq.poll(&mut self.wcs).expect("poll") {
                    used(run.complete(wc).expect("complete"));
                }
            }
        }
        drop(run);
        t0.elapsed().as_nanos() as f64 / SEND_BLOCK as f64
    }

    /// The raw twin of `run_sends`: one request built before the block, and per send only
    /// its `wr_id` and flags set.
    #[inline(always)]
    pub(crate) fn raw_prepared_sends(&mut self) -> f64 {
        let t0 = Instant::now();
        let mut sge = self.src;
        let mut wr = sys::ibv_send_wr {
            num_sge: 1,
            opcode: sys::ibv_wr_opcode::IBV_WR_SEND,
            ..Default::default()
        };
        for _ in 0..SEND_BLOCK {
            let i = self.next();
            let signaled = i % SIGNAL_EVERY == SIGNAL_EVERY - 1;
            wr.wr_id = i;
            wr.send_flags = if signaled {
                sys::ibv_send_flags::IBV_SEND_SIGNALED
            } else {
                0
            };
            wr.sg_list = &mut sge;
            let mut bad = ptr::null_mut();
            // SAFETY: the stub QP is live; the SGE describes the shared source (kept by the
            // QP for the whole run).
            let ret = unsafe { sys::ibv_post_send(self.qp.as_raw(), &mut wr, &mut bad) };
            assert_eq!(ret, 0, "ibv_post_send");
            if signaled {
                self.raw_retire();
            }
        }
        t0.elapsed().as_nanos() as f64 / SEND_BLOCK as f64
    }

    /// `SEND_BLOCK / 16` posts of a 16-send chain of a shared-source SEND in one run (run and
    /// chain made and ended in the block), the last of each signaled, polled and completed;
    /// ns per send.
    #[inline(always)]
    pub(crate) fn run_chains16(&mut self) -> f64 {
        let t0 = Instant::now();
        let run = self.qp.run();
        let mut chain = run
            .prepare_chain(SendWr::send(self.shared), 16)
            .expect("prepare_chain");
        for _ in 0..SEND_BLOCK / 16 {
            self.i = self.i.wrapping_add(1);
            chain.post(self.i * 16, true).expect("post");
            for wc in self.cq.poll(&mut self.wcs).expect("poll") {
                used(run.complete(wc).expect("complete"));
            }
        }
        drop(chain);
        drop(run);
        t0.elapsed().as_nanos() as f64 / SEND_BLOCK as f64
    }

    /// The raw twin of `run_chains16`: a chain of 16 requests built and linked before the
    /// block; per post only the `wr_id`s are set.
    #[inline(always)]
    pub(crate) fn raw_prepared_chains16(&mut self) -> f64 {
        let t0 = Instant::now();
        let mut sges = [self.src; 16];
        let mut wrs = raw_chain16(&mut sges, 0);
        let head = link16(&mut wrs);
        for _ in 0..SEND_BLOCK / 16 {
            let base = self.next() * 16;
            for k in 0..16 {
                // SAFETY: k < 16, an element of `wrs`.
                unsafe { (*head.add(k)).wr_id = base + k as u64 };
            }
            let mut bad = ptr::null_mut();
            // SAFETY: the stub QP is live; `wrs` is a chain of 16 requests, each with its SGE
            // in `sges` describing the shared source; both arrays outlive the call.
            let ret = unsafe { sys::ibv_post_send(self.qp.as_raw(), head, &mut bad) };
            assert_eq!(ret, 0, "ibv_post_send");
            self.raw_retire();
        }
        t0.elapsed().as_nanos() as f64 / SEND_BLOCK as f64
    }

    /// Posts `RECV_DEPTH` receives into 64 bytes of the sink in one run; returns the ns.
    #[inline(always)]
    pub(crate) fn run_post_recvs(&mut self) -> f64 {
        let t0 = Instant::now();
        let run = self.qp.run();
        let mut t = run
            .prepare_recv(RecvWr::recv_to_sink(self.sink).range(0, 64))
            .expect("prepare_recv");
        for k in 0..RECV_DEPTH as u64 {
            t.post(k).expect("post_recv");
        }
        drop(run);
        t0.elapsed().as_nanos() as f64
    }

    /// Polls and completes the receives `run_post_recvs` posted; returns the ns.
    #[inline(always)]
    pub(crate) fn sink_complete_recvs(&mut self) -> f64 {
        self.safe_drain_recvs(|_, buf| debug_assert!(buf.is_none()))
    }

    /// The raw twin of `run_post_recvs`: one SGE, `RECV_DEPTH` receives.
    #[inline(always)]
    pub(crate) fn raw_sink_post_recvs(&mut self) -> f64 {
        let t0 = Instant::now();
        let mut sge = self.raw_sink;
        let mut wr = sys::ibv_recv_wr {
            num_sge: 1,
            ..Default::default()
        };
        for k in 0..RECV_DEPTH as u64 {
            wr.wr_id = k;
            wr.sg_list = &mut sge;
            let mut bad = ptr::null_mut();
            // SAFETY: the stub QP is live; the SGE describes 64 bytes of `raw_recv`, a region
            // of the stub PD that lives as long as the bench (the stub never writes it).
            let ret = unsafe { sys::ibv_post_recv(self.qp.as_raw(), &mut wr, &mut bad) };
            assert_eq!(ret, 0, "ibv_post_recv");
        }
        t0.elapsed().as_nanos() as f64
    }

    /// The raw twin of `sink_complete_recvs`: polls, checks each status.
    #[inline(always)]
    pub(crate) fn raw_sink_complete_recvs(&mut self) -> f64 {
        self.raw_drain_recvs(|_, wr_id| {
            black_box(wr_id);
        })
    }
}
