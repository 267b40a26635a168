//! The ping-pong over UD completions: the C tool's main loop body, one completion at a time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rdma_verbs::ud::{Peer, UdQueuePair};
use rdma_verbs::{MemoryRegion, RecvWr, SendWr, WcStatus, WorkCompletion};

use crate::output::fail;

/// `PINGPONG_RECV_WRID` of the C tool.
pub(crate) const RECV_WRID: u64 = 1;
/// `PINGPONG_SEND_WRID` of the C tool.
pub(crate) const SEND_WRID: u64 = 2;

/// The pages of a message buffer whose first byte is not 0 (the C server's `-c` check:
/// `buf[i + 40] != i / page_size % sizeof(char)`, and that is always 0).
pub(crate) fn bad_pages(buf: &[u8], page: usize) -> Vec<usize> {
    (0..buf.len())
        .step_by(page)
        .filter(|&i| buf[i] != 0)
        .map(|i| i / page)
        .collect()
}

/// The state of the C tool's loop, with buffer pieces in place of its one buffer.
pub(crate) struct Pingpong {
    /// The UD QP, in RTS.
    pub(crate) qp: UdQueuePair,
    /// Where the sends go: the peer's QP, its address handle and Q_Key.
    pub(crate) peer: Peer,
    /// `--size`: the bytes each send carries (a piece may be one byte longer when it is 0).
    pub(crate) size: usize,
    /// Pieces neither posted for a receive nor being sent.
    pub(crate) free: Vec<MemoryRegion>,
    /// What the C tool's buffer holds after its 40-byte header area: the last message
    /// received (or, before the first, the spare piece with the initial fill). The next send
    /// sends it, so a pong echoes the ping as in the C tool. `None` while a (non-inline) send
    /// owns it.
    pub(crate) current: Option<MemoryRegion>,
    /// Whether sends go inline (the C tool's `IBV_SEND_INLINE` rule).
    pub(crate) inline: bool,
    /// `--rx-depth`: the receives kept posted.
    pub(crate) rx_depth: u32,
    /// `--iters`: the sends and the receives to complete.
    pub(crate) iters: u32,
    /// Receives posted and not completed (the C tool's `routs`).
    pub(crate) routs: i64,
    /// Receives a top-up could not post because their pieces were still held (the message
    /// being sent and the one just received): posted as soon as a piece comes back.
    pub(crate) deficit: u32,
    /// Receives completed.
    pub(crate) rcnt: u32,
    /// Sends completed.
    pub(crate) scnt: u32,
    /// The wr_ids (`RECV_WRID | SEND_WRID`) still awaited before the next send.
    pub(crate) pending: u64,
    /// The server's `-c` check: the page size, and the bad pages of the last message received.
    pub(crate) check: Option<(usize, Vec<usize>)>,
    /// Progress for the `--timeout` watchdog: `rcnt << 32 | scnt`.
    pub(crate) progress: Option<Arc<AtomicU64>>,
}

/// Posts up to `n` receives from the `free` pieces (`pp_post_recv`; the QP puts each
/// datagram's 40-byte header in a slot of its own). Returns how many were posted, and
/// whether the verb failed (as opposed to running out of free pieces).
pub(crate) fn post_recv(qp: &mut UdQueuePair, free: &mut Vec<MemoryRegion>, n: u32) -> (u32, bool) {
    let mut posted = 0;
    while posted < n {
        let Some(piece) = free.pop() else { break };
        if let Err(e) = qp.post_recv(RecvWr::recv(piece).wr_id(RECV_WRID)) {
            free.extend(e.returned);
            return (posted, true);
        }
        posted += 1;
    }
    (posted, false)
}

impl Pingpong {
    /// Posts one send of the current buffer to the peer (`pp_post_send`): inline when the C
    /// tool would.
    pub(crate) fn post_send(&mut self) -> bool {
        let size = self.size;
        let result = if self.inline {
            match self.current.as_ref().and_then(|b| b.as_slice()) {
                Some(data) => self
                    .qp
                    .post_send(self.peer, SendWr::send(&data[..size]).wr_id(SEND_WRID)),
                None => return false,
            }
        } else {
            let Some(buf) = self.current.take() else {
                return false;
            };
            let wr = SendWr::send(buf).range(0, size).wr_id(SEND_WRID);
            self.qp.post_send(self.peer, wr)
        };
        match result {
            Ok(()) => true,
            Err(mut e) => {
                if let Some(buf) = e.returned.pop() {
                    self.current = Some(buf);
                }
                false
            }
        }
    }

    /// Posts up to `want` receives; false (after printing why) when the verb fails.
    fn top_up(&mut self, want: u32) -> bool {
        let (posted, failed) = post_recv(&mut self.qp, &mut self.free, want);
        self.routs += i64::from(posted);
        self.deficit = want - posted;
        if failed {
            let _ = fail!(format!("Couldn't post receive ({})", self.routs));
        }
        !failed
    }

    /// A piece is free again: back to the pool, and posted at once if a top-up lacked it.
    fn release(&mut self, piece: MemoryRegion) -> bool {
        self.free.push(piece);
        self.deficit == 0 || self.top_up(self.deficit)
    }

    /// One completion of the C tool's loop: false (after printing why) on failure.
    pub(crate) fn handle(&mut self, wc: &WorkCompletion) -> bool {
        let c = match self.qp.complete(wc) {
            Ok(c) => c,
            Err(_) => {
                let _ = fail!(format!(
                    "Completion for unknown wr_id {}",
                    wc.raw_wr_id() as i32
                ));
                return false;
            }
        };
        if c.status != WcStatus::Success {
            let _ = fail!(format!(
                "Failed status {} ({}) for wr_id {}",
                c.status.as_str(),
                c.status.to_raw(),
                c.wr_id as i32
            ));
            return false;
        }
        match c.wr_id {
            SEND_WRID => {
                self.scnt += 1;
                if let Some(buf) = c.buf {
                    if !self.release(buf) {
                        return false;
                    }
                }
            }
            RECV_WRID => {
                if let Some(buf) = c.buf {
                    if let Some((page, bad)) = &mut self.check {
                        if self.rcnt + 1 == self.iters {
                            let bytes = buf.as_slice().unwrap_or(&[]);
                            *bad = bad_pages(&bytes[..self.size.min(bytes.len())], *page);
                        }
                    }
                    if let Some(old) = self.current.replace(buf) {
                        self.free.push(old);
                    }
                }
                self.routs -= 1;
                if self.routs <= 1 {
                    let want = (i64::from(self.rx_depth) - self.routs).max(0) as u32;
                    if !self.top_up(want) {
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
        self.pending &= !c.wr_id;
        if self.scnt < self.iters && self.pending == 0 {
            if !self.post_send() {
                let _ = fail!("Couldn't post send");
                return false;
            }
            self.pending = RECV_WRID | SEND_WRID;
        }
        true
    }

    /// Publishes the counts to the watchdog.
    pub(crate) fn note_progress(&self) {
        if let Some(p) = &self.progress {
            p.store(
                (u64::from(self.rcnt) << 32) | u64::from(self.scnt),
                Ordering::Relaxed,
            );
        }
    }
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
            .map_or_else(Vec::new, |(_, bad)| bad.to_vec())
    }
}
