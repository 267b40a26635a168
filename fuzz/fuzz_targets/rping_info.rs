//! Fuzzes the rping message parser: it must never panic, and every message it accepts must
//! round-trip through its encoder.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rdma_examples::rping::fuzz_check_info(data);
});
