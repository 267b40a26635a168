//! Running a pingpong drop-in (`rc_pingpong`, `uc_pingpong`, `srq_pingpong`, `ud_pingpong`) against
//! rdma-core's C tool: a server and a client, each role either implementation, and the checks
//! of what both printed (exit status, cross-matching address lines, one pair per QP,
//! statistics lines).

use crate::process::{listening, path_bin, spawn, workspace_bin, Done};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long one side may run.
pub const LIMIT: Duration = Duration::from_secs(120);

/// Which implementation plays a role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impl {
    /// rdma-core's C tool.
    C,
    /// Ours.
    Rust,
}

/// A pair of drop-ins: the C tool's name (on `PATH`) and our binary's.
#[derive(Clone, Copy, Debug)]
pub struct Tool {
    /// The C tool, e.g. `ibv_rc_pingpong`.
    pub c: &'static str,
    /// Our binary of package `rdma-examples`, e.g. `rc_pingpong`.
    pub rust: &'static str,
}

impl Tool {
    /// The binary of `which`.
    pub fn bin(self, which: Impl) -> PathBuf {
        match which {
            Impl::C => path_bin(self.c, "install ibverbs-utils (rdma-core's examples)"),
            Impl::Rust => workspace_bin(self.rust, "rdma-examples"),
        }
    }
}

/// `-d <device> [-g <gid index>]` for the device under test (`$RDMA_DEVICE` or the first).
pub fn device_args() -> Vec<String> {
    let ctx = crate::device();
    let mut args = vec!["-d".to_string(), ctx.name().to_string()];
    if let Some(g) = ctx.default_gid_index(1).expect("a usable GID on port 1") {
        args.extend(["-g".to_string(), g.to_string()]);
    }
    args
}

/// Runs a server and a client; the client gets `127.0.0.1` as the host (the TCP exchange), the
/// RDMA traffic uses the device. Returns (server, client).
pub fn pingpong(
    tool: Tool,
    server: (Impl, &[&str]),
    client: (Impl, &[&str]),
    port: u16,
    server_grace: Duration,
) -> (Done, Done) {
    let dev = device_args();
    let port_args = ["-p".to_string(), port.to_string()];
    let args = |extra: &[&str], host: Option<&str>| -> Vec<String> {
        let mut a = dev.clone();
        a.extend(port_args.iter().cloned());
        a.extend(extra.iter().map(|s| s.to_string()));
        a.extend(host.map(str::to_string));
        a
    };
    assert!(!listening(port), "TCP port {port} is already in use");
    let srv = spawn(
        &format!("server ({:?})", server.0),
        &tool.bin(server.0),
        &args(server.1, None),
    )
    .wait_ready(port, Duration::from_secs(30), listening);
    let cli = spawn(
        &format!("client ({:?})", client.0),
        &tool.bin(client.0),
        &args(client.1, Some("127.0.0.1")),
    );
    let c = cli.wait_until(Instant::now() + LIMIT);
    // After the client ended, the server should end soon (or never, for the C tool in some
    // failure cases: it has no timeout).
    let s = srv.wait_until(Instant::now() + server_grace.min(LIMIT));
    (s, c)
}

/// An address line as printed: `  local address:  LID 0x0000, QPN 0x000011, ...`.
#[derive(Debug, PartialEq, Eq)]
pub struct Addr {
    /// The LID.
    pub lid: u32,
    /// The QP number.
    pub qpn: u32,
    /// The PSN.
    pub psn: u32,
    /// The GID, as printed.
    pub gid: String,
}

/// A `0x` field of `width` lowercase hex digits, named `what` in errors about `line`.
fn hex_field(s: &str, width: usize, what: &str, line: &str) -> u32 {
    let digits = s
        .strip_prefix("0x")
        .unwrap_or_else(|| panic!("{what} lacks 0x in {line:?}"));
    assert_eq!(digits.len(), width, "{what} has {width} digits in {line:?}");
    assert!(
        digits
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
        "{what} is lowercase hex in {line:?}"
    );
    u32::from_str_radix(digits, 16).expect("hex")
}

/// What comes before the GID in an address line: `, GID ` (every line of the RC, UC and SRQ
/// tools, and `ibv_ud_pingpong`'s remote line).
pub const GID_AFTER_COMMA: &str = ", GID ";

/// What comes before the GID in `ibv_ud_pingpong`'s local address line: `: GID `.
pub const GID_AFTER_COLON: &str = ": GID ";

/// The address line of `out` that starts with `prefix`, checked field by field.
pub fn addr(out: &Done, prefix: &str) -> Addr {
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?}:\n{out}"));
    parse_addr(line, prefix, GID_AFTER_COMMA)
}

/// Every address line of `out` that starts with `prefix`, in order, checked field by field.
pub fn addrs(out: &Done, prefix: &str) -> Vec<Addr> {
    addrs_with(out, prefix, GID_AFTER_COMMA)
}

/// [`addrs`] of lines with `gid_sep` before the GID.
pub fn addrs_with(out: &Done, prefix: &str, gid_sep: &str) -> Vec<Addr> {
    out.stdout
        .lines()
        .filter(|l| l.starts_with(prefix))
        .map(|l| parse_addr(l, prefix, gid_sep))
        .collect()
}

/// `line` (which starts with `prefix`, with `gid_sep` before its GID) checked field by field.
fn parse_addr(line: &str, prefix: &str, gid_sep: &str) -> Addr {
    let rest = &line[prefix.len()..];
    let (fields, gid) = rest
        .split_once(gid_sep)
        .unwrap_or_else(|| panic!("{gid_sep:?} before the GID in {line:?}"));
    let parts: Vec<&str> = fields.split(", ").collect();
    assert_eq!(
        parts.len(),
        3,
        "LID, QPN and PSN before the GID in {line:?}"
    );
    let field = |i: usize, name: &str| {
        parts[i]
            .strip_prefix(name)
            .unwrap_or_else(|| panic!("field {i} is {name}... in {line:?}"))
    };
    let a = Addr {
        lid: hex_field(field(0, "LID "), 4, "LID", line),
        qpn: hex_field(field(1, "QPN "), 6, "QPN", line),
        psn: hex_field(field(2, "PSN "), 6, "PSN", line),
        gid: gid.to_string(),
    };
    assert!(
        a.gid.parse::<std::net::Ipv6Addr>().is_ok(),
        "the GID is an IPv6 address in {line:?}"
    );
    a
}

/// Checks the two statistics lines of one side.
pub fn stats(out: &Done, size: u64, iters: u64) {
    let lines: Vec<&str> = out.stdout.lines().collect();
    let bytes_line = lines
        .iter()
        .find(|l| l.contains(" bytes in "))
        .unwrap_or_else(|| panic!("no bytes line:\n{out}"));
    let iters_line = lines
        .iter()
        .find(|l| l.contains(" iters in "))
        .unwrap_or_else(|| panic!("no iters line:\n{out}"));
    // "%lld bytes in %.2f seconds = %.2f Mbit/sec"
    let w: Vec<&str> = bytes_line.split(' ').collect();
    assert_eq!(w.len(), 8, "{bytes_line:?}");
    assert_eq!(
        (w[1], w[2], w[4], w[5], w[7]),
        ("bytes", "in", "seconds", "=", "Mbit/sec"),
        "{bytes_line:?}"
    );
    assert_eq!(
        w[0],
        (size * iters * 2).to_string(),
        "bytes = size * iters * 2 in {bytes_line:?}"
    );
    // "%d iters in %.2f seconds = %.2f usec/iter"
    let v: Vec<&str> = iters_line.split(' ').collect();
    assert_eq!(v.len(), 8, "{iters_line:?}");
    assert_eq!(
        (v[1], v[2], v[4], v[5], v[7]),
        ("iters", "in", "seconds", "=", "usec/iter"),
        "{iters_line:?}"
    );
    assert_eq!(v[0], iters.to_string(), "{iters_line:?}");
    assert_eq!(w[3], v[3], "both lines show the same seconds");
    for num in [w[3], w[6], v[3], v[6]] {
        let (int, frac) = num
            .split_once('.')
            .unwrap_or_else(|| panic!("{num} has 2 decimals"));
        assert!(
            frac.len() == 2
                && !int.is_empty()
                && (int.chars().chain(frac.chars())).all(|c| c.is_ascii_digit()),
            "{num:?} is printed as %.2f"
        );
    }
    let secs: f64 = w[3].parse().unwrap();
    let mbit: f64 = w[6].parse().unwrap();
    let per_iter: f64 = v[6].parse().unwrap();
    let usec = per_iter * iters as f64;
    assert!(
        (usec / 1e6 - secs).abs() <= 0.0051 + 1e-6 * usec / 1e6,
        "usec/iter * iters agrees with the seconds: {bytes_line:?} {iters_line:?}"
    );
    let expect_mbit = (size * iters * 2) as f64 * 8.0 / usec;
    assert!(
        (mbit - expect_mbit).abs() <= 0.011 + expect_mbit * 1e-3,
        "Mbit/sec agrees with bytes and time: {bytes_line:?} {iters_line:?}"
    );
}

/// `d` exited with status 0, not killed.
pub fn assert_ok(d: &Done) {
    assert!(
        d.status.is_some_and(|s| s.success()) && !d.killed,
        "expected exit status 0:\n{d}"
    );
}

/// The checks every successful run gets: both exit 0, the address lines cross-match, the
/// statistics lines are right on both sides.
pub fn check_pair(s: &Done, c: &Done, size: u64, iters: u64) {
    check_pairs(s, c, size, iters, 1);
}

/// [`check_pair`] for tools with `qps` QPs a side: `qps` local and `qps` remote address lines
/// each, the client's `i`-th remote line is the server's `i`-th local one and the other way
/// round, all QP numbers distinct.
pub fn check_pairs(s: &Done, c: &Done, size: u64, iters: u64, qps: usize) {
    check_lines(s, c, size, iters, qps, GID_AFTER_COMMA);
}

/// [`check_pair`] for `ud_pingpong` and `ibv_ud_pingpong`, whose local address line reads
/// `PSN 0x...: GID` (its remote line `PSN 0x..., GID`).
pub fn check_ud_pair(s: &Done, c: &Done, size: u64, iters: u64) {
    check_lines(s, c, size, iters, 1, GID_AFTER_COLON);
}

/// [`check_pairs`] with `local_gid_sep` before the GID of the local address lines.
fn check_lines(s: &Done, c: &Done, size: u64, iters: u64, qps: usize, local_gid_sep: &str) {
    assert_ok(s);
    assert_ok(c);
    let (local, remote) = ("  local address:  ", "  remote address: ");
    let (s_local, s_remote) = (addrs_with(s, local, local_gid_sep), addrs(s, remote));
    let (c_local, c_remote) = (addrs_with(c, local, local_gid_sep), addrs(c, remote));
    for (lines, what) in [
        (&s_local, "server local"),
        (&s_remote, "server remote"),
        (&c_local, "client local"),
        (&c_remote, "client remote"),
    ] {
        assert_eq!(lines.len(), qps, "{qps} {what} address lines\n{s}\n{c}");
    }
    assert_eq!(
        c_remote, s_local,
        "client's remote = server's local\n{s}\n{c}"
    );
    assert_eq!(
        s_remote, c_local,
        "server's remote = client's local\n{s}\n{c}"
    );
    let mut qpns: Vec<u32> = s_local.iter().chain(&c_local).map(|a| a.qpn).collect();
    qpns.sort_unstable();
    qpns.dedup();
    assert_eq!(qpns.len(), 2 * qps, "{} distinct QPs\n{s}\n{c}", 2 * qps);
    stats(s, size, iters);
    stats(c, size, iters);
    for d in [s, c] {
        assert!(
            !d.stdout.contains("invalid data"),
            "no -c complaint expected:\n{d}"
        );
        assert_eq!(
            d.stdout.lines().count(),
            2 * qps + 2,
            "exactly {} stdout lines:\n{d}",
            2 * qps + 2
        );
    }
}
