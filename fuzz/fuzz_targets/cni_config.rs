//! Fuzzes the CNI plugin's config parser(s): never a panic, and what is accepted round-trips
//! (`ib_sriov_cni::fuzzing::check_config`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ib_sriov_cni::fuzzing::check_config(data);
});
