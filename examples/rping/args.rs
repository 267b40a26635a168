//! The command line: rdmacm-utils rping's options (`-s -c -a -I -p -C -S -v -V -d -P -q`), with
//! its defaults, plus a bound on every wait.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};

use clap::{ArgGroup, Parser};
use rdma_examples::rping::{MAX_SIZE, MIN_SIZE};

const EXAMPLES: &str = "\
Examples:
  rping -s -a 198.18.0.1 -v           # server on one address, print what each ping carried
  rping -c -a 198.18.0.1 -C 10 -V -v  # client: 10 pings, validate and print each
  rping -s -P                         # server on every address, one connection after another

Either side may be rdmacm-utils' rping: the two speak the same protocol.";

/// RDMA CM ping-pong, wire-compatible with rdmacm-utils' rping: each ping is an RDMA READ of
/// the client's data by the server and an RDMA WRITE of it back, driven by SENDs.
#[derive(Parser, Debug, Clone)]
#[command(name = "rping", version, after_help = EXAMPLES, disable_version_flag = true)]
#[command(group(ArgGroup::new("role").required(true).args(["server", "client"])))]
pub(crate) struct Args {
    /// Server side. To bind to any address with IPv6 use -a ::0
    #[arg(short = 's', long)]
    pub(crate) server: bool,

    /// Client side
    #[arg(short = 'c', long)]
    pub(crate) client: bool,

    /// Address: the server's to connect to (client, required), or to bind to (server; default:
    /// every IPv4 address)
    #[arg(short = 'a', long = "addr", value_name = "ADDR")]
    pub(crate) addr: Option<String>,

    /// Source address to bind to (client)
    #[arg(short = 'I', long = "source", value_name = "ADDR")]
    pub(crate) source: Option<String>,

    /// Port
    #[arg(short = 'p', long, value_name = "PORT", default_value_t = 7174)]
    pub(crate) port: u16,

    /// Ping count; 0 pings until the peer disconnects (server) or forever (client)
    #[arg(short = 'C', long, value_name = "COUNT", default_value_t = 0)]
    pub(crate) count: u32,

    /// Ping data size in bytes
    #[arg(short = 'S', long, value_name = "SIZE", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(MIN_SIZE as i64..=MAX_SIZE as i64))]
    pub(crate) size: u32,

    /// Display ping data to stdout
    #[arg(short = 'v', long, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,

    /// Validate ping data (client)
    #[arg(short = 'V', long, action = clap::ArgAction::Count)]
    pub(crate) validate: u8,

    /// Debug printfs: each step of the connection and of every ping
    #[arg(short = 'd', long, action = clap::ArgAction::Count)]
    pub(crate) debug: u8,

    /// Persistent server mode allowing multiple connections (served concurrently)
    #[arg(short = 'P', long, conflicts_with = "client")]
    pub(crate) persistent: bool,

    /// Use a self-created, self-modified QP: accepted for compatibility, this rping always
    /// creates its QP itself and drives it with the CM's attributes
    #[arg(short = 'q', long = "self-create-qp")]
    pub(crate) self_create_qp: bool,

    /// Seconds to wait for each step (address and route resolution, connecting, every message
    /// and RDMA operation of a ping); a server waits for clients without limit
    #[arg(short = 't', long, value_name = "SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub(crate) timeout: u64,

    /// Print version (only as --version: -V is validate, as in the C tool)
    #[arg(long, action = clap::ArgAction::Version)]
    version: Option<bool>,
}

impl Args {
    /// The server's address: `-a` resolved with `-p`, or every IPv4 address.
    pub(crate) fn server_addr(&self) -> Result<SocketAddr, String> {
        match &self.addr {
            Some(a) => resolve(a, self.port),
            None => Ok(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                self.port,
            )),
        }
    }

    /// The address a client connects to (`-a`, required) and its source (`-I`).
    pub(crate) fn client_addrs(&self) -> Result<(SocketAddr, Option<SocketAddr>), String> {
        let Some(a) = &self.addr else {
            return Err("a client needs the server's address: -a ADDR".into());
        };
        let dst = resolve(a, self.port)?;
        let src = self.source.as_deref().map(|s| resolve(s, 0)).transpose()?;
        Ok((dst, src))
    }
}

/// A name or address, as the C tool's `getaddrinfo` takes it (the first result).
fn resolve(name: &str, port: u16) -> Result<SocketAddr, String> {
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    (name, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {name:?}: {e} (invalid hostname or IP address)"))?
        .next()
        .ok_or_else(|| format!("{name:?} has no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("rping").chain(args.iter().copied()))
    }

    #[test]
    fn the_c_tools_defaults() {
        let a = parse(&["-s"]).unwrap();
        assert_eq!((a.port, a.count, a.size), (7174, 0, 64));
        assert_eq!(a.server_addr().unwrap().to_string(), "0.0.0.0:7174");
    }

    #[test]
    fn getopt_style_flags_combine() {
        let a = parse(&["-cvVd", "-a", "198.18.0.1", "-C3", "-S", "100"]).unwrap();
        assert!(a.client && !a.server);
        assert_eq!((a.verbose, a.validate, a.debug), (1, 1, 1));
        assert_eq!((a.count, a.size), (3, 100));
        let (dst, src) = a.client_addrs().unwrap();
        assert_eq!(dst.to_string(), "198.18.0.1:7174");
        assert_eq!(src, None);
    }

    #[test]
    fn sizes_outside_the_c_range_are_refused() {
        assert!(parse(&["-s", "-S", "-1"]).is_err());
        for bad in ["22", "65536", "x"] {
            let e = parse(&["-s", "-S", bad]).unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation, "{bad}");
        }
        assert_eq!(parse(&["-s", "-S", "23"]).unwrap().size, 23);
        assert_eq!(parse(&["-s", "-S", "65535"]).unwrap().size, 65535);
    }

    #[test]
    fn exactly_one_role() {
        assert_eq!(
            parse(&["-a", "1.2.3.4"]).unwrap_err().kind(),
            clap::error::ErrorKind::MissingRequiredArgument
        );
        assert_eq!(
            parse(&["-s", "-c"]).unwrap_err().kind(),
            clap::error::ErrorKind::ArgumentConflict
        );
        assert!(parse(&["-c", "-P"]).is_err(), "-P is a server option");
    }

    #[test]
    fn a_client_needs_an_address() {
        let e = parse(&["-c"]).unwrap().client_addrs().unwrap_err();
        assert!(e.contains("-a ADDR"), "{e}");
        let a = parse(&["-c", "-a", "::1", "-I", "[::1]", "-p", "9"]).unwrap();
        let (dst, src) = a.client_addrs().unwrap();
        assert_eq!(dst.to_string(), "[::1]:9");
        assert_eq!(src.unwrap().to_string(), "[::1]:0");
    }

    #[test]
    fn unresolvable_names_are_named() {
        let a = parse(&["-c", "-a", "no such host!"]).unwrap();
        let e = a.client_addrs().unwrap_err();
        assert!(e.contains("no such host!"), "{e}");
    }
}
