//! `examples/rping/` against rdmacm-utils' `rping`, in both roles, on the real device (the
//! Soft-RoCE VM: `scripts/test-device interop_rping`).
//!
//! Each test starts a server, waits until its RDMA CM id listens, runs the client, waits for
//! both with a time limit (killing them on expiry) and checks what they printed: with `-v`,
//! every ping's data line, byte for byte the text the C client generates; the exit statuses;
//! the disconnect lines.

use rdma_device_tests::process::{
    cm_connected, cm_listening, path_bin, serial, spawn, workspace_bin, Done, Proc,
};
use rdma_examples::rping::{fill_ping, next_start, text_of, FIRST_START};
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

/// How long one side may run.
const LIMIT: Duration = Duration::from_secs(120);
/// rxe0's address in the VM.
const ADDR: &str = "198.18.0.1";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Impl {
    C,
    Rust,
}

fn bin(which: Impl) -> PathBuf {
    match which {
        Impl::C => path_bin("rping", "install rdmacm-utils (librdmacm's examples)"),
        Impl::Rust => workspace_bin("rping", "rdma-examples"),
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// Starts a server on `port` and waits until it listens.
fn server(which: Impl, port: u16, extra: &[&str]) -> Proc {
    assert!(
        !cm_listening(port),
        "an RDMA CM id already listens on port {port}"
    );
    let mut args = strings(&["-s", "-a", ADDR, "-p", &port.to_string()]);
    args.extend(strings(extra));
    spawn(&format!("server ({which:?})"), &bin(which), &args).wait_ready(
        port,
        Duration::from_secs(30),
        cm_listening,
    )
}

/// Runs a client against `port` to completion.
fn client(which: Impl, port: u16, extra: &[&str]) -> Done {
    let mut args = strings(&["-c", "-a", ADDR, "-p", &port.to_string()]);
    args.extend(strings(extra));
    spawn(&format!("client ({which:?})"), &bin(which), &args).wait_until(Instant::now() + LIMIT)
}

/// The text of pings `0..count` of `size` bytes, as `-v` prints them after `prefix`.
fn ping_lines(prefix: &str, count: i32, size: usize) -> String {
    let mut buf = vec![0u8; size];
    let mut start = FIRST_START;
    let mut out = String::new();
    for ping in 0..count {
        fill_ping(&mut buf, ping, start);
        start = next_start(start);
        out += &format!("{prefix}{}\n", text_of(&buf));
    }
    out
}

fn succeeded(done: &Done) {
    assert!(
        !done.killed && done.status.is_some_and(|s| s.success()),
        "expected success:\n{done}"
    );
}

fn failed(done: &Done) {
    assert!(
        !done.killed && done.status.is_some_and(|s| s.code() == Some(1)),
        "expected exit status 1:\n{done}"
    );
}

/// Three validated, printed pings of `size` bytes between `s` and `c`.
fn three_pings(s: Impl, c: Impl, port: u16, size: usize) {
    let _alone = serial();
    let srv = server(s, port, &["-v", "-S", &size.to_string()]);
    let cli = client(c, port, &["-v", "-V", "-C", "3", "-S", &size.to_string()]);
    let srv = srv.wait_until(Instant::now() + LIMIT);
    succeeded(&cli);
    succeeded(&srv);
    assert_eq!(cli.stdout, ping_lines("ping data: ", 3, size), "{cli}");
    assert_eq!(
        srv.stdout,
        ping_lines("server ping data: ", 3, size),
        "{srv}"
    );
    assert!(cli.stderr.contains("client DISCONNECT EVENT..."), "{cli}");
    assert!(srv.stderr.contains("server DISCONNECT EVENT..."), "{srv}");
}

#[test]
fn rust_server_c_client() {
    three_pings(Impl::Rust, Impl::C, 7301, 64);
}

#[test]
fn c_server_rust_client() {
    three_pings(Impl::C, Impl::Rust, 7302, 40);
}

#[test]
fn rust_server_rust_client_large_pings() {
    three_pings(Impl::Rust, Impl::Rust, 7303, 65535);
}

#[test]
fn a_persistent_rust_server_serves_c_and_rust_clients() {
    let _alone = serial();
    let port = 7304;
    let srv = server(Impl::Rust, port, &["-P", "-v", "-S", "100"]);
    let c = client(Impl::C, port, &["-V", "-C", "2"]);
    let rust = client(Impl::Rust, port, &["-V", "-C", "5", "-S", "100"]);
    // Still listening after both: then stop it.
    assert!(cm_listening(port), "the -P server stopped listening");
    let srv = srv.wait_until(Instant::now());
    succeeded(&c);
    succeeded(&rust);
    let expect =
        ping_lines("server ping data: ", 2, 64) + &ping_lines("server ping data: ", 5, 100);
    assert_eq!(srv.stdout, expect, "{srv}");
}

#[test]
fn connecting_where_nobody_listens_fails_fast_and_says_so() {
    let _alone = serial();
    let done = client(Impl::Rust, 7305, &["-C", "1"]);
    failed(&done);
    assert!(
        done.stderr.contains("rejected") && done.stderr.contains("nobody listens"),
        "{done}"
    );
    assert!(done.elapsed < Duration::from_secs(10), "{done}");
}

#[test]
fn a_server_that_dies_ends_the_client_with_an_error() {
    let _alone = serial();
    let port = 7306;
    let srv = server(Impl::C, port, &[]);
    let cli = spawn(
        "client (Rust)",
        &bin(Impl::Rust),
        &strings(&[
            "-c",
            "-a",
            ADDR,
            "-p",
            &port.to_string(),
            "-C",
            "1000000",
            "-v",
        ]),
    );
    // Once connected, let some pings go through, then kill the server.
    let start = Instant::now();
    while !cm_connected(port) {
        assert!(start.elapsed() < LIMIT, "the client never connected");
        thread::sleep(Duration::from_millis(20));
    }
    thread::sleep(Duration::from_secs(1));
    let killed_at = Instant::now();
    let srv = srv.wait_until(Instant::now());
    assert!(srv.killed, "the server was still running: {srv}");
    let cli = cli.wait_until(Instant::now() + LIMIT);
    failed(&cli);
    assert!(cli.stdout.starts_with("ping data: rdma-ping-0: "), "{cli}");
    assert!(
        cli.stderr
            .contains("the server closed the connection during ping"),
        "{cli}"
    );
    assert!(killed_at.elapsed() < Duration::from_secs(10), "{cli}");
}

#[test]
fn a_rust_server_refuses_pings_larger_than_its_buffer() {
    let _alone = serial();
    let port = 7307;
    let srv = server(Impl::Rust, port, &["-S", "64"]);
    let cli = client(Impl::C, port, &["-v", "-C", "1", "-S", "100"]);
    let srv = srv.wait_until(Instant::now() + LIMIT);
    failed(&srv);
    assert!(
        srv.stderr
            .contains("the client's ping data is 100 bytes, more than this server's -S 64"),
        "{srv}"
    );
    // The C client ends as it does whenever the connection closes: status 0, no ping printed.
    assert!(!cli.killed && cli.stdout.is_empty(), "{cli}");
}
