//! The release binaries (`scripts/build-release`, feature `static`) on a node without
//! rdma-core: each runs in a private mount namespace where libibverbs, its driver directory,
//! librdmacm and libnl are hidden (`/dev/null` bound over each shared library, an empty
//! directory over `libibverbs/` and `/etc/libibverbs.d`), as on a Kubernetes node that has the
//! kernel's RDMA stack but no rdma-core package.
//!
//! They are static executables (glibc included), so hiding rdma-core is what a node without it
//! looks like to them; the dynamic `ibv_devices` shows the hiding works.
//!
//! `scripts/test-device` builds them and names their directory in `RDMA_STATIC_BIN_DIR`;
//! without it every test here fails.

use rdma_device_tests::cni_node::{Node, CNI_BIN_DIR};
use rdma_device_tests::process::{listening, path_bin, spawn, Done};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Hides the shared RDMA libraries and libnl, then runs "$@". Each pattern must match, so a
/// renamed library cannot leave the test running against the real one.
const HIDE: &str = r#"set -e
mkdir -p /tmp/static-bins-empty
for pattern in 'libibverbs.so*' 'librdmacm.so*' 'libnl-3.so*' 'libnl-route-3.so*' 'libmlx5.so*' 'libefa.so*'; do
  found=
  for f in /usr/lib/*-linux-gnu/$pattern; do
    [ -e "$f" ] || continue
    mount --bind /dev/null "$f"
    found=1
  done
  [ -n "$found" ] || { echo "hide: no $pattern to hide" >&2; exit 97; }
done
for d in /usr/lib/*-linux-gnu/libibverbs /etc/libibverbs.d; do
  mount --bind /tmp/static-bins-empty "$d"
done
exec "$@""#;

/// The command line before the program that runs it with rdma-core hidden.
fn hiding() -> Vec<String> {
    let unshare = path_bin("unshare", "install util-linux");
    let mut a = vec![unshare.display().to_string()];
    a.extend(
        [
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            HIDE,
            "hide",
        ]
        .map(String::from),
    );
    a
}

/// `prog args` run with rdma-core hidden: the program and its arguments.
fn hidden(prog: &Path, args: &[&str]) -> (PathBuf, Vec<String>) {
    let mut a = hiding();
    let unshare = PathBuf::from(a.remove(0));
    a.push(prog.display().to_string());
    a.extend(args.iter().map(|s| s.to_string()));
    (unshare, a)
}

/// A release binary, checked to be statically linked (glibc included).
fn static_bin(name: &str) -> PathBuf {
    let dir = std::env::var_os("RDMA_STATIC_BIN_DIR").unwrap_or_else(|| {
        panic!("RDMA_STATIC_BIN_DIR is not set: scripts/test-device sets it to scripts/build-release's output directory")
    });
    let bin = Path::new(&dir).join(name);
    assert!(bin.is_file(), "{} is missing", bin.display());
    let ldd = Command::new("ldd").arg(&bin).output().expect("run ldd");
    let said = String::from_utf8_lossy(&ldd.stdout) + String::from_utf8_lossy(&ldd.stderr);
    assert!(
        said.contains("statically linked") || said.contains("not a dynamic executable"),
        "{name} loads shared libraries:\n{said}"
    );
    bin
}

fn run(prog: &Path, args: &[String], limit: Duration) -> Done {
    spawn(&prog.display().to_string(), prog, args).wait_until(Instant::now() + limit)
}

fn ok(d: &Done) -> bool {
    d.status.is_some_and(|s| s.success()) && !d.killed
}

#[test]
fn static_hidden_rdma_core_breaks_the_dynamic_tools() {
    // The hiding works: the dynamic C tool cannot even start.
    let (p, a) = hidden(&path_bin("ibv_devices", "install ibverbs-utils"), &[]);
    let d = run(&p, &a, Duration::from_secs(30));
    assert!(!ok(&d), "ibv_devices ran with rdma-core hidden:\n{d}");
    assert!(
        d.stderr.contains("error while loading shared libraries"),
        "ibv_devices failed, but not in the loader:\n{d}"
    );
}

#[test]
fn static_rdma_validate_passes_without_rdma_core() {
    let dev = rdma_device_tests::device().name().to_string();
    let (p, a) = hidden(&static_bin("rdma-validate"), &["--device", &dev]);
    let d = run(&p, &a, Duration::from_secs(120));
    assert!(ok(&d), "rdma-validate failed:\n{d}");
    for check in [
        "PASS device",
        "PASS send ",
        "PASS rdma_write",
        "PASS rdma_read",
    ] {
        assert!(d.stdout.contains(check), "no {check:?}:\n{d}");
    }
    assert!(d.stdout.contains(&format!("OK: {dev} port 1")), "{d}");
}

#[test]
fn static_cni_add_with_validation_and_del_without_rdma_core() {
    assert!(Path::new(CNI_BIN_DIR).join("host-local").is_file());
    let node = Node::new("stc", 1, 1);
    let conf = node.conf(0, json!({}));
    let before = node.snapshot();
    let exe = static_bin("ib-sriov");
    let hiding = hiding();
    let wrap: Vec<&str> = hiding.iter().map(String::as_str).collect();
    let go = |command: &str| {
        let child = Node::spawn(&mut node.command_of(&exe, &wrap, command, "st1", 0), &conf);
        Node::outcome(child.wait_with_output().unwrap())
    };
    let add = go("ADD");
    assert!(add.ok, "ADD failed: {}\n{}", add.out, add.err);
    assert_eq!(add.out["interfaces"][0]["name"], "net1", "{}", add.out);
    assert!(
        add.out["ips"][0]["address"]
            .as_str()
            .is_some_and(|a| a.starts_with("10.78.0.")),
        "{}",
        add.out
    );
    assert_ne!(node.snapshot(), before, "ADD changed nothing");
    let del = go("DEL");
    assert!(del.ok, "DEL failed: {}\n{}", del.out, del.err);
    assert_eq!(node.snapshot(), before, "DEL left the node changed");
}

/// The 65536-byte row of a bandwidth report.
fn has_bw_row(d: &Done) -> bool {
    d.stdout.contains("#bytes")
        && d.stdout
            .lines()
            .any(|l| l.split_whitespace().next() == Some("65536"))
}

/// `ib_write_bw` between C perftest and the static rdma-perf (hidden rdma-core); `rust_serves`
/// picks the sides.
fn write_bw(rust_serves: bool, port: u16) {
    let rust = static_bin("rdma-perf");
    let c = path_bin("ib_write_bw", "install perftest");
    let side = |rust_side: bool, host: Option<&str>| -> (PathBuf, Vec<String>) {
        let mut args = rdma_device_tests::perftest_device_args();
        args.extend(["-p".to_string(), port.to_string()]);
        args.extend(host.map(str::to_string));
        if rust_side {
            let mut a = vec!["write_bw".to_string()];
            a.extend(args);
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            hidden(&rust, &a)
        } else {
            (c.clone(), args)
        }
    };
    assert!(!listening(port), "port {port} is already in use");
    let (sp, sa) = side(rust_serves, None);
    let srv = spawn("server", &sp, &sa).wait_ready(port, Duration::from_secs(30), listening);
    let (cp, ca) = side(!rust_serves, Some("127.0.0.1"));
    let cli = run(&cp, &ca, Duration::from_secs(120));
    let s = srv.wait_until(Instant::now() + Duration::from_secs(30));
    assert!(ok(&s) && ok(&cli), "expected both to succeed:\n{s}\n{cli}");
    assert!(
        has_bw_row(&s) && has_bw_row(&cli),
        "no 65536-byte row:\n{s}\n{cli}"
    );
}

#[test]
fn static_rdma_perf_serves_c_perftest_without_rdma_core() {
    write_bw(true, 18951);
}

#[test]
fn static_rdma_perf_connects_to_c_perftest_without_rdma_core() {
    write_bw(false, 18952);
}
