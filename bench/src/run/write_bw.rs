//! RDMA WRITE bandwidth, the requester side (perftest `run_iter_bw` with one QP, post_list 1).

use super::{Clock, RunError};
use rdma::{CompletionQueue, Pinned, QueuePair, RemoteBuf, SendWr, WorkCompletion};
use std::time::{Duration, Instant};

/// Parameters of a bandwidth run.
#[derive(Clone, Copy, Debug)]
pub struct BwConfig {
    /// Writes to post.
    pub iters: u64,
    /// Bytes per write.
    pub size: u64,
    /// Most writes outstanding (perftest `-t`).
    pub tx_depth: u32,
    /// Every `cq_mod`-th write is signaled (perftest `-Q`), and the last one.
    pub cq_mod: u32,
    /// Give up when no completion arrives for this long.
    pub timeout: Duration,
}

/// Timestamps of a bandwidth run, in [`Clock`] nanoseconds: when each write was posted, and
/// when the signaled ones completed (`completed[j]` is set for each signaled `j`, 0 elsewhere),
/// as perftest's `tposted`/`tcompleted`.
#[derive(Clone, Debug, Default)]
pub struct BwSamples {
    /// Post time of write `i`.
    pub posted: Vec<u64>,
    /// Completion time of signaled write `j`.
    pub completed: Vec<u64>,
}

/// Posts `cfg.iters` RDMA WRITEs of `cfg.size` bytes from the pinned `src` to `remote`, keeping
/// at most `tx_depth` outstanding and signaling every `cq_mod`-th, and returns the timestamps.
/// The QP's send completions must arrive on `cq`.
pub fn write_bw(
    qp: &mut QueuePair,
    cq: &CompletionQueue,
    src: Pinned,
    remote: RemoteBuf,
    cfg: &BwConfig,
    clock: &Clock,
) -> Result<BwSamples, RunError> {
    let n = cfg.iters as usize;
    let mut s = BwSamples {
        posted: vec![0; n],
        completed: vec![0; n],
    };
    let cq_mod = u64::from(cfg.cq_mod.max(1));
    let depth = u64::from(cfg.tx_depth.max(1));
    let size = cfg.size as usize;
    let mut wcs = [WorkCompletion::default(); 16];
    let (mut scnt, mut ccnt) = (0u64, 0u64);
    let mut last_progress = Instant::now();
    let mut idle = 0u32;
    while ccnt < cfg.iters {
        while scnt < cfg.iters && scnt - ccnt < depth {
            let signaled = scnt % cq_mod == cq_mod - 1 || scnt == cfg.iters - 1;
            s.posted[scnt as usize] = clock.now();
            qp.post_send(
                SendWr::write(src, remote)
                    .range(0, size)
                    .signaled(signaled)
                    .wr_id(scnt),
            )?;
            scnt += 1;
        }
        let got = cq.poll(&mut wcs)?;
        if got.is_empty() {
            idle += 1;
            if idle % 4096 == 0 && last_progress.elapsed() > cfg.timeout {
                return Err(RunError::Timeout {
                    what: "waiting for RDMA WRITE completions",
                    iteration: ccnt,
                    after: cfg.timeout,
                });
            }
            continue;
        }
        let t = clock.now();
        for wc in got {
            let c = qp.complete(wc)?;
            c.result()?;
            s.completed[c.wr_id as usize] = t;
            ccnt = c.wr_id + 1;
        }
        idle = 0;
        last_progress = Instant::now();
    }
    Ok(s)
}
