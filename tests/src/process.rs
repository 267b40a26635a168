//! Running the project's binaries and the C reference tools side by side in device tests:
//! spawning with drained output, waiting with a deadline, and seeing a server listen.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The interop tests share two vCPUs and busy-poll: a test holds this to run alone.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A binary of this workspace, next to the test's own directory (`target/<profile>/<name>`);
/// panics naming the cargo command that builds it when it is missing.
pub fn workspace_bin(name: &str, package: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps")
        .join(name);
    assert!(
        bin.is_file(),
        "{} is missing: build it with `cargo build -p {package} --bins` (scripts/test-device \
         does)",
        bin.display()
    );
    bin
}

/// A program on `PATH`; panics with `install` (how to get it) when it is missing.
pub fn path_bin(name: &str, install: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} is not on PATH: {install}"))
}

/// A running process, its output drained by two threads.
pub struct Proc {
    what: String,
    child: Child,
    started: Instant,
    stdout: JoinHandle<String>,
    stderr: JoinHandle<String>,
}

/// A process that ended (or was killed at its deadline).
#[derive(Debug)]
pub struct Done {
    /// What ran: role, program and arguments.
    pub what: String,
    /// Its exit status (`None` if it could not be reaped).
    pub status: Option<ExitStatus>,
    /// True when it was killed at the deadline.
    pub killed: bool,
    /// Time from spawn to exit.
    pub elapsed: Duration,
    /// Everything it printed on stdout.
    pub stdout: String,
    /// Everything it printed on stderr.
    pub stderr: String,
}

fn drain(mut r: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Starts `prog args` with stdin closed and its output captured; `role` names it in messages.
pub fn spawn(role: &str, prog: &Path, args: &[String]) -> Proc {
    let what = format!("{role}: {} {}", prog.display(), args.join(" "));
    let mut child = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let stdout = drain(child.stdout.take().expect("piped stdout"));
    let stderr = drain(child.stderr.take().expect("piped stderr"));
    Proc {
        what,
        child,
        started: Instant::now(),
        stdout,
        stderr,
    }
}

impl Proc {
    /// Waits until `deadline`, then kills the process.
    pub fn wait_until(mut self, deadline: Instant) -> Done {
        let mut killed = false;
        let status = loop {
            match self.child.try_wait().expect("try_wait") {
                Some(st) => break Some(st),
                None if Instant::now() >= deadline => {
                    let _ = self.child.kill();
                    killed = true;
                    break self.child.wait().ok();
                }
                None => thread::sleep(Duration::from_millis(20)),
            }
        };
        Done {
            what: self.what,
            status,
            killed,
            elapsed: self.started.elapsed(),
            stdout: self.stdout.join().unwrap_or_default(),
            stderr: self.stderr.join().unwrap_or_default(),
        }
    }

    /// True once the process has exited.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Waits until `ready(port)` (a server listens on `port`), polling every 20 ms; panics
    /// with what the server printed when it exits first or `limit` passes.
    pub fn wait_ready(mut self, port: u16, limit: Duration, ready: impl Fn(u16) -> bool) -> Proc {
        let start = Instant::now();
        while !ready(port) {
            if self.exited() || start.elapsed() > limit {
                let done = self.wait_until(Instant::now());
                panic!("the server did not start listening on port {port}:\n{done}");
            }
            thread::sleep(Duration::from_millis(20));
        }
        self
    }
}

impl fmt::Display for Done {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}\n  status: {:?}{} after {:?}\n  stdout:\n{}  stderr:\n{}",
            self.what,
            self.status,
            if self.killed {
                " (killed at the time limit)"
            } else {
                ""
            },
            self.elapsed,
            indent(&self.stdout),
            indent(&self.stderr)
        )
    }
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("    {l}\n")).collect()
}

/// True when something listens on TCP `port` (IPv4 or IPv6), read from /proc/net: probing
/// with a connection would use up a one-shot server's only accept.
pub fn listening(port: u16) -> bool {
    let want = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|f| {
        std::fs::read_to_string(f).is_ok_and(|t| {
            t.lines().skip(1).any(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                cols.len() > 3 && cols[1].ends_with(&want) && cols[3] == "0A"
            })
        })
    })
}

/// True when an RDMA CM id listens on `port` (any address), as `rdma resource show cm_id`
/// (iproute2) lists it: probing with a connection would use up a one-shot server's only
/// accept.
pub fn cm_listening(port: u16) -> bool {
    cm_ids_in_state(port, "LISTEN")
}

/// True when an RDMA CM id on `port` (either end) is connected.
pub fn cm_connected(port: u16) -> bool {
    cm_ids_in_state(port, "CONNECT")
}

fn cm_ids_in_state(port: u16, state: &str) -> bool {
    let out = Command::new("rdma")
        .args(["resource", "show", "cm_id"])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `rdma resource show cm_id` (iproute2): {e}"));
    let want = format!(":{port} ");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.contains(&format!("state {state} ")) && l.contains(&want))
}
