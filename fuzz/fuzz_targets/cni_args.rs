//! Fuzzes the CNI plugin's args parser(s): never a panic, and what is accepted round-trips
//! (`ib_sriov_cni::fuzzing::check_args`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ib_sriov_cni::fuzzing::check_args(data);
});
