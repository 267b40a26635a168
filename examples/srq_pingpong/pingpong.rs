//! The ping-pong state of all QPs and the handling of one completion (the body of the C
//! tool's completion loop).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rdma_verbs::{
    Completion, MemoryRegion, QueuePair, RecvWr, SendWr, SharedReceiveQueue, WcStatus,
    WorkCompletion,
};

use crate::output::fail;

/// `PINGPONG_RECV_WRID` of the C tool.
pub(crate) const RECV_WRID: u64 = 1;
/// `PINGPONG_SEND_WRID` of the C tool.
pub(crate) const SEND_WRID: u64 = 2;

/// The pages of a received message that hold a byte other than 0. Every message of the C
/// tool is zeros: its buffer is zeroed, and `-c` sets the first byte of each page to
/// `i / page_size % sizeof(char)`, which is 0 too.
pub(crate) fn bad_pages(data: &[u8], page: usize) -> impl Iterator<Item = usize> + '_ {
    data.chunks(page.max(1))
        .enumerate()
        .filter(|(_, p)| p.iter().any(|&b| b != 0))
        .map(|(i, _)| i)
}

/// One QP and what the C tool keeps for it.
pub(crate) struct Lane {
    pub(crate) qp: QueuePair,
    /// `pending[qp_index]`: the work requests still awaited before the next send.
    pub(crate) pending: u64,
    /// The last message this QP received (or, on the client before the first, a zeroed
    /// piece): its next send sends it, so a pong echoes its ping. `None` while a (non-inline)
    /// send owns it.
    pub(crate) current: Option<MemoryRegion>,
}

/// Everything the completion loop changes.
pub(crate) struct Pingpong {
    pub(crate) lanes: Vec<Lane>,
    pub(crate) srq: SharedReceiveQueue,
    /// Pieces neither posted for a receive nor held by a lane.
    pub(crate) free: Vec<MemoryRegion>,
    pub(crate) inline: bool,
    pub(crate) rx_depth: u32,
    pub(crate) iters: u32,
    /// Receives posted to the SRQ (`routs`).
    pub(crate) routs: i64,
    /// Receives and sends completed, over all QPs (`rcnt`, `scnt`).
    pub(crate) rcnt: u32,
    pub(crate) scnt: u32,
    /// With `-c`: the page size, and the pages of received messages found not to be zeros.
    pub(crate) check: Option<(usize, BTreeSet<usize>)>,
    /// Progress for the `--timeout` watchdog: `rcnt << 32 | scnt`.
    pub(crate) progress: Option<Arc<AtomicU64>>,
}

impl Pingpong {
    /// Posts up to `n` receives to the SRQ from the free pieces (`pp_post_recv`); returns how
    /// many were posted.
    pub(crate) fn post_recv(&mut self, n: u32) -> u32 {
        let mut posted = 0;
        while posted < n {
            let Some(piece) = self.free.pop() else { break };
            if let Err(e) = self.srq.post_recv(RecvWr::recv(piece).wr_id(RECV_WRID)) {
                self.free.extend(e.returned);
                break;
            }
            posted += 1;
        }
        posted
    }

    /// Posts one send on QP `i` of its current piece (`pp_post_send`): inline when the C tool
    /// would. False when it could not be posted.
    pub(crate) fn post_send(&mut self, i: usize) -> bool {
        let lane = &mut self.lanes[i];
        let result = if self.inline {
            match lane.current.as_ref().and_then(|b| b.as_slice()) {
                Some(data) => lane.qp.post_send(SendWr::send(data).wr_id(SEND_WRID)),
                None => return false,
            }
        } else {
            let Some(buf) = lane.current.take() else {
                return false;
            };
            lane.qp.post_send(SendWr::send(buf).wr_id(SEND_WRID))
        };
        match result {
            Ok(()) => true,
            Err(mut e) => {
                lane.current = e.returned.pop();
                false
            }
        }
    }

    /// `find_qp`: the index of the QP numbered `qpn`.
    fn find_qp(&self, qpn: u32) -> Option<usize> {
        self.lanes.iter().position(|l| l.qp.qpn() == qpn)
    }

    /// Hands `wc` back to whoever posted it: the SRQ (receives) or its QP (sends).
    fn hand_back(&mut self, wc: &WorkCompletion, lane: Option<usize>) -> Option<Completion> {
        if let Ok(c) = self.srq.complete(wc) {
            return Some(c);
        }
        lane.and_then(|i| self.lanes[i].qp.complete(wc).ok())
    }

    /// One completion, as the C tool's loop body handles it; false (after printing why) on
    /// failure.
    pub(crate) fn handle(&mut self, wc: &WorkCompletion) -> bool {
        let lane = self.find_qp(wc.qp_num());
        let Some(c) = self.hand_back(wc, lane) else {
            let _ = if wc.status() != WcStatus::Success {
                fail!(failed_status(wc.status(), wc.raw_wr_id()))
            } else if lane.is_none() {
                fail!(format!("Couldn't find QPN {:06x}", wc.qp_num()))
            } else {
                fail!(format!(
                    "Completion for unknown wr_id {}",
                    wc.raw_wr_id() as i32
                ))
            };
            return false;
        };
        if c.status != WcStatus::Success {
            let _ = fail!(failed_status(c.status, c.wr_id));
            return false;
        }
        let Some(i) = lane else {
            let _ = fail!(format!("Couldn't find QPN {:06x}", c.qp_num));
            return false;
        };
        match c.wr_id {
            SEND_WRID => {
                self.scnt += 1;
                self.free.extend(c.buf);
            }
            RECV_WRID => {
                if let Some(buf) = c.buf {
                    self.check_data(&buf, c.byte_len as usize);
                    let old = self.lanes[i].current.replace(buf);
                    self.free.extend(old);
                }
                self.routs -= 1;
                if self.routs <= self.lanes.len() as i64 {
                    let want = (i64::from(self.rx_depth) - self.routs).max(0) as u32;
                    self.routs += i64::from(self.post_recv(want));
                    if self.routs < i64::from(self.rx_depth) {
                        let _ = fail!(format!("Couldn't post receive ({})", self.routs));
                        return false;
                    }
                }
                self.rcnt += 1;
            }
            other => {
                let _ = fail!(format!("Completion for unknown wr_id {}", other as i32));
                return false;
            }
        }
        self.lanes[i].pending &= !c.wr_id;
        if self.scnt < self.iters && self.lanes[i].pending == 0 {
            if !self.post_send(i) {
                let _ = fail!("Couldn't post send");
                return false;
            }
            self.lanes[i].pending = RECV_WRID | SEND_WRID;
        }
        true
    }

    /// With `-c`: notes the pages of the `len` bytes received into `buf` that are not zeros.
    fn check_data(&mut self, buf: &MemoryRegion, len: usize) {
        if let Some((page, bad)) = &mut self.check {
            let data = buf.as_slice().unwrap_or(&[]);
            bad.extend(bad_pages(&data[..len.min(data.len())], *page));
        }
    }

    /// Publishes the counts for the watchdog.
    pub(crate) fn note_progress(&self) {
        if let Some(p) = &self.progress {
            p.store(
                (u64::from(self.rcnt) << 32) | u64::from(self.scnt),
                Ordering::Relaxed,
            );
        }
    }
}

/// `Failed status %s (%d) for wr_id %d`.
fn failed_status(status: WcStatus, wr_id: u64) -> String {
    format!(
        "Failed status {} ({}) for wr_id {}",
        status.as_str(),
        status.to_raw(),
        wr_id as i32
    )
}

impl crate::drive::Exchanges for Pingpong {
    fn counts(&self) -> (u32, u32) {
        (self.rcnt, self.scnt)
    }
    fn handle(&mut self, wc: &WorkCompletion) -> bool {
        Pingpong::handle(self, wc)
    }
    fn note_progress(&self) {
        Pingpong::note_progress(self)
    }
    fn progress(&self) -> Option<&std::sync::atomic::AtomicU64> {
        self.progress.as_deref()
    }
    fn bad_pages(&self) -> Vec<usize> {
        self.check
            .as_ref()
            .map_or_else(Vec::new, |(_, bad)| bad.iter().copied().collect())
    }
}
