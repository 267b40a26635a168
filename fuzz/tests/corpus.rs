//! Replays every fuzz corpus in `corpus/` with its fuzz target's check, on the stable
//! toolchain and without cargo-fuzz: `cd fuzz && cargo test`. The checks exist only with
//! `--cfg fuzzing`, which `.cargo/config.toml` sets for this workspace.

#[path = "../corpus_replay.rs"]
mod corpus_replay;

use corpus_replay::replay;

/// The corpora of `exchange`'s targets.
mod exchange {
    use super::replay;
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
}

/// The corpora of `bench`'s targets.
mod bench {
    use super::replay;
    use rdma_bench::fuzzing;
    use rdma_bench::perftest::peer::PeerParams;
    use rdma_bench::perftest::wire::{parse_mtu, BwReportMsg, KeyMsg, SysData, VersionMsg};

    #[test]
    fn perftest_version_corpus() {
        replay("perftest_version", fuzzing::check_version, |d| {
            VersionMsg::parse(d).is_ok()
        });
    }

    #[test]
    fn perftest_sys_data_corpus() {
        replay("perftest_sys_data", fuzzing::check_sys_data, |d| {
            SysData::parse(d).is_ok()
        });
    }

    #[test]
    fn perftest_mtu_corpus() {
        replay("perftest_mtu", fuzzing::check_mtu, |d| parse_mtu(d).is_ok());
    }

    #[test]
    fn perftest_keys_corpus() {
        replay("perftest_keys", fuzzing::check_keys, |d| {
            KeyMsg::parse_form(d, false).is_ok()
        });
    }

    #[test]
    fn perftest_keys_gid_corpus() {
        replay("perftest_keys_gid", fuzzing::check_keys_gid, |d| {
            KeyMsg::parse_form(d, true).is_ok()
        });
    }

    #[test]
    fn perftest_bw_report_corpus() {
        replay("perftest_bw_report", fuzzing::check_bw_report, |d| {
            BwReportMsg::parse(d).is_ok()
        });
    }

    #[test]
    fn perftest_peer_params_corpus() {
        replay("perftest_peer_params", fuzzing::check_peer_params, |d| {
            PeerParams::parse(d).is_ok()
        });
    }
}

/// The corpora of `cni`'s targets.
mod cni {
    use super::replay;
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
}

/// The corpora of `examples`'s targets.
mod examples {
    use super::replay;
    use rdma_examples::rping::{fuzz_check_info, RdmaInfo};

    #[test]
    fn rping_info_corpus() {
        replay("rping_info", fuzz_check_info, |d| {
            RdmaInfo::decode(d).is_ok()
        });
    }
}
