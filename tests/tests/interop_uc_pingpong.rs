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

use rdma_device_tests::process::{listening, path_bin, serial, spawn, workspace_bin, Done};
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

/// How long one side may run.
const LIMIT: Duration = Duration::from_secs(120);

/// Which implementation plays a role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Impl {
    C,
    Rust,
}

fn bin(which: Impl) -> PathBuf {
    match which {
        Impl::C => path_bin(
            "ibv_uc_pingpong",
            "install ibverbs-utils (rdma-core's examples)",
        ),
        Impl::Rust => workspace_bin("uc_pingpong", "rdma-examples"),
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

/// Runs a server and a client (host `127.0.0.1` for the TCP exchange; the RDMA traffic uses
/// the device). Returns (server, client).
fn pingpong(server: (Impl, &[&str]), client: (Impl, &[&str]), port: u16) -> (Done, Done) {
    let dev = device_args();
    let args = |extra: &[&str], host: Option<&str>| -> Vec<String> {
        let mut a = dev.clone();
        a.extend(["-p".to_string(), port.to_string()]);
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
    let s = srv.wait_until(Instant::now() + LIMIT);
    (s, c)
}

/// The fields of an address line after `prefix`: `LID 0x0000, QPN 0x000011, PSN ..., GID ...`.
fn addr(out: &Done, prefix: &str) -> Vec<String> {
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?}:\n{out}"));
    let parts: Vec<String> = line[prefix.len()..]
        .split(", ")
        .map(str::to_string)
        .collect();
    let names = ["LID 0x", "QPN 0x", "PSN 0x", "GID "];
    let widths = [4, 6, 6, 0];
    assert_eq!(parts.len(), 4, "four fields in {line:?}");
    for ((p, name), width) in parts.iter().zip(names).zip(widths) {
        let v = p
            .strip_prefix(name)
            .unwrap_or_else(|| panic!("{name}... in {line:?}"));
        if width > 0 {
            assert!(
                v.len() == width && v.chars().all(|c| c.is_ascii_hexdigit()),
                "{width} hex digits in {p:?} of {line:?}"
            );
        } else {
            assert!(v.parse::<std::net::Ipv6Addr>().is_ok(), "a GID in {line:?}");
        }
    }
    parts
}

/// Checks the two statistics lines: `%lld bytes in %.2f seconds = %.2f Mbit/sec` and
/// `%d iters in %.2f seconds = %.2f usec/iter`.
fn stats(out: &Done, size: u64, iters: u64) {
    let find = |what: &str| {
        out.stdout
            .lines()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no line with {what:?}:\n{out}"))
            .split(' ')
            .collect::<Vec<_>>()
    };
    let (w, v) = (find(" bytes in "), find(" iters in "));
    assert_eq!(w.len(), 8, "{w:?}");
    assert_eq!(v.len(), 8, "{v:?}");
    assert_eq!(
        (w[0], w[1], w[2], w[4], w[5], w[7]),
        (
            &*(size * iters * 2).to_string(),
            "bytes",
            "in",
            "seconds",
            "=",
            "Mbit/sec"
        )
    );
    assert_eq!(
        (v[0], v[1], v[2], v[4], v[5], v[7]),
        (
            &*iters.to_string(),
            "iters",
            "in",
            "seconds",
            "=",
            "usec/iter"
        )
    );
    assert_eq!(w[3], v[3], "both lines show the same seconds");
    for num in [w[3], w[6], v[3], v[6]] {
        let frac = num.split_once('.').map(|(_, f)| f);
        assert!(frac.is_some_and(|f| f.len() == 2), "{num:?} is %.2f");
        assert!(num.parse::<f64>().is_ok(), "{num:?} is a number");
    }
}

fn assert_ok(d: &Done) {
    assert!(
        d.status.is_some_and(|s| s.success()) && !d.killed,
        "expected exit status 0:\n{d}"
    );
}

/// Both exit 0, the address lines cross-match, the statistics are right, the `-c` check found
/// nothing, and each printed exactly its four lines.
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
    assert_ne!(s_local[1], c_local[1], "two QPs");
    for d in [s, c] {
        stats(d, size, iters);
        assert!(
            !d.stdout.contains("invalid data"),
            "-c found bad data:\n{d}"
        );
        assert_eq!(d.stdout.lines().count(), 4, "four stdout lines:\n{d}");
    }
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
    let prog = bin(which);
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
