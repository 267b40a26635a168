//! perftest 6.06's other options in `rdma-perf`, against Debian's C perftest on the real
//! device (the Soft-RoCE VM: `scripts/test-device interop_perftest_options`): post lists
//! (`-l`), events (`-e`), the latency report variants (`-C`, `-H`, `-U`), `--cpu_util`,
//! port counters (`-W`), limits (`-w`), `--output`, `-z`, `-u`/`-S`, the post API
//! (`--use_old_post_send`) and `--run_infinitely`; each in both roles with the C tool where
//! the option changes what crosses the wire, and the C tool's refusals compared. TCP ports
//! 19301–19399.

use rdma_bench::perftest::PerfTest as Test;
use rdma_device_tests::process::{
    cm_listening, listening, path_bin, serial, spawn, workspace_bin, Done,
};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long one side may run.
const LIMIT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Impl {
    C,
    Rust,
}

/// The program and its arguments: the device's, then `args`, then the host.
fn command(
    which: Impl,
    test: Test,
    port: u16,
    args: &[&str],
    host: bool,
) -> (PathBuf, Vec<String>) {
    let (prog, mut a) = match which {
        Impl::C => (path_bin(&test.tool(), "install perftest"), vec![]),
        Impl::Rust => (
            workspace_bin("rdma-perf", "rdma-bench"),
            vec![test.as_str().to_string()],
        ),
    };
    a.extend(rdma_device_tests::perftest_device_args());
    a.extend(["-p".to_string(), port.to_string()]);
    a.extend(args.iter().map(|s| s.to_string()));
    if host {
        // -z and -R need the device's address, not loopback.
        let cm = args.iter().any(|a| *a == "-z" || *a == "-R");
        a.push(if cm { "198.18.0.1" } else { "127.0.0.1" }.to_string());
    }
    (prog, a)
}

/// Runs a server and a client of `test`, each with its own arguments; the client is killed
/// after `client_limit`.
fn pair(
    test: Test,
    server: (Impl, &[&str]),
    client: (Impl, &[&str]),
    port: u16,
    client_limit: Duration,
) -> (Done, Done) {
    assert!(!listening(port), "port {port} is already in use");
    let (sp, sa) = command(server.0, test, port, server.1, false);
    let cm = server.1.contains(&"-z");
    let srv = spawn(&format!("server ({:?})", server.0), &sp, &sa).wait_ready(
        port,
        Duration::from_secs(30),
        if cm { cm_listening } else { listening },
    );
    let (cp, ca) = command(client.0, test, port, client.1, true);
    let cli = spawn(&format!("client ({:?})", client.0), &cp, &ca);
    let c = cli.wait_until(Instant::now() + client_limit);
    // A client stopped early leaves the server waiting: stop it soon after.
    let server_limit = if client_limit < LIMIT {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(20)
    };
    let s = srv.wait_until(Instant::now() + server_limit);
    (s, c)
}

fn ok(d: &Done) -> bool {
    d.status.is_some_and(|st| st.success()) && !d.killed
}

fn assert_ok(s: &Done, c: &Done) {
    assert!(ok(s) && ok(c), "exit status 0 on both sides:\n{s}\n{c}");
}

/// The rows under the first header that starts with ` #bytes`, split in fields.
fn rows(d: &Done) -> Vec<Vec<&str>> {
    let lines: Vec<&str> = d.stdout.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.starts_with(" #bytes"))
        .unwrap_or_else(|| panic!("no result table:\n{d}"));
    lines[i + 1..]
        .iter()
        .take_while(|l| !l.starts_with("---"))
        .map(|l| l.split_whitespace().collect())
        .collect()
}

fn has_line(d: &Done, line: &str) -> bool {
    d.stdout.lines().any(|l| l == line)
}

#[test]
fn interop_perftest_options_post_list_both_roles() {
    let _g = serial();
    for (k, (server, client)) in [(Impl::C, Impl::Rust), (Impl::Rust, Impl::C)]
        .into_iter()
        .enumerate()
    {
        let args: &[&str] = &["-l", "4", "-n", "400", "-s", "4096"];
        let (s, c) = pair(
            Test::WriteBw,
            (server, args),
            (client, args),
            19301 + k as u16,
            LIMIT,
        );
        assert_ok(&s, &c);
        for d in [&s, &c] {
            assert!(has_line(d, " Post List       : 4"), "post list line:\n{d}");
            assert!(
                has_line(d, " CQ Moderation   : 4"),
                "CQ moderation of the list:\n{d}"
            );
            assert!(
                d.stdout.contains("RDMA_Write Post List BW Test"),
                "title:\n{d}"
            );
            assert!(
                d.stdout.contains(
                    "Post List requested - CQ moderation will be the size of the post list"
                ),
                "perftest's notice:\n{d}"
            );
            let r = rows(d);
            assert_eq!((r[0][0], r[0][1]), ("4096", "400"), "row:\n{d}");
        }
    }
}

#[test]
fn interop_perftest_options_events_both_roles() {
    let _g = serial();
    let events = " Test with events. Using rxe0_comp0";
    for (k, test) in [Test::SendBw, Test::SendLat].into_iter().enumerate() {
        for (j, (server, client)) in [(Impl::C, Impl::Rust), (Impl::Rust, Impl::C)]
            .into_iter()
            .enumerate()
        {
            let args: &[&str] = &["-e", "-n", "300"];
            let port = 19311 + (2 * k + j) as u16;
            let (s, c) = pair(test, (server, args), (client, args), port, LIMIT);
            assert_ok(&s, &c);
            for d in [&s, &c] {
                assert!(has_line(d, events), "{events:?}:\n{d}");
                assert_eq!(rows(d)[0][1], "300", "iterations:\n{d}");
            }
        }
    }
    // -e on a WRITE test: perftest's parser refusal, by both tools.
    for which in [Impl::C, Impl::Rust] {
        let (prog, args) = command(which, Test::WriteBw, 19319, &["-e"], false);
        let d = spawn("write_bw -e", &prog, &args).wait_until(Instant::now() + LIMIT);
        assert_eq!(d.status.and_then(|s| s.code()), Some(1), "{d}");
        assert_eq!(
            d.stderr,
            " Events feature not available on WRITE verb\n Parser function exited with Error\n",
            "{which:?}"
        );
    }
}

/// `send_bw -b -D`: perftest 6.06 exchanges no BW reports after a duration run (each row
/// counts both directions itself); a side that waited for one left the peer's closing
/// handshake failing.
#[test]
fn interop_perftest_options_send_bw_bidirectional_duration_both_roles() {
    let _g = serial();
    for (k, (server, client)) in [(Impl::C, Impl::Rust), (Impl::Rust, Impl::C)]
        .into_iter()
        .enumerate()
    {
        let args: &[&str] = &["-b", "-D", "3", "-s", "4096"];
        let port = 19371 + k as u16;
        let (s, c) = pair(Test::SendBw, (server, args), (client, args), port, LIMIT);
        assert_ok(&s, &c);
        for d in [&s, &c] {
            let r = &rows(d)[0];
            assert_eq!(r[0], "4096", "#bytes:\n{d}");
            let iters: u64 = r[1].parse().unwrap_or(0);
            let avg: f64 = r[3].parse().unwrap_or(0.0);
            assert!(iters > 0 && avg > 0.0, "a measured sample:\n{d}");
        }
    }
}

/// A C peer started with a larger `-s` (perftest compares no options): the Rust receiver's
/// receive completes with an error, and the error names the option to align.
#[test]
fn interop_perftest_options_c_peer_with_another_size_gets_a_hint() {
    let _g = serial();
    let (s, c) = pair(
        Test::SendBw,
        (Impl::Rust, &["-s", "1024", "-n", "100"]),
        (Impl::C, &["-s", "4096", "-n", "100"]),
        19373,
        LIMIT,
    );
    assert!(!s.killed && s.status.is_some_and(|st| !st.success()), "{s}");
    assert!(
        // rxe reports the receive too small as a QP operation error, others a length error.
        (s.stderr.contains("local length error") || s.stderr.contains("local QP operation error"))
            && s.stderr.contains(
                "\n hint: the peer may send messages larger than this side's receive buffer: \
                 run both sides with the same -s (or both with -a)"
            ),
        "the completion error and its hint:\n{s}\n{c}"
    );
}

/// A C peer with another `-q`: the Rust side stops at the keys exchange, naming the peer's
/// count (fewer QPs: perftest repeats its first QP's keys) or that it has more.
#[test]
fn interop_perftest_options_c_peer_with_another_qp_count_is_named() {
    let _g = serial();
    // The test, the server's implementation and arguments, the client's, the Rust side's error.
    type Case = (
        Test,
        Impl,
        &'static [&'static str],
        &'static [&'static str],
        &'static str,
    );
    let cases: [Case; 3] = [
        (
            Test::WriteBw,
            Impl::Rust,
            &["-q", "2", "-n", "100"],
            &["-q", "1", "-n", "100"],
            "the peer runs with -q 1 (its keys repeat its first QP after 1), this side with -q 2",
        ),
        (
            Test::SendBw,
            Impl::Rust,
            &["-q", "1", "-n", "100"],
            &["-q", "2", "-n", "100"],
            "the peer runs with more QPs than this side's -q 1 (its keys named QP 0x",
        ),
        (
            Test::WriteBw,
            Impl::C,
            &["-q", "2", "-n", "100"],
            &["-q", "1", "-n", "100"],
            "the peer runs with more QPs than this side's -q 1 (its keys named QP 0x",
        ),
    ];
    for (k, (test, server, sargs, cargs, want)) in cases.into_iter().enumerate() {
        let client = if server == Impl::Rust {
            Impl::C
        } else {
            Impl::Rust
        };
        let start = Instant::now();
        let (s, c) = pair(
            test,
            (server, sargs),
            (client, cargs),
            19374 + k as u16,
            LIMIT,
        );
        let rust = if server == Impl::Rust { &s } else { &c };
        assert!(
            !rust.killed && rust.status.is_some_and(|st| !st.success()),
            "{s}\n{c}"
        );
        assert!(rust.stderr.contains(want), "{want:?}:\n{s}\n{c}");
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "fails at the keys exchange, not at a timeout:\n{s}\n{c}"
        );
    }
}

#[test]
fn interop_perftest_options_latency_lists_and_cycles() {
    let _g = serial();
    let n = 200usize;
    let rust: &[&str] = &["-n", "200", "-H", "-U", "-C"];
    let c_args: &[&str] = &["-n", "200"];
    let (s, c) = pair(
        Test::SendLat,
        (Impl::C, c_args),
        (Impl::Rust, rust),
        19321,
        LIMIT,
    );
    assert_ok(&s, &c);
    let lines: Vec<&str> = c.stdout.lines().collect();
    let lists: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| **l == "#, cycles")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(lists.len(), 2, "an unsorted and a sorted list:\n{c}");
    let values = |from: usize| -> Vec<f64> {
        lines[from + 1..]
            .iter()
            .take_while(|l| !l.starts_with('#') && !l.starts_with('-'))
            .map(|l| {
                let (i, v) = l.split_once(", ").unwrap_or_else(|| panic!("{l:?}"));
                assert!(i.parse::<usize>().is_ok(), "{l:?}");
                v.parse::<f64>().unwrap_or_else(|_| panic!("{l:?}"))
            })
            .collect()
    };
    let unsorted = values(lists[0]);
    let sorted = values(lists[1]);
    assert_eq!(unsorted.len(), n - 1, "one sample per round trip:\n{c}");
    assert_eq!(sorted.len(), n - 3, "without perftest's tail of 2:\n{c}");
    assert!(sorted.windows(2).all(|w| w[0] <= w[1]), "sorted:\n{c}");
    // The row follows the lists and the table header printed again.
    let header = lines
        .iter()
        .rposition(|l| l.starts_with(" #bytes"))
        .unwrap();
    assert!(header > lists[1], "the header again after the lists:\n{c}");
    let row: Vec<&str> = lines[header + 1].split_whitespace().collect();
    assert_eq!((row[0], row[1]), ("2", "200"), "{c}");
    // A round trip over rxe takes microseconds: thousands of cycles at any real clock rate.
    let typical: f64 = row[4].parse().unwrap();
    assert!(typical > 500.0, "t_typical in cycles, not usec:\n{c}");
}

#[test]
fn interop_perftest_options_report_additions() {
    let _g = serial();
    // --cpu_util on a -D run: the column after perftest's.
    let args: &[&str] = &["-D", "2", "--cpu_util", "-s", "4096"];
    let (s, c) = pair(
        Test::WriteBw,
        (Impl::C, args),
        (Impl::Rust, args),
        19331,
        LIMIT,
    );
    assert_ok(&s, &c);
    for d in [&s, &c] {
        assert!(
            d.stdout.contains("MsgRate[Mpps]    CPU_Util[%]"),
            "header:\n{d}"
        );
        assert_eq!(rows(d)[0].len(), 6, "a CPU column:\n{d}");
    }
    // -W: rxe's packet counter moved by at least the messages sent.
    let args: &[&str] = &["-n", "300", "-s", "4096", "-W", "hw_counters/sent_pkts"];
    let (s, c) = pair(
        Test::WriteBw,
        (Impl::Rust, &args[..4]),
        (Impl::Rust, args),
        19332,
        LIMIT,
    );
    assert_ok(&s, &c);
    let sent: u64 = c
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("\thw_counters/sent_pkts="))
        .unwrap_or_else(|| panic!("a counter line:\n{c}"))
        .parse()
        .unwrap();
    assert!(sent >= 300, "{sent} packets for 300 writes:\n{c}");
    // A counter that does not exist stops the side before it connects, as perftest.
    let (prog, a) = command(Impl::Rust, Test::WriteBw, 19333, &["-W", "no_such"], false);
    let d = spawn("bad counter", &prog, &a).wait_until(Instant::now() + LIMIT);
    assert_eq!(d.status.and_then(|s| s.code()), Some(1), "{d}");
    assert!(
        d.stderr.contains("Unable to access performance counters"),
        "{d}"
    );
    assert!(!listening(19333));
    // -w: a limit no run reaches fails the side that reports, with perftest's text.
    let args: &[&str] = &["-n", "200", "-w", "1000000"];
    let (s, c) = pair(
        Test::WriteBw,
        (Impl::C, &args[..2]),
        (Impl::Rust, args),
        19334,
        LIMIT,
    );
    assert!(ok(&s), "{s}");
    assert_eq!(c.status.and_then(|s| s.code()), Some(1), "{c}");
    assert!(
        c.stderr.contains("Error: BW result is below bw limit"),
        "{c}"
    );
    // --output: only the number.
    let args: &[&str] = &["-n", "200", "--output=bandwidth"];
    let (s, c) = pair(
        Test::WriteBw,
        (Impl::C, &args[..2]),
        (Impl::Rust, args),
        19335,
        LIMIT,
    );
    assert_ok(&s, &c);
    let out: Vec<&str> = c.stdout.lines().collect();
    assert_eq!(out.len(), 1, "one line:\n{c}");
    assert!(out[0].parse::<f64>().is_ok_and(|x| x > 0.0), "{c}");
}

#[test]
fn interop_perftest_options_exchange_and_qp_attributes() {
    let _g = serial();
    // -z: the exchange over rdma_cm, QPs as usual; -u and -S set on the QPs.
    for (k, (server, client)) in [(Impl::C, Impl::Rust), (Impl::Rust, Impl::C)]
        .into_iter()
        .enumerate()
    {
        let args: &[&str] = &["-z", "-u", "16", "-S", "0", "-n", "300"];
        let (s, c) = pair(
            Test::SendBw,
            (server, args),
            (client, args),
            19341 + k as u16,
            LIMIT,
        );
        assert_ok(&s, &c);
        for d in [&s, &c] {
            assert!(has_line(d, " Data ex. method : rdma_cm"), "{d}");
            assert!(has_line(d, " rdma_cm QPs\t : OFF"), "{d}");
            assert_eq!(rows(d)[0][1], "300", "{d}");
        }
    }
}

#[test]
fn interop_perftest_options_post_api() {
    let _g = serial();
    // The extended post API by default (rxe has it), ibv_post_send with the option; either
    // side works with the C tool, which uses ibv_post_send on rxe.
    for (k, extra) in [&[][..], &["--use_old_post_send"][..]]
        .into_iter()
        .enumerate()
    {
        let mut args = vec!["-n", "300", "-s", "4096"];
        args.extend_from_slice(extra);
        let (s, c) = pair(
            Test::WriteBw,
            (Impl::C, &args),
            (Impl::Rust, &args),
            19351 + k as u16,
            LIMIT,
        );
        assert_ok(&s, &c);
        let want = if k == 0 {
            " ibv_wr* API     : ON"
        } else {
            " ibv_wr* API     : OFF"
        };
        assert!(has_line(&c, want), "{want:?}:\n{c}");
        assert!(has_line(&s, " ibv_wr* API     : OFF"), "{s}");
        assert_eq!(rows(&c)[0][1], "300", "{c}");
    }
}

#[test]
fn interop_perftest_options_run_infinitely() {
    let _g = serial();
    // A row every -D seconds until stopped; the C server waits all along.
    let args: &[&str] = &["--run_infinitely", "-D", "1", "-s", "4096"];
    let (s, c) = pair(
        Test::WriteBw,
        (Impl::C, args),
        (Impl::Rust, args),
        19361,
        Duration::from_millis(4500),
    );
    assert!(c.killed, "still running when stopped:\n{c}");
    let r = rows(&c);
    assert!(r.len() >= 2, "a row per second:\n{c}");
    for row in &r {
        assert_eq!(row[0], "4096", "{c}");
        assert!(row[1].parse::<u64>().is_ok_and(|n| n > 0), "{c}");
    }
    drop(s);
}
