//! `examples/rc_pingpong/` against rdma-core's `ibv_rc_pingpong`, in both roles, on the real
//! device (the Soft-RoCE VM: `scripts/test-device interop`).
//!
//! Each test starts a server, waits until its TCP port is listening, runs the client, waits for
//! both with a time limit (killing them on expiry), and checks what both printed: exit status,
//! the address lines (each side's remote address is the other's local one), and the statistics
//! lines (`size * iters * 2` bytes, `iters` iterations, consistent rates).
//!
//! The Rust binary is `target/<profile>/rc_pingpong` (next to this test's `deps/` directory;
//! `scripts/test-device` builds it); the C tool is `ibv_rc_pingpong` from `PATH`.

use rdma_device_tests::process::{listening, path_bin, serial, spawn, workspace_bin, Done};
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

/// How long one side may run.
const LIMIT: Duration = Duration::from_secs(120);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Impl {
    C,
    Rust,
}

fn bin(which: Impl) -> PathBuf {
    match which {
        Impl::C => path_bin(
            "ibv_rc_pingpong",
            "install ibverbs-utils (rdma-core's examples)",
        ),
        Impl::Rust => workspace_bin("rc_pingpong", "rdma-examples"),
    }
}

/// `-d <device> [-g <gid index>]` for the device under test (`$RDMA_DEVICE` or the first).
fn device_args() -> Vec<String> {
    let ctx = rdma_device_tests::device();
    let mut args = vec!["-d".to_string(), ctx.name().to_string()];
    if let Some(g) = ctx.default_gid_index(1).expect("a usable GID on port 1") {
        args.extend(["-g".to_string(), g.to_string()]);
    }
    args
}

/// Runs a server and a client; the client gets `127.0.0.1` as the host (the TCP exchange), the
/// RDMA traffic uses the device. Returns (server, client).
fn pingpong(
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
    let mut srv = spawn(
        &format!("server ({:?})", server.0),
        &bin(server.0),
        &args(server.1, None),
    );
    let start = Instant::now();
    while !listening(port) {
        if srv.exited() || start.elapsed() > Duration::from_secs(30) {
            let done = srv.wait_until(Instant::now());
            panic!("the server did not start listening on port {port}:\n{done}");
        }
        thread::sleep(Duration::from_millis(20));
    }
    let cli = spawn(
        &format!("client ({:?})", client.0),
        &bin(client.0),
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
struct Addr {
    lid: u32,
    qpn: u32,
    psn: u32,
    gid: String,
}

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

fn addr(out: &Done, prefix: &str) -> Addr {
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?}:\n{out}"));
    let rest = &line[prefix.len()..];
    let parts: Vec<&str> = rest.split(", ").collect();
    assert_eq!(parts.len(), 4, "four fields in {line:?}");
    let field = |i: usize, name: &str| {
        parts[i]
            .strip_prefix(name)
            .unwrap_or_else(|| panic!("field {i} is {name}... in {line:?}"))
    };
    let a = Addr {
        lid: hex_field(field(0, "LID "), 4, "LID", line),
        qpn: hex_field(field(1, "QPN "), 6, "QPN", line),
        psn: hex_field(field(2, "PSN "), 6, "PSN", line),
        gid: field(3, "GID ").to_string(),
    };
    assert!(
        a.gid.parse::<std::net::Ipv6Addr>().is_ok(),
        "the GID is an IPv6 address in {line:?}"
    );
    a
}

/// Checks the two statistics lines of one side.
fn stats(out: &Done, size: u64, iters: u64) {
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

fn assert_ok(d: &Done) {
    assert!(
        d.status.is_some_and(|s| s.success()) && !d.killed,
        "expected exit status 0:\n{d}"
    );
}

/// The checks every successful run gets: both exit 0, the address lines cross-match, the
/// statistics lines are right on both sides.
fn check_pair(s: &Done, c: &Done, size: u64, iters: u64) {
    assert_ok(s);
    assert_ok(c);
    let (s_local, s_remote) = (addr(s, "  local address:  "), addr(s, "  remote address: "));
    let (c_local, c_remote) = (addr(c, "  local address:  "), addr(c, "  remote address: "));
    assert_eq!(
        c_remote, s_local,
        "client's remote = server's local\n{s}\n{c}"
    );
    assert_eq!(
        s_remote, c_local,
        "server's remote = client's local\n{s}\n{c}"
    );
    assert_ne!(s_local.qpn, c_local.qpn, "two QPs");
    stats(s, size, iters);
    stats(c, size, iters);
    for d in [s, c] {
        assert!(
            !d.stdout.contains("invalid data"),
            "no -c complaint expected:\n{d}"
        );
        assert_eq!(
            d.stdout.lines().count(),
            4,
            "exactly four stdout lines:\n{d}"
        );
    }
}

#[test]
fn interop_c_server_rust_client() {
    let _g = serial();
    let opts = ["-n", "200", "-s", "1024"];
    let (s, c) = pingpong((Impl::C, &opts), (Impl::Rust, &opts), 18701, LIMIT);
    check_pair(&s, &c, 1024, 200);
}

#[test]
fn interop_rust_server_c_client() {
    let _g = serial();
    let opts = ["-n", "200", "-s", "1024"];
    let (s, c) = pingpong((Impl::Rust, &opts), (Impl::C, &opts), 18702, LIMIT);
    check_pair(&s, &c, 1024, 200);
}

#[test]
fn interop_rust_rust_events() {
    let _g = serial();
    let opts = ["-n", "200", "-s", "1024", "-e"];
    let (s, c) = pingpong((Impl::Rust, &opts), (Impl::Rust, &opts), 18703, LIMIT);
    check_pair(&s, &c, 1024, 200);
}

#[test]
fn interop_events_against_c_both_ways() {
    let _g = serial();
    let opts = ["-n", "100", "-s", "4096", "-e", "-r", "3"];
    let (s, c) = pingpong((Impl::C, &opts), (Impl::Rust, &opts), 18704, LIMIT);
    check_pair(&s, &c, 4096, 100);
    let (s, c) = pingpong((Impl::Rust, &opts), (Impl::C, &opts), 18705, LIMIT);
    check_pair(&s, &c, 4096, 100);
}

/// `-c` with two pages per message, both ways: the server checks the first byte of each page of
/// the last message, which the client zeroed and the server's pongs echoed back.
#[test]
fn interop_validate_multi_page_both_ways() {
    let _g = serial();
    let opts = ["-n", "100", "-s", "8192", "-c"];
    let (s, c) = pingpong((Impl::C, &opts), (Impl::Rust, &opts), 18706, LIMIT);
    check_pair(&s, &c, 8192, 100);
    let (s, c) = pingpong((Impl::Rust, &opts), (Impl::C, &opts), 18707, LIMIT);
    check_pair(&s, &c, 8192, 100);
    // With a small rx depth every receive is reposted at once and the echo still holds.
    let opts = ["-n", "100", "-s", "8192", "-c", "-r", "1"];
    let (s, c) = pingpong((Impl::Rust, &opts), (Impl::C, &opts), 18708, LIMIT);
    check_pair(&s, &c, 8192, 100);
}

/// A server with `-c` facing a client without it reports both pages, as the C server does, and
/// still exits 0.
#[test]
fn interop_validate_reports_pages_like_c() {
    let _g = serial();
    let srv = ["-n", "20", "-s", "8192", "-c"];
    let cli = ["-n", "20", "-s", "8192"];
    let mut outputs = Vec::new();
    for (server, port) in [(Impl::C, 18709), (Impl::Rust, 18710)] {
        let (s, c) = pingpong((server, &srv), (Impl::Rust, &cli), port, LIMIT);
        assert_ok(&s);
        assert_ok(&c);
        stats(&s, 8192, 20);
        let complaints: Vec<&str> = s
            .stdout
            .lines()
            .filter(|l| l.starts_with("invalid"))
            .collect();
        assert_eq!(
            complaints,
            ["invalid data in page 0", "invalid data in page 1"],
            "{s}"
        );
        outputs.push(complaints.join("\n"));
    }
    assert_eq!(outputs[0], outputs[1], "C and Rust servers say the same");
}

/// 16-byte messages fit the QP's inline data (16 on rxe): the Rust side sends them inline.
#[test]
fn interop_inline_small_messages() {
    let _g = serial();
    let opts = ["-n", "200", "-s", "16"];
    let (s, c) = pingpong((Impl::C, &opts), (Impl::Rust, &opts), 18711, LIMIT);
    check_pair(&s, &c, 16, 200);
    let (s, c) = pingpong((Impl::Rust, &opts), (Impl::C, &opts), 18712, LIMIT);
    check_pair(&s, &c, 16, 200);
}

fn assert_failed_clearly(d: &Done) {
    assert!(!d.killed, "the Rust side must not hang:\n{d}");
    assert_eq!(
        d.status.and_then(|s| s.code()),
        Some(1),
        "the Rust side exits 1:\n{d}"
    );
    assert!(
        d.stderr.contains("Failed status ") || d.stderr.contains("timed out"),
        "the Rust side says why:\n{d}"
    );
}

/// Different sizes fail (the larger message does not fit the smaller receive). The Rust side,
/// with `--timeout`, always ends with status 1 and a message; the C side may hang (it is killed).
#[test]
fn interop_mismatched_sizes_fail_without_hanging() {
    let _g = serial();
    let grace = Duration::from_secs(10);
    let rust_big = ["-n", "50", "-s", "4096", "--timeout", "10"];
    let c_small = ["-n", "50", "-s", "64"];
    let (s, c) = pingpong((Impl::Rust, &rust_big), (Impl::C, &c_small), 18713, grace);
    assert_failed_clearly(&s);
    assert!(c.status.is_some_and(|st| !st.success()) || c.killed, "{c}");

    let rust_small = ["-n", "50", "-s", "64", "--timeout", "10"];
    let c_big = ["-n", "50", "-s", "4096"];
    let (s, c) = pingpong((Impl::C, &c_big), (Impl::Rust, &rust_small), 18714, grace);
    assert_failed_clearly(&c);
    assert!(
        c.stderr
            .contains("Failed status local QP operation error (2) for wr_id 1")
            || c.stderr
                .contains("Failed status local length error (1) for wr_id 1")
            || c.stderr.contains("timed out"),
        "{c}"
    );
    assert!(s.status.is_some_and(|st| !st.success()) || s.killed, "{s}");
}

/// A peer that stops early (smaller `-n`) makes the C tool wait forever; with `--timeout` the
/// Rust side gives up with status 1 and says how far it got.
#[test]
fn interop_timeout_when_the_peer_stops() {
    let _g = serial();
    let srv = ["-n", "20", "-s", "1024"];
    // 10 s without progress: the C server's 20 round trips take well under that even on a
    // loaded 2-core emulated VM, so the watchdog fires only after it has gone.
    let cli = ["-n", "30", "-s", "1024", "--timeout", "10"];
    let (s, c) = pingpong((Impl::C, &srv), (Impl::Rust, &cli), 18715, LIMIT);
    assert_ok(&s);
    stats(&s, 1024, 20);
    assert_failed_clearly(&c);
    // Either the watchdog fires, or the send to the closed QP fails first (retries exhausted).
    // The 21st send is counted once it completes, which it may not before the peer has gone.
    assert!(
        !c.stderr.contains("timed out")
            || c.stderr.contains("received 20 and sent 21 of 30")
            || c.stderr.contains("received 20 and sent 20 of 30"),
        "{c}"
    );
}
