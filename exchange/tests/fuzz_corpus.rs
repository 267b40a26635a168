//! Replays the fuzz corpora in `fuzz/corpus/` with the fuzz targets' checks, so
//! CI exercises them on the stable toolchain without `cargo fuzz`.

#[path = "../../fuzz/corpus_replay.rs"]
mod corpus_replay;

use corpus_replay::replay;
use rdma_exchange::{fuzzing, Endpoint, PingpongDest};

#[test]
fn pingpong_dest_corpus() {
    replay("pingpong_dest", fuzzing::check_pingpong, |d| {
        PingpongDest::parse(d).is_ok()
    });
}

#[test]
fn endpoint_corpus() {
    replay("endpoint", fuzzing::check_endpoint, |d| {
        Endpoint::parse(d).is_ok()
    });
}
