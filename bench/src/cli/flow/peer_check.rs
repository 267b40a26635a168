//! Between two rdma-perf peers: agree on the options before anything else, or stop with an
//! error that names every option that differs and both values.

use super::out::Res;
use crate::cli::params::Params;
use rdma_bench::perftest::handshake::{Agreed, Channel};
use rdma_bench::perftest::peer::PeerParams;

/// The options of `p` that the peer must share.
fn ours(p: &Params) -> PeerParams {
    PeerParams {
        test: p.test.as_str().to_string(),
        size: if p.all { 0 } else { p.max_size() },
        iters: p.iters,
        qps: p.qps,
        bidirectional: p.bidirectional,
        duration: p.duration.map_or(0, |d| d.as_secs()),
        connection: p.connection,
    }
}

/// Runs the options exchange when the peer is rdma-perf; a C perftest peer is left alone.
pub fn check(chan: &mut Channel, agreed: &Agreed, p: &Params) -> Res<()> {
    if !agreed.remote_version.is_rdma_perf() {
        return Ok(());
    }
    let mine = ours(p);
    let theirs = chan.exchange_peer_params(&mine)?;
    let diffs = mine.mismatches(&theirs);
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the peer (rdma-perf) runs with other options: {}; run both sides with the same ones",
            diffs.join("; ")
        )
        .into())
    }
}
