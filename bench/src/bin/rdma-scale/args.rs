//! The command line of `rdma-scale`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use rdma_bench::scale::record::Via;

const EXAMPLES: &str = "\
Examples:
  rdma-scale connect -d rxe0 --qps 256 --via tcp                # server
  rdma-scale connect -d rxe0 --qps 256 --via tcp 198.18.0.1     # client
  rdma-scale report results.jsonl --out docs --date 2026-12-07

Each side of `connect` prints one JSON line (see docs/scale-curves.md for its keys).";

/// How cost grows with scale: time and memory to create and connect N RC QPs, and the report
/// of scripts/scale-curves.
#[derive(Parser, Debug)]
#[command(name = "rdma-scale", version, after_help = EXAMPLES)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// What to do.
#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Create and connect N RC QPs to a peer (server without HOST, client with it) and
    /// print one JSON line: times of each phase, VmRSS along the way, open descriptors
    Connect(ConnectArgs),
    /// Turn a results file of scripts/scale-curves into markdown tables and SVG figures
    Report(ReportArgs),
}

/// The exchange of `--via`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ViaArg {
    /// RDMA-EP/1 lines over one TCP connection, then RTR and RTS by hand
    Tcp,
    /// One rdma_cm connection per QP (resolve, route, connect / accept)
    Cm,
}

impl From<ViaArg> for Via {
    fn from(v: ViaArg) -> Via {
        match v {
            ViaArg::Tcp => Via::Tcp,
            ViaArg::Cm => Via::Cm,
        }
    }
}

/// `rdma-scale connect`.
#[derive(Args, Debug)]
pub(crate) struct ConnectArgs {
    /// Server to connect to (name or IPv4 address); without it, be the server
    pub(crate) host: Option<String>,

    /// Queue pairs to create and connect (both sides must agree)
    #[arg(short = 'q', long, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub(crate) qps: u32,

    /// How the QPs are connected
    #[arg(long, value_enum, value_name = "HOW")]
    pub(crate) via: ViaArg,

    /// RDMA device [default: the first one]
    #[arg(short = 'd', long = "ib-dev", value_name = "DEVICE")]
    pub(crate) ib_dev: Option<String>,

    /// Port of the RDMA device
    #[arg(short = 'i', long = "ib-port", value_name = "PORT", default_value_t = 1,
          value_parser = clap::value_parser!(u8).range(1..))]
    pub(crate) ib_port: u8,

    /// GID index (tcp) [default: the best RoCE v2 GID, as perftest picks it]
    #[arg(short = 'x', long = "gid-index", value_name = "INDEX")]
    pub(crate) gid_index: Option<u32>,

    /// TCP port of the exchange (tcp) or rdma_cm port (cm)
    #[arg(short = 'p', long, value_name = "PORT", default_value_t = 19230)]
    pub(crate) port: u16,

    /// Send and receive queue depth of each QP (each has its own CQ of twice that)
    #[arg(long, value_name = "WRS", default_value_t = 128,
          value_parser = clap::value_parser!(u32).range(1..=32768))]
    pub(crate) depth: u32,

    /// Seconds any one wait for the peer may take (accept, a message, a connection event)
    #[arg(short = 't', long, value_name = "SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub(crate) timeout: u64,
}

/// `rdma-scale report`.
#[derive(Args, Debug)]
pub(crate) struct ReportArgs {
    /// The results file (one JSON object per line)
    pub(crate) results: PathBuf,

    /// Directory for scale-curves-DATE.md and scale-curves-DATE-*.svg
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,

    /// The date in the file names and titles, e.g. 2026-12-07
    #[arg(long, value_name = "DATE")]
    pub(crate) date: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_commands_and_refuses_bad_ones() {
        let c =
            Cli::try_parse_from(["rdma-scale", "connect", "-q", "8", "--via", "cm", "h"]).unwrap();
        let Command::Connect(a) = c.command else {
            panic!("not connect")
        };
        assert_eq!(
            (a.qps, a.via, a.host.as_deref(), a.depth, a.port),
            (8, ViaArg::Cm, Some("h"), 128, 19230)
        );
        let c = Cli::try_parse_from(["rdma-scale", "report", "r", "--out", "d", "--date", "x"])
            .unwrap();
        assert!(matches!(c.command, Command::Report(_)));
        for bad in [
            &["rdma-scale"][..],
            &["rdma-scale", "connect", "--via", "tcp"],
            &["rdma-scale", "connect", "-q", "0", "--via", "tcp"],
            &["rdma-scale", "connect", "-q", "1", "--via", "udp"],
            &[
                "rdma-scale",
                "connect",
                "-q",
                "1",
                "--via",
                "tcp",
                "--depth",
                "0",
            ],
            &["rdma-scale", "report", "r", "--out", "d"],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }
}
