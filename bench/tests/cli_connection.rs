//! `-c` refusals of the `rdma-perf` binary, on the host (no RDMA device needed): perftest's
//! own refusals keep its text and exit status 1, and come before any TCP connection, so a
//! peer is never left waiting.

use std::net::TcpListener;
use std::process::{Command, Output};

/// Runs `rdma-perf` with `args`.
fn rdma_perf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rdma-perf"))
        .args(args)
        .output()
        .expect("run rdma-perf")
}

/// A listener on a free localhost port, non-blocking, and the port as an argument.
fn listener() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    (l, port)
}

/// No connection reached `l`.
fn assert_not_connected(l: &TcpListener) {
    match l.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("a connection was made: {other:?}"),
    }
}

#[test]
fn uc_on_read_tests_is_refused_as_perftest_before_connecting() {
    for test in ["read_bw", "read_lat"] {
        let (l, port) = listener();
        let o = rdma_perf(&[test, "-c", "UC", "-p", &port, "127.0.0.1"]);
        assert_eq!(o.status.code(), Some(1), "{test}: {o:?}");
        assert_eq!(
            String::from_utf8_lossy(&o.stderr),
            " UC connection not possible in READ/ATOMIC verbs\n",
            "{test}"
        );
        assert!(o.stdout.is_empty(), "{test}: {o:?}");
        assert_not_connected(&l);
    }
}

#[test]
fn uc_with_rdma_cm_is_refused_on_stdout() {
    let o = rdma_perf(&["send_lat", "--connection=UC", "-R"]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let dashes = "-".repeat(87);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        format!("{dashes}\n UC is not supported in librdmacm\n")
    );
}

#[test]
fn unknown_and_unimplemented_types_are_refused() {
    let (l, port) = listener();
    let o = rdma_perf(&["write_bw", "-c", "rc", "-p", &port, "127.0.0.1"]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        " Invalid Connection type. Please choose from {RC,UC,UD,XRC,DC,SRD}\n"
    );
    let o = rdma_perf(&["write_lat", "-c", "UD", "-p", &port, "127.0.0.1"]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        " UD connection only possible in SEND verb\n"
    );
    let o = rdma_perf(&["send_bw", "-c", "XRC", "-p", &port, "127.0.0.1"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "rdma-perf: not supported: -c XRC (extended reliable connected; rdma-perf runs RC, UC and UD)\n"
    );
    assert_not_connected(&l);
}

#[test]
fn ud_with_rdma_cm_is_refused_before_connecting() {
    let (l, port) = listener();
    let o = rdma_perf(&["send_bw", "-c", "UD", "-R", "-p", &port, "127.0.0.1"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with("rdma-perf: not supported: -c UD with -R (") && err.ends_with("drop -R)\n"),
        "{err}"
    );
    assert!(o.stdout.is_empty(), "{o:?}");
    assert_not_connected(&l);
}
