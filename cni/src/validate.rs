//! The validation step: proves the VF's RDMA device works from where the pod will use it.
//!
//! Run it on a thread inside the pod's network namespace ([`crate::netns::run_in_with_sysfs`]),
//! at the end of ADD and again at CHECK, or from `rdma-validate`. In order:
//!
//! | check | what passes |
//! |---|---|
//! | `device` | the device opens (in exclusive RDMA netns mode only devices of this namespace are visible) |
//! | `port` | the port exists and is ACTIVE |
//! | `link_layer` | InfiniBand / Ethernet as expected |
//! | `address` | RoCE: a usable GID (perftest's choice); InfiniBand: a LID and an SM LID |
//! | `pkey` | the configured pkey's partition (low 15 bits) is in the port's pkey table |
//! | `guid` | the node GUID is assigned and equals the configured one |
//! | `memlock` | RLIMIT_MEMLOCK (or CAP_IPC_LOCK) allows what the self-test registers |
//! | `loopback` | two RC QPs on the device connect to each other (mode `loopback`) |
//! | `send`, `send_imm`, `rdma_write`, `rdma_read` | 64 KiB each, a distinct pattern, compared byte for byte |
//! | `latency` | up to 1000 send/recv round trips of 64 bytes: min/median/p99/max |
//!
//! The `memlock` check is about the process that validates: from the plugin that is the
//! plugin's limit (root, normally with CAP_IPC_LOCK, which the check reports as such), not the
//! pod's; `rdma-validate` run inside the pod checks the pod's own limit.
//!
//! A check whose prerequisite failed is skipped, naming why; independent checks still run.
//! [`Report::failure_message`] is the first failure as one line naming the cause and the fix.
//! Everything is bounded by the time budget (checked while polling); verbs resources are
//! released on every path.

mod checks;
pub(crate) mod memlock;
mod mode;
mod report;
mod selftest;

pub use mode::{ExpectedLinkLayer, Mode, UnknownWord};
pub use report::{Cause, Check, Latency, Operation, Outcome, Report, SelfTest};

use crate::{Guid, Pkey};
use std::time::{Duration, Instant};

/// What the device must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Expect {
    /// The port's link layer.
    pub link_layer: ExpectedLinkLayer,
    /// A pkey whose partition must be in the port's pkey table (none: not checked).
    pub pkey: Option<Pkey>,
    /// The GUID the device must carry (none: only checked to be assigned).
    pub guid: Option<Guid>,
}

/// Every check name, in report order.
pub const CHECKS: [&str; 13] = [
    "device",
    "port",
    "link_layer",
    "address",
    "pkey",
    "guid",
    "memlock",
    "loopback",
    "send",
    "send_imm",
    "rdma_write",
    "rdma_read",
    "latency",
];

/// Bytes the self-test registers (what the `memlock` check compares the limit with).
pub const SELF_TEST_REGISTERED_BYTES: usize = selftest::REGISTERED;

/// Validates port `port` of RDMA device `device` in the calling thread's network namespace.
/// Never panics on device state; the report lists every check of [`CHECKS`] (mode `off`
/// skips them all, mode `port` skips the self-test).
pub fn validate(device: &str, port: u8, expect: &Expect, mode: Mode, budget: Duration) -> Report {
    let started = Instant::now();
    let deadline = started
        .checked_add(budget)
        .unwrap_or(started + Duration::from_secs(86_400));
    let mut report = Report::new(device, port, mode, budget);
    if mode == Mode::Off {
        skip_from(&mut report, "validation mode is off");
        return report;
    }
    run_checks(&mut report, device, port, expect, mode, started, deadline);
    report.elapsed = started.elapsed();
    report
}

fn skip_from(report: &mut Report, reason: &str) {
    let done = report.checks.len();
    for name in CHECKS.get(done..).unwrap_or_default() {
        report
            .checks
            .push(Check::skipped(name, format!("skipped: {reason}")));
    }
}

fn run_checks(
    report: &mut Report,
    device: &str,
    port: u8,
    expect: &Expect,
    mode: Mode,
    started: Instant,
    deadline: Instant,
) {
    let (check, opened) = checks::open_device(device);
    report.checks.push(check);
    let memlock = match memlock::Memlock::current() {
        Ok(m) => m.check(selftest::REGISTERED as u64),
        Err(e) => Check::fail(
            "memlock",
            Cause::Query,
            format!("getrlimit(RLIMIT_MEMLOCK) failed: {e}"),
            "check the process's limits",
        ),
    };
    let Some(o) = opened else {
        for name in ["port", "link_layer", "address", "pkey", "guid"] {
            report.checks.push(Check::skipped(
                name,
                "skipped: the device could not be opened",
            ));
        }
        report.checks.push(memlock);
        skip_from(report, "the device could not be opened");
        return;
    };
    let dev = o.ctx.name().to_owned();
    let (check, port_attr) = checks::port(&o, port);
    let port_active = check.outcome == Outcome::Pass;
    report.checks.push(check);
    let mut address = None;
    let mut pkey_index = None;
    match &port_attr {
        Some(attr) => {
            report
                .checks
                .push(checks::link_layer(&dev, port, attr, expect.link_layer));
            if port_active {
                let (check, a) = checks::address(&o, port, attr);
                report.checks.push(check);
                address = a;
            } else {
                report.checks.push(Check::skipped(
                    "address",
                    format!("skipped: port {port} is not ACTIVE"),
                ));
            }
            let (check, i) = checks::pkey(&o, port, expect.pkey);
            report.checks.push(check);
            pkey_index = i;
        }
        None => {
            for name in ["link_layer", "address", "pkey"] {
                report.checks.push(Check::skipped(
                    name,
                    format!("skipped: port {port} could not be queried"),
                ));
            }
        }
    }
    let ib = port_attr
        .as_ref()
        .is_some_and(|a| a.link_layer() != rdma_verbs::LinkLayer::Ethernet);
    report.checks.push(checks::guid(&o, port, ib, expect.guid));
    let memlock_ok = memlock.outcome == Outcome::Pass;
    report.checks.push(memlock);

    if !mode.runs_self_test() {
        skip_from(report, "validation mode is port (checks only)");
        return;
    }
    let blocker = if !port_active {
        Some(format!("port {port} is not ACTIVE"))
    } else if address.is_none() {
        Some(format!("port {port} has no usable address"))
    } else if !memlock_ok {
        Some("RLIMIT_MEMLOCK does not allow the self-test's registrations".to_owned())
    } else {
        None
    };
    if let Some(reason) = blocker {
        skip_from(report, &reason);
        return;
    }
    let (Some(attr), Some(address)) = (port_attr, address) else {
        skip_from(report, "the port could not be queried");
        return;
    };
    let plan = selftest::Plan {
        port,
        mtu: attr.active_mtu().unwrap_or(rdma_verbs::Mtu::Mtu1024),
        address,
        pkey_index: pkey_index.unwrap_or(0),
    };
    let (checks, stats) = selftest::run(&o.ctx, &plan, started, deadline);
    report.checks.extend(checks);
    report.self_test = Some(stats);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_skips_every_check_and_passes() {
        let r = validate(
            "mlx5_0",
            1,
            &Expect::default(),
            Mode::Off,
            Duration::from_secs(1),
        );
        assert_eq!(r.checks.len(), CHECKS.len());
        assert!(r.checks.iter().all(|c| c.outcome == Outcome::Skipped));
        assert!(r.passed());
        assert!(r.checks[0].detail.contains("validation mode is off"));
    }

    #[test]
    fn a_missing_device_fails_the_device_check_and_skips_its_dependents() {
        // On a machine with RDMA devices this name still does not exist.
        let r = validate(
            "no-such-rdma-dev",
            1,
            &Expect::default(),
            Mode::Loopback,
            Duration::from_secs(5),
        );
        let names: Vec<&str> = r.checks.iter().map(|c| c.name).collect();
        assert_eq!(names, CHECKS);
        assert!(!r.passed());
        let cause = r.failure_cause().unwrap();
        assert!(
            matches!(cause, Cause::NoDevice | Cause::DeviceNotFound),
            "{cause:?}"
        );
        let msg = r.failure_message().unwrap();
        assert!(
            msg.starts_with("no RDMA device no-such-rdma-dev in this network namespace (found: "),
            "{msg}"
        );
        for name in [
            "port",
            "link_layer",
            "address",
            "pkey",
            "guid",
            "loopback",
            "latency",
        ] {
            let c = r.check(name).unwrap();
            assert_eq!(c.outcome, Outcome::Skipped, "{name}");
            assert!(
                c.detail.contains("could not be opened"),
                "{name}: {}",
                c.detail
            );
        }
        // The memlock check does not need the device.
        assert_ne!(r.check("memlock").unwrap().outcome, Outcome::Skipped);
        assert_eq!(
            r.count(Outcome::Fail),
            1 + usize::from(r.check("memlock").unwrap().outcome == Outcome::Fail)
        );
    }
}
