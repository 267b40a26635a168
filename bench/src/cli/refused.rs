//! The options perftest 6.06's help lists for these tests that rdma-perf does not run: each
//! is parsed (so a command line copied from a runbook is not met with clap's generic error)
//! and refused before any connection is made, with a line naming the option and why.

use clap::{Arg, ArgAction, ArgMatches, Command};

/// One refused option.
struct Refused {
    /// The long name, as perftest spells it.
    long: &'static str,
    /// The short letter, if perftest has one.
    short: Option<char>,
    /// Whether it takes a value.
    value: bool,
    /// Why rdma-perf does not run it.
    why: &'static str,
}

const fn r(long: &'static str, short: Option<char>, value: bool, why: &'static str) -> Refused {
    Refused {
        long,
        short,
        value,
        why,
    }
}

const DC: &str = "DC streams exist only on mlx5 DC transport, which rdma-perf does not run";
const CRYPTO: &str = "mlx5 crypto (mlx5dv), not a verbs feature";
const RATE: &str = "rate limiting is not implemented";

/// Every refused option.
const REFUSED: &[Refused] = &[
    r("log_dci_streams", None, true, DC),
    r("log_active_dci_streams", None, true, DC),
    r("aes_xts", None, false, CRYPTO),
    r("encrypt_on_tx", None, false, CRYPTO),
    r("sig_before", None, false, CRYPTO),
    r("aes_block_size", None, true, CRYPTO),
    r("data_enc_keys_number", None, true, CRYPTO),
    r("kek_path", None, true, CRYPTO),
    r("credentials_path", None, true, CRYPTO),
    r("data_enc_key_app_path", None, true, CRYPTO),
    r(
        "recv_post_list",
        None,
        true,
        "receive post lists are not implemented",
    ),
    r(
        "hop_limit",
        Some('L'),
        true,
        "the hop limit of raw Ethernet QPs; rdma-perf has no raw Ethernet tests",
    ),
    r(
        "dualport",
        Some('O'),
        false,
        "dual-port mode is not implemented",
    ),
    r(
        "report-per-port",
        None,
        false,
        "a dual-port report; dual-port mode is not implemented",
    ),
    r(
        "tos",
        Some('T'),
        true,
        "setting the rdma_cm type of service is not implemented",
    ),
    r(
        "dlid",
        None,
        true,
        "a fixed destination LID is not implemented (the peer's LID is used)",
    ),
    r(
        "dont_xchg_versions",
        None,
        false,
        "rdma-perf always exchanges versions and MTU",
    ),
    r(
        "force-link",
        None,
        true,
        "the link type is the port's; forcing it is not implemented",
    ),
    r(
        "ipv6",
        None,
        false,
        "IPv6 GID selection is not implemented; choose the GID with -x",
    ),
    r(
        "source_ip",
        None,
        true,
        "binding rdma_cm to a source address is not implemented",
    ),
    r(
        "mmap",
        None,
        true,
        "buffers in an mmap'd file are not implemented",
    ),
    r(
        "mmap-offset",
        None,
        true,
        "buffers in an mmap'd file are not implemented",
    ),
    r(
        "mr_per_qp",
        None,
        false,
        "one memory region per QP is not implemented (one serves all QPs)",
    ),
    r("odp", None, false, "on-demand paging is not implemented"),
    r(
        "perform_warm_up",
        None,
        false,
        "warm-up iterations are not implemented",
    ),
    r(
        "report-both",
        None,
        false,
        "separate RX and TX rows of -b are not implemented",
    ),
    r(
        "reversed",
        None,
        false,
        "reversed traffic is not implemented",
    ),
    r(
        "retry_count",
        None,
        true,
        "the rdma_cm retry count is fixed at 7",
    ),
    r(
        "tclass",
        None,
        true,
        "the GRH traffic class is not implemented",
    ),
    r(
        "use_hugepages",
        None,
        false,
        "huge-page buffers are not implemented in rdma-perf",
    ),
    r("burst_size", None, true, RATE),
    r("typical_pkt_size", None, true, RATE),
    r("rate_limit", None, true, RATE),
    r("rate_units", None, true, RATE),
    r("rate_limit_type", None, true, RATE),
    r("mcg", Some('g'), false, "multicast is not implemented"),
    r("MGID", Some('M'), true, "multicast is not implemented"),
    r(
        "inline_recv",
        None,
        true,
        "inline receive is an mlx5 feature, not a verbs one",
    ),
    r(
        "use-srq",
        None,
        false,
        "SEND tests over a shared receive queue are not implemented",
    ),
    r(
        "latency_gap",
        None,
        true,
        "a delay between latency posts is not implemented",
    ),
];

/// Adds every refused option to a test's subcommand (hidden from `--help`), with its long
/// name as its id.
pub fn augment(cmd: Command) -> Command {
    REFUSED.iter().fold(cmd, |cmd, o| {
        let mut arg = Arg::new(o.long).long(o.long).hide(true);
        if let Some(c) = o.short {
            arg = arg.short(c);
        }
        arg = if o.value {
            arg.action(ArgAction::Append).num_args(1)
        } else {
            arg.action(ArgAction::Count)
        };
        cmd.arg(arg)
    })
}

/// The refused options given, each as `--name (why)` (`-x/--name (why)` when it has a short
/// letter), in the table's order.
pub fn given(m: &ArgMatches) -> Vec<String> {
    REFUSED
        .iter()
        .filter(|o| {
            let id = o.long;
            if o.value {
                m.get_many::<String>(id)
                    .is_some_and(|mut v| v.next().is_some())
            } else {
                m.get_count(id) > 0
            }
        })
        .map(|o| match o.short {
            Some(c) => format!("-{c}/--{} ({})", o.long, o.why),
            None => format!("--{} ({})", o.long, o.why),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(argv: &[&str]) -> ArgMatches {
        augment(Command::new("t").no_binary_name(true))
            .try_get_matches_from(argv)
            .unwrap()
    }

    #[test]
    fn refused_options_parse_and_are_named() {
        let m = matches(&["--odp", "-O", "--rate_limit", "5", "--tclass=3"]);
        assert_eq!(
            given(&m),
            vec![
                "-O/--dualport (dual-port mode is not implemented)".to_string(),
                "--odp (on-demand paging is not implemented)".to_string(),
                "--tclass (the GRH traffic class is not implemented)".to_string(),
                "--rate_limit (rate limiting is not implemented)".to_string(),
            ]
        );
        assert!(given(&matches(&[])).is_empty());
    }

    #[test]
    fn names_are_unique() {
        augment(Command::new("t")).debug_assert();
        let mut longs: Vec<&str> = REFUSED.iter().map(|o| o.long).collect();
        longs.sort_unstable();
        longs.dedup();
        assert_eq!(longs.len(), REFUSED.len());
    }
}
