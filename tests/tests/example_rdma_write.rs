//! The `rdma_write` example end to end: a server and a client process on the VM's Soft-RoCE
//! device (rxe loops packets between QPs of one device), talking over TCP to 198.18.0.1, the
//! address `scripts/rxe-vm` gives rxe0's netdev.
//!
//! Each test uses its own TCP port: the tests of this binary run in parallel.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// rxe0's address in the VM (fixed by scripts/rxe-vm).
const HOST: &str = "198.18.0.1";
/// How long a process may take before the test gives up on it (the VM is emulated, slow).
const PROCESS_LIMIT: Duration = Duration::from_secs(90);

/// The `rdma_write` binary next to this test's directory: target/<profile>/rdma_write.
fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test binary lives in target/<profile>/deps");
    let bin = dir.join("rdma_write");
    assert!(
        bin.is_file(),
        "{} is missing: build it first with `cargo build -p rdma-examples` \
         (scripts/test-device does)",
        bin.display()
    );
    bin
}

/// `-d $RDMA_DEVICE` when set (else the tool takes the first device), and the TCP port.
fn common_args(port: u16) -> Vec<String> {
    let mut args = Vec::new();
    if let Ok(dev) = std::env::var("RDMA_DEVICE") {
        args.extend(["-d".to_string(), dev]);
    }
    args.extend(["-p".to_string(), port.to_string()]);
    args
}

/// What a finished process left.
#[derive(Debug)]
struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// A running `rdma_write` whose stdout lines arrive on a channel as they are printed.
struct Running {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    stderr: Option<JoinHandle<String>>,
}

impl Running {
    /// Starts `rdma_write` with `args`.
    fn start(args: &[String]) -> Running {
        let mut child = Command::new(binary())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rdma_write");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
            stderr: Some(stderr),
        }
    }

    /// Waits for a stdout line containing `needle` (the server's "listening" line); panics with
    /// the output so far when the process ends or the time runs out first.
    fn wait_for_line(&mut self, needle: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(needle);
                    self.seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    let out = self.finish();
                    panic!("no {needle:?} line within {limit:?}: {out:?}");
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let out = self.finish();
                    panic!("rdma_write ended before printing {needle:?}: {out:?}");
                }
            }
        }
    }

    /// Waits for the process to exit (killing it, and failing the test, after `limit`) and
    /// collects its output.
    fn wait(mut self, limit: Duration) -> Finished {
        let deadline = Instant::now() + limit;
        loop {
            match self.child.try_wait().expect("try_wait") {
                Some(_) => break,
                None if Instant::now() >= deadline => {
                    let _ = self.child.kill();
                    let out = self.finish();
                    panic!("rdma_write did not exit within {limit:?}: {out:?}");
                }
                None => thread::sleep(Duration::from_millis(20)),
            }
        }
        self.finish()
    }

    /// Reaps the process and gathers all of its output.
    fn finish(&mut self) -> Finished {
        let status = self.child.wait().expect("wait");
        // The reader thread ends at EOF, which disconnects the channel.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(10)) {
            self.seen.push(line);
        }
        let stderr = self.stderr.take().map(|t| t.join().unwrap_or_default());
        Finished {
            status,
            stdout: self.seen.join("\n"),
            stderr: stderr.unwrap_or_default(),
        }
    }
}

/// Starts a server with `extra` arguments on `port` and waits until it listens.
fn start_server(port: u16, extra: &[&str]) -> Running {
    let mut args = common_args(port);
    args.extend(extra.iter().map(|s| s.to_string()));
    let mut server = Running::start(&args);
    server.wait_for_line("listening on TCP port", PROCESS_LIMIT);
    server
}

/// Runs a client with `extra` arguments against `HOST:port` to the end.
fn run_client(port: u16, extra: &[&str]) -> Finished {
    let mut args = common_args(port);
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push(HOST.to_string());
    Running::start(&args).wait(PROCESS_LIMIT)
}

/// A transfer of `size` bytes in `chunk` pieces: both sides succeed, the server verifies every
/// byte, the client reports the number of writes.
fn transfer(port: u16, size: usize, chunk: usize, writes: usize) {
    let (size_s, chunk_s) = (size.to_string(), chunk.to_string());
    let server = start_server(port, &["-s", &size_s, "-t", "60"]);
    let client = run_client(port, &["-s", &size_s, "-c", &chunk_s, "-t", "60"]);
    let server = server.wait(PROCESS_LIMIT);
    assert!(
        client.status.success(),
        "client: {client:?}\nserver: {server:?}"
    );
    assert!(
        server.status.success(),
        "server: {server:?}\nclient: {client:?}"
    );
    assert!(
        server
            .stdout
            .contains(&format!("received {size} bytes by RDMA WRITE, verified")),
        "server: {server:?}"
    );
    assert!(
        client.stdout.contains(&format!(
            "wrote {size} bytes in {writes} RDMA WRITEs + WRITE_WITH_IMM, "
        )),
        "client: {client:?}"
    );
    assert!(client.stdout.contains(" MB/s"), "client: {client:?}");
    assert!(
        !client.stderr.contains("rdma_write:") && !server.stderr.contains("rdma_write:"),
        "client: {client:?}\nserver: {server:?}"
    );
}

/// The tests, in a module so that their names contain `example_rdma_write` (the filter
/// `scripts/test-device example_rdma_write` selects them by name).
mod example_rdma_write {
    use super::*;

    #[test]
    fn writes_64k_in_4k_chunks_and_the_server_verifies_them() {
        transfer(18610, 65536, 4096, 16);
    }

    #[test]
    fn chunk_that_does_not_divide_the_size_writes_a_short_last_chunk() {
        // 3000 + 3000 + 3000 + 1000.
        transfer(18611, 10000, 3000, 4);
    }

    #[test]
    fn client_without_server_fails_fast_naming_host_and_port() {
        let port = 18612;
        let start = Instant::now();
        let client = run_client(port, &["-t", "5"]);
        let took = start.elapsed();
        assert!(!client.status.success(), "{client:?}");
        assert_eq!(client.status.code(), Some(1), "{client:?}");
        assert!(
            took < Duration::from_secs(15),
            "took {took:?} to give up: {client:?}"
        );
        assert!(
            client.stderr.starts_with("rdma_write: ")
                && client.stderr.contains(&format!("{HOST}:{port}")),
            "{client:?}"
        );
        assert!(client.stdout.is_empty(), "{client:?}");
    }

    #[test]
    fn client_larger_than_the_server_buffer_is_refused_and_the_server_times_out() {
        let port = 18613;
        // The server's budget also covers accepting the client: 8 s leaves room for a slow,
        // loaded emulated VM while keeping the test short.
        let server = start_server(port, &["-s", "4096", "-t", "8"]);
        let client = run_client(port, &["-s", "8192", "-t", "10"]);
        let server = server.wait(PROCESS_LIMIT);
        assert_eq!(client.status.code(), Some(1), "{client:?}");
        assert!(
            client.stderr.starts_with("rdma_write: ")
                && client.stderr.contains("4096 bytes")
                && client.stderr.contains("--size 8192"),
            "{client:?}"
        );
        assert!(!client.stdout.contains("wrote"), "{client:?}");
        assert_eq!(server.status.code(), Some(1), "{server:?}");
        assert!(
            server.stderr.starts_with("rdma_write: ")
                && server
                    .stderr
                    .contains("timed out after 8s waiting for the client's RDMA WRITE_WITH_IMM"),
            "{server:?}"
        );
        assert!(!server.stdout.contains("verified"), "{server:?}");
    }

    #[test]
    fn different_seeds_make_the_server_report_a_mismatch() {
        let port = 18614;
        let server = start_server(port, &["-s", "8192", "-S", "1", "-t", "60"]);
        let client = run_client(port, &["-s", "8192", "-c", "1024", "-S", "2", "-t", "60"]);
        let server = server.wait(PROCESS_LIMIT);
        // The client's writes succeed: it is the data that is wrong.
        assert!(
            client.status.success(),
            "client: {client:?}\nserver: {server:?}"
        );
        assert_eq!(server.status.code(), Some(1), "{server:?}");
        assert!(
            server.stderr.starts_with("rdma_write: data mismatch")
                && server.stderr.contains("the first at offset")
                && server.stderr.contains("expected 0x"),
            "{server:?}"
        );
        assert!(!server.stdout.contains("verified"), "{server:?}");
    }
}
