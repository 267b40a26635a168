//! The two roles' per-connection tasks. Each owns its QP and its `AsyncCq`; posting is
//! synchronous, only waiting is `async`. Buffers move into the QP when posted and come back
//! from `QueuePair::complete`, so a task that is aborted (or fails) leaves no buffer the device
//! could still touch: dropping the QP destroys it before freeing them.

use std::time::{Duration, Instant};

use rdma_verbs::{
    Access, AsyncCq, Completion, Local, MemoryRegion, ProtectionDomain, QueuePair, RecvWr, SendWr,
    WcOpcode, WorkCompletion,
};

use crate::output::{Doing, Failure};

/// What one connection moved.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Stats {
    /// Messages echoed (server) or echoes verified (client).
    pub(crate) messages: u64,
    /// Their bytes.
    pub(crate) bytes: u64,
}

/// What a connection's task returns: its counts, and (client) its round-trip times.
#[derive(Debug, Default)]
pub(crate) struct Done {
    /// Messages and bytes.
    pub(crate) stats: Stats,
    /// Nanoseconds of each round trip (client; empty for the server).
    pub(crate) rtt_ns: Vec<u64>,
}

/// One connection's QP, its CQ awaited on tokio, and what the task needs to know.
pub(crate) struct Task {
    pub(crate) index: usize,
    pub(crate) qp: QueuePair,
    pub(crate) acq: AsyncCq,
    pub(crate) timeout: Duration,
}

/// The wr_id of the client's zero-length message that ends a connection.
const BYE: u64 = u64::MAX;

impl Task {
    /// Awaits the next completions (at most `timeout`) and hands each to the QP; any error
    /// status fails the task, naming the QP.
    async fn next(
        &mut self,
        wcs: &mut [WorkCompletion],
        out: &mut Vec<Completion>,
    ) -> Result<(), Failure> {
        let i = self.index;
        let polled = tokio::time::timeout(self.timeout, self.acq.poll(wcs))
            .await
            .map_err(|_| {
                Failure(format!(
                    "QP {i}: nothing completed for {:?} (is the peer alive?)",
                    self.timeout
                ))
            })?
            .doing(&format!("QP {i}: waiting for completions"))?;
        for wc in polled {
            let c = self.qp.complete(wc).doing(&format!("QP {i}"))?;
            c.result()
                .doing(&format!("QP {i}: work request {:#x}", c.wr_id))?;
            out.push(c);
        }
        Ok(())
    }

    /// The server: sends every message back as it came until the client's zero-length bye.
    /// Two receives were posted before the client could send, so one is always waiting while
    /// the other's buffer is being echoed. `corrupt` flips a byte of that echo (test hook).
    pub(crate) async fn serve(mut self, corrupt: Option<u64>) -> Result<Done, Failure> {
        let mut wcs = [WorkCompletion::default(); 4];
        let mut done = Vec::with_capacity(wcs.len());
        let mut stats = Stats::default();
        let mut bye = false;
        while !bye || self.qp.send_outstanding() > 0 {
            self.next(&mut wcs, &mut done).await?;
            for c in done.drain(..) {
                let i = self.index;
                let mut buf = c
                    .buf
                    .ok_or_else(|| Failure(format!("QP {i}: a completion without its buffer")))?;
                match c.opcode {
                    WcOpcode::Recv if c.byte_len == 0 => bye = true,
                    WcOpcode::Recv => {
                        let len = c.byte_len as usize;
                        if i == 0 && corrupt == Some(stats.messages) {
                            let b = buf.as_mut_slice().expect("a local buffer");
                            b[len / 2] ^= 0x40;
                        }
                        let echo = SendWr::send(buf).range(0, len).wr_id(stats.messages);
                        self.qp.post_send(echo).doing(&format!("QP {i}: echoing"))?;
                        stats.messages += 1;
                        stats.bytes += len as u64;
                    }
                    // The echo went out: its buffer takes the next message.
                    _ => self
                        .qp
                        .post_recv(RecvWr::recv(buf))
                        .doing(&format!("QP {i}: posting a receive"))?,
                }
            }
        }
        Ok(Done {
            stats,
            rtt_ns: Vec::new(),
        })
    }

    /// The client: `iters` round trips of `size`-byte messages whose bytes depend on the QP
    /// and the round, each echo checked byte for byte; then a zero-length bye. Each round
    /// trip's time (post to both completions) is kept, in a vector allocated up front.
    pub(crate) async fn client(
        mut self,
        pd: ProtectionDomain,
        size: usize,
        iters: u64,
    ) -> Result<Done, Failure> {
        let i = self.index;
        let mut rtt_ns = Vec::with_capacity(usize::try_from(iters).unwrap_or(0).min(1 << 24));
        let mr = || MemoryRegion::new(&pd, size, Access::LOCAL_WRITE);
        let (mut sbuf, mut rbuf) = (Some(mr()?), Some(mr()?));
        let mut expected = vec![0u8; size];
        let mut wcs = [WorkCompletion::default(); 4];
        let mut done = Vec::with_capacity(wcs.len());
        let mut stats = Stats::default();
        for round in 0..iters {
            fill(&mut expected, i, round);
            let (mut s, r) = (sbuf.take().expect("back"), rbuf.take().expect("back"));
            let posted = Instant::now();
            s.as_mut_slice()
                .expect("a local buffer")
                .copy_from_slice(&expected);
            self.qp
                .post_recv(RecvWr::recv(r).wr_id(round))
                .doing(&format!("QP {i}: posting a receive"))?;
            self.qp
                .post_send(SendWr::send(s).wr_id(round))
                .doing(&format!("QP {i}: sending"))?;
            while sbuf.is_none() || rbuf.is_none() {
                self.next(&mut wcs, &mut done).await?;
                for c in done.drain(..) {
                    let buf = c.buf.ok_or_else(|| {
                        Failure(format!("QP {i}: a completion without its buffer"))
                    })?;
                    if c.opcode == WcOpcode::Recv {
                        check(i, round, c.byte_len as usize, &buf, &expected)?;
                        rbuf = Some(buf);
                    } else {
                        sbuf = Some(buf);
                    }
                }
            }
            if rtt_ns.len() < rtt_ns.capacity() {
                rtt_ns.push(posted.elapsed().as_nanos() as u64);
            }
            stats.messages += 1;
            stats.bytes += size as u64;
        }
        self.qp
            .post_send(SendWr::send(Local::Empty).wr_id(BYE))
            .doing(&format!("QP {i}: saying bye"))?;
        while self.qp.send_outstanding() > 0 {
            self.next(&mut wcs, &mut done).await?;
        }
        Ok(Done { stats, rtt_ns })
    }
}

/// The bytes of message `round` on QP `qp`.
fn fill(buf: &mut [u8], qp: usize, round: u64) {
    let seed = (qp as u64)
        .wrapping_mul(0x9e37_79b9)
        .wrapping_add(round.wrapping_mul(131));
    for (k, b) in buf.iter_mut().enumerate() {
        *b = (seed.wrapping_add(k as u64 * 7) ^ (k as u64 >> 8)) as u8;
    }
}

/// Checks an echo against what was sent.
fn check(
    qp: usize,
    round: u64,
    len: usize,
    got: &MemoryRegion,
    want: &[u8],
) -> Result<(), Failure> {
    if len != want.len() {
        return Err(Failure(format!(
            "QP {qp} round {round}: the echo has {len} bytes, {} were sent",
            want.len()
        )));
    }
    let got = got.as_slice().expect("a local buffer");
    if got == want {
        return Ok(());
    }
    match got.iter().zip(want).position(|(g, w)| g != w) {
        None => Ok(()),
        Some(k) => Err(Failure(format!(
            "QP {qp} round {round}: the echo differs at byte {k} ({:#04x}, sent {:#04x})",
            got[k], want[k]
        ))),
    }
}
