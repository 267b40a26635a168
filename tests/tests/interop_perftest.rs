//! `rdma-perf` (bench/) against Debian's perftest 6.06 (`ib_write_bw`, `ib_write_lat`), in
//! both roles and against itself, on the real device (the Soft-RoCE VM:
//! `scripts/test-device interop_perftest`; every test name starts with `interop_perftest_`).
//!
//! Each test starts a server, waits until its TCP port is listening (read from /proc/net, as
//! `interop_rc_pingpong.rs` does: probing would use up the server's only accept), runs the
//! client, waits for both with a time limit, and checks both outputs: exit status, the
//! perftest table header, a result row with the right size and iterations whose values parse
//! as numbers and are sane, and the address lines crossing over.
//!
//! The Rust binary is `target/<profile>/rdma-perf` (`scripts/test-device` builds it); the C
//! tools come from `PATH`.

use rdma_device_tests::process::{listening, path_bin, serial, spawn, workspace_bin, Done};
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

/// How long one side may run.
const LIMIT: Duration = Duration::from_secs(120);

const BW_HEADER: &str =
    " #bytes     #iterations    BW peak[MB/sec]    BW average[MB/sec]   MsgRate[Mpps]";
const LAT_HEADER: &str = " #bytes #iterations    t_min[usec]    t_max[usec]  t_typical[usec]    t_avg[usec]    t_stdev[usec]   99% percentile[usec]   99.9% percentile[usec] ";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Impl {
    C,
    Rust,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Test {
    WriteBw,
    WriteLat,
}

impl Test {
    fn sub(self) -> &'static str {
        match self {
            Test::WriteBw => "write_bw",
            Test::WriteLat => "write_lat",
        }
    }

    fn c_name(self) -> &'static str {
        match self {
            Test::WriteBw => "ib_write_bw",
            Test::WriteLat => "ib_write_lat",
        }
    }
}

/// The program and its leading arguments.
fn command(which: Impl, test: Test) -> (PathBuf, Vec<String>) {
    match which {
        Impl::C => (path_bin(test.c_name(), "install perftest"), vec![]),
        Impl::Rust => (
            workspace_bin("rdma-perf", "rdma-bench"),
            vec![test.sub().to_string()],
        ),
    }
}

/// `-d <device> [-x <gid index>]` for the device under test (`$RDMA_DEVICE` or the first).
fn device_args() -> Vec<String> {
    let ctx = rdma_device_tests::device();
    let mut args = vec!["-d".to_string(), ctx.name().to_string()];
    if let Some(g) = ctx.default_gid_index(1).expect("a usable GID on port 1") {
        args.extend(["-x".to_string(), g.to_string()]);
    }
    args
}

/// Runs a server and a client of `test` (the client connects to 127.0.0.1; the RDMA traffic
/// uses the device). Returns (server, client).
fn run_pair(test: Test, server: Impl, client: Impl, port: u16, extra: &[&str]) -> (Done, Done) {
    let args = |which: Impl, host: Option<&str>| -> (PathBuf, Vec<String>) {
        let (prog, mut a) = command(which, test);
        a.extend(device_args());
        a.extend(["-p".to_string(), port.to_string()]);
        a.extend(extra.iter().map(|s| s.to_string()));
        a.extend(host.map(str::to_string));
        (prog, a)
    };
    assert!(!listening(port), "TCP port {port} is already in use");
    let (sp, sa) = args(server, None);
    let start = Instant::now();
    let mut srv = spawn(&format!("server ({server:?})"), &sp, &sa);
    while !listening(port) {
        if srv.exited() || start.elapsed() > Duration::from_secs(30) {
            let done = srv.wait_until(Instant::now());
            panic!("the server did not start listening on port {port}:\n{done}");
        }
        thread::sleep(Duration::from_millis(20));
    }
    let (cp, ca) = args(client, Some("127.0.0.1"));
    let cli = spawn(&format!("client ({client:?})"), &cp, &ca);
    let c = cli.wait_until(Instant::now() + LIMIT);
    let s = srv.wait_until(Instant::now() + Duration::from_secs(30));
    (s, c)
}

fn assert_ok(d: &Done) {
    assert!(
        d.status.is_some_and(|s| s.success()) && !d.killed,
        "expected exit status 0:\n{d}"
    );
}

/// The result row under `header`, split in fields.
fn row<'a>(d: &'a Done, header: &str) -> Vec<&'a str> {
    let lines: Vec<&str> = d.stdout.lines().collect();
    let i = lines
        .iter()
        .position(|l| *l == header)
        .unwrap_or_else(|| panic!("no table header {header:?}:\n{d}"));
    let row = lines
        .get(i + 1)
        .unwrap_or_else(|| panic!("no result row:\n{d}"));
    row.split_whitespace().collect()
}

fn num(s: &str, d: &Done) -> f64 {
    s.parse::<f64>()
        .unwrap_or_else(|_| panic!("{s:?} is not a number:\n{d}"))
}

/// (local, remote) address lines, as printed.
fn addresses(d: &Done) -> (String, String) {
    let find = |p: &str| {
        d.stdout
            .lines()
            .find(|l| l.starts_with(p))
            .unwrap_or_else(|| panic!("no {p:?} line:\n{d}"))
            .split_once("address: ")
            .expect("address line")
            .1
            .to_string()
    };
    (find(" local address: "), find(" remote address: "))
}

fn check_common(s: &Done, c: &Done) {
    assert_ok(s);
    assert_ok(c);
    let (sl, sr) = addresses(s);
    let (cl, cr) = addresses(c);
    assert_eq!(sl, cr, "server's local = client's remote\n{s}\n{c}");
    assert_eq!(cl, sr, "client's local = server's remote\n{s}\n{c}");
}

fn check_bw(s: &Done, c: &Done, size: u64, iters: u64) {
    check_common(s, c);
    let (rs, rc) = (row(s, BW_HEADER), row(c, BW_HEADER));
    for (r, d) in [(&rs, s), (&rc, c)] {
        assert_eq!(r.len(), 5, "five columns:\n{d}");
        assert_eq!(r[0], size.to_string(), "#bytes:\n{d}");
        assert_eq!(r[1], iters.to_string(), "#iterations:\n{d}");
        let (peak, avg, rate) = (num(r[2], d), num(r[3], d), num(r[4], d));
        assert!(peak > 0.0 && avg > 0.0 && rate > 0.0, "positive BW:\n{d}");
        assert!(peak >= avg * 0.99, "peak >= average:\n{d}");
    }
    assert_eq!(rs, rc, "the server prints the client's row\n{s}\n{c}");
}

fn check_lat(s: &Done, c: &Done, size: u64, iters: u64) {
    check_common(s, c);
    for d in [s, c] {
        let r = row(d, LAT_HEADER);
        assert_eq!(r.len(), 9, "nine columns:\n{d}");
        assert_eq!(r[0], size.to_string(), "#bytes:\n{d}");
        assert_eq!(r[1], iters.to_string(), "#iterations:\n{d}");
        let v: Vec<f64> = r[2..].iter().map(|x| num(x, d)).collect();
        let (min, max, typ, avg) = (v[0], v[1], v[2], v[3]);
        assert!(min > 0.0, "t_min > 0:\n{d}");
        assert!(
            min <= typ && typ <= max,
            "t_min <= t_typical <= t_max:\n{d}"
        );
        assert!(min <= avg && avg <= max, "t_min <= t_avg <= t_max:\n{d}");
    }
}

const ITERS: u64 = 200;
const BW_SIZE: u64 = 4096;
const BW_ARGS: &[&str] = &["-n", "200", "-s", "4096"];
const LAT_ARGS: &[&str] = &["-n", "200"];

fn bw(server: Impl, client: Impl, port: u16) {
    let _g = serial();
    let (s, c) = run_pair(Test::WriteBw, server, client, port, BW_ARGS);
    check_bw(&s, &c, BW_SIZE, ITERS);
}

fn lat(server: Impl, client: Impl, port: u16) {
    let _g = serial();
    let (s, c) = run_pair(Test::WriteLat, server, client, port, LAT_ARGS);
    check_lat(&s, &c, 2, ITERS);
}

#[test]
fn interop_perftest_write_bw_rust_server_c_client() {
    bw(Impl::Rust, Impl::C, 18801);
}

#[test]
fn interop_perftest_write_bw_c_server_rust_client() {
    bw(Impl::C, Impl::Rust, 18802);
}

#[test]
fn interop_perftest_write_bw_rust_rust() {
    bw(Impl::Rust, Impl::Rust, 18803);
}

#[test]
fn interop_perftest_write_lat_rust_server_c_client() {
    lat(Impl::Rust, Impl::C, 18804);
}

#[test]
fn interop_perftest_write_lat_c_server_rust_client() {
    lat(Impl::C, Impl::Rust, 18805);
}

#[test]
fn interop_perftest_write_lat_rust_rust() {
    lat(Impl::Rust, Impl::Rust, 18806);
}

#[test]
fn interop_perftest_client_without_server_fails_within_the_timeout() {
    let _g = serial();
    let port = 18807;
    assert!(!listening(port), "TCP port {port} is already in use");
    let (prog, mut args) = command(Impl::Rust, Test::WriteBw);
    args.extend(device_args());
    args.extend(
        ["-p", "18807", "--timeout", "3", "127.0.0.1"]
            .iter()
            .map(|s| s.to_string()),
    );
    let start = Instant::now();
    let d = spawn("client (Rust)", &prog, &args).wait_until(start + Duration::from_secs(30));
    assert!(!d.killed, "the client ended by itself:\n{d}");
    assert!(
        d.status.is_some_and(|s| !s.success()),
        "non-zero exit:\n{d}"
    );
    assert!(
        d.elapsed < Duration::from_secs(10),
        "ended within the timeout:\n{d}"
    );
    assert!(
        d.stderr
            .contains(&format!("Couldn't connect to 127.0.0.1:{port}")),
        "perftest's message:\n{d}"
    );
}

#[test]
fn interop_perftest_unsupported_option_is_refused() {
    let (prog, mut args) = command(Impl::Rust, Test::WriteBw);
    args.push("-a".to_string());
    let start = Instant::now();
    let d = spawn("rdma-perf -a", &prog, &args).wait_until(start + Duration::from_secs(30));
    assert!(
        d.status.is_some_and(|s| !s.success()),
        "non-zero exit:\n{d}"
    );
    assert!(
        d.stderr.contains("not supported yet"),
        "clear message:\n{d}"
    );
}
