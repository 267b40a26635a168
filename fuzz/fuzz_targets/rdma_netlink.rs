//! Fuzzes the RDMA netlink reply parser of the CNI plugin: any datagram, never a panic, and
//! what it accepts is consistent (`ib_sriov_cni::netlink::rdma::check_reply`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ib_sriov_cni::netlink::rdma::check_reply(data);
});
