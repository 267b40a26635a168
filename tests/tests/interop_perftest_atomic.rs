//! `rdma-perf atomic_bw` and `atomic_lat` against Debian's perftest 6.06 on the real device
//! (the Soft-RoCE VM: `scripts/test-device interop_perftest_atomic`): both tests with
//! `-A FETCH_AND_ADD` and `-A CMP_AND_SWAP`, each with C perftest in both roles and Rust
//! against itself; `-o`; and the refusals perftest makes for the atomic tests, compared with
//! the C tools' output and exit status. TCP ports 19050–19099.
//!
//! Each run checks both exit statuses, the banner title naming the operation, `Outstand
//! reads`, the address lines crossing over, and an 8-byte result row with the iterations on
//! each side that prints one (the `ib_atomic_lat` server prints none).

use rdma_bench::perftest::PerfTest as Test;
use rdma_device_tests::process::{listening, path_bin, serial, spawn, workspace_bin, Done};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long one side may run.
const LIMIT: Duration = Duration::from_secs(120);
const ITERS: u64 = 300;

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

/// Runs a server and a client of `test` with `extra` (the client connects to 127.0.0.1).
fn run_pair(test: Test, server: Impl, client: Impl, port: u16, extra: &[&str]) -> (Done, Done) {
    let args = |which: Impl, host: Option<&str>| -> (PathBuf, Vec<String>) {
        let (prog, mut a) = command(which, test);
        a.extend(rdma_device_tests::perftest_device_args());
        a.extend(["-p".to_string(), port.to_string()]);
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

/// Checks a run of `test` with operation `kind` and `out_reads` outstanding.
fn check(test: Test, kind: &str, out_reads: u32, s: &Done, c: &Done) {
    let ok = |d: &Done| d.status.is_some_and(|st| st.success()) && !d.killed;
    assert!(ok(s) && ok(c), "exit status 0 on both sides:\n{s}\n{c}");
    let measure = if test.is_bw() { "BW" } else { "Latency" };
    let title = format!("                    Atomic {kind} {measure} Test");
    let outs = format!(" Outstand reads  : {out_reads}");
    for d in [s, c] {
        assert!(d.stdout.lines().any(|l| l == title), "{title:?}:\n{d}");
        assert!(d.stdout.lines().any(|l| l == outs), "{outs:?}:\n{d}");
        assert!(
            !d.stdout.contains("RKey"),
            "atomic address lines have no RKey:\n{d}"
        );
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
    let printing: &[&Done] = if test.is_bw() { &[s, c] } else { &[c] };
    for d in printing {
        let r = first_row(d);
        assert_eq!(r[0], "8", "#bytes:\n{d}");
        assert_eq!(r[1], ITERS.to_string(), "#iterations:\n{d}");
        for v in &r[2..] {
            let x: f64 = v.parse().unwrap_or_else(|_| panic!("{v:?}:\n{d}"));
            assert!(x > 0.0, "a positive value:\n{d}");
        }
    }
    if test.is_bw() {
        assert_eq!(first_row(s), first_row(c), "the client's row\n{s}\n{c}");
    } else {
        assert!(
            !s.stdout.contains(" #bytes"),
            "the atomic_lat server prints no table:\n{s}"
        );
    }
}

fn run(test: Test, kind: &str, server: Impl, client: Impl, port: u16) {
    let _g = serial();
    let n = ITERS.to_string();
    let (s, c) = run_pair(test, server, client, port, &["-n", &n, "-A", kind]);
    check(test, kind, 128, &s, &c);
}

macro_rules! pairs {
    ($($name:ident: $test:ident($kind:expr, $srv:ident, $cli:ident, $port:expr);)*) => {$(
        #[test]
        fn $name() {
            run(Test::$test, $kind, Impl::$srv, Impl::$cli, $port);
        }
    )*};
}

const FAA: &str = "FETCH_AND_ADD";
const CAS: &str = "CMP_AND_SWAP";

pairs! {
    interop_perftest_atomic_bw_faa_c_server_rust_client: AtomicBw(FAA, C, Rust, 19051);
    interop_perftest_atomic_bw_faa_rust_server_c_client: AtomicBw(FAA, Rust, C, 19052);
    interop_perftest_atomic_bw_faa_rust_rust: AtomicBw(FAA, Rust, Rust, 19053);
    interop_perftest_atomic_bw_cas_c_server_rust_client: AtomicBw(CAS, C, Rust, 19054);
    interop_perftest_atomic_bw_cas_rust_server_c_client: AtomicBw(CAS, Rust, C, 19055);
    interop_perftest_atomic_bw_cas_rust_rust: AtomicBw(CAS, Rust, Rust, 19056);
    interop_perftest_atomic_lat_faa_c_server_rust_client: AtomicLat(FAA, C, Rust, 19061);
    interop_perftest_atomic_lat_faa_rust_server_c_client: AtomicLat(FAA, Rust, C, 19062);
    interop_perftest_atomic_lat_faa_rust_rust: AtomicLat(FAA, Rust, Rust, 19063);
    interop_perftest_atomic_lat_cas_c_server_rust_client: AtomicLat(CAS, C, Rust, 19064);
    interop_perftest_atomic_lat_cas_rust_server_c_client: AtomicLat(CAS, Rust, C, 19065);
    interop_perftest_atomic_lat_cas_rust_rust: AtomicLat(CAS, Rust, Rust, 19066);
}

/// `-o 4` on both sides (C server, Rust client): both banners print 4 and the run completes.
#[test]
fn interop_perftest_atomic_outstanding_is_perftests() {
    let _g = serial();
    let n = ITERS.to_string();
    let extra = ["-n", &n, "-o", "4"];
    let (s, c) = run_pair(Test::AtomicBw, Impl::C, Impl::Rust, 19071, &extra);
    check(Test::AtomicBw, FAA, 4, &s, &c);
}

/// Runs one side alone (a client of a port nobody listens on) and returns its output.
fn alone(which: Impl, test: Test, extra: &[&str]) -> Done {
    let (prog, mut a) = command(which, test);
    a.extend(rdma_device_tests::perftest_device_args());
    a.extend(["-p", "19091"].iter().map(|s| s.to_string()));
    a.extend(extra.iter().map(|s| s.to_string()));
    a.push("127.0.0.1".into());
    spawn(&format!("{which:?}"), &prog, &a).wait_until(Instant::now() + Duration::from_secs(30))
}

/// What perftest refuses for the atomic tests (and `-A`/`-o` elsewhere): the Rust tool exits
/// with perftest's status and prints perftest's text on the same stream, before any TCP
/// connection (nobody listens on the port: a connection attempt would print `Couldn't
/// connect`).
#[test]
fn interop_perftest_atomic_refusals_match_perftest() {
    let _g = serial();
    assert!(!listening(19091), "port 19091 is already in use");
    let cases: [(Test, &[&str]); 9] = [
        (Test::AtomicBw, &["-c", "UC"]),
        (Test::AtomicLat, &["--connection=UC"]),
        (Test::AtomicBw, &["-s", "16"]),
        (Test::AtomicLat, &["-a"]),
        (Test::AtomicBw, &["-A", "FOO"]),
        (Test::AtomicLat, &["-A", "fetch_and_add"]),
        (Test::AtomicBw, &["-I", "8"]),
        (Test::WriteBw, &["-A", "CMP_AND_SWAP"]),
        (Test::SendLat, &["-o", "4"]),
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
