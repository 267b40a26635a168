//! The measuring programs of scripts/scale-curves on the VM's Soft-RoCE device, with small N:
//! `rdma-scale connect` over the TCP exchange and over rdma_cm (1 and 8 QPs), and
//! `async_echo --json`. Each run's JSON line must parse as the report reads it and hold
//! what the run did; sides that disagree on the QP count fail with a message saying so.
//!
//! Each test uses its own ports (19260 …): the tests of this binary run in parallel. Their
//! names start with `scale_`: `scripts/test-device scale_` runs them.

use rdma_bench::scale::record::{parse, Role, Via};
use rdma_device_tests::process::{cm_listening, listening, spawn, workspace_bin, Done, Proc};
use std::time::{Duration, Instant};

/// rxe0's address in the VM (fixed by scripts/rxe-vm).
const HOST: &str = "198.18.0.1";
/// How long a process may run.
const LIMIT: Duration = Duration::from_secs(60);

fn dev_args() -> Vec<String> {
    std::env::var("RDMA_DEVICE").map_or_else(|_| Vec::new(), |d| vec!["-d".into(), d])
}

fn scale(role: &str, port: u16, qps: u32, via: &str, host: Option<&str>) -> Proc {
    let mut a = vec!["connect".to_string()];
    a.extend(dev_args());
    for s in [
        "-p",
        &port.to_string(),
        "-q",
        &qps.to_string(),
        "--via",
        via,
    ] {
        a.push(s.to_string());
    }
    a.extend(["--timeout".into(), "20".into()]);
    a.extend(host.map(String::from));
    spawn(role, &workspace_bin("rdma-scale", "rdma-bench"), &a)
}

fn ok(d: &Done) -> bool {
    !d.killed && d.status.is_some_and(|s| s.success())
}

/// Connects `qps` QPs both ways and returns (client, server) outputs.
fn connect_run(port: u16, qps: u32, via: &str) -> (Done, Done) {
    let ready = if via == "cm" { cm_listening } else { listening };
    let srv = scale("server", port, qps, via, None).wait_ready(port, LIMIT, ready);
    let cli = scale("client", port, qps, via, Some(HOST));
    let deadline = Instant::now() + LIMIT;
    (cli.wait_until(deadline), srv.wait_until(deadline))
}

fn check_connect(port: u16, qps: u32, via: &str) {
    let (cli, srv) = connect_run(port, qps, via);
    assert!(ok(&cli) && ok(&srv), "{cli}\n{srv}");
    let r = parse(&format!("{}{}", cli.stdout, srv.stdout)).expect("two JSON lines");
    assert_eq!(r.connect.len(), 2, "{cli}\n{srv}");
    let want_via = if via == "cm" { Via::Cm } else { Via::Tcp };
    for (p, role) in r.connect.iter().zip([Role::Client, Role::Server]) {
        assert_eq!((p.role, p.via, p.qps, p.depth), (role, want_via, qps, 128));
        assert!(
            p.create_s > 0.0 && p.connect_s > 0.0 && p.destroy_s >= 0.0,
            "{p:?}"
        );
        assert_eq!(p.exchange_s.is_some(), via == "tcp", "{p:?}");
        assert!(
            p.rss_start_kib > 0 && p.rss_connected_kib >= p.rss_start_kib,
            "{p:?}"
        );
        // VmHWM comes from the batched counters of VmRSS (kernels before 6.2): it can lag
        // behind the exact resident set.
        assert!(p.hwm_kib > 0, "{p:?}");
        // rdma_cm: an event channel (a descriptor) per id; TCP: a fixed few.
        if via == "cm" {
            assert!(p.fds > qps, "{p:?}");
        } else {
            assert!(p.fds < 16, "{p:?}");
        }
    }
}

#[test]
fn scale_connect_over_tcp_one_and_eight_qps() {
    check_connect(19260, 1, "tcp");
    check_connect(19261, 8, "tcp");
}

#[test]
fn scale_connect_over_rdma_cm_one_and_eight_qps() {
    check_connect(19262, 1, "cm");
    check_connect(19263, 8, "cm");
}

#[test]
fn scale_connect_with_a_different_qp_count_names_the_cause() {
    let srv = scale("server", 19264, 2, "tcp", None).wait_ready(19264, LIMIT, listening);
    let cli = scale("client", 19264, 4, "tcp", Some(HOST));
    let deadline = Instant::now() + LIMIT;
    let (cli, srv) = (cli.wait_until(deadline), srv.wait_until(deadline));
    // The server reads 2 endpoints and answers; the client waits for a third.
    assert_eq!(cli.status.and_then(|s| s.code()), Some(1), "{cli}");
    let want = "rdma-scale: reading the server's endpoint 2 (do both sides use the same --qps?)";
    assert!(cli.stderr.starts_with(want), "{cli}");
    assert_eq!(srv.status.and_then(|s| s.code()), Some(1), "{srv}");
}

#[test]
fn scale_async_echo_json_line_counts_messages_and_round_trips() {
    let port = 19265;
    let echo = workspace_bin("async_echo", "rdma-examples");
    let mut a = dev_args();
    for s in [
        "-p",
        &port.to_string(),
        "--qps",
        "4",
        "--size",
        "64",
        "--json",
    ] {
        a.push(s.to_string());
    }
    let srv = spawn("server", &echo, &a).wait_ready(port, LIMIT, listening);
    a.extend(["--iters".into(), "50".into(), HOST.into()]);
    let cli = spawn("client", &echo, &a);
    let deadline = Instant::now() + LIMIT;
    let (cli, srv) = (cli.wait_until(deadline), srv.wait_until(deadline));
    assert!(ok(&cli) && ok(&srv), "{cli}\n{srv}");
    // The summary lines stay as they were; the JSON line follows.
    assert!(cli
        .stdout
        .contains("verified 200 echoes (12800 bytes) byte for byte on 4 QPs"));
    assert!(srv
        .stdout
        .contains("echoed 200 messages, 12800 bytes, on 4 QPs"));
    let json: String = [&cli.stdout, &srv.stdout]
        .iter()
        .flat_map(|o| o.lines().filter(|l| l.starts_with('{')))
        .map(|l| format!("{l}\n"))
        .collect();
    let r = parse(&json).expect("JSON lines");
    assert_eq!(r.echo.len(), 2, "{json}");
    let (c, s) = (&r.echo[0], &r.echo[1]);
    assert_eq!(
        (c.role, c.qps, c.messages, c.size),
        (Role::Client, 4, 200, 64)
    );
    assert_eq!(
        (s.role, s.messages, s.mode.as_str()),
        (Role::Server, 200, "event")
    );
    let [avg, p50, p99, max] = [c.rtt_avg_us, c.rtt_p50_us, c.rtt_p99_us, c.rtt_max_us]
        .map(|v| v.expect("a client's round trips"));
    assert!(0.0 < p50 && p50 <= p99 && p99 <= max && avg <= max, "{c:?}");
    assert!(s.rtt_avg_us.is_none(), "{s:?}");
    assert!(c.machine_cpu_s.is_some() && c.wall_s > 0.0, "{c:?}");
}
