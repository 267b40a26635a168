//! Awaiting completions with `rdma::AsyncCq` in device tests.

use rdma::{AsyncCq, Completion, QueuePair, WorkCompletion};
use std::time::Duration;

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
