//! Validation of a port that is DOWN names the port cause and its fix, skips what depends on
//! the port and still runs the rest; the same through `rdma-validate` (exit 1). Its own test
//! binary: it takes rxe0's netdev `rdma0` down (and back up) for the whole machine.

use ib_sriov_cni::validate::{self, Cause, Expect, Mode, Outcome};
use rdma_device_tests::process::workspace_bin;
use std::process::Command;
use std::time::{Duration, Instant};

const DEV: &str = "rxe0";
const NETDEV: &str = "rdma0";

fn ip_link(state: &str) {
    let st = Command::new("ip")
        .args(["link", "set", NETDEV, state])
        .status()
        .expect("run ip");
    assert!(st.success(), "ip link set {NETDEV} {state}");
}

/// Brings the link back up even when an assertion fails.
struct UpAgain;

impl Drop for UpAgain {
    fn drop(&mut self) {
        ip_link("up");
    }
}

fn wait_for_port(active: bool) {
    let ctx = rdma_device_tests::device();
    let deadline = Instant::now() + Duration::from_secs(10);
    while ctx.active_port(1).is_ok() != active {
        assert!(
            Instant::now() < deadline,
            "port 1 of {DEV} did not become {}",
            if active { "ACTIVE" } else { "inactive" }
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_port_that_is_down_is_the_port_cause_with_the_fix() {
    let budget = Duration::from_secs(30);
    let expect = Expect::default();
    assert!(
        validate::validate(DEV, 1, &expect, Mode::Port, budget).passed(),
        "the port starts ACTIVE"
    );
    let up_again = UpAgain;
    ip_link("down");
    wait_for_port(false);

    let r = validate::validate(DEV, 1, &expect, Mode::Loopback, budget);
    println!("{r}");
    assert_eq!(r.failure_cause(), Some(Cause::PortNotActive), "{r}");
    let msg = r.failure_message().unwrap();
    assert!(
        msg.starts_with(
            "port 1 of rxe0 is DOWN (physical state Disabled): set link_state to enable"
        ),
        "{msg}"
    );
    assert_eq!(r.count(Outcome::Fail), 1, "{r}");
    for name in ["link_layer", "guid", "memlock"] {
        assert_eq!(r.check(name).unwrap().outcome, Outcome::Pass, "{name}: {r}");
    }
    for name in ["address", "loopback", "send", "latency"] {
        let c = r.check(name).unwrap();
        assert_eq!(
            (c.outcome, c.detail.as_str()),
            (Outcome::Skipped, "skipped: port 1 is not ACTIVE"),
            "{name}"
        );
    }

    let out = Command::new(workspace_bin("rdma-validate", "ib-sriov-cni"))
        .args(["--device", DEV])
        .output()
        .expect("run rdma-validate");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("\nFAIL port        port 1 of rxe0 is DOWN"),
        "{stdout}"
    );

    drop(up_again);
    wait_for_port(true);
    let again = validate::validate(DEV, 1, &expect, Mode::Loopback, budget);
    assert!(
        again.passed(),
        "validation passes once the link is back: {again}"
    );
}
