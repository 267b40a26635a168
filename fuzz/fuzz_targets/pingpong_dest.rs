//! Fuzzes the `ibv_rc_pingpong` address parser: it must never panic, and every
//! message it accepts must be canonical and round-trip through `to_wire`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rdma_exchange::fuzzing::check_pingpong(data);
});
