//! `rdma-perf -c UC` against Debian's perftest 6.06 on the real device (the Soft-RoCE VM:
//! `scripts/test-device interop_perftest_uc`): `send_bw`, `send_lat`, `write_bw` and
//! `write_lat` over UC QPs, each with C perftest in both roles and Rust against itself; and
//! the refusals (UC on the READ tests, UC with `-R`, an unknown type), compared with the C
//! tools' output and exit status; Rust UC against Rust RC, refused by both sides. TCP ports
//! 19000–19049.
//!
//! Each run checks both exit statuses, `Connection type : UC` in both banners, the RX depth
//! perftest prints for a UC SEND server (the iterations, not 512), the address lines
//! crossing over, and a result row with the right size and iterations on each side that
//! prints one.

use rdma_bench::perftest::PerfTest as Test;
use rdma_device_tests::process::{listening, path_bin, serial, spawn, workspace_bin, Done};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long one side may run.
const LIMIT: Duration = Duration::from_secs(120);
/// Iterations: above perftest's RX depth of 512, so UC's depth rule shows in the banner.
const ITERS: u64 = 600;
const BW_SIZE: u64 = 4096;
const UC_LINE: &str = " Connection type : UC\t\tUsing SRQ      : OFF";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Impl {
    C,
    Rust,
}

/// The program and its leading arguments.
fn command(which: Impl, test: Test) -> (PathBuf, Vec<String>) {
    match which {
        Impl::C => (path_bin(&test.tool(), "install perftest"), vec![]),
        Impl::Rust => (
            workspace_bin("rdma-perf", "rdma-bench"),
            vec![test.as_str().to_string()],
        ),
    }
}

/// Runs a UC server and client of `test` with `extra` (the client connects to 127.0.0.1).
fn run_pair(test: Test, server: Impl, client: Impl, port: u16, extra: &[&str]) -> (Done, Done) {
    let args = |which: Impl, host: Option<&str>| -> (PathBuf, Vec<String>) {
        let (prog, mut a) = command(which, test);
        a.extend(rdma_device_tests::perftest_device_args());
        a.extend(["-p".to_string(), port.to_string(), "-c".into(), "UC".into()]);
        a.extend(extra.iter().map(|s| s.to_string()));
        a.extend(host.map(str::to_string));
        (prog, a)
    };
    assert!(!listening(port), "port {port} is already in use");
    let (sp, sa) = args(server, None);
    let srv = spawn(&format!("server ({server:?})"), &sp, &sa).wait_ready(
        port,
        Duration::from_secs(30),
        listening,
    );
    let (cp, ca) = args(client, Some("127.0.0.1"));
    let cli = spawn(&format!("client ({client:?})"), &cp, &ca);
    let c = cli.wait_until(Instant::now() + LIMIT);
    let s = srv.wait_until(Instant::now() + Duration::from_secs(30));
    (s, c)
}

/// The address after `prefix` (`" local address: "` …), as printed.
fn address(d: &Done, prefix: &str) -> String {
    d.stdout
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} line:\n{d}"))
        .split_once("address: ")
        .expect("address line")
        .1
        .to_string()
}

/// The first row under a header that starts with ` #bytes`, split in fields.
fn first_row(d: &Done) -> Vec<&str> {
    let lines: Vec<&str> = d.stdout.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.starts_with(" #bytes"))
        .unwrap_or_else(|| panic!("no result table:\n{d}"));
    lines
        .get(i + 1)
        .unwrap_or_else(|| panic!("no result row:\n{d}"))
        .split_whitespace()
        .collect()
}

/// Checks a run: exit statuses, banners, addresses and the result rows.
fn check(test: Test, s: &Done, c: &Done, size: u64) {
    let ok = |d: &Done| d.status.is_some_and(|st| st.success()) && !d.killed;
    assert!(ok(s) && ok(c), "exit status 0 on both sides:\n{s}\n{c}");
    for d in [s, c] {
        assert!(
            d.stdout.lines().any(|l| l == UC_LINE),
            "{UC_LINE:?} in the banner:\n{d}"
        );
    }
    if test == Test::SendBw || test == Test::SendLat {
        let rx = format!(" RX depth        : {ITERS}");
        assert!(s.stdout.lines().any(|l| l == rx), "{rx:?}:\n{s}");
    }
    assert_eq!(
        address(s, " local address: "),
        address(c, " remote address: "),
        "server's local = client's remote\n{s}\n{c}"
    );
    assert_eq!(
        address(c, " local address: "),
        address(s, " remote address: "),
        "client's local = server's remote\n{s}\n{c}"
    );
    for d in [s, c] {
        let r = first_row(d);
        assert_eq!(r[0], size.to_string(), "#bytes:\n{d}");
        assert_eq!(r[1], ITERS.to_string(), "#iterations:\n{d}");
        for v in &r[2..] {
            let x: f64 = v.parse().unwrap_or_else(|_| panic!("{v:?}:\n{d}"));
            assert!(x >= 0.0, "no negative value:\n{d}");
        }
    }
    if test.is_bw() && test != Test::SendBw {
        // The server prints the client's row.
        assert_eq!(first_row(s), first_row(c), "the client's row\n{s}\n{c}");
    }
}

fn run(test: Test, server: Impl, client: Impl, port: u16) {
    let _g = serial();
    let n = ITERS.to_string();
    let (size, extra): (u64, Vec<&str>) = if test.is_bw() {
        (BW_SIZE, vec!["-n", &n, "-s", "4096"])
    } else {
        (2, vec!["-n", &n])
    };
    let (s, c) = run_pair(test, server, client, port, &extra);
    check(test, &s, &c, size);
}

macro_rules! pairs {
    ($($name:ident: $test:ident($srv:ident, $cli:ident, $port:expr);)*) => {$(
        #[test]
        fn $name() {
            run(Test::$test, Impl::$srv, Impl::$cli, $port);
        }
    )*};
}

pairs! {
    interop_perftest_uc_send_bw_rust_server_c_client: SendBw(Rust, C, 19001);
    interop_perftest_uc_send_bw_c_server_rust_client: SendBw(C, Rust, 19002);
    interop_perftest_uc_send_bw_rust_rust: SendBw(Rust, Rust, 19003);
    interop_perftest_uc_send_lat_rust_server_c_client: SendLat(Rust, C, 19011);
    interop_perftest_uc_send_lat_c_server_rust_client: SendLat(C, Rust, 19012);
    interop_perftest_uc_send_lat_rust_rust: SendLat(Rust, Rust, 19013);
    interop_perftest_uc_write_bw_rust_server_c_client: WriteBw(Rust, C, 19021);
    interop_perftest_uc_write_bw_c_server_rust_client: WriteBw(C, Rust, 19022);
    interop_perftest_uc_write_bw_rust_rust: WriteBw(Rust, Rust, 19023);
    interop_perftest_uc_write_lat_rust_server_c_client: WriteLat(Rust, C, 19031);
    interop_perftest_uc_write_lat_c_server_rust_client: WriteLat(C, Rust, 19032);
    interop_perftest_uc_write_lat_rust_rust: WriteLat(Rust, Rust, 19033);
}

/// Runs one side alone (a client of a port nobody listens on) and returns its output.
fn alone(which: Impl, test: Test, extra: &[&str]) -> Done {
    let (prog, mut a) = command(which, test);
    a.extend(rdma_device_tests::perftest_device_args());
    a.extend(["-p", "19041"].iter().map(|s| s.to_string()));
    a.extend(extra.iter().map(|s| s.to_string()));
    a.push("127.0.0.1".into());
    spawn(&format!("{which:?}"), &prog, &a).wait_until(Instant::now() + Duration::from_secs(30))
}

/// UC on the READ tests, UC with `-R`, and unknown or verb-bound types: the Rust tool exits
/// with perftest's status and prints perftest's text on the same stream, before any TCP
/// connection (nobody listens on the port: a connection attempt would print `Couldn't
/// connect`).
#[test]
fn interop_perftest_uc_refusals_match_perftest() {
    let _g = serial();
    assert!(!listening(19041), "port 19041 is already in use");
    let cases: [(Test, &[&str]); 6] = [
        (Test::ReadBw, &["-c", "UC"]),
        (Test::ReadLat, &["--connection=UC"]),
        (Test::WriteBw, &["-c", "UC", "-R"]),
        (Test::SendLat, &["-c", "uc"]),
        (Test::WriteLat, &["-c", "UD"]),
        (Test::WriteBw, &["-c", "SRD"]),
    ];
    for (test, extra) in cases {
        let c = alone(Impl::C, test, extra);
        let r = alone(Impl::Rust, test, extra);
        assert_eq!(c.status.and_then(|s| s.code()), Some(1), "C:\n{c}");
        assert_eq!(r.status.and_then(|s| s.code()), Some(1), "Rust:\n{r}");
        assert_eq!(r.stdout, c.stdout, "stdout of {test:?} {extra:?}\n{c}\n{r}");
        assert_eq!(r.stderr, c.stderr, "stderr of {test:?} {extra:?}\n{c}\n{r}");
        assert!(
            !c.stdout.is_empty() || !c.stderr.is_empty(),
            "a message:\n{c}"
        );
        assert!(!r.stderr.contains("Couldn't connect"), "{r}");
    }
}

/// Rust against Rust, one side UC and the other RC: both stop at the options check, naming
/// `-c` and both values, instead of connecting QPs of two types.
#[test]
fn interop_perftest_uc_against_rc_is_named_by_both_sides() {
    let _g = serial();
    let port = 19042u16;
    assert!(!listening(port), "port {port} is already in use");
    let (prog, base) = command(Impl::Rust, Test::WriteBw);
    let side = |extra: &[&str]| -> Vec<String> {
        let mut a = base.clone();
        a.extend(rdma_device_tests::perftest_device_args());
        a.extend(["-p", "19042", "-n", "100"].iter().map(|s| s.to_string()));
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let srv = spawn("server (Rust)", &prog, &side(&["-c", "UC"])).wait_ready(
        port,
        Duration::from_secs(30),
        listening,
    );
    let c = spawn("client (Rust)", &prog, &side(&["127.0.0.1"]))
        .wait_until(Instant::now() + Duration::from_secs(30));
    let s = srv.wait_until(Instant::now() + Duration::from_secs(30));
    for (d, here, there) in [(&s, "UC", "RC"), (&c, "RC", "UC")] {
        assert!(
            d.status.is_some_and(|st| !st.success()) && !d.killed,
            "fails by itself:\n{d}"
        );
        let want = format!("-c {here} here, {there} on the peer");
        assert!(d.stderr.contains(&want), "names -c ({want}):\n{d}");
    }
}
