//! Awaiting completions with `rdma_verbs::AsyncCq` in device tests, on QPs whose requests to a dead
//! peer fail fast.

use rdma_verbs::{AsyncCq, Completion, ConnectOptions, QpCaps, QueuePair, WorkCompletion};
use std::time::Duration;

/// Send and receive queues of `depth` work requests.
pub fn caps(depth: u32) -> QpCaps {
    QpCaps {
        max_send_wr: depth,
        max_recv_wr: depth,
        ..QpCaps::default()
    }
}

/// Short transport timeouts: a peer that is gone makes requests fail in about a second
/// (4.096 µs · 2^16 ≈ 0.27 s per try, 3 retries), yet busy emulated links never exhaust them.
/// Four RDMA READs in flight each way.
pub fn short_retries(o: &mut ConnectOptions) {
    o.timeout = 16;
    o.retry_cnt = 3;
    o.max_rd_atomic = 4;
    o.max_dest_rd_atomic = 4;
}

/// A runtime with one thread (the tests' default; `enable_all` for the reactor and timers).
pub fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Awaits `n` completions of `qp` on `acq`, each handed back to `qp` (success or not); panics
/// naming what arrived when `within` passes first.
pub async fn complete_n(
    acq: &mut AsyncCq,
    qp: &mut QueuePair,
    n: usize,
    within: Duration,
) -> Vec<Completion> {
    let mut out = Vec::with_capacity(n);
    let mut wcs = [WorkCompletion::default(); 8];
    let waited = tokio::time::timeout(within, async {
        while out.len() < n {
            let room = (n - out.len()).min(wcs.len());
            for wc in acq.poll(&mut wcs[..room]).await.expect("AsyncCq::poll") {
                out.push(qp.complete(wc).expect("a completion of this QP"));
            }
        }
    })
    .await;
    if waited.is_err() {
        panic!(
            "waited {within:?} for {n} completions of QP {:#x}, got {}: {out:?}",
            qp.qpn(),
            out.len()
        );
    }
    out
}
