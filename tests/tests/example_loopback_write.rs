//! The README's example, `examples/loopback_write/`, on the VM's device
//! (`scripts/test-device loopback`): two QPs of one device, one RDMA WRITE, every byte
//! checked. It must print its one line and exit 0; a device name that does not exist must
//! make it print one error line and exit 1. Without a device these tests fail.

use rdma_device_tests::process::{spawn, workspace_bin, Done};
use std::time::{Duration, Instant};

/// How long the program may run (it gives up on its completion after 5 s).
const LIMIT: Duration = Duration::from_secs(60);

fn loopback_write(args: &[String]) -> Done {
    let bin = workspace_bin("loopback_write", "rdma-examples");
    spawn("loopback_write", &bin, args).wait_until(Instant::now() + LIMIT)
}

/// The QP number in `0x<hex>`.
fn qpn(text: &str) -> u32 {
    let hex = text.strip_prefix("0x").expect("a QP number in hex");
    u32::from_str_radix(hex, 16).expect("a QP number in hex")
}

#[test]
fn loopback_write_verifies_what_it_wrote() {
    let name = rdma_device_tests::device().name().to_string();
    let done = loopback_write(std::slice::from_ref(&name));
    assert!(
        !done.killed && done.status.is_some_and(|s| s.success()),
        "{done}"
    );
    assert!(done.stderr.is_empty(), "{done}");
    let line = done.stdout.strip_suffix('\n').expect("one line");
    assert!(!line.contains('\n'), "{done}");
    // wrote 4096 bytes from QP 0x.. to QP 0x.. on <device>: verified
    let rest = line
        .strip_prefix("wrote 4096 bytes from QP ")
        .and_then(|r| r.strip_suffix(&format!(" on {name}: verified")))
        .unwrap_or_else(|| panic!("unexpected output line:\n{done}"));
    let (from, to) = rest
        .split_once(" to QP ")
        .unwrap_or_else(|| panic!("unexpected output line:\n{done}"));
    assert_ne!(qpn(from), qpn(to), "two QPs: {line}");
}

#[test]
fn loopback_write_names_a_device_that_does_not_exist() {
    let name = rdma_device_tests::device().name().to_string();
    let done = loopback_write(&["no_such_rdma_device".to_string()]);
    assert!(
        !done.killed && done.status.and_then(|s| s.code()) == Some(1),
        "{done}"
    );
    assert!(done.stdout.is_empty(), "{done}");
    let err = done.stderr.as_str();
    let present = err
        .strip_prefix("loopback_write: RDMA device \"no_such_rdma_device\" not found; present: ")
        .and_then(|p| p.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("unexpected error line:\n{done}"));
    assert!(!present.contains('\n'), "one line:\n{done}");
    assert!(
        present.split(", ").any(|p| p == name),
        "{name} is present:\n{done}"
    );
}
