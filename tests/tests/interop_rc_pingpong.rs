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

use rdma_device_tests::pingpong::{self as pp, assert_ok, check_pair, stats, Impl, Tool, LIMIT};
use rdma_device_tests::process::{serial, Done};
use std::time::Duration;

/// The tools this file compares.
const TOOL: Tool = Tool {
    c: "ibv_rc_pingpong",
    rust: "rc_pingpong",
};

/// [`pp::pingpong`] of rc_pingpong and ibv_rc_pingpong.
fn pingpong(
    server: (Impl, &[&str]),
    client: (Impl, &[&str]),
    port: u16,
    server_grace: Duration,
) -> (Done, Done) {
    pp::pingpong(TOOL, server, client, port, server_grace)
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

/// `-N` (the extended post API, `ibv_wr_*`) against the C tool's `-N`, in both roles.
#[test]
fn interop_new_send_both_ways() {
    let _g = serial();
    let opts = ["-n", "200", "-s", "1024", "-N"];
    let (s, c) = pingpong((Impl::C, &opts), (Impl::Rust, &opts), 18960, LIMIT);
    check_pair(&s, &c, 1024, 200);
    let (s, c) = pingpong((Impl::Rust, &opts), (Impl::C, &opts), 18961, LIMIT);
    check_pair(&s, &c, 1024, 200);
}

/// `-N` with `-c`: the pages the client zeroed come back through the C tool's pongs and the
/// Rust one's, sent with `ibv_wr_send`.
#[test]
fn interop_new_send_validates_both_ways() {
    let _g = serial();
    let opts = ["-n", "100", "-s", "8192", "-c", "-N"];
    let (s, c) = pingpong((Impl::C, &opts), (Impl::Rust, &opts), 18962, LIMIT);
    check_pair(&s, &c, 8192, 100);
    let (s, c) = pingpong((Impl::Rust, &opts), (Impl::C, &opts), 18963, LIMIT);
    check_pair(&s, &c, 8192, 100);
}

/// `-N` with inline-sized messages and with events; and a Rust `-N` side against a classic C
/// side (the API does not change the wire).
#[test]
fn interop_new_send_inline_events_and_mixed() {
    let _g = serial();
    let opts = ["-n", "200", "-s", "16", "-N"];
    let (s, c) = pingpong((Impl::Rust, &opts), (Impl::C, &opts), 18964, LIMIT);
    check_pair(&s, &c, 16, 200);
    let opts = ["-n", "100", "-s", "4096", "-e", "-N"];
    let (s, c) = pingpong((Impl::C, &opts), (Impl::Rust, &opts), 18965, LIMIT);
    check_pair(&s, &c, 4096, 100);
    let classic = ["-n", "200", "-s", "1024"];
    let new_send = ["-n", "200", "-s", "1024", "-N"];
    let (s, c) = pingpong((Impl::C, &classic), (Impl::Rust, &new_send), 18966, LIMIT);
    check_pair(&s, &c, 1024, 200);
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
