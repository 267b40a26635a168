//! The command line.

use clap::{Parser, ValueEnum};
use rdma_examples::device::DeviceArgs;
use rdma_verbs::WaitMode;

const EXAMPLES: &str = "\
Examples:
  async_echo -d rxe0                      # server: echo everything the client sends
  async_echo -d rxe0 198.18.0.1           # client: 64 QPs, 100 round trips of 4 KiB each
  async_echo --qps 8 --iters 1000 --size 64 --mode busy host

Both sides must use the same --port and --qps.";

/// How completions are awaited (`rdma_verbs::WaitMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Mode {
    /// Sleep until the completion channel reports an event (idle-friendly)
    Event,
    /// Poll, yield, poll again (lowest latency, keeps a core busy)
    Busy,
    /// Busy-poll a little, then sleep
    Adaptive,
}

impl Mode {
    /// The name on the command line.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Mode::Event => "event",
            Mode::Busy => "busy",
            Mode::Adaptive => "adaptive",
        }
    }

    pub(crate) fn wait_mode(self) -> WaitMode {
        match self {
            Mode::Event => WaitMode::Event,
            Mode::Busy => WaitMode::BusyPoll,
            Mode::Adaptive => WaitMode::Adaptive { spins: 64 },
        }
    }
}

/// Echo over many RC queue pairs, all served by one tokio runtime: the client sends patterned
/// messages on every QP at once, the server sends each one back, the client checks every byte.
#[derive(Parser, Debug)]
#[command(name = "async_echo", version, after_help = EXAMPLES)]
pub(crate) struct Args {
    /// Server to connect to (name or address); without it, run as the server
    pub(crate) host: Option<String>,

    #[command(flatten)]
    pub(crate) device: DeviceArgs,

    /// TCP port of the out-of-band exchange
    #[arg(short = 'p', long, value_name = "PORT", default_value_t = 18520)]
    pub(crate) port: u16,

    /// Queue pairs, each served by its own task
    #[arg(short = 'q', long, value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub(crate) qps: u32,

    /// Round trips per queue pair (client)
    #[arg(short = 'n', long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) iters: u64,

    /// Bytes per message (client; the server accepts up to its own --size)
    #[arg(short = 's', long, value_name = "BYTES", default_value_t = 4096,
          value_parser = clap::value_parser!(u32).range(1..=(1 << 24)))]
    pub(crate) size: u32,

    /// How completions are awaited
    #[arg(short = 'm', long, value_enum, default_value_t = Mode::Event)]
    pub(crate) mode: Mode,

    /// Runtime worker threads (1: a current-thread runtime)
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=256))]
    pub(crate) threads: u32,

    /// Seconds to wait for the peer: to connect or accept, for each exchange message, and for
    /// each completion
    #[arg(short = 't', long, value_name = "SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub(crate) timeout: u64,

    /// After the summary, print one JSON line: CPU time of this process and of the machine
    /// over the run, and (client) round-trip latencies
    #[arg(long)]
    pub(crate) json: bool,

    /// Test hook (server): flip one byte of the echo of this message number on QP 0, so that
    /// the client's verification must fail
    #[arg(long, value_name = "MESSAGE", hide = true)]
    pub(crate) corrupt_echo: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_parse_with_defaults_and_bounds() {
        let a = Args::try_parse_from(["async_echo", "host"]).unwrap();
        assert_eq!(
            (a.qps, a.iters, a.size, a.mode, a.threads, a.port),
            (64, 100, 4096, Mode::Event, 1, 18520)
        );
        assert!(!a.json);
        assert!(Args::try_parse_from(["async_echo", "--json"]).unwrap().json);
        assert_eq!(Mode::Adaptive.name(), "adaptive");
        let a = Args::try_parse_from(["async_echo", "-q", "3", "-m", "busy", "-s", "64"]).unwrap();
        assert_eq!((a.qps, a.mode, a.size, a.host), (3, Mode::Busy, 64, None));
        for bad in [
            &["async_echo", "--qps", "0"][..],
            &["async_echo", "--size", "0"],
            &["async_echo", "--iters", "0"],
            &["async_echo", "--mode", "spin"],
            &["async_echo", "--threads", "0"],
            &["async_echo", "a", "b"],
        ] {
            assert!(Args::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }
}
