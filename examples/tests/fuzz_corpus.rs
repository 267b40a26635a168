//! Replays the rping fuzz corpus in `fuzz/corpus/rping_info` with the fuzz target's check, so
//! CI exercises it on the stable toolchain without `cargo fuzz`.

#[path = "../../fuzz/corpus_replay.rs"]
mod corpus_replay;

use rdma_examples::rping::{fuzz_check_info, RdmaInfo};

#[test]
fn rping_info_corpus() {
    corpus_replay::replay("rping_info", fuzz_check_info, |d| {
        RdmaInfo::decode(d).is_ok()
    });
}
