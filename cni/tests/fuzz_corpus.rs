//! Replays the CNI crate's fuzz corpora (`fuzz/corpus/{cni_config,cni_args,cni_text,
//! rdma_netlink}`: hand-written seeds, RDMA netlink replies captured from the Soft-RoCE VM's
//! kernel, whatever cargo-fuzz added) through the fuzz targets' checks, so CI exercises them on
//! the stable toolchain without `cargo fuzz`.

#[path = "../../fuzz/corpus_replay.rs"]
mod corpus_replay;

use corpus_replay::replay;
use ib_sriov_cni::args::CniArgs;
use ib_sriov_cni::config::NetConf;
use ib_sriov_cni::fuzzing;
use ib_sriov_cni::netlink::rdma::{check_reply, parse_reply};

#[test]
fn rdma_netlink_corpus() {
    replay("rdma_netlink", check_reply, |d| parse_reply(d).is_ok());
}

#[test]
fn cni_config_corpus() {
    replay("cni_config", fuzzing::check_config, |d| {
        NetConf::parse(d).is_ok()
    });
}

#[test]
fn cni_args_corpus() {
    replay("cni_args", fuzzing::check_args, |d| {
        std::str::from_utf8(d).is_ok_and(|t| CniArgs::parse(t).is_ok())
    });
}

#[test]
fn cni_text_corpus() {
    replay("cni_text", fuzzing::check_text, fuzzing::text_accepted);
}
