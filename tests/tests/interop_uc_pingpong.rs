//! `examples/uc_pingpong/` against rdma-core's `ibv_uc_pingpong`, in both roles and against
//! itself, on the real device (the Soft-RoCE VM: `scripts/test-device uc_pingpong`).
//!
//! As in interop_rc_pingpong.rs: each test starts a server, waits until its TCP port listens,
//! runs the client, waits for both with a time limit (killing them on expiry), and checks what
//! both printed: exit status 0, the address lines (each side's remote address is the other's
//! local one), the statistics lines (`size * iters * 2` bytes, `iters` iterations). Every run
//! has `-c`: the server checks the first byte of each page of the last message, which the
//! client zeroed and the pongs echoed (over UC, so the payload crossed both QPs intact).
//!
//! The Rust binary is `target/<profile>/uc_pingpong` (`scripts/test-device` builds it); the C
//! tool is `ibv_uc_pingpong` from `PATH`.

use rdma_device_tests::pingpong::{self as pp, assert_ok, check_pair, stats, Impl, Tool, LIMIT};
use rdma_device_tests::process::{serial, spawn, Done};
use std::time::Instant;

/// The tools this file compares.
const TOOL: Tool = Tool {
    c: "ibv_uc_pingpong",
    rust: "uc_pingpong",
};

/// [`pp::pingpong`] of uc_pingpong and ibv_uc_pingpong; the server may take as long as the
/// client.
fn pingpong(server: (Impl, &[&str]), client: (Impl, &[&str]), port: u16) -> (Done, Done) {
    pp::pingpong(TOOL, server, client, port, LIMIT)
}

/// Two pages per message, checked (`-c`).
const CHECKED: [&str; 5] = ["-n", "200", "-s", "8192", "-c"];

#[test]
fn uc_pingpong_rust_server_c_client() {
    let _g = serial();
    let (s, c) = pingpong((Impl::Rust, &CHECKED), (Impl::C, &CHECKED), 18761);
    check_pair(&s, &c, 8192, 200);
}

#[test]
fn uc_pingpong_c_server_rust_client() {
    let _g = serial();
    let (s, c) = pingpong((Impl::C, &CHECKED), (Impl::Rust, &CHECKED), 18762);
    check_pair(&s, &c, 8192, 200);
}

/// Rust on both sides: polling, then with `-e` (CQ events) and a small rx depth, then with
/// 16-byte messages (sent inline on rxe).
#[test]
fn uc_pingpong_rust_rust() {
    let _g = serial();
    let (s, c) = pingpong((Impl::Rust, &CHECKED), (Impl::Rust, &CHECKED), 18763);
    check_pair(&s, &c, 8192, 200);
    let events = ["-n", "100", "-s", "8192", "-c", "-e", "-r", "3"];
    let (s, c) = pingpong((Impl::Rust, &events), (Impl::Rust, &events), 18764);
    check_pair(&s, &c, 8192, 100);
    let small = ["-n", "200", "-s", "16", "-c"];
    let (s, c) = pingpong((Impl::Rust, &small), (Impl::Rust, &small), 18765);
    check_pair(&s, &c, 16, 200);
}

/// `-e` against the C tool, both ways.
#[test]
fn uc_pingpong_events_against_c_both_ways() {
    let _g = serial();
    let opts = ["-n", "100", "-s", "4096", "-c", "-e", "-r", "3"];
    let (s, c) = pingpong((Impl::C, &opts), (Impl::Rust, &opts), 18766);
    check_pair(&s, &c, 4096, 100);
    let (s, c) = pingpong((Impl::Rust, &opts), (Impl::C, &opts), 18767);
    check_pair(&s, &c, 4096, 100);
}

/// A `-c` server facing a client without `-c` reports both pages (the 0x7b fill came back), as
/// the C server does: the check looks at the data that crossed.
#[test]
fn uc_pingpong_check_reports_pages_like_c() {
    let _g = serial();
    let srv = ["-n", "20", "-s", "8192", "-c"];
    let cli = ["-n", "20", "-s", "8192"];
    for (server, client, port) in [(Impl::C, Impl::Rust, 18768), (Impl::Rust, Impl::C, 18769)] {
        let (s, c) = pingpong((server, &srv), (client, &cli), port);
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
    }
}

/// Runs `which` with `args` and no device work (a command-line error): its output, with the
/// program's path replaced by `PROG`.
fn refused(which: Impl, args: &[&str]) -> (Option<i32>, String, String) {
    let prog = TOOL.bin(which);
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let d = spawn(&format!("{which:?}"), &prog, &args).wait_until(Instant::now() + LIMIT);
    assert!(!d.killed, "{d}");
    let path = prog.display().to_string();
    let code = d.status.and_then(|s| s.code());
    (
        code,
        d.stdout.replace(&path, "PROG"),
        d.stderr.replace(&path, "PROG"),
    )
}

/// `ibv_rc_pingpong`'s options that `ibv_uc_pingpong` lacks are refused as its getopt refuses
/// them: the same message on stderr, the usage on stdout, the same exit status (1).
#[test]
fn uc_pingpong_refuses_rc_only_options_like_c() {
    let _g = serial();
    for opt in [
        "-o",
        "-O",
        "-P",
        "-t",
        "-j",
        "-N",
        "--odp",
        "--new_send",
        "--ts",
    ] {
        let (c_code, c_out, c_err) = refused(Impl::C, &[opt]);
        let (r_code, r_out, r_err) = refused(Impl::Rust, &[opt]);
        assert_eq!(c_code, Some(1), "the C tool refuses {opt}: {c_err}");
        assert_eq!(r_code, c_code, "{opt}: the C tool's exit status");
        assert_eq!(r_err, c_err, "{opt}: the C tool's getopt message");
        assert!(
            r_out.starts_with("Usage:\n  PROG            start a server and wait for connection\n")
                && c_out.starts_with("Usage:\n  PROG            start a server"),
            "{opt}: both print the usage:\n{r_out}\n{c_out}"
        );
        for line in c_out.lines().filter(|l| l.starts_with("  -")) {
            let short = &line[..6];
            assert!(
                r_out.contains(short),
                "{opt}: our usage lists {short:?}:\n{r_out}"
            );
        }
    }
}
