//! The command line: perftest's options for `ib_write_bw` and `ib_write_lat`, with their
//! defaults, and the checks that turn unsupported options into a clear error.

use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::path::Path;

/// `rdma-perf`: perftest-compatible RDMA benchmarks.
#[derive(Debug, Parser)]
#[command(name = "rdma-perf", version, about)]
pub struct Cli {
    /// The test to run.
    #[command(subcommand)]
    pub test: TestCmd,
}

/// The tests.
#[derive(Debug, Subcommand)]
pub enum TestCmd {
    /// RDMA WRITE bandwidth (as `ib_write_bw`).
    #[command(name = "write_bw")]
    WriteBw(PerfArgs),
    /// RDMA WRITE latency (as `ib_write_lat`).
    #[command(name = "write_lat")]
    WriteLat(PerfArgs),
}

/// perftest's options (the subset implemented, plus the ones refused clearly).
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
    /// Iterations (default 5000 for write_bw, 1000 for latency).
    #[arg(short = 'n', long = "iters")]
    pub iters: Option<u64>,
    /// Send queue depth (default 128 for BW, 1 for latency; at most the iterations).
    #[arg(short = 't', long = "tx-depth")]
    pub tx_depth: Option<u32>,
    /// Completion moderation: one signaled write in this many (BW; default 100).
    #[arg(short = 'Q', long = "cq-mod")]
    pub cq_mod: Option<u32>,
    /// TCP port of the out-of-band exchange.
    #[arg(short = 'p', long = "port", default_value_t = 18515)]
    pub port: u16,
    /// Path MTU in bytes (default: the port's active MTU).
    #[arg(short = 'm', long = "mtu")]
    pub mtu: Option<u32>,
    /// Do not fail on a CPU frequency mismatch (accepted; rdma-perf does not read the CPU
    /// frequency).
    #[arg(short = 'F', long = "CPU-freq")]
    pub cpu_freq: bool,
    /// Report bandwidth in Gb/s instead of MB/s.
    #[arg(long = "report_gbits", alias = "report-gbits")]
    pub report_gbits: bool,
    /// Deadline in seconds for each TCP step and for progress during the run.
    #[arg(long = "timeout", default_value_t = 10.0)]
    pub timeout: f64,

    // perftest options that are not implemented: accepted by the parser, refused by
    // `check_supported` with a clear message.
    #[arg(short = 'a', long = "all", hide = true)]
    pub all: bool,
    #[arg(short = 'D', long = "duration", hide = true)]
    pub duration: Option<String>,
    #[arg(short = 'b', long = "bidirectional", hide = true)]
    pub bidirectional: bool,
    #[arg(short = 'q', long = "qp", hide = true)]
    pub qps: Option<u32>,
    #[arg(short = 'R', long = "rdma_cm", hide = true)]
    pub rdma_cm: bool,
    #[arg(short = 'c', long = "connection", hide = true)]
    pub connection: Option<String>,
    #[arg(short = 'l', long = "post_list", hide = true)]
    pub post_list: Option<u32>,
    #[arg(short = 'e', long = "events", hide = true)]
    pub events: bool,
    #[arg(short = 'I', long = "inline_size", hide = true)]
    pub inline_size: Option<u32>,
    #[arg(short = 'u', long = "qp-timeout", hide = true)]
    pub qp_timeout: Option<String>,
    #[arg(short = 'S', long = "sl", hide = true)]
    pub sl: Option<String>,
    #[arg(short = 'O', long = "dualport", hide = true)]
    pub dualport: bool,
    #[arg(short = 'z', long = "comm_rdma_cm", hide = true)]
    pub comm_rdma_cm: bool,
    #[arg(long = "output", hide = true)]
    pub output: Option<String>,
    #[arg(long = "use-srq", hide = true)]
    pub use_srq: bool,
}

impl PerfArgs {
    /// Refuses the perftest options rdma-perf does not implement yet.
    pub fn check_supported(&self) -> Result<(), String> {
        let mut bad: Vec<&str> = Vec::new();
        if self.all {
            bad.push("-a (all sizes)");
        }
        if self.duration.is_some() {
            bad.push("-D (duration)");
        }
        if self.bidirectional {
            bad.push("-b (bidirectional)");
        }
        if self.qps.is_some_and(|q| q != 1) {
            bad.push("-q > 1 (several QPs)");
        }
        if self.rdma_cm || self.comm_rdma_cm {
            bad.push("-R/-z (rdma_cm)");
        }
        if self
            .connection
            .as_deref()
            .is_some_and(|c| !c.eq_ignore_ascii_case("RC"))
        {
            bad.push("-c other than RC");
        }
        if self.post_list.is_some_and(|l| l != 1) {
            bad.push("-l > 1 (post list)");
        }
        if self.events {
            bad.push("-e (events)");
        }
        if self.inline_size.is_some_and(|i| i != 0) {
            bad.push("-I (inline data)");
        }
        if self.qp_timeout.is_some() {
            bad.push("-u (QP timeout)");
        }
        if self.sl.is_some() {
            bad.push("-S (service level)");
        }
        if self.dualport {
            bad.push("-O (dual port)");
        }
        if self.output.is_some() {
            bad.push("--output");
        }
        if self.use_srq {
            bad.push("--use-srq");
        }
        if bad.is_empty() {
            Ok(())
        } else {
            Err(format!("not supported yet: {}", bad.join(", ")))
        }
    }
}

/// The arguments for clap: when the program is invoked as `ib_write_bw` or
/// `ib_write_lat` (a symlink), the subcommand word is implied.
pub fn effective_args(args: Vec<OsString>) -> Vec<OsString> {
    let Some(argv0) = args.first() else {
        return args;
    };
    let name = Path::new(argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let sub = match name.as_str() {
        "ib_write_bw" => "write_bw",
        "ib_write_lat" => "write_lat",
        _ => return args,
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

    #[test]
    fn argv0_selects_the_test() {
        let c = parse(&["/usr/local/bin/ib_write_lat", "-n", "200", "host"]);
        match c.test {
            TestCmd::WriteLat(a) => {
                assert_eq!(a.iters, Some(200));
                assert_eq!(a.host.as_deref(), Some("host"));
            }
            t => panic!("{t:?}"),
        }
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
        let TestCmd::WriteBw(a) = c.test else {
            panic!()
        };
        assert!(a.report_gbits && a.cpu_freq);
        assert_eq!(a.gid_index, Some(1));
        assert_eq!(a.port, 18515);
        assert!(a.host.is_none());
        a.check_supported().unwrap();
    }

    #[test]
    fn unsupported_options_are_refused() {
        let c = parse(&["rdma-perf", "write_bw", "-a", "-q", "2"]);
        let TestCmd::WriteBw(a) = c.test else {
            panic!()
        };
        let e = a.check_supported().unwrap_err();
        assert!(e.starts_with("not supported yet"), "{e}");
        assert!(e.contains("-a") && e.contains("-q"), "{e}");
    }
}
