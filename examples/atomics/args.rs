//! The command line: `atomics server ...` and `atomics client ...`.

use clap::{Parser, Subcommand};
use rdma_examples::device::DeviceArgs;

use crate::wire::MAX_CLIENTS;

const EXAMPLES: &str = "\
Examples:
  atomics server -d rxe0 -n 4                                # share the words with 4 clients
  atomics client -d rxe0 198.18.0.1 --adds 1000 --locks 50   # one of them

The server prints its checks and exits 0 when all pass; each client exits 0 when its own
checks and the server's pass.";

/// A remote counter and a remote lock in one server's memory, shared by N clients through RC
/// atomics (fetch-and-add, compare-and-swap); the server checks the results.
#[derive(Parser, Debug)]
#[command(name = "atomics", version, after_help = EXAMPLES)]
pub(crate) struct Args {
    /// Which side to run
    #[command(subcommand)]
    pub(crate) role: Role,
}

/// The two sides.
#[derive(Subcommand, Debug)]
pub(crate) enum Role {
    /// Register the counter and the lock, serve CLIENTS clients, check their results
    Server(ServerArgs),
    /// Fetch-and-add on the server's counter and take its lock, then report
    Client(ClientArgs),
}

/// The options both sides have.
#[derive(clap::Args, Debug)]
pub(crate) struct Common {
    #[command(flatten)]
    pub(crate) device: DeviceArgs,

    /// TCP port of the out-of-band exchange
    #[arg(short = 'p', long, value_name = "PORT", default_value_t = 18518)]
    pub(crate) port: u16,

    /// Seconds to wait for each step: connecting or accepting, each message, each completion,
    /// taking the lock once; the server's wait for all reports, the clients' for the start
    /// and the verdict
    #[arg(short = 't', long, value_name = "SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub(crate) timeout: u64,
}

/// `atomics server`.
#[derive(clap::Args, Debug)]
pub(crate) struct ServerArgs {
    #[command(flatten)]
    pub(crate) common: Common,

    /// Number of clients to wait for (each gets its own RC QP)
    #[arg(short = 'n', long, value_name = "CLIENTS", required = true,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_CLIENTS)))]
    pub(crate) clients: u32,
}

/// `atomics client`.
#[derive(clap::Args, Debug)]
pub(crate) struct ClientArgs {
    #[command(flatten)]
    pub(crate) common: Common,

    /// The server (name or address)
    pub(crate) host: String,

    /// Fetch-and-adds of 1 on the counter
    #[arg(short = 'a', long, value_name = "K", required = true)]
    pub(crate) adds: u32,

    /// Times to take and release the lock
    #[arg(short = 'l', long, value_name = "M", required = true)]
    pub(crate) locks: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("atomics").chain(args.iter().copied()))
    }

    #[test]
    fn server_and_client_parse_with_defaults() {
        let Role::Server(s) = parse(&["server", "-n", "4"]).unwrap().role else {
            panic!("not a server")
        };
        assert_eq!((s.clients, s.common.port, s.common.timeout), (4, 18518, 30));
        assert_eq!(
            (s.common.device.ib_port, s.common.device.gid_idx),
            (1, None)
        );
        let a = parse(&[
            "client", "-d", "rxe0", "-p", "18900", "-g", "1", "host", "--adds", "7", "--locks", "0",
        ])
        .unwrap();
        let Role::Client(c) = a.role else {
            panic!("not a client")
        };
        assert_eq!(
            (c.host.as_str(), c.adds, c.locks, c.common.port),
            ("host", 7, 0, 18900)
        );
        assert_eq!(
            (c.common.device.ib_dev.as_deref(), c.common.device.gid_idx),
            (Some("rxe0"), Some(1))
        );
    }

    #[test]
    fn bad_command_lines_are_errors_naming_the_option() {
        let e = |args: &[&str]| parse(args).unwrap_err();
        assert_eq!(
            e(&[]).kind(),
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        );
        assert_eq!(e(&["server"]).kind(), ErrorKind::MissingRequiredArgument);
        for bad in ["0", "65", "four", "4x"] {
            let err = e(&["server", "-n", bad]);
            assert_eq!(err.kind(), ErrorKind::ValueValidation, "-n {bad}");
            assert!(err.to_string().contains("--clients <CLIENTS>"), "{err}");
        }
        // A negative count reads as an unknown option.
        assert_eq!(
            e(&["server", "-n", "-1"]).kind(),
            ErrorKind::UnknownArgument
        );
        let err = e(&["client", "host", "--locks", "1"]);
        assert_eq!(err.kind(), ErrorKind::MissingRequiredArgument);
        assert!(err.to_string().contains("--adds <K>"), "{err}");
        let err = e(&["client", "--adds", "1", "--locks", "1"]);
        assert!(err.to_string().contains("<HOST>"), "{err}");
        let err = e(&["client", "h", "--adds", "-3", "--locks", "1"]);
        assert!(err.to_string().contains("--adds <K>"), "{err}");
        let err = e(&["server", "-n", "2", "-t", "0"]);
        assert!(err.to_string().contains("--timeout <SECONDS>"), "{err}");
        assert_eq!(e(&["other"]).kind(), ErrorKind::InvalidSubcommand);
    }
}
