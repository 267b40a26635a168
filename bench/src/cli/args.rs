//! The command line: perftest's options for the eight tests, with their defaults, and the
//! checks that turn unsupported options into a clear error.

use clap::error::ErrorKind;
use clap::{ArgMatches, Args, Command, FromArgMatches, Parser, Subcommand};
use rdma_bench::perftest::{Measure, PerfTest, Verb};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// `rdma-perf`: perftest-compatible RDMA benchmarks.
#[derive(Debug, Parser)]
#[command(name = "rdma-perf", version, about)]
pub struct Cli {
    /// The test to run.
    #[command(subcommand)]
    pub cmd: TestCmd,
}

/// The test to run and its options: one subcommand per [`PerfTest`], named as the test
/// (`write_bw`, …).
#[derive(Debug)]
pub struct TestCmd {
    /// The test (the subcommand).
    pub test: PerfTest,
    /// Its options.
    pub args: PerfArgs,
}

/// The subcommand's one-line help: `RDMA WRITE bandwidth (as `ib_write_bw`)`, ….
fn about(test: PerfTest) -> String {
    let verb = match test.verb() {
        Verb::Write => "RDMA WRITE",
        Verb::Send => "SEND",
        Verb::Read => "RDMA READ",
        Verb::Atomic => "ATOMIC",
    };
    let measure = match test.measure() {
        Measure::Bw => "bandwidth",
        Measure::Lat => "latency",
    };
    format!("{verb} {measure} (as `{}`)", test.tool())
}

impl FromArgMatches for TestCmd {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        Self::from_arg_matches_mut(&mut matches.clone())
    }

    fn from_arg_matches_mut(matches: &mut ArgMatches) -> Result<Self, clap::Error> {
        let Some((name, mut sub)) = matches.remove_subcommand() else {
            return Err(clap::Error::raw(
                ErrorKind::MissingSubcommand,
                "a subcommand is required but one was not provided",
            ));
        };
        let test = PerfTest::from_name(&name).ok_or_else(|| {
            clap::Error::raw(
                ErrorKind::InvalidSubcommand,
                format!("the subcommand '{name}' wasn't recognized"),
            )
        })?;
        let mut args = PerfArgs::from_arg_matches_mut(&mut sub)?;
        args.refused = super::refused::given(&sub);
        Ok(TestCmd { test, args })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        self.update_from_arg_matches_mut(&mut matches.clone())
    }

    fn update_from_arg_matches_mut(&mut self, matches: &mut ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches_mut(matches)?;
        Ok(())
    }
}

impl Subcommand for TestCmd {
    fn augment_subcommands(cmd: Command) -> Command {
        PerfTest::ALL.into_iter().fold(cmd, |cmd, test| {
            cmd.subcommand(
                super::refused::augment(PerfArgs::augment_args(Command::new(test.as_str())))
                    .about(about(test))
                    .long_about(None),
            )
        })
    }

    fn augment_subcommands_for_update(cmd: Command) -> Command {
        PerfTest::ALL.into_iter().fold(cmd, |cmd, test| {
            cmd.subcommand(
                super::refused::augment(PerfArgs::augment_args_for_update(Command::new(
                    test.as_str(),
                )))
                .about(about(test))
                .long_about(None),
            )
        })
    }

    fn has_subcommand(name: &str) -> bool {
        PerfTest::from_name(name).is_some()
    }
}

/// perftest 6.06's options for these tests (those refused are in [`super::refused`]).
#[derive(Debug, Args, Clone)]
pub struct PerfArgs {
    /// Server host name: this side is the client. Without it, this side is the server.
    pub host: Option<String>,
    /// RDMA device (default: the first).
    #[arg(short = 'd', long = "ib-dev")]
    pub device: Option<String>,
    /// Port of the device.
    #[arg(short = 'i', long = "ib-port", default_value_t = 1)]
    pub ib_port: u8,
    /// GID index (default: perftest's choice on RoCE, none on InfiniBand).
    #[arg(short = 'x', long = "gid-index")]
    pub gid_index: Option<u32>,
    /// Message size (default 65536 for BW, 2 for latency).
    #[arg(short = 's', long = "size")]
    pub size: Option<u64>,
    /// Run sizes 2 to 2^23 (BW and latency tests).
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Iterations (default 5000 for write_bw, 1000 for the others).
    #[arg(short = 'n', long = "iters")]
    pub iters: Option<u64>,
    /// Run for this many seconds instead of a number of iterations; only the middle, without
    /// the margin at each end, is measured (latency tests then report the average only).
    #[arg(short = 'D', long = "duration")]
    pub duration: Option<u64>,
    /// Seconds at each end of a -D run that are not measured (default: a quarter of -D, as
    /// perftest).
    #[arg(short = 'f', long = "margin")]
    pub margin: Option<u64>,
    /// Number of QPs (BW tests).
    #[arg(short = 'q', long = "qp")]
    pub qps: Option<u32>,
    /// Both sides send at once (BW tests).
    #[arg(short = 'b', long = "bidirectional")]
    pub bidirectional: bool,
    /// Send queue depth (default 128 for BW, 1 for latency; at most the iterations).
    #[arg(short = 't', long = "tx-depth")]
    pub tx_depth: Option<u32>,
    /// Receive queue depth of the SEND tests (default 512; at most the iterations).
    #[arg(short = 'r', long = "rx-depth")]
    pub rx_depth: Option<u32>,
    /// Largest message sent inline (default 0: rdma-perf, like perftest on Soft-RoCE,
    /// sends from registered memory).
    #[arg(short = 'I', long = "inline_size")]
    pub inline_size: Option<u32>,
    /// Completion moderation: one signaled message in this many (BW; default 100).
    #[arg(short = 'Q', long = "cq-mod")]
    pub cq_mod: Option<u32>,
    /// Port of the out-of-band exchange (TCP; with -R the rdma_cm port of the exchange and the QPs).
    #[arg(short = 'p', long = "port", default_value_t = 18515)]
    pub port: u16,
    /// Path MTU in bytes (default: the port's active MTU).
    #[arg(short = 'm', long = "mtu")]
    pub mtu: Option<u32>,
    /// Atomic operation of the atomic tests: CMP_AND_SWAP or FETCH_AND_ADD (default).
    #[arg(short = 'A', long = "atomic_type", alias = "atomic-type")]
    pub atomic_type: Option<String>,
    /// Outstanding RDMA READs/atomics of the read and atomic tests (default, or 0 or less:
    /// the device's maximum; above it, the maximum with a warning).
    #[arg(short = 'o', long = "outs", allow_negative_numbers = true)]
    pub out_reads: Option<i64>,
    /// Connection type: RC, UC on the SEND and WRITE tests, or UD on the SEND tests
    /// (messages of at most the path MTU; not with -R). Others perftest knows are refused.
    #[arg(short = 'c', long = "connection", default_value = "RC")]
    pub connection: String,
    /// Do not fail on a CPU frequency mismatch (accepted; rdma-perf does not read the CPU
    /// frequency).
    #[arg(short = 'F', long = "CPU-freq")]
    pub cpu_freq: bool,
    /// Report bandwidth in Gb/s instead of MB/s.
    #[arg(long = "report_gbits", alias = "report-gbits")]
    pub report_gbits: bool,
    /// Also write the results as JSON (valid JSON, unlike perftest 6.06's), to
    /// --out_json_file or, with `--out_json=FILE`, to FILE.
    #[arg(long = "out_json", alias = "out-json", value_name = "FILE", num_args = 0..=1,
          require_equals = true, default_missing_value = "")]
    pub out_json: Option<String>,
    /// The JSON file of --out_json (default perftest_out.json, as perftest).
    #[arg(long = "out_json_file", value_name = "FILE")]
    pub out_json_file: Option<PathBuf>,
    /// With -a on a BW test: plot bandwidth and message rate against size to this SVG file.
    #[arg(long = "plot", value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Deadline in seconds for each TCP step and for progress during the run.
    #[arg(long = "timeout", default_value_t = 10.0)]
    pub timeout: f64,

    /// Connect QPs with rdma_cm and run test on those QPs (as perftest, the out-of-band
    /// exchange then also runs over rdma_cm, on the same port)
    #[arg(short = 'R', long = "rdma_cm")]
    pub rdma_cm: bool,
    /// Sleep on CQ events instead of polling (SEND, READ and atomic tests, as perftest).
    #[arg(short = 'e', long = "events")]
    pub events: bool,
    /// Completion vector of the CQs' events (with -e).
    #[arg(short = 'X', long = "vector")]
    pub vector: Option<String>,
    /// Post this many send requests at once, one doorbell (BW tests; default 1).
    #[arg(short = 'l', long = "post_list")]
    pub post_list: Option<String>,
    /// QP timeout exponent: 4.096 us * 2^value (default 14).
    #[arg(short = 'u', long = "qp-timeout")]
    pub qp_timeout: Option<String>,
    /// Service level (0 to 15, default 0).
    #[arg(short = 'S', long = "sl")]
    pub sl: Option<String>,
    /// P_Key index of the QPs (default 0).
    #[arg(long = "pkey_index")]
    pub pkey_index: Option<String>,
    /// Exchange the test's data over rdma_cm, QPs connected as without it (-R does both).
    #[arg(short = 'z', long = "com_rdma_cm", alias = "comm_rdma_cm")]
    pub comm_rdma_cm: bool,
    /// Latency tests: report times in CPU cycles (at /proc/cpuinfo's MHz) instead of usec.
    #[arg(short = 'C', long = "report-cycles")]
    pub report_cycles: bool,
    /// Latency tests: also print every sample, sorted.
    #[arg(short = 'H', long = "report-histogram")]
    pub histogram: bool,
    /// Latency tests: also print every sample in the order measured.
    #[arg(short = 'U', long = "report-unsorted")]
    pub unsorted: bool,
    /// BW tests: no peak bandwidth (reported as 0.00).
    #[arg(short = 'N', long = "noPeak")]
    pub no_peak: bool,
    /// Add the CPU utilization of the run to the report (-D runs).
    #[arg(long = "cpu_util")]
    pub cpu_util: bool,
    /// Fail (exit 1) when the average bandwidth is below this (the report's unit).
    #[arg(short = 'w', long = "limit_bw")]
    pub limit_bw: Option<String>,
    /// Fail (exit 1) when the message rate is below this (Mpps).
    #[arg(short = 'y', long = "limit_msgrate")]
    pub limit_msgrate: Option<String>,
    /// Print how these port counters changed (comma-separated paths under
    /// /sys/class/infiniband/DEV/ports/PORT/, e.g. hw_counters/sent_pkts).
    #[arg(short = 'W', long = "report-counters", value_name = "LIST")]
    pub counters: Option<String>,
    /// BW tests: run until stopped, printing a row every -D seconds (default 5).
    #[arg(long = "run_infinitely")]
    pub run_infinitely: bool,
    /// Post with ibv_post_send instead of the extended post API (ibv_wr_*).
    #[arg(long = "use_old_post_send")]
    pub use_old_post_send: bool,
    /// Print only one number: bandwidth, message_rate or latency.
    #[arg(long = "output", value_name = "UNITS")]
    pub output: Option<String>,
    /// Wait this many seconds before releasing the resources at the end.
    #[arg(long = "wait_destroy", value_name = "SECONDS")]
    pub wait_destroy: Option<String>,
    /// Register memory without PCIe relaxed ordering.
    #[arg(long = "disable_pcie_relaxed")]
    pub disable_pcie_relaxed: bool,
    /// perftest options given that rdma-perf refuses, each with why ([`super::refused`]).
    #[arg(skip)]
    pub refused: Vec<String>,
}

/// The arguments for clap: when the program is invoked under a perftest name
/// (`ib_write_bw`, `ib_send_lat`, … through a symlink), the subcommand word is implied.
pub fn effective_args(args: Vec<OsString>) -> Vec<OsString> {
    let Some(argv0) = args.first() else {
        return args;
    };
    let name = Path::new(argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let Some(sub) = name
        .strip_prefix("ib_")
        .filter(|t| PerfTest::from_name(t).is_some())
    else {
        return args;
    };
    let mut out = Vec::with_capacity(args.len() + 1);
    out.push(OsString::from("rdma-perf"));
    out.push(OsString::from(sub));
    out.extend(args.into_iter().skip(1));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: &[&str]) -> Cli {
        Cli::try_parse_from(effective_args(v.iter().map(OsString::from).collect())).unwrap()
    }

    fn args_of(c: Cli, test: PerfTest) -> PerfArgs {
        assert_eq!(c.cmd.test, test);
        c.cmd.args
    }

    #[test]
    fn argv0_selects_the_test() {
        let c = parse(&["/usr/local/bin/ib_write_lat", "-n", "200", "host"]);
        assert_eq!(c.cmd.test, PerfTest::WriteLat);
        assert_eq!(c.cmd.args.iters, Some(200));
        assert_eq!(c.cmd.args.host.as_deref(), Some("host"));
    }

    #[test]
    fn every_perftest_name_selects_its_test() {
        for t in PerfTest::ALL {
            let c = parse(&[&format!("/bin/{}", t.tool()), "-a", "-q", "2"]);
            assert_eq!(c.cmd.test, t);
            assert!(c.cmd.args.all);
            assert_eq!(c.cmd.args.qps, Some(2));
            assert_eq!(parse(&["rdma-perf", t.as_str()]).cmd.test, t);
        }
        let args = effective_args(vec!["ib_atomic".into(), "x".into()]);
        assert_eq!(args.len(), 2, "unknown names are left alone");
    }

    #[test]
    fn one_subcommand_per_test() {
        use clap::CommandFactory;
        let cmd = Cli::command();
        cmd.clone().debug_assert();
        let subs: Vec<(String, String)> = cmd
            .get_subcommands()
            .map(|c| (c.get_name().to_string(), c.get_about().unwrap().to_string()))
            .collect();
        assert_eq!(subs.len(), PerfTest::ALL.len());
        assert_eq!(
            subs[0],
            (
                "write_bw".into(),
                "RDMA WRITE bandwidth (as `ib_write_bw`)".into()
            )
        );
        assert_eq!(
            subs[3],
            ("send_lat".into(), "SEND latency (as `ib_send_lat`)".into())
        );
        assert_eq!(
            subs[5],
            (
                "read_lat".into(),
                "RDMA READ latency (as `ib_read_lat`)".into()
            )
        );
        assert_eq!(
            subs[7],
            (
                "atomic_lat".into(),
                "ATOMIC latency (as `ib_atomic_lat`)".into()
            )
        );
        assert!(Cli::try_parse_from(["rdma-perf", "atomic"]).is_err());
        assert!(Cli::try_parse_from(["rdma-perf"]).is_err());
    }

    #[test]
    fn perftest_options_parse() {
        let c = parse(&[
            "rdma-perf",
            "write_bw",
            "-d",
            "rxe0",
            "-x",
            "1",
            "-F",
            "--report_gbits",
            "-s",
            "4096",
        ]);
        let a = args_of(c, PerfTest::WriteBw);
        assert!(a.report_gbits && a.cpu_freq);
        assert_eq!(a.gid_index, Some(1));
        assert_eq!(a.port, 18515);
        assert!(a.host.is_none());
        assert!(a.refused.is_empty());
    }

    #[test]
    fn refused_perftest_options_are_collected() {
        let c = parse(&["ib_write_bw", "--odp", "--rate_limit=5", "-O", "host"]);
        let a = args_of(c, PerfTest::WriteBw);
        assert_eq!(a.host.as_deref(), Some("host"));
        assert_eq!(a.refused.len(), 3, "{:?}", a.refused);
        assert!(
            a.refused[0].starts_with("-O/--dualport ("),
            "{:?}",
            a.refused
        );
    }

    #[test]
    fn out_json_is_a_flag_with_an_optional_file() {
        let a = args_of(
            parse(&["ib_write_bw", "--out_json", "host"]),
            PerfTest::WriteBw,
        );
        assert_eq!(a.out_json.as_deref(), Some(""));
        assert_eq!(a.host.as_deref(), Some("host"), "the host is not the file");
        let a = args_of(
            parse(&["ib_write_bw", "--out_json=r.json"]),
            PerfTest::WriteBw,
        );
        assert_eq!(a.out_json.as_deref(), Some("r.json"));
        let a = args_of(
            parse(&["ib_write_bw", "--out_json", "--out_json_file=x.json"]),
            PerfTest::WriteBw,
        );
        assert_eq!(a.out_json_file, Some(PathBuf::from("x.json")));
    }

    #[test]
    fn perftest_short_options_parse() {
        let a = args_of(
            parse(&[
                "ib_send_lat",
                "-e",
                "-X",
                "0",
                "-u",
                "16",
                "-S",
                "3",
                "-C",
                "-H",
                "-U",
                "-z",
                "-f",
                "1",
            ]),
            PerfTest::SendLat,
        );
        assert!(a.events && a.report_cycles && a.histogram && a.unsorted && a.comm_rdma_cm);
        assert_eq!(
            (
                a.vector.as_deref(),
                a.qp_timeout.as_deref(),
                a.sl.as_deref()
            ),
            (Some("0"), Some("16"), Some("3"))
        );
        assert_eq!(a.margin, Some(1));
        let a = args_of(
            parse(&[
                "ib_write_bw",
                "-l",
                "4",
                "-N",
                "-w",
                "10",
                "-y",
                "0.1",
                "-W",
                "a,b",
            ]),
            PerfTest::WriteBw,
        );
        assert!(a.no_peak);
        assert_eq!(a.post_list.as_deref(), Some("4"));
        assert_eq!(a.counters.as_deref(), Some("a,b"));
    }
}
