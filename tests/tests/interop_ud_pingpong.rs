//! `examples/ud_pingpong/` against rdma-core's `ibv_ud_pingpong`, in both roles and against
//! itself, on the real device (the Soft-RoCE VM: `scripts/test-device ud_pingpong`).
//!
//! As in interop_uc_pingpong.rs: each test starts a server, waits until its TCP port listens,
//! runs the client, waits for both with a time limit (killing them on expiry), and checks what
//! both printed: exit status 0, the address lines (each side's remote address is the other's
//! local one; the local line has `: GID` as `ibv_ud_pingpong` prints it), the statistics lines
//! (`size * iters * 2` bytes, `iters` iterations). Runs have `-c`: the server checks the first
//! byte of each page of the last datagram, which the client zeroed and the pongs echoed (so the
//! payload crossed both UD QPs, past the 40-byte header, intact). A `-c` server facing a client
//! without `-c` must report every page, as the C server does. Failures (`-s` over the MTU,
//! options the C tool lacks) print what the C tool prints and exit as it exits. TCP ports
//! 18850-18889.
//!
//! The Rust binary is `target/<profile>/ud_pingpong` (`scripts/test-device` builds it); the C
//! tool is `ibv_ud_pingpong` from `PATH`.

use rdma_device_tests::pingpong::{
    self as pp, assert_ok, check_ud_pair, device_args, stats, Impl, Tool, LIMIT,
};
use rdma_device_tests::process::{serial, spawn, Done};
use std::time::Instant;

/// The tools this file compares.
const TOOL: Tool = Tool {
    c: "ibv_ud_pingpong",
    rust: "ud_pingpong",
};

/// [`pp::pingpong`] of ud_pingpong and ibv_ud_pingpong; the server may take as long as the
/// client.
fn pingpong(server: (Impl, &[&str]), client: (Impl, &[&str]), port: u16) -> (Done, Done) {
    pp::pingpong(TOOL, server, client, port, LIMIT)
}

/// The port's active MTU: the largest datagram.
fn active_mtu() -> u32 {
    let port = rdma_device_tests::device().query_port(1).expect("port 1");
    port.active_mtu().expect("an active MTU").bytes()
}

/// The default size (1024), checked (`-c`).
const CHECKED: [&str; 3] = ["-n", "200", "-c"];

#[test]
fn ud_pingpong_rust_server_c_client() {
    let _g = serial();
    let (s, c) = pingpong((Impl::Rust, &CHECKED), (Impl::C, &CHECKED), 18850);
    check_ud_pair(&s, &c, 1024, 200);
}

#[test]
fn ud_pingpong_c_server_rust_client() {
    let _g = serial();
    let (s, c) = pingpong((Impl::C, &CHECKED), (Impl::Rust, &CHECKED), 18851);
    check_ud_pair(&s, &c, 1024, 200);
}

/// Rust on both sides: polling, then with `-e` (CQ events) and a small rx depth, then with
/// 16-byte datagrams (sent inline on rxe) and a rx depth of 1.
#[test]
fn ud_pingpong_rust_rust() {
    let _g = serial();
    let (s, c) = pingpong((Impl::Rust, &CHECKED), (Impl::Rust, &CHECKED), 18852);
    check_ud_pair(&s, &c, 1024, 200);
    let events = ["-n", "100", "-s", "512", "-c", "-e", "-r", "3"];
    let (s, c) = pingpong((Impl::Rust, &events), (Impl::Rust, &events), 18853);
    check_ud_pair(&s, &c, 512, 100);
    let small = ["-n", "150", "-s", "16", "-c", "-r", "1"];
    let (s, c) = pingpong((Impl::Rust, &small), (Impl::Rust, &small), 18854);
    check_ud_pair(&s, &c, 16, 150);
}

/// `-e` against the C tool, both ways.
#[test]
fn ud_pingpong_events_against_c_both_ways() {
    let _g = serial();
    let opts = ["-n", "100", "-s", "768", "-c", "-e", "-r", "3"];
    let (s, c) = pingpong((Impl::C, &opts), (Impl::Rust, &opts), 18855);
    check_ud_pair(&s, &c, 768, 100);
    let (s, c) = pingpong((Impl::Rust, &opts), (Impl::C, &opts), 18856);
    check_ud_pair(&s, &c, 768, 100);
}

/// Non-default sizes against the C tool: exactly one MTU, a zero-byte datagram (which the C
/// tool allows: it registers `size + 40` bytes), an odd size with few receives.
#[test]
fn ud_pingpong_sizes_against_c() {
    let _g = serial();
    let mtu = active_mtu().to_string();
    let full = ["-n", "100", "-s", &mtu, "-c", "-r", "20"];
    let (s, c) = pingpong((Impl::Rust, &full), (Impl::C, &full), 18857);
    check_ud_pair(&s, &c, mtu.parse().unwrap(), 100);
    let empty = ["-n", "50", "-s", "0", "-c"];
    let (s, c) = pingpong((Impl::C, &empty), (Impl::Rust, &empty), 18858);
    check_ud_pair(&s, &c, 0, 50);
    let odd = ["-n", "77", "-s", "333", "-c", "-r", "2"];
    let (s, c) = pingpong((Impl::Rust, &odd), (Impl::C, &odd), 18859);
    check_ud_pair(&s, &c, 333, 77);
}

/// A `-c` server facing a client without `-c` reports the page (the 0x7b fill came back), as
/// the C server does: the check looks at the data that crossed.
#[test]
fn ud_pingpong_check_reports_pages_like_c() {
    let _g = serial();
    let srv = ["-n", "20", "-c"];
    let cli = ["-n", "20"];
    for (server, client, port) in [(Impl::C, Impl::Rust, 18860), (Impl::Rust, Impl::C, 18861)] {
        let (s, c) = pingpong((server, &srv), (client, &cli), port);
        assert_ok(&s);
        assert_ok(&c);
        stats(&s, 1024, 20);
        let complaints: Vec<&str> = s
            .stdout
            .lines()
            .filter(|l| l.starts_with("invalid"))
            .collect();
        assert_eq!(complaints, ["invalid data in page 0"], "{s}");
        assert!(
            !c.stdout.contains("invalid"),
            "the client checks nothing:\n{c}"
        );
    }
}

/// Runs `which` with `args`, alone: its exit code and output, with the program's path
/// replaced by `PROG`.
fn alone(which: Impl, args: &[String]) -> (Option<i32>, String, String) {
    let prog = TOOL.bin(which);
    let d = spawn(&format!("{which:?}"), &prog, args).wait_until(Instant::now() + LIMIT);
    assert!(!d.killed, "{d}");
    let path = prog.display().to_string();
    let code = d.status.and_then(|s| s.code());
    (
        code,
        d.stdout.replace(&path, "PROG"),
        d.stderr.replace(&path, "PROG"),
    )
}

/// `-s` over the port's active MTU fails before any output, with the C tool's line and exit
/// status, in either role.
#[test]
fn ud_pingpong_size_over_the_mtu_fails_like_c() {
    let _g = serial();
    let mtu = active_mtu();
    for size in [mtu + 1, 2 * mtu] {
        for host in [None, Some("127.0.0.1")] {
            let mut args = device_args();
            args.extend(["-p".into(), "18862".into(), "-s".into(), size.to_string()]);
            args.extend(host.map(str::to_string));
            let (c_code, c_out, c_err) = alone(Impl::C, &args);
            let (r_code, r_out, r_err) = alone(Impl::Rust, &args);
            assert_eq!(c_code, Some(1), "the C tool fails: {c_err}");
            assert_eq!(
                c_err,
                format!("Requested size larger than port MTU ({mtu})\n"),
                "the C tool's line"
            );
            assert_eq!(
                (r_code, &r_err),
                (c_code, &c_err),
                "-s {size}: as the C tool"
            );
            assert_eq!(
                (r_out.as_str(), c_out.as_str()),
                ("", ""),
                "nothing on stdout"
            );
        }
    }
}

/// Options `ibv_ud_pingpong`'s getopt lacks (`-m`, the other tools' own) are refused as it
/// refuses them: the same message on stderr, the usage on stdout, the same exit status (1).
#[test]
fn ud_pingpong_refuses_options_it_lacks_like_c() {
    let _g = serial();
    for opt in [
        "-m",
        "--mtu",
        "-q",
        "-o",
        "-N",
        "--odp",
        "--num-qp",
        "--new_send",
    ] {
        let args = [opt.to_string(), "1024".to_string()];
        let (c_code, c_out, c_err) = alone(Impl::C, &args);
        let (r_code, r_out, r_err) = alone(Impl::Rust, &args);
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
        assert!(!r_out.contains("-m, "), "no -m in our usage:\n{r_out}");
    }
}
