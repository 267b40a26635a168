//! `examples/srq_pingpong/` against rdma-core's `ibv_srq_pingpong`, in both roles and with
//! itself, on the real device (the Soft-RoCE VM: `scripts/test-device srq_pingpong`).
//!
//! Each test starts a server, waits until its TCP port is listening, runs the client, waits for
//! both with a time limit (killing them on expiry), and checks what both printed: exit status,
//! one local and one remote address line per QP (each side's remote addresses are the other's
//! local ones, in QP order), and the statistics lines (`size * iters * 2` bytes, `iters`
//! iterations, consistent rates). With `-c` a Rust side checks every byte of every message it
//! received (the C tool's are all zeros) and prints `invalid data in page N` for any other:
//! [`check_pairs`] asserts there is none.
//!
//! The Rust binary is `target/<profile>/srq_pingpong` (`scripts/test-device` builds it); the C
//! tool is `ibv_srq_pingpong` from `PATH`. TCP ports 18800-18849.

use rdma_device_tests::pingpong::{
    self as pp, addrs, assert_ok, check_pairs, device_args, stats, Impl, Tool, LIMIT,
};
use rdma_device_tests::process::{serial, spawn, Done};
use std::time::{Duration, Instant};

/// The tools this file compares.
const TOOL: Tool = Tool {
    c: "ibv_srq_pingpong",
    rust: "srq_pingpong",
};

/// [`pp::pingpong`] of srq_pingpong and ibv_srq_pingpong.
fn pingpong(
    server: (Impl, &[&str]),
    client: (Impl, &[&str]),
    port: u16,
    server_grace: Duration,
) -> (Done, Done) {
    pp::pingpong(TOOL, server, client, port, server_grace)
}

/// Runs `opts` with the C server and the Rust client on `port`, then the other way round on
/// `port + 1`, and checks both runs.
fn both_ways(opts: &[&str], port: u16, size: u64, iters: u64, qps: usize) {
    let (s, c) = pingpong((Impl::C, opts), (Impl::Rust, opts), port, LIMIT);
    check_pairs(&s, &c, size, iters, qps);
    let (s, c) = pingpong((Impl::Rust, opts), (Impl::C, opts), port + 1, LIMIT);
    check_pairs(&s, &c, size, iters, qps);
}

/// The defaults (16 QPs, 4096 bytes, rx depth 500) with `-c`, both ways.
#[test]
fn interop_srq_pingpong_defaults_checked_both_ways() {
    let _g = serial();
    both_ways(&["-n", "1000", "-c"], 18800, 4096, 1000, 16);
}

#[test]
fn interop_srq_pingpong_rust_rust_polling() {
    let _g = serial();
    let opts = ["-n", "1000", "-c"];
    let (s, c) = pingpong((Impl::Rust, &opts), (Impl::Rust, &opts), 18802, LIMIT);
    check_pairs(&s, &c, 4096, 1000, 16);
}

#[test]
fn interop_srq_pingpong_rust_rust_events() {
    let _g = serial();
    let opts = ["-n", "1000", "-c", "-e"];
    let (s, c) = pingpong((Impl::Rust, &opts), (Impl::Rust, &opts), 18803, LIMIT);
    check_pairs(&s, &c, 4096, 1000, 16);
}

#[test]
fn interop_srq_pingpong_events_against_c_both_ways() {
    let _g = serial();
    both_ways(
        &["-n", "300", "-e", "-q", "4", "-r", "8"],
        18804,
        4096,
        300,
        4,
    );
}

/// Few receives for the QPs (`-r` = `-q` + 2): the SRQ is topped up after nearly every receive.
#[test]
fn interop_srq_pingpong_small_rx_depth_both_ways() {
    let _g = serial();
    both_ways(
        &["-q", "3", "-r", "5", "-s", "64", "-n", "200", "-c"],
        18806,
        64,
        200,
        3,
    );
}

/// One QP, and two-page messages checked byte for byte.
#[test]
fn interop_srq_pingpong_one_qp_two_pages_both_ways() {
    let _g = serial();
    both_ways(
        &["-q", "1", "-r", "1", "-s", "8192", "-n", "100", "-c"],
        18808,
        8192,
        100,
        1,
    );
}

/// 16-byte messages fit the QPs' inline data on rxe: the Rust side sends them inline.
#[test]
fn interop_srq_pingpong_inline_small_messages_both_ways() {
    let _g = serial();
    both_ways(&["-s", "16", "-n", "500", "-c"], 18810, 16, 500, 16);
}

/// The most QPs the C tool takes (255), each with one receive.
#[test]
fn interop_srq_pingpong_255_qps_both_ways() {
    let _g = serial();
    both_ways(
        &["-q", "255", "-r", "255", "-n", "1000", "-c"],
        18812,
        4096,
        1000,
        255,
    );
}

/// Fewer iterations than QPs: the client's first sends already exceed `-n`, and both sides
/// still end, as the C tools do.
#[test]
fn interop_srq_pingpong_fewer_iters_than_qps_both_ways() {
    let _g = serial();
    both_ways(&["-n", "5"], 18814, 4096, 5, 16);
}

/// Sides with different `-q` still run, as two C tools do: the extra QPs of the side with more
/// are connected to the peer's all-zero addresses and stay idle (server) or send nowhere
/// (client), and `-n` counts all exchanges together.
#[test]
fn interop_srq_pingpong_different_qp_counts() {
    let _g = serial();
    let more = ["-q", "16", "-n", "200", "--timeout", "30"];
    let fewer = ["-q", "4", "-n", "200"];
    let mut runs = Vec::new();
    for (server, client, port) in [
        ((Impl::Rust, &more[..]), (Impl::C, &fewer[..]), 18816),
        ((Impl::C, &fewer[..]), (Impl::Rust, &more[..]), 18817),
    ] {
        let (s, c) = pingpong(server, client, port, LIMIT);
        runs.push((s, c));
    }
    for (s, c) in &runs {
        assert_ok(s);
        assert_ok(c);
        stats(s, 4096, 200);
        stats(c, 4096, 200);
    }
    // Rust server with 16 QPs, C client with 4: the client's 4 QPs are the server's first 4
    // remote addresses, and the server's first 4 QPs are the client's.
    let (s, c) = &runs[0];
    let (s_local, s_remote) = (
        addrs(s, "  local address:  "),
        addrs(s, "  remote address: "),
    );
    let (c_local, c_remote) = (
        addrs(c, "  local address:  "),
        addrs(c, "  remote address: "),
    );
    assert_eq!((s_local.len(), s_remote.len()), (16, 16), "{s}");
    assert_eq!((c_local.len(), c_remote.len()), (4, 4), "{c}");
    assert_eq!(s_remote[..4], c_local[..], "{s}\n{c}");
    assert_eq!(c_remote[..], s_local[..4], "{s}\n{c}");
    // The peer's addresses past its 4 QPs are the all-zero messages.
    for a in &s_remote[4..] {
        assert_eq!(
            (a.lid, a.qpn, a.psn, a.gid.as_str()),
            (0, 0, 0, "::"),
            "{s}"
        );
    }
}

/// Runs one side alone with `args` (after the device options) and waits for it.
fn alone(which: Impl, args: &[&str]) -> Done {
    let mut a = device_args();
    a.extend(args.iter().map(|s| s.to_string()));
    spawn(&format!("{which:?}"), &TOOL.bin(which), &a).wait_until(Instant::now() + LIMIT)
}

/// The C tool's checks of `-q` against `-r` and its QP limit: same message, status 1, from
/// both.
#[test]
fn interop_srq_pingpong_qp_checks_match_c() {
    let _g = serial();
    for args in [
        &["-q", "20", "-r", "10"][..],
        &["-q", "256", "-r", "1000"],
        &["-q", "300", "-r", "1000", "127.0.0.1"],
    ] {
        let (c, rust) = (alone(Impl::C, args), alone(Impl::Rust, args));
        for d in [&c, &rust] {
            assert_eq!(d.status.and_then(|s| s.code()), Some(1), "{args:?}:\n{d}");
            assert!(d.stdout.is_empty(), "{args:?}: nothing on stdout:\n{d}");
        }
        assert_eq!(rust.stderr, c.stderr, "{args:?}: the same message");
        assert!(
            c.stderr.starts_with("rx_depth 10 is too small for 20 QPs")
                || c.stderr.starts_with("num_qp "),
            "{c}"
        );
    }
}

/// Different sizes fail (the larger message does not fit the smaller receive). The Rust side,
/// with `--timeout`, always ends with status 1 and a message; the C side may hang (killed).
#[test]
fn interop_srq_pingpong_mismatched_sizes_fail_without_hanging() {
    let _g = serial();
    let grace = Duration::from_secs(10);
    let c_big = ["-n", "50", "-s", "4096"];
    let rust_small = ["-n", "50", "-s", "64", "--timeout", "10"];
    let (s, c) = pingpong((Impl::C, &c_big), (Impl::Rust, &rust_small), 18818, grace);
    assert!(!c.killed, "the Rust side must not hang:\n{c}");
    assert_eq!(c.status.and_then(|s| s.code()), Some(1), "{c}");
    assert!(
        c.stderr
            .contains("Failed status local QP operation error (2) for wr_id 1")
            || c.stderr
                .contains("Failed status local length error (1) for wr_id 1")
            || c.stderr.contains("timed out"),
        "the Rust side says why:\n{c}"
    );
    assert!(s.status.is_some_and(|st| !st.success()) || s.killed, "{s}");
}
