//! The safe side: each operation through the crate's API, buffers owned by their request
//! or shared with the QP.

use super::{Bench, Deadline, DEPTH, MSG, PIPE_SAFE, SEND_SAFE, WRITE_OWNED, WRITE_SHARED};
use rdma_verbs::{RecvWr, SendWr, WcOpcode};

impl Bench {
    /// Polls A's CQ until at least one completion came, hands each to A; returns how many.
    #[inline(always)]
    fn safe_reap_a(&mut self, what: &str) -> usize {
        let mut d = Deadline::new();
        loop {
            let got = self.cq_a.poll(&mut self.wcs).expect("poll");
            if got.is_empty() {
                d.tick(what);
                continue;
            }
            let n = got.len();
            for wc in got {
                let done = self.a.complete(wc).expect("complete");
                done.result().expect("completion status");
                if let Some(buf) = done.buf {
                    if done.opcode == WcOpcode::RdmaWrite {
                        self.src_owned = Some(buf);
                    } else {
                        self.send_buf = Some(buf);
                    }
                }
            }
            return n;
        }
    }

    #[inline(always)]
    pub(crate) fn safe_write_owned(&mut self) {
        let src = self
            .src_owned
            .take()
            .expect("handed back by the last round");
        let wr = SendWr::write(src, self.slot_remote(WRITE_OWNED)).range(WRITE_OWNED * MSG, MSG);
        self.a.post_send(wr).expect("post_send");
        self.safe_reap_a("write64/safe_owned");
        self.done[WRITE_OWNED] += 1;
    }

    #[inline(always)]
    pub(crate) fn safe_write_shared(&mut self) {
        let wr = SendWr::write(self.shared, self.slot_remote(WRITE_SHARED))
            .range(WRITE_SHARED * MSG, MSG);
        self.a.post_send(wr).expect("post_send");
        self.safe_reap_a("write64/safe_shared");
        self.done[WRITE_SHARED] += 1;
    }

    #[inline(always)]
    pub(crate) fn safe_send_recv(&mut self) {
        let rbuf = self.recv_buf.take().expect("handed back by the last round");
        self.b
            .post_recv(RecvWr::recv(rbuf).wr_id(1))
            .expect("post_recv");
        let sbuf = self.send_buf.take().expect("handed back by the last round");
        self.a
            .post_send(SendWr::send(sbuf).range(0, MSG))
            .expect("post_send");
        let (mut sent, mut received) = (false, false);
        let mut d = Deadline::new();
        while !(sent && received) {
            let mut progress = false;
            if !sent {
                for wc in self.cq_a.poll(&mut self.wcs).expect("poll") {
                    let done = self.a.complete(wc).expect("complete");
                    done.result().expect("send completion status");
                    self.send_buf = done.buf;
                    sent = true;
                    progress = true;
                }
            }
            if !received {
                for wc in self.cq_b.poll(&mut self.wcs).expect("poll") {
                    let done = self.b.complete(wc).expect("complete");
                    done.result().expect("receive completion status");
                    assert_eq!(done.byte_len as usize, MSG, "bytes received");
                    self.recv_buf = done.buf;
                    received = true;
                    progress = true;
                }
            }
            if !progress {
                d.tick("send_recv64/safe");
            }
        }
        self.done[SEND_SAFE] += 1;
    }

    #[inline(always)]
    pub(crate) fn safe_pipeline(&mut self) {
        if self.pipe_safe == DEPTH {
            self.pipe_safe -= self.safe_reap_a("write64_pipeline16/safe");
        }
        let wr =
            SendWr::write(self.shared, self.slot_remote(PIPE_SAFE)).range(PIPE_SAFE * MSG, MSG);
        self.a.post_send(wr).expect("post_send");
        self.pipe_safe += 1;
        self.done[PIPE_SAFE] += 1;
    }

    pub(crate) fn safe_drain(&mut self) {
        while self.pipe_safe > 0 {
            self.pipe_safe -= self.safe_reap_a("write64_pipeline16/safe drain");
        }
    }
}
