//! `rdma-perf -c UD` against Debian's perftest 6.06 on the real device (the Soft-RoCE VM:
//! `scripts/test-device interop_perftest_ud`): `send_bw` and `send_lat` over UD QPs with C
//! perftest in both roles and Rust against itself; `-q 2`, `-b`, `-a` (sizes capped at the
//! path MTU), `-D` (with `-b`) against C; other options Rust against Rust; a `-s` above
//! the MTU refused as perftest refuses it. TCP ports 19101–19160.
//!
//! Each run checks both exit statuses, `Connection type : UD` in both banners, the RX depth
//! perftest prints for a UD SEND receiver (the iterations, not 512), perftest's message when
//! the default size is capped at the MTU (on stderr, as the C tool prints it), the address
//! lines crossing over, and result rows with the right sizes and iterations.

use rdma_bench::perftest::PerfTest as Test;
use rdma_device_tests::process::{listening, path_bin, serial, spawn, workspace_bin, Done};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long one side may run.
const LIMIT: Duration = Duration::from_secs(60);
/// Iterations: above perftest's RX depth of 512, so UD's depth rule shows in the banner.
const ITERS: u64 = 600;
const UD_LINE: &str = " Connection type : UD\t\tUsing SRQ      : OFF";

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

/// Runs a UD server and client of `test` with `extra` (the client connects to 127.0.0.1).
fn run_pair(test: Test, server: Impl, client: Impl, port: u16, extra: &[&str]) -> (Done, Done) {
    let args = |which: Impl, host: Option<&str>| -> (PathBuf, Vec<String>) {
        let (prog, mut a) = command(which, test);
        a.extend(rdma_device_tests::perftest_device_args());
        a.extend(["-p".to_string(), port.to_string(), "-c".into(), "UD".into()]);
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

/// The address lines after `prefix` (`" local address: "` …), as printed.
fn addresses(d: &Done, prefix: &str) -> Vec<String> {
    let v: Vec<String> = d
        .stdout
        .lines()
        .filter(|l| l.starts_with(prefix))
        .map(|l| {
            l.split_once("address: ")
                .expect("address line")
                .1
                .to_string()
        })
        .collect();
    assert!(!v.is_empty(), "no {prefix:?} line:\n{d}");
    v
}

/// The rows under the header that starts with ` #bytes`, split in fields.
fn rows(d: &Done) -> Vec<Vec<&str>> {
    let lines: Vec<&str> = d.stdout.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.starts_with(" #bytes"))
        .unwrap_or_else(|| panic!("no result table:\n{d}"));
    let rows: Vec<Vec<&str>> = lines[i + 1..]
        .iter()
        .take_while(|l| !l.starts_with("---"))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(!rows.is_empty(), "no result row:\n{d}");
    rows
}

/// The path MTU the banner prints.
fn mtu(d: &Done) -> u64 {
    let l = d
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix(" Mtu             : "))
        .unwrap_or_else(|| panic!("no Mtu line:\n{d}"));
    l.trim_end_matches("[B]").parse().expect("the MTU")
}

fn ok(d: &Done) -> bool {
    d.status.is_some_and(|st| st.success()) && !d.killed
}

/// What a run should show.
struct Want {
    /// The sizes of the rows (`None`: the path MTU, one row).
    sizes: Option<Vec<u64>>,
    /// Iterations printed in each row.
    iters: u64,
    /// The RX depth the receiver's banner prints.
    rx_depth: u64,
    /// perftest's message that the size was capped at the MTU, on both sides.
    capped: bool,
}

/// Checks a run: exit statuses, banners, addresses, the capping message and the rows.
fn check(s: &Done, c: &Done, want: &Want) {
    assert!(ok(s) && ok(c), "exit status 0 on both sides:\n{s}\n{c}");
    let mtu = mtu(s);
    assert_eq!(mtu, self::mtu(c), "one path MTU\n{s}\n{c}");
    for d in [s, c] {
        assert!(
            d.stdout.lines().any(|l| l == UD_LINE),
            "{UD_LINE:?} in the banner:\n{d}"
        );
        let msg = format!(" Max msg size in UD is MTU {mtu}\n Changing to this MTU\n");
        assert_eq!(d.stderr.contains(&msg), want.capped, "{msg:?}:\n{d}");
    }
    let rx = format!(" RX depth        : {}", want.rx_depth);
    assert!(s.stdout.lines().any(|l| l == rx), "{rx:?}:\n{s}");
    assert_eq!(
        addresses(s, " local address: "),
        addresses(c, " remote address: "),
        "server's local = client's remote\n{s}\n{c}"
    );
    assert_eq!(
        addresses(c, " local address: "),
        addresses(s, " remote address: "),
        "client's local = server's remote\n{s}\n{c}"
    );
    let sizes = want.sizes.clone().unwrap_or_else(|| vec![mtu]);
    for d in [s, c] {
        let rows = rows(d);
        let got: Vec<String> = rows.iter().map(|r| r[0].to_string()).collect();
        let exp: Vec<String> = sizes.iter().map(u64::to_string).collect();
        assert_eq!(got, exp, "#bytes of every row:\n{d}");
        for r in &rows {
            assert_eq!(r[1], want.iters.to_string(), "#iterations:\n{d}");
            for v in &r[2..] {
                let x: f64 = v.parse().unwrap_or_else(|_| panic!("{v:?}:\n{d}"));
                assert!(x >= 0.0, "no negative value:\n{d}");
            }
        }
    }
}

/// The default size (64 KiB) is capped at the MTU on both sides, with perftest's message.
fn send_bw(server: Impl, client: Impl, port: u16) {
    let _g = serial();
    let n = ITERS.to_string();
    let (s, c) = run_pair(Test::SendBw, server, client, port, &["-n", &n]);
    let want = Want {
        sizes: None,
        iters: ITERS,
        rx_depth: ITERS,
        capped: true,
    };
    check(&s, &c, &want);
}

/// The default size (2) fits: no message.
fn send_lat(server: Impl, client: Impl, port: u16) {
    let _g = serial();
    let n = ITERS.to_string();
    let (s, c) = run_pair(Test::SendLat, server, client, port, &["-n", &n]);
    let want = Want {
        sizes: Some(vec![2]),
        iters: ITERS,
        rx_depth: ITERS,
        capped: false,
    };
    check(&s, &c, &want);
}

macro_rules! pairs {
    ($($name:ident: $f:ident($srv:ident, $cli:ident, $port:expr);)*) => {$(
        #[test]
        fn $name() {
            $f(Impl::$srv, Impl::$cli, $port);
        }
    )*};
}

pairs! {
    interop_perftest_ud_send_bw_rust_server_c_client: send_bw(Rust, C, 19101);
    interop_perftest_ud_send_bw_c_server_rust_client: send_bw(C, Rust, 19102);
    interop_perftest_ud_send_bw_rust_rust: send_bw(Rust, Rust, 19103);
    interop_perftest_ud_send_lat_rust_server_c_client: send_lat(Rust, C, 19111);
    interop_perftest_ud_send_lat_c_server_rust_client: send_lat(C, Rust, 19112);
    interop_perftest_ud_send_lat_rust_rust: send_lat(Rust, Rust, 19113);
}

/// `-q 2`: QP `i` sends to the peer's QP `i`; every row counts the messages of both QPs.
#[test]
fn interop_perftest_ud_send_bw_two_qps_both_roles() {
    let _g = serial();
    for (server, client, port) in [(Impl::C, Impl::Rust, 19121), (Impl::Rust, Impl::C, 19122)] {
        let (s, c) = run_pair(
            Test::SendBw,
            server,
            client,
            port,
            &["-n", "200", "-q", "2"],
        );
        for d in [&s, &c] {
            assert_eq!(addresses(d, " local address: ").len(), 2, "two QPs:\n{d}");
        }
        let want = Want {
            sizes: None,
            iters: 400,
            rx_depth: 200,
            capped: true,
        };
        check(&s, &c, &want);
    }
}

/// `-b`: both sides send and receive; both print the sum of the two directions.
#[test]
fn interop_perftest_ud_send_bw_bidirectional_both_roles() {
    let _g = serial();
    for (server, client, port) in [(Impl::C, Impl::Rust, 19131), (Impl::Rust, Impl::C, 19132)] {
        let (s, c) = run_pair(Test::SendBw, server, client, port, &["-n", "200", "-b"]);
        let want = Want {
            sizes: None,
            iters: 200,
            rx_depth: 200,
            capped: true,
        };
        check(&s, &c, &want);
    }
}

/// `-a`: perftest runs 2 bytes up to the MTU over UD (not to 8 MiB), after its message.
#[test]
fn interop_perftest_ud_all_sizes_stop_at_the_mtu() {
    let _g = serial();
    let (s, c) = run_pair(
        Test::SendBw,
        Impl::C,
        Impl::Rust,
        19141,
        &["-n", "20", "-a"],
    );
    let mtu = mtu(&s);
    let sizes: Vec<u64> = (1..).map(|e| 1u64 << e).take_while(|&x| x <= mtu).collect();
    let want = Want {
        sizes: Some(sizes.clone()),
        iters: 20,
        rx_depth: 20,
        capped: true,
    };
    check(&s, &c, &want);
    let (s, c) = run_pair(
        Test::SendLat,
        Impl::Rust,
        Impl::C,
        19142,
        &["-n", "20", "-a"],
    );
    check(
        &s,
        &c,
        &Want {
            sizes: Some(sizes),
            ..want
        },
    );
}

/// Other options, Rust against Rust: depths, moderation, inline, Gb/s and the JSON report
/// of a send_bw run; a duration run of send_lat. The RX depth stays close to the
/// iterations: with far fewer receives than messages a fast sender overruns the receiver
/// and the datagrams it drops are never resent (seen with `-r 256`: 76 of 600 lost).
#[test]
fn interop_perftest_ud_options_rust_rust() {
    let _g = serial();
    let dir = std::env::temp_dir().join(format!("ud-json-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("bw.json");
    let json_arg = format!("--out_json={}", json.display());
    let extra = [
        "-n",
        "600",
        "-s",
        "256",
        "-t",
        "64",
        "-r",
        "598",
        "-Q",
        "8",
        "-I",
        "256",
        "--report_gbits",
        &json_arg,
    ];
    let (s, c) = run_pair(Test::SendBw, Impl::Rust, Impl::Rust, 19151, &extra);
    let want = Want {
        sizes: Some(vec![256]),
        iters: 600,
        rx_depth: 598,
        capped: false,
    };
    check(&s, &c, &want);
    for (d, line) in [
        (&c, " TX depth        : 64"),
        (&c, " CQ Moderation   : 8"),
        (&c, " Max inline data : 256[B]"),
    ] {
        assert!(d.stdout.lines().any(|l| l == line), "{line:?}:\n{d}");
    }
    assert!(c.stdout.contains("BW average[Gb/sec]"), "Gb/s:\n{c}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("the JSON report")).unwrap();
    assert!(v.to_string().contains("256"), "the size in the report: {v}");
    std::fs::remove_dir_all(&dir).ok();

    let (s, c) = run_pair(Test::SendLat, Impl::Rust, Impl::Rust, 19152, &["-D", "3"]);
    assert!(ok(&s) && ok(&c), "{s}\n{c}");
    for d in [&s, &c] {
        let r = &rows(d)[0];
        assert_eq!(r[0], "2", "{d}");
        let iters: u64 = r[1].parse().unwrap_or_else(|_| panic!("{d}"));
        assert!(iters > 0, "round trips counted:\n{d}");
    }
}

/// `-D`: a receiver's sample and, with `-b`, both directions counted on each side with no
/// report exchanged (perftest 6.06 exchanges reports of iteration runs only: expecting one
/// would end in a broken close handshake), against C in either role.
#[test]
fn interop_perftest_ud_duration_runs_against_c() {
    let _g = serial();
    for (server, client, port, extra) in [
        (Impl::Rust, Impl::C, 19143, &["-D", "3"][..]),
        (Impl::C, Impl::Rust, 19144, &["-D", "3", "-b"][..]),
        (Impl::Rust, Impl::C, 19145, &["-D", "3", "-b"][..]),
    ] {
        let (s, c) = run_pair(Test::SendBw, server, client, port, extra);
        assert!(
            ok(&s) && ok(&c),
            "{extra:?}: exit status 0 on both sides:\n{s}\n{c}"
        );
        let mtu = mtu(&s);
        for d in [&s, &c] {
            assert!(d.stdout.lines().any(|l| l == UD_LINE), "{d}");
            let rows = rows(d);
            assert_eq!(rows.len(), 1, "{d}");
            assert_eq!(rows[0][0], mtu.to_string(), "{d}");
            let iters: u64 = rows[0][1].parse().unwrap_or_else(|_| panic!("{d}"));
            assert!(iters > 0, "messages counted in the sample:\n{d}");
        }
    }
}

/// `-s` above the MTU: after the MTU exchange perftest refuses it on both sides with exit
/// status 1; the Rust tool prints the same text, against C in either role.
#[test]
fn interop_perftest_ud_size_above_the_mtu_is_refused_as_perftest() {
    let _g = serial();
    let want = " Max message size in UD cannot be greater than MTU \n Couldn't get context for the device\n";
    for (server, client, port) in [(Impl::C, Impl::Rust, 19156), (Impl::Rust, Impl::C, 19157)] {
        let (s, c) = run_pair(
            Test::SendBw,
            server,
            client,
            port,
            &["-s", "8192", "-n", "20"],
        );
        for d in [&s, &c] {
            assert_eq!(d.status.and_then(|st| st.code()), Some(1), "exit 1:\n{d}");
            assert!(!d.killed, "{d}");
            assert!(d.stderr.ends_with(want), "perftest's text:\n{d}");
            assert!(
                !d.stdout.contains(UD_LINE),
                "refused before the banner:\n{d}"
            );
        }
        let rust = if server == Impl::Rust { &s } else { &c };
        assert_eq!(rust.stderr, want, "only perftest's text:\n{rust}");
    }
}
