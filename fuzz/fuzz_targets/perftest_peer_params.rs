//! Fuzzes rdma-perf's own options message parser (the step between two rdma-perf peers): it
//! must never panic, and what it accepts must survive encode and parse again.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rdma_bench::fuzzing::check_peer_params(data);
});
