//! Fuzzes the `RDMA-EP/1` line parser: it must never panic, and every line it
//! accepts must round-trip through `to_line`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rdma_exchange::fuzzing::check_endpoint(data);
});
