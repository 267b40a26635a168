//! `rdma-perf` (bench/) against Debian's perftest 6.06 (`ib_write_bw`, `ib_write_lat`,
//! `ib_send_bw`, `ib_send_lat`, `ib_read_bw`, `ib_read_lat`), in both roles and against itself, on the real device (the Soft-RoCE VM:
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

use rdma_device_tests::process::{
    cm_listening, listening, path_bin, serial, spawn, workspace_bin, Done,
};
use std::path::PathBuf;
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

use rdma_bench::perftest::PerfTest as Test;

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

/// Runs a server and a client of `test` (the client connects to 127.0.0.1; the RDMA traffic
/// uses the device). Returns (server, client).
fn run_pair(test: Test, server: Impl, client: Impl, port: u16, extra: &[&str]) -> (Done, Done) {
    run_pair_with(test, (server, extra), (client, extra), port)
}

/// [`run_pair`] with each side's own extra arguments.
fn run_pair_with(
    test: Test,
    (server, server_extra): (Impl, &[&str]),
    (client, client_extra): (Impl, &[&str]),
    port: u16,
) -> (Done, Done) {
    run_pair_on(
        test,
        (server, server_extra),
        (client, client_extra),
        port,
        Net::Tcp,
    )
}

/// How the pair connects: perftest's TCP exchange (the client connects to 127.0.0.1), or
/// `-R`: rdma_cm for the exchange and the QPs (the client connects to the device's address,
/// the server is ready when an RDMA CM id listens on the port).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Net {
    Tcp,
    RdmaCm,
}

/// The device's IPv4 address in the Soft-RoCE VM (`-R` resolves it to the device).
const CM_ADDR: &str = "198.18.0.1";

/// [`run_pair_with`] over `net`.
fn run_pair_on(
    test: Test,
    (server, server_extra): (Impl, &[&str]),
    (client, client_extra): (Impl, &[&str]),
    port: u16,
    net: Net,
) -> (Done, Done) {
    let ready = |port| match net {
        Net::Tcp => listening(port),
        Net::RdmaCm => cm_listening(port),
    };
    let args = |which: Impl, host: Option<&str>| -> (PathBuf, Vec<String>) {
        let (prog, mut a) = command(which, test);
        a.extend(rdma_device_tests::perftest_device_args());
        a.extend(["-p".to_string(), port.to_string()]);
        let extra = if host.is_some() {
            client_extra
        } else {
            server_extra
        };
        a.extend(extra.iter().map(|s| s.to_string()));
        if net == Net::RdmaCm {
            a.push("-R".to_string());
        }
        a.extend(host.map(str::to_string));
        (prog, a)
    };
    assert!(!ready(port), "port {port} is already in use");
    let (sp, sa) = args(server, None);
    let srv = spawn(&format!("server ({server:?})"), &sp, &sa).wait_ready(
        port,
        Duration::from_secs(30),
        ready,
    );
    let host = match net {
        Net::Tcp => "127.0.0.1",
        Net::RdmaCm => CM_ADDR,
    };
    let (cp, ca) = args(client, Some(host));
    let cli = spawn(&format!("client ({client:?})"), &cp, &ca);
    let c = cli.wait_until(Instant::now() + LIMIT);
    let s = srv.wait_until(Instant::now() + Duration::from_secs(30));
    (s, c)
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
    let ok = |d: &Done| d.status.is_some_and(|st| st.success()) && !d.killed;
    assert!(
        ok(s) && ok(c),
        "expected exit status 0 on both sides:\n{s}\n{c}"
    );
    let (sl, sr) = addresses(s);
    let (cl, cr) = addresses(c);
    assert_eq!(sl, cr, "server's local = client's remote\n{s}\n{c}");
    assert_eq!(cl, sr, "client's local = server's remote\n{s}\n{c}");
}

/// The rows under `header`, split in fields.
fn rows<'a>(d: &'a Done, header: &str) -> Vec<Vec<&'a str>> {
    let lines: Vec<&str> = d.stdout.lines().collect();
    let i = lines
        .iter()
        .position(|l| *l == header)
        .unwrap_or_else(|| panic!("no table header {header:?}:\n{d}"));
    lines[i + 1..]
        .iter()
        .take_while(|l| !l.starts_with("---"))
        .map(|l| l.split_whitespace().collect())
        .collect()
}

/// A BW row: size, iterations, and sane numbers (`peak` false: perftest prints 0.00). Only
/// rdma-perf's values are held to "positive": C perftest converts TSC cycles with a CPU
/// frequency that emulation makes unreliable, and now and then prints a row of zeros.
fn check_bw_row(r: &[&str], d: &Done, size: u64, iters: Option<u64>, peak: bool) {
    assert_eq!(r.len(), 5, "five columns:\n{d}");
    assert_eq!(r[0], size.to_string(), "#bytes:\n{d}");
    if let Some(n) = iters {
        assert_eq!(r[1], n.to_string(), "#iterations:\n{d}");
    } else {
        assert!(num(r[1], d) > 0.0, "some iterations counted:\n{d}");
    }
    let (pk, avg, rate) = (num(r[2], d), num(r[3], d), num(r[4], d));
    assert!(
        pk >= 0.0 && avg >= 0.0 && rate >= 0.0,
        "no negative value:\n{d}"
    );
    if !d.what.contains("(Rust)") {
        return;
    }
    // 2-byte messages under emulation print an average of 0.00 MB/sec; the rate is > 0.
    assert!(rate > 0.0, "positive message rate:\n{d}");
    if peak {
        assert!(pk >= avg * 0.99, "peak >= average:\n{d}");
    } else {
        assert_eq!(pk, 0.0, "no peak measured:\n{d}");
    }
}

/// Checks a BW run of `test`: per size a row; who prints what depends on the test.
fn check_bw(test: Test, s: &Done, c: &Done, sizes: &[u64], iters: Option<u64>, peak: bool) {
    check_common(s, c);
    let (rs, rc) = (rows(s, BW_HEADER), rows(c, BW_HEADER));
    assert_eq!(rc.len(), sizes.len(), "one client row per size:\n{c}");
    for (r, &size) in rc.iter().zip(sizes) {
        check_bw_row(r, c, size, iters, peak);
    }
    match test {
        Test::SendBw => {
            assert_eq!(rs.len(), sizes.len(), "one server row per size:\n{s}");
            for (r, &size) in rs.iter().zip(sizes) {
                check_bw_row(r, s, size, iters, false);
            }
        }
        _ => assert_eq!(
            rs.last(),
            rc.last(),
            "the server prints the client's last row\n{s}\n{c}"
        ),
    }
}

fn check_lat(test: Test, s: &Done, c: &Done, size: u64, iters: u64) {
    check_common(s, c);
    let sides: &[&Done] = if test == Test::ReadLat {
        assert!(
            !s.stdout.contains(LAT_HEADER),
            "the read_lat server prints no table:\n{s}"
        );
        &[c]
    } else {
        &[s, c]
    };
    for d in sides {
        let r = &rows(d, LAT_HEADER)[0];
        assert_eq!(r.len(), 9, "nine columns:\n{d}");
        assert_eq!(r[0], size.to_string(), "#bytes:\n{d}");
        assert_eq!(r[1], iters.to_string(), "#iterations:\n{d}");
        let v: Vec<f64> = r[2..].iter().map(|x| num(x, d)).collect();
        if !d.what.contains("(Rust)") {
            continue; // C perftest's TSC-based times are unreliable under emulation
        }
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

fn bw(test: Test, server: Impl, client: Impl, port: u16) {
    let _g = serial();
    let (s, c) = run_pair(test, server, client, port, BW_ARGS);
    check_bw(test, &s, &c, &[BW_SIZE], Some(ITERS), true);
}

fn lat(test: Test, server: Impl, client: Impl, port: u16) {
    let _g = serial();
    let (s, c) = run_pair(test, server, client, port, LAT_ARGS);
    check_lat(test, &s, &c, 2, ITERS);
}

macro_rules! pairs {
    ($($name:ident: $f:ident($test:ident, $srv:ident, $cli:ident, $port:expr);)*) => {$(
        #[test]
        fn $name() {
            $f(Test::$test, Impl::$srv, Impl::$cli, $port);
        }
    )*};
}

pairs! {
    interop_perftest_write_bw_rust_server_c_client: bw(WriteBw, Rust, C, 18801);
    interop_perftest_write_bw_c_server_rust_client: bw(WriteBw, C, Rust, 18802);
    interop_perftest_write_bw_rust_rust: bw(WriteBw, Rust, Rust, 18803);
    interop_perftest_write_lat_rust_server_c_client: lat(WriteLat, Rust, C, 18804);
    interop_perftest_write_lat_c_server_rust_client: lat(WriteLat, C, Rust, 18805);
    interop_perftest_write_lat_rust_rust: lat(WriteLat, Rust, Rust, 18806);
    interop_perftest_send_bw_rust_server_c_client: bw(SendBw, Rust, C, 18811);
    interop_perftest_send_bw_c_server_rust_client: bw(SendBw, C, Rust, 18812);
    interop_perftest_send_bw_rust_rust: bw(SendBw, Rust, Rust, 18813);
    interop_perftest_send_lat_rust_server_c_client: lat(SendLat, Rust, C, 18814);
    interop_perftest_send_lat_c_server_rust_client: lat(SendLat, C, Rust, 18815);
    interop_perftest_send_lat_rust_rust: lat(SendLat, Rust, Rust, 18816);
    interop_perftest_read_bw_rust_server_c_client: bw(ReadBw, Rust, C, 18821);
    interop_perftest_read_bw_c_server_rust_client: bw(ReadBw, C, Rust, 18822);
    interop_perftest_read_bw_rust_rust: bw(ReadBw, Rust, Rust, 18823);
    interop_perftest_read_lat_rust_server_c_client: lat(ReadLat, Rust, C, 18824);
    interop_perftest_read_lat_c_server_rust_client: lat(ReadLat, C, Rust, 18825);
    interop_perftest_read_lat_rust_rust: lat(ReadLat, Rust, Rust, 18826);
}

/// `-a` (every size 2..2^23) with few iterations.
#[test]
fn interop_perftest_write_bw_all_sizes_c_server_rust_client() {
    let _g = serial();
    let (s, c) = run_pair(
        Test::WriteBw,
        Impl::C,
        Impl::Rust,
        18831,
        &["-a", "-n", "5"],
    );
    let sizes: Vec<u64> = (1..=23).map(|e| 1u64 << e).collect();
    check_bw(Test::WriteBw, &s, &c, &sizes, Some(5), true);
}

#[test]
fn interop_perftest_send_bw_all_sizes_rust_server_c_client() {
    let _g = serial();
    let (s, c) = run_pair(Test::SendBw, Impl::Rust, Impl::C, 18832, &["-a", "-n", "5"]);
    let sizes: Vec<u64> = (1..=23).map(|e| 1u64 << e).collect();
    check_bw(Test::SendBw, &s, &c, &sizes, Some(5), true);
}

#[test]
fn interop_perftest_send_lat_all_sizes_c_server_rust_client() {
    let _g = serial();
    let (s, c) = run_pair(
        Test::SendLat,
        Impl::C,
        Impl::Rust,
        18833,
        &["-a", "-n", "5"],
    );
    check_common(&s, &c);
    for d in [&s, &c] {
        let r = rows(d, LAT_HEADER);
        let sizes: Vec<String> = r.iter().map(|r| r[0].to_string()).collect();
        let want: Vec<String> = (1..=23).map(|e| (1u64 << e).to_string()).collect();
        assert_eq!(sizes, want, "a row per size:\n{d}");
    }
}

/// `-q 2`: two QPs, iterations counted over both.
#[test]
fn interop_perftest_write_bw_two_qps_rust_server_c_client() {
    let _g = serial();
    let (s, c) = run_pair(
        Test::WriteBw,
        Impl::Rust,
        Impl::C,
        18834,
        &["-q", "2", "-n", "200", "-s", "4096"],
    );
    check_bw(Test::WriteBw, &s, &c, &[4096], Some(400), true);
    assert_eq!(s.stdout.matches(" local address: ").count(), 2, "{s}");
}

#[test]
fn interop_perftest_send_bw_two_qps_c_server_rust_client() {
    let _g = serial();
    let (s, c) = run_pair(
        Test::SendBw,
        Impl::C,
        Impl::Rust,
        18835,
        &["-q", "2", "-n", "200", "-s", "4096"],
    );
    check_bw(Test::SendBw, &s, &c, &[4096], Some(400), true);
}

/// `-b`: both sides write; both print the sum of both reports.
#[test]
fn interop_perftest_write_bw_bidirectional_rust_server_c_client() {
    let _g = serial();
    let (s, c) = run_pair(
        Test::WriteBw,
        Impl::Rust,
        Impl::C,
        18836,
        &["-b", "-n", "200", "-s", "4096"],
    );
    check_bw(Test::WriteBw, &s, &c, &[4096], Some(200), true);
    assert!(s.stdout.contains("RDMA_Write Bidirectional BW Test"), "{s}");
}

#[test]
fn interop_perftest_read_bw_bidirectional_c_server_rust_client() {
    let _g = serial();
    let (s, c) = run_pair(
        Test::ReadBw,
        Impl::C,
        Impl::Rust,
        18837,
        &["-b", "-n", "200", "-s", "4096"],
    );
    check_bw(Test::ReadBw, &s, &c, &[4096], Some(200), true);
}

#[test]
fn interop_perftest_send_bw_bidirectional_rust_server_c_client() {
    let _g = serial();
    let args = ["-b", "-n", "200", "-s", "4096"];
    let (s, c) = run_pair(Test::SendBw, Impl::Rust, Impl::C, 18843, &args);
    check_common(&s, &c);
    let (rs, rc) = (rows(&s, BW_HEADER), rows(&c, BW_HEADER));
    check_bw_row(&rc[0], &c, 4096, Some(ITERS), true);
    assert_eq!(rs, rc, "both print the sum of both sides\n{s}\n{c}");
    assert!(s.stdout.contains("Send Bidirectional BW Test"), "{s}");
}

#[test]
fn interop_perftest_send_bw_bidirectional_c_server_rust_client() {
    let _g = serial();
    let args = ["-b", "-n", "200", "-s", "4096"];
    let (s, c) = run_pair(Test::SendBw, Impl::C, Impl::Rust, 18844, &args);
    check_common(&s, &c);
    let (rs, rc) = (rows(&s, BW_HEADER), rows(&c, BW_HEADER));
    check_bw_row(&rc[0], &c, 4096, Some(ITERS), true);
    assert_eq!(rs, rc, "both print the sum of both sides\n{s}\n{c}");
}

/// `-I`: messages up to that size travel inline in the work request.
#[test]
fn interop_perftest_send_lat_inline_rust_server_c_client() {
    let _g = serial();
    let args = ["-I", "64", "-s", "32", "-n", "200"];
    let (s, c) = run_pair(Test::SendLat, Impl::Rust, Impl::C, 18841, &args);
    check_lat(Test::SendLat, &s, &c, 32, ITERS);
    assert!(s.stdout.contains(" Max inline data : 64[B]"), "{s}");
}

#[test]
fn interop_perftest_write_bw_inline_c_server_rust_client() {
    let _g = serial();
    let args = ["-I", "64", "-s", "64", "-n", "200"];
    let (s, c) = run_pair(Test::WriteBw, Impl::C, Impl::Rust, 18842, &args);
    check_bw(Test::WriteBw, &s, &c, &[64], Some(ITERS), true);
}

/// `-D`: a timed run; no peak, iterations counted in the sample window.
#[test]
fn interop_perftest_send_bw_duration_c_server_rust_client() {
    let _g = serial();
    let (s, c) = run_pair(
        Test::SendBw,
        Impl::C,
        Impl::Rust,
        18838,
        &["-D", "5", "-s", "4096"],
    );
    check_bw(Test::SendBw, &s, &c, &[4096], None, false);
}

#[test]
fn interop_perftest_write_bw_duration_rust_server_c_client() {
    let _g = serial();
    let (s, c) = run_pair(
        Test::WriteBw,
        Impl::Rust,
        Impl::C,
        18839,
        &["-D", "5", "-s", "4096"],
    );
    check_bw(Test::WriteBw, &s, &c, &[4096], None, false);
}

/// `-b -D`: both sides time their own run; the printed bandwidth is the sum of both.
#[test]
fn interop_perftest_write_bw_bidirectional_duration_rust_server_c_client() {
    let _g = serial();
    let args = ["-b", "-D", "5", "-s", "4096"];
    let (s, c) = run_pair(Test::WriteBw, Impl::Rust, Impl::C, 18851, &args);
    check_common(&s, &c);
    let (rs, rc) = (&rows(&s, BW_HEADER)[0], &rows(&c, BW_HEADER)[0]);
    check_bw_row(rs, &s, 4096, None, false);
    check_bw_row(rc, &c, 4096, None, false);
    assert_eq!(
        (rs[3], rs[4]),
        (rc[3], rc[4]),
        "both print the summed average and rate (each its own iterations)\n{s}\n{c}"
    );
}

/// `-D` on the latency tests: perftest's average-only table, the round trips counted in the
/// sample (`-D 5` measures 3 s).
fn lat_duration(test: Test, server: Impl, client: Impl, port: u16) {
    let _g = serial();
    let (s, c) = run_pair(test, server, client, port, &["-D", "5"]);
    check_common(&s, &c);
    const DUR_HEADER: &str = " #bytes        #iterations       t_avg[usec]    tps average";
    let sides: &[&Done] = if test == Test::ReadLat {
        &[&c]
    } else {
        &[&s, &c]
    };
    for d in sides {
        let r = &rows(d, DUR_HEADER)[0];
        assert_eq!(r.len(), 4, "four columns:\n{d}");
        assert_eq!(r[0], "2", "#bytes:\n{d}");
        let (n, avg, tps) = (num(r[1], d), num(r[2], d), num(r[3], d));
        if d.what.contains("(Rust)") {
            assert!(n > 10.0 && avg > 0.0 && tps > 0.0, "sane numbers:\n{d}");
            let halves = if test == Test::ReadLat { 1.0 } else { 2.0 };
            let sample_s = avg * halves * n / 1e6;
            assert!(
                (2.5..4.0).contains(&sample_s),
                "a 3 s sample ({sample_s} s):\n{d}"
            );
        }
    }
}

pairs! {
    interop_perftest_write_lat_duration_rust_server_c_client: lat_duration(WriteLat, Rust, C, 18847);
    interop_perftest_send_lat_duration_c_server_rust_client: lat_duration(SendLat, C, Rust, 18848);
    interop_perftest_read_lat_duration_rust_server_rust_client: lat_duration(ReadLat, Rust, Rust, 18849);
    interop_perftest_read_lat_duration_c_server_rust_client: lat_duration(ReadLat, C, Rust, 18850);
}

/// `--out_json` and `--plot` on a real `-a` run: the JSON parses and holds one row per size
/// with the numbers the table printed; the SVG has a point per size.
#[test]
fn interop_perftest_json_and_plot_of_an_all_sizes_run() {
    let _g = serial();
    let dir = std::env::temp_dir().join(format!("rdma-perf-out-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (json, svg) = (dir.join("client.json"), dir.join("client.svg"));
    let json_arg = format!("--out_json={}", json.display());
    let args = ["-a", "-n", "5", &json_arg, "--plot", svg.to_str().unwrap()];
    let (s, c) = run_pair_with(
        Test::WriteBw,
        (Impl::C, &args[..3]),
        (Impl::Rust, &args),
        18845,
    );
    check_common(&s, &c);
    check_common(&s, &c);
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap())
        .unwrap_or_else(|e| panic!("--out_json is not JSON: {e}\n{c}"));
    assert_eq!(v["tool"], "rdma-perf");
    assert_eq!(v["test"], "write_bw");
    assert_eq!(v["role"], "client");
    let results = v["results"].as_array().expect("results array");
    let table = rows(&c, BW_HEADER);
    assert_eq!(results.len(), 23, "a row per size");
    for (r, t) in results.iter().zip(&table) {
        assert_eq!(r["bytes"].as_u64().unwrap().to_string(), t[0]);
        assert_eq!(format!("{:.2}", r["bw_average"].as_f64().unwrap()), t[3]);
    }
    let plot = std::fs::read_to_string(&svg).unwrap();
    assert!(
        plot.starts_with("<svg") || plot.starts_with("<?xml"),
        "an SVG file"
    );
    assert!(plot.contains("8M"), "the x axis reaches 8M");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two rdma-perf sides with different options refuse to run, naming the option and both
/// values (C perftest would desynchronise).
#[test]
fn interop_perftest_mismatched_options_are_named_by_both_sides() {
    let _g = serial();
    let port = 18840u16;
    let (prog, base) = command(Impl::Rust, Test::SendBw);
    let mut sa = base.clone();
    sa.extend(rdma_device_tests::perftest_device_args());
    sa.extend(
        ["-p", "18840", "-s", "4096", "-n", "100"]
            .iter()
            .map(|s| s.to_string()),
    );
    let mut ca = base;
    ca.extend(rdma_device_tests::perftest_device_args());
    ca.extend(
        ["-p", "18840", "-s", "1024", "-n", "100", "127.0.0.1"]
            .iter()
            .map(|s| s.to_string()),
    );
    let srv =
        spawn("server (Rust)", &prog, &sa).wait_ready(port, Duration::from_secs(30), listening);
    let c = spawn("client (Rust)", &prog, &ca).wait_until(Instant::now() + Duration::from_secs(30));
    let s = srv.wait_until(Instant::now() + Duration::from_secs(30));
    for (d, here, there) in [(&s, "4096", "1024"), (&c, "1024", "4096")] {
        assert!(
            d.status.is_some_and(|st| !st.success()) && !d.killed,
            "fails by itself:\n{d}"
        );
        let want = format!("-s {here} here, {there} on the peer");
        assert!(
            d.stderr.contains(&want),
            "names -s and both values ({want}):\n{d}"
        );
    }
}

#[test]
fn interop_perftest_client_without_server_fails_within_the_timeout() {
    let _g = serial();
    let port = 18807;
    assert!(!listening(port), "TCP port {port} is already in use");
    let (prog, mut args) = command(Impl::Rust, Test::WriteBw);
    args.extend(rdma_device_tests::perftest_device_args());
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
    args.push("--odp".to_string());
    let start = Instant::now();
    let d = spawn("rdma-perf --odp", &prog, &args).wait_until(start + Duration::from_secs(30));
    assert!(
        d.status.is_some_and(|s| !s.success()),
        "non-zero exit:\n{d}"
    );
    assert!(
        d.stderr
            .contains("not supported: --odp (on-demand paging is not implemented)"),
        "clear message:\n{d}"
    );
}

/// `-R` (rdma_cm): both sides' banners say so.
fn check_rdma_cm_banner(s: &Done, c: &Done) {
    for d in [s, c] {
        assert!(d.stdout.contains(" rdma_cm QPs\t : ON\n"), "{d}");
        assert!(d.stdout.contains(" Data ex. method : rdma_cm\n"), "{d}");
    }
}

fn cm_bw(test: Test, server: Impl, client: Impl, port: u16) {
    let _g = serial();
    let (s, c) = run_pair_on(
        test,
        (server, BW_ARGS),
        (client, BW_ARGS),
        port,
        Net::RdmaCm,
    );
    check_bw(test, &s, &c, &[BW_SIZE], Some(ITERS), true);
    check_rdma_cm_banner(&s, &c);
}

fn cm_lat(test: Test, server: Impl, client: Impl, port: u16) {
    let _g = serial();
    let (s, c) = run_pair_on(
        test,
        (server, LAT_ARGS),
        (client, LAT_ARGS),
        port,
        Net::RdmaCm,
    );
    check_lat(test, &s, &c, 2, ITERS);
    check_rdma_cm_banner(&s, &c);
}

pairs! {
    interop_perftest_rdma_cm_write_bw_rust_server_c_client: cm_bw(WriteBw, Rust, C, 18841);
    interop_perftest_rdma_cm_write_bw_c_server_rust_client: cm_bw(WriteBw, C, Rust, 18842);
    interop_perftest_rdma_cm_write_bw_rust_rust: cm_bw(WriteBw, Rust, Rust, 18843);
    interop_perftest_rdma_cm_send_lat_rust_server_c_client: cm_lat(SendLat, Rust, C, 18844);
    interop_perftest_rdma_cm_send_lat_c_server_rust_client: cm_lat(SendLat, C, Rust, 18845);
    interop_perftest_rdma_cm_send_lat_rust_rust: cm_lat(SendLat, Rust, Rust, 18846);
    interop_perftest_rdma_cm_send_bw_rust_server_c_client: cm_bw(SendBw, Rust, C, 18847);
    interop_perftest_rdma_cm_read_bw_c_server_rust_client: cm_bw(ReadBw, C, Rust, 18848);
    interop_perftest_rdma_cm_read_lat_rust_server_c_client: cm_lat(ReadLat, Rust, C, 18849);
    interop_perftest_rdma_cm_write_lat_c_server_rust_client: cm_lat(WriteLat, C, Rust, 18850);
}

/// `-R -q 2`: one rdma_cm connection per QP, on the same port.
#[test]
fn interop_perftest_rdma_cm_write_bw_two_qps_c_server_rust_client() {
    let _g = serial();
    let a: &[&str] = &["-q", "2", "-n", "200", "-s", "4096"];
    let (s, c) = run_pair_on(
        Test::WriteBw,
        (Impl::C, a),
        (Impl::Rust, a),
        18851,
        Net::RdmaCm,
    );
    check_bw(Test::WriteBw, &s, &c, &[4096], Some(400), true);
    assert_eq!(c.stdout.matches(" local address: ").count(), 2, "{c}");
}

#[test]
fn interop_perftest_rdma_cm_send_bw_two_qps_rust_server_c_client() {
    let _g = serial();
    let a: &[&str] = &["-q", "2", "-n", "200", "-s", "4096"];
    let (s, c) = run_pair_on(
        Test::SendBw,
        (Impl::Rust, a),
        (Impl::C, a),
        18852,
        Net::RdmaCm,
    );
    check_bw(Test::SendBw, &s, &c, &[4096], Some(400), true);
    assert_eq!(s.stdout.matches(" local address: ").count(), 2, "{s}");
}

/// `-R` with no server: the client fails within `--timeout` with the CM's error.
#[test]
fn interop_perftest_rdma_cm_client_without_server_fails() {
    let _g = serial();
    let (prog, mut args) = command(Impl::Rust, Test::WriteBw);
    args.extend(rdma_device_tests::perftest_device_args());
    args.extend(
        ["-R", "-p", "18853", "--timeout", "3", CM_ADDR]
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
    assert!(d.stderr.contains("rdma_cm"), "names rdma_cm:\n{d}");
}
