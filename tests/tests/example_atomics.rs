//! The `atomics` example end to end on the VM's Soft-RoCE device (`scripts/test-device
//! atomics`): one server and four client processes with different `--adds` and `--locks`
//! share a counter and a lock; the server must state the exact total and that the lock was
//! never held twice, and every process exit 0. Failures: a bad `-n`, a server that is gone, a
//! server that gives up on a missing client.
//!
//! Each test uses its own TCP port (18900-18949): the tests of this binary run in parallel.

use rdma_device_tests::process::{listening, serial, spawn, workspace_bin, Done, Proc};
use std::time::{Duration, Instant};

/// rxe0's address in the VM (fixed by scripts/rxe-vm).
const HOST: &str = "198.18.0.1";
/// How long a process may run (the VM is emulated and slow).
const LIMIT: Duration = Duration::from_secs(180);

/// `-d $RDMA_DEVICE` when set, `-p port`, then `extra`.
fn args(role: &str, port: u16, extra: &[&str]) -> Vec<String> {
    let mut a = vec![role.to_string()];
    if let Ok(dev) = std::env::var("RDMA_DEVICE") {
        a.extend(["-d".to_string(), dev]);
    }
    a.extend(["-p".to_string(), port.to_string()]);
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

/// Starts a server and waits until it listens.
fn server(port: u16, extra: &[&str]) -> Proc {
    assert!(!listening(port), "TCP port {port} is already in use");
    let bin = workspace_bin("atomics", "rdma-examples");
    spawn("server", &bin, &args("server", port, extra)).wait_ready(
        port,
        Duration::from_secs(60),
        listening,
    )
}

/// Starts a client of `HOST:port`.
fn client(port: u16, extra: &[&str]) -> Proc {
    let mut a = extra.to_vec();
    a.push(HOST);
    let bin = workspace_bin("atomics", "rdma-examples");
    spawn("client", &bin, &args("client", port, &a))
}

fn exit_code(d: &Done) -> Option<i32> {
    if d.killed {
        None
    } else {
        d.status.and_then(|s| s.code())
    }
}

/// The line of `out` that starts with `prefix`, without it; panics naming `d`.
fn line_after<'a>(d: &'a Done, prefix: &str) -> &'a str {
    d.stdout
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?}:\n{d}"))
}

/// The numbers of `(a + b + c)` at the start of `text`, sorted, and the rest.
fn terms(text: &str) -> (Vec<u64>, &str) {
    let inner = text.strip_prefix('(').expect("(terms)");
    let (inner, rest) = inner.split_once(')').expect("(terms)");
    let mut v: Vec<u64> = inner
        .split(" + ")
        .map(|t| t.parse().expect("a number"))
        .collect();
    v.sort_unstable();
    (v, rest)
}

mod example_atomics {
    use super::*;

    #[test]
    fn four_clients_share_the_counter_and_the_lock_and_the_server_checks_both() {
        let _alone = serial();
        let port = 18900;
        // (adds, locks) of each client.
        let work: [(u64, u64); 4] = [(300, 40), (200, 30), (150, 20), (50, 10)];
        let total: u64 = work.iter().map(|w| w.0).sum();
        let locks: u64 = work.iter().map(|w| w.1).sum();
        let srv = server(port, &["-n", "4", "-t", "120"]);
        let clients: Vec<Proc> = work
            .iter()
            .map(|(k, m)| {
                let (k, m) = (k.to_string(), m.to_string());
                client(port, &["--adds", &k, "--locks", &m, "-t", "120"])
            })
            .collect();
        let deadline = Instant::now() + LIMIT;
        let clients: Vec<Done> = clients
            .into_iter()
            .map(|c| c.wait_until(deadline))
            .collect();
        let srv = srv.wait_until(deadline);
        let all = || {
            let mut s = format!("{srv}");
            for c in &clients {
                s += &format!("\n{c}");
            }
            s
        };
        assert_eq!(exit_code(&srv), Some(0), "{}", all());
        assert!(srv.stderr.is_empty(), "{}", all());

        let rest = line_after(
            &srv,
            &format!("counter: {total}, exactly the sum of 4 clients' fetch-and-adds "),
        );
        assert_eq!(terms(rest), (vec![50, 150, 200, 300], ""), "{srv}");
        let sum = total * (total - 1) / 2;
        let want = format!(
            "fetched values: each below {total}, summing to {sum} as 0 + 1 + ... + {} do",
            total - 1
        );
        assert!(
            srv.stdout.lines().any(|l| l == want),
            "want {want:?}:\n{srv}"
        );
        assert!(
            srv.stdout.lines().any(|l| l == "lock: free at the end"),
            "{srv}"
        );
        let rest = line_after(
            &srv,
            &format!("lock: never held by two clients at once: {locks} critical sections "),
        );
        let (l, rest) = terms(rest);
        assert_eq!(l, [10, 20, 30, 40], "{srv}");
        assert_eq!(
            rest,
            format!(
                ", entries word {locks}, guarded word {locks}, inside word 0, no violation seen"
            ),
            "{srv}"
        );
        assert!(
            srv.stdout.lines().any(|l| l == "all 4 checks passed"),
            "{srv}"
        );
        assert!(!srv.stdout.contains("FAILED"), "{srv}");

        // Each client ran its own work under its own id and saw the server's verdict.
        let mut ids = Vec::new();
        for (c, (k, m)) in clients.iter().zip(work) {
            assert_eq!(exit_code(c), Some(0), "{}", all());
            assert!(c.stderr.is_empty(), "{c}");
            let id: u64 = line_after(c, "client ")
                .split_once(" of 4: QP ")
                .and_then(|(id, _)| id.parse().ok())
                .unwrap_or_else(|| panic!("no \"client N of 4: QP\" line:\n{c}"));
            ids.push(id);
            let summary = line_after(c, &format!("client {id}: {k} fetch-and-adds (values "));
            let (range, rest) = summary.split_once(", increasing), ").expect("a range");
            let (first, last) = range.split_once(" to ").expect("first to last");
            let (first, last): (u64, u64) = (first.parse().unwrap(), last.parse().unwrap());
            assert!(first + k - 1 <= last && last < total, "{c}");
            assert!(
                rest.starts_with(&format!("{m} lock rounds ("))
                    && rest.ends_with(" retries), 0 violations"),
                "{c}"
            );
            let verdict = format!(
                "client {id}: the server's checks passed; the counter ended at {total}, above \
                 every value this client fetched"
            );
            assert!(
                c.stdout.lines().any(|l| l == verdict),
                "want {verdict:?}:\n{c}"
            );
            assert!(
                srv.stdout.lines().any(|l| l.starts_with(&format!(
                    "client {id} done: {k} fetch-and-adds, {m} lock rounds ("
                ))),
                "client {id}'s report:\n{srv}"
            );
        }
        ids.sort_unstable();
        assert_eq!(ids, [1, 2, 3, 4], "{}", all());
    }

    #[test]
    fn a_server_without_clients_is_refused_with_the_option_named() {
        let bin = workspace_bin("atomics", "rdma-examples");
        let done = spawn("server", &bin, &args("server", 18903, &["-n", "0"]))
            .wait_until(Instant::now() + LIMIT);
        assert_eq!(exit_code(&done), Some(2), "{done}");
        assert!(
            done.stderr.starts_with(
                "error: invalid value '0' for '--clients <CLIENTS>': 0 is not in 1..=64"
            ),
            "{done}"
        );
        assert!(done.stdout.is_empty(), "{done}");
    }

    #[test]
    fn a_server_that_gave_up_leaves_its_client_a_refused_connection() {
        let port = 18901;
        let srv = server(port, &["-n", "1", "-t", "2"]).wait_until(Instant::now() + LIMIT);
        assert_eq!(exit_code(&srv), Some(1), "{srv}");
        assert_eq!(
            srv.stderr,
            "atomics: timed out after 2s waiting for client 1 of 1 to connect (0 connected)\n",
            "{srv}"
        );
        let cli = client(port, &["--adds", "1", "--locks", "1", "-t", "5"])
            .wait_until(Instant::now() + LIMIT);
        assert_eq!(exit_code(&cli), Some(1), "{cli}");
        assert!(
            cli.stderr
                .starts_with(&format!("atomics: cannot connect to {HOST}:{port}: ")),
            "{cli}"
        );
        assert!(cli.stderr.contains("refused"), "{cli}");
        assert!(cli.stdout.is_empty(), "{cli}");
    }

    #[test]
    fn a_missing_client_makes_the_server_give_up_and_tell_the_one_that_came() {
        let port = 18902;
        let srv = server(port, &["-n", "2", "-t", "5"]);
        let cli = client(port, &["--adds", "1", "--locks", "1", "-t", "60"]);
        let deadline = Instant::now() + LIMIT;
        let srv = srv.wait_until(deadline);
        let cli = cli.wait_until(deadline);
        assert_eq!(exit_code(&srv), Some(1), "{srv}\n{cli}");
        assert_eq!(
            srv.stderr,
            "atomics: timed out after 5s waiting for client 2 of 2 to connect (1 connected)\n",
            "{srv}"
        );
        assert!(srv.stdout.contains("client 1 connected: QP 0x"), "{srv}");
        assert_eq!(exit_code(&cli), Some(1), "{cli}");
        assert_eq!(
            cli.stderr,
            "atomics: the server closed the connection before the start (sent once all clients \
             have connected): did it fail or give up?\n",
            "{cli}"
        );
    }
}
