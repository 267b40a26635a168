//! The `async_echo` example end to end on the VM's Soft-RoCE device: a server and a client
//! process, 64 RC QPs each served by one tokio runtime, every echoed byte checked; a corrupted
//! echo is detected; a server that dies makes the client's pending waits end with an error.
//!
//! Each test uses its own TCP port: the tests of this binary run in parallel.

use rdma_device_tests::process::{listening, spawn, workspace_bin, Done, Proc};
use std::time::{Duration, Instant};

/// rxe0's address in the VM (fixed by scripts/rxe-vm).
const HOST: &str = "198.18.0.1";
/// How long a process may run.
const LIMIT: Duration = Duration::from_secs(180);

fn args(port: u16, extra: &[&str]) -> Vec<String> {
    let mut a = Vec::new();
    if let Ok(dev) = std::env::var("RDMA_DEVICE") {
        a.extend(["-d".to_string(), dev]);
    }
    a.extend(["-p".to_string(), port.to_string()]);
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

/// Starts the server and waits until it listens.
fn server(port: u16, extra: &[&str]) -> Proc {
    assert!(!listening(port), "TCP port {port} is already in use");
    let bin = workspace_bin("async_echo", "rdma-examples");
    spawn("server", &bin, &args(port, extra)).wait_ready(port, Duration::from_secs(60), listening)
}

fn client(port: u16, extra: &[&str]) -> Proc {
    let mut a = extra.to_vec();
    a.push(HOST);
    spawn(
        "client",
        &workspace_bin("async_echo", "rdma-examples"),
        &args(port, &a),
    )
}

fn succeeded(d: &Done) -> bool {
    !d.killed && d.status.is_some_and(|s| s.success())
}

fn failed_with_status_1(d: &Done) -> bool {
    !d.killed && d.status.and_then(|s| s.code()) == Some(1)
}

/// Runs a server and a client with the same `--qps` and checks both summaries' exact counts.
fn echo_run(port: u16, qps: u64, iters: u64, size: u64, extra: &[&str]) {
    let (q, n, s) = (qps.to_string(), iters.to_string(), size.to_string());
    let srv = server(port, &[&["--qps", &q, "--size", &s], extra].concat());
    let cli = client(
        port,
        &[&["--qps", &q, "--iters", &n, "--size", &s], extra].concat(),
    );
    let deadline = Instant::now() + LIMIT;
    let cli = cli.wait_until(deadline);
    let srv = srv.wait_until(deadline);
    assert!(succeeded(&cli) && succeeded(&srv), "{cli}\n{srv}");
    let messages = qps * iters;
    let bytes = messages * size;
    let verified = format!("verified {messages} echoes ({bytes} bytes) byte for byte on {qps} QPs");
    assert!(cli.stdout.contains(&verified), "want {verified:?}:\n{cli}");
    let echoed = format!("echoed {messages} messages, {bytes} bytes, on {qps} QPs");
    assert!(srv.stdout.contains(&echoed), "want {echoed:?}:\n{srv}");
}

#[test]
fn sixty_four_qps_on_one_runtime_echo_byte_for_byte() {
    echo_run(18620, 64, 20, 4096, &["--mode", "event"]);
}

#[test]
fn busy_mode_on_two_worker_threads_echoes_byte_for_byte() {
    echo_run(18621, 8, 50, 1000, &["--mode", "busy", "--threads", "2"]);
}

#[test]
fn a_corrupted_echo_is_detected_naming_the_qp_round_and_byte() {
    let port = 18622;
    let srv = server(port, &["--qps", "4", "--corrupt-echo", "3", "-t", "5"]);
    let cli = client(port, &["--qps", "4", "--iters", "10", "--size", "512"]);
    let deadline = Instant::now() + LIMIT;
    let cli = cli.wait_until(deadline);
    let srv = srv.wait_until(deadline);
    assert!(failed_with_status_1(&cli), "{cli}");
    assert!(
        cli.stderr
            .contains("QP 0 round 3: the echo differs at byte 256"),
        "{cli}"
    );
    assert!(!cli.stdout.contains("verified"), "{cli}");
    // The server's connections wait for messages that never come: bounded by its --timeout.
    assert!(failed_with_status_1(&srv), "{srv}");
    assert!(srv.stderr.contains("nothing completed for 5s"), "{srv}");
}

#[test]
fn a_server_that_dies_ends_the_clients_waits_with_an_error() {
    let port = 18623;
    let srv = server(port, &["--qps", "8"]);
    let cli = client(
        port,
        &[
            "--qps",
            "8",
            "--iters",
            "100000000",
            "--size",
            "64",
            "-t",
            "10",
        ],
    );
    // Let the echoes run, then kill the server: the kernel destroys its QPs.
    std::thread::sleep(Duration::from_secs(5));
    let srv = srv.wait_until(Instant::now());
    assert!(srv.killed, "the server ran until killed: {srv}");
    let killed_at = Instant::now();
    let cli = cli.wait_until(killed_at + Duration::from_secs(60));
    assert!(failed_with_status_1(&cli), "{cli}");
    // A connection with a send in flight sees it fail (Soft-RoCE answers a send that meets
    // the dying QP with a remote operation error; else retries run out and the rest is
    // flushed); one that only awaits an echo has nothing that could fail (RC has no
    // keep-alive) and ends at its --timeout. Either way: an error, never a hang.
    assert!(
        [
            "remote operation error",
            "transport retry counter exceeded",
            "Work Request Flushed Error",
            "nothing completed for 10s"
        ]
        .iter()
        .any(|e| cli.stderr.contains(e)),
        "the client's pending waits end with an error: {cli}"
    );
    eprintln!(
        "the client ended {:?} after the server died",
        killed_at.elapsed()
    );
}
