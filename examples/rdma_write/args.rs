//! The command line.

use clap::Parser;
use rdma_examples::device::DeviceArgs;

const EXAMPLES: &str = "\
Examples:
  rdma_write -d rxe0                         # server: wait for one client, verify its data
  rdma_write -d rxe0 198.18.0.1              # client: write 64 KiB in one RDMA WRITE
  rdma_write -s 16M -c 64K -S 7 server-host  # client: 256 writes of 64 KiB, pattern seed 7

Both sides must use the same --port and --seed; the client's --size must not exceed the
server's.";

/// One-sided RDMA WRITE demo: the client writes a pattern into the server's memory, the
/// server verifies it.
#[derive(Parser, Debug)]
#[command(name = "rdma_write", version, after_help = EXAMPLES)]
pub(crate) struct Args {
    /// Server to connect to (name or address); without it, run as the server
    pub(crate) host: Option<String>,

    #[command(flatten)]
    pub(crate) device: DeviceArgs,

    /// TCP port of the out-of-band exchange
    #[arg(short = 'p', long, value_name = "PORT", default_value_t = 18516)]
    pub(crate) port: u16,

    /// Bytes to transfer (server: its buffer size); K, M, G suffixes are powers of 1024
    #[arg(short = 's', long, value_name = "BYTES", default_value = "65536", value_parser = parse_size)]
    pub(crate) size: u32,

    /// Bytes per RDMA WRITE (client) [default: the whole buffer, up to the port's message limit]
    #[arg(short = 'c', long, value_name = "BYTES", value_parser = parse_size)]
    pub(crate) chunk: Option<u32>,

    /// Seed of the data pattern; both sides must agree
    #[arg(short = 'S', long, value_name = "SEED", default_value_t = 1)]
    pub(crate) seed: u64,

    /// Seconds to wait for the peer: to connect or accept, for each exchange message, for each
    /// completion (client), for the whole transfer (server)
    #[arg(short = 't', long, value_name = "SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub(crate) timeout: u64,
}

/// Parses a byte count: decimal digits with an optional `K`, `M` or `G` suffix (powers of 1024),
/// from 1 byte to `u32::MAX` (the immediate data carries the byte count in 32 bits).
fn parse_size(text: &str) -> Result<u32, String> {
    let t = text.trim();
    let (digits, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        None => (t, 1u64),
        Some((i, _)) => {
            let unit = match t[i..].to_ascii_lowercase().as_str() {
                "k" | "kib" => 1 << 10,
                "m" | "mib" => 1 << 20,
                "g" | "gib" => 1 << 30,
                _ => {
                    return Err(format!(
                        "{text:?} is not a size: expected a number of bytes, optionally with \
                         K, M or G"
                    ))
                }
            };
            (&t[..i], unit)
        }
    };
    let value: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size: expected a number of bytes"))?;
    let bytes = value
        .checked_mul(unit)
        .filter(|&b| b <= u64::from(u32::MAX))
        .ok_or_else(|| {
            format!(
                "{text:?} is too large: at most {} bytes (4 GiB - 1)",
                u32::MAX
            )
        })?;
    if bytes == 0 {
        return Err("must be at least 1 byte".into());
    }
    Ok(bytes as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_suffixes_and_bounds() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("64kib"), Ok(65536));
        assert_eq!(parse_size("3M"), Ok(3 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("4294967295"), Ok(u32::MAX));
        for bad in [
            "0",
            "0K",
            "",
            "K",
            "-1",
            "1.5M",
            "12q",
            "4G",
            "4294967296",
            "99999999999G",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn arguments_parse() {
        let a = Args::try_parse_from(["rdma_write", "-s", "10000", "-c", "3000", "host"]).unwrap();
        assert_eq!(
            (a.size, a.chunk, a.host.as_deref()),
            (10000, Some(3000), Some("host"))
        );
        assert_eq!(
            (a.device.ib_port, a.port, a.seed, a.timeout),
            (1, 18516, 1, 30)
        );
        assert!(Args::try_parse_from(["rdma_write", "-i", "0"]).is_err());
        assert!(Args::try_parse_from(["rdma_write", "-t", "0"]).is_err());
        assert!(Args::try_parse_from(["rdma_write", "a", "b"]).is_err());
    }
}
