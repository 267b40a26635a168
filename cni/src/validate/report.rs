//! The outcome of a validation: one [`Check`] per step, the self-test's numbers, the one-line
//! failure message (cause and fix) and the human and JSON forms.

use super::Mode;
use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The check ran and the device is fine.
    Pass,
    /// The check ran and found a problem ([`Check::cause`] says which).
    Fail,
    /// The check did not run: nothing to check, the mode excludes it, or a check it depends
    /// on failed ([`Check::detail`] says why).
    Skipped,
}

impl Outcome {
    /// The four-letter word of the human output: `PASS`, `FAIL`, `SKIP`.
    pub const fn label(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Skipped => "SKIP",
        }
    }
}

/// Why a check failed: a stable, machine-readable kind (JSON: snake_case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Cause {
    /// No RDMA device at all is visible (no driver, or none in this network namespace).
    NoDevice,
    /// Other RDMA devices are visible, but not the one asked for.
    DeviceNotFound,
    /// The device is listed but cannot be opened (no provider, no uverbs device node, EPERM).
    DeviceOpen,
    /// The device has no such port.
    NoPort,
    /// The port is not ACTIVE.
    PortNotActive,
    /// The port's link layer is not the expected one.
    LinkLayer,
    /// A RoCE port has no usable GID.
    NoGid,
    /// An InfiniBand port has no LID, or no subnet manager.
    NoLid,
    /// The configured pkey is not in the port's pkey table.
    PkeyMissing,
    /// The device's GUID is all-zero or all-ones.
    GuidUnset,
    /// The device's GUID is not the configured one.
    GuidMismatch,
    /// RLIMIT_MEMLOCK (without CAP_IPC_LOCK) does not allow the registration.
    Memlock,
    /// A query of the device failed unexpectedly.
    Query,
    /// Creating a verbs resource of the self-test (PD, CQ, QP) failed.
    Resources,
    /// Connecting the self-test's two QPs failed.
    Connect,
    /// A self-test work request completed with an error status.
    Completion,
    /// A self-test operation delivered wrong bytes.
    DataMismatch,
    /// The time budget ran out (a stage did not complete).
    Timeout,
}

/// One step of the validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The step: `device`, `port`, `link_layer`, `address`, `pkey`, `guid`, `memlock`,
    /// `loopback`, `send`, `send_imm`, `rdma_write`, `rdma_read`, `latency`.
    pub name: &'static str,
    /// How it ended.
    pub outcome: Outcome,
    /// What was found (pass), the problem (fail) or why it did not run (skipped).
    pub detail: String,
    /// How to fix a failure.
    pub fix: Option<String>,
    /// The kind of failure.
    pub cause: Option<Cause>,
}

impl Check {
    /// A passed check.
    pub fn pass(name: &'static str, detail: impl Into<String>) -> Self {
        Check {
            name,
            outcome: Outcome::Pass,
            detail: detail.into(),
            fix: None,
            cause: None,
        }
    }

    /// A failed check: `detail` names the problem, `fix` what to do.
    pub fn fail(
        name: &'static str,
        cause: Cause,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Check {
            name,
            outcome: Outcome::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
            cause: Some(cause),
        }
    }

    /// A check that did not run, and why.
    pub fn skipped(name: &'static str, reason: impl Into<String>) -> Self {
        Check {
            name,
            outcome: Outcome::Skipped,
            detail: reason.into(),
            fix: None,
            cause: None,
        }
    }

    /// The one-line message: `detail: fix` (or the detail alone).
    pub fn message(&self) -> String {
        match &self.fix {
            Some(fix) => format!("{}: {fix}", self.detail),
            None => self.detail.clone(),
        }
    }
}

/// One verified operation of the self-test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Operation {
    /// `send`, `send_imm`, `rdma_write` or `rdma_read`.
    pub name: &'static str,
    /// Bytes moved and compared byte for byte with what was sent.
    pub bytes_verified: usize,
    /// From posting the request to its last completion, in microseconds.
    pub micros: f64,
}

/// Latency of the self-test's ping-pong.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latency {
    /// What one sample is (`send/recv round trip`).
    pub operation: &'static str,
    /// Message size in bytes.
    pub message_bytes: usize,
    /// Samples taken (the run stops early when its share of the budget is used).
    pub samples: usize,
    /// Fastest sample, µs.
    pub min_us: f64,
    /// Median, µs.
    pub median_us: f64,
    /// 99th percentile, µs.
    pub p99_us: f64,
    /// Slowest sample, µs.
    pub max_us: f64,
}

impl Latency {
    /// Statistics of `samples` (sorted in place); `None` when there is none.
    pub fn from_samples(
        operation: &'static str,
        message_bytes: usize,
        samples: &mut [Duration],
    ) -> Option<Latency> {
        samples.sort_unstable();
        let n = samples.len();
        if n == 0 {
            return None;
        }
        let at = |q_num: usize, q_den: usize| -> f64 {
            // Nearest rank: the smallest sample with at least q of them at or below it.
            let rank = (n * q_num).div_ceil(q_den).clamp(1, n);
            micros(samples[rank - 1])
        };
        let median = if n % 2 == 1 {
            micros(samples[n / 2])
        } else {
            (micros(samples[n / 2 - 1]) + micros(samples[n / 2])) / 2.0
        };
        Some(Latency {
            operation,
            message_bytes,
            samples: n,
            min_us: micros(samples[0]),
            median_us: median,
            p99_us: at(99, 100),
            max_us: micros(samples[n - 1]),
        })
    }
}

/// Microseconds, rounded to 0.1.
pub(crate) fn micros(d: Duration) -> f64 {
    (d.as_nanos() as f64 / 100.0).round() / 10.0
}

/// The self-test's numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SelfTest {
    /// Path MTU the QPs used, in bytes.
    pub mtu: u32,
    /// GID index used (RoCE), `None` on InfiniBand.
    pub gid_index: Option<u32>,
    /// Pkey index the QPs used (the configured pkey's, else 0).
    pub pkey_index: u16,
    /// Bytes of memory the self-test registers.
    pub registered_bytes: usize,
    /// The verified operations, in order.
    pub operations: Vec<Operation>,
    /// The ping-pong latency, once measured.
    pub latency: Option<Latency>,
}

/// The result of [`validate`](super::validate).
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The RDMA device validated.
    pub device: String,
    /// Its port.
    pub port: u8,
    /// What was asked for.
    pub mode: Mode,
    /// The time budget.
    pub budget: Duration,
    /// The time it took.
    pub elapsed: Duration,
    /// Every step, in order (all of them, whatever the mode: the ones not run are skipped).
    pub checks: Vec<Check>,
    /// The self-test's numbers, when it ran.
    pub self_test: Option<SelfTest>,
}

impl Report {
    /// An empty report for `device` port `port`.
    pub fn new(device: &str, port: u8, mode: Mode, budget: Duration) -> Self {
        Report {
            device: device.to_owned(),
            port,
            mode,
            budget,
            elapsed: Duration::ZERO,
            checks: Vec::new(),
            self_test: None,
        }
    }

    /// True when no check failed (skipped checks do not fail a report: they are skipped only
    /// when there was nothing to check, the mode excludes them, or an earlier check failed).
    pub fn passed(&self) -> bool {
        self.first_failure().is_none()
    }

    /// The first failed check.
    pub fn first_failure(&self) -> Option<&Check> {
        self.checks.iter().find(|c| c.outcome == Outcome::Fail)
    }

    /// The kind of the first failure.
    pub fn failure_cause(&self) -> Option<Cause> {
        self.first_failure().and_then(|c| c.cause)
    }

    /// The first failure as one line naming cause and fix, e.g. `port 1 of mlx5_3 is DOWN:
    /// set link_state to enable …`.
    pub fn failure_message(&self) -> Option<String> {
        self.first_failure().map(Check::message)
    }

    /// The check named `name`.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// How many checks ended with `outcome`.
    pub fn count(&self, outcome: Outcome) -> usize {
        self.checks.iter().filter(|c| c.outcome == outcome).count()
    }

    /// The last line of the human output.
    pub fn summary(&self) -> String {
        let counts = format!(
            "{} passed, {} failed, {} skipped",
            self.count(Outcome::Pass),
            self.count(Outcome::Fail),
            self.count(Outcome::Skipped)
        );
        match self.failure_message() {
            Some(msg) => format!(
                "FAILED: {} port {}: {counts}; first failure: {msg}",
                self.device, self.port
            ),
            None => format!(
                "OK: {} port {}: {counts} ({} mode, {:.1} ms)",
                self.device,
                self.port,
                self.mode,
                self.elapsed.as_secs_f64() * 1e3
            ),
        }
    }
}

/// Width of the check-name column of the human output.
const NAME_WIDTH: usize = 11;

impl fmt::Display for Report {
    /// One line per check (`PASS port        port 1 ACTIVE …`), then the summary line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.checks {
            writeln!(
                f,
                "{} {:<NAME_WIDTH$} {}",
                c.outcome.label(),
                c.name,
                c.message()
            )?;
        }
        write!(f, "{}", self.summary())
    }
}

impl Serialize for Report {
    /// `{"device","port","mode","passed","cause","failure","budget_ms","elapsed_ms","checks",
    /// "self_test"}`.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Json<'a> {
            device: &'a str,
            port: u8,
            mode: Mode,
            passed: bool,
            cause: Option<Cause>,
            failure: Option<String>,
            budget_ms: f64,
            elapsed_ms: f64,
            checks: &'a [Check],
            self_test: &'a Option<SelfTest>,
        }
        Json {
            device: &self.device,
            port: self.port,
            mode: self.mode,
            passed: self.passed(),
            cause: self.failure_cause(),
            failure: self.failure_message(),
            budget_ms: millis(self.budget),
            elapsed_ms: millis(self.elapsed),
            checks: &self.checks,
            self_test: &self.self_test,
        }
        .serialize(s)
    }
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e4).round() / 10.0
}

/// `65536` → `64 KiB`, `8388608` → `8 MiB`, `1000` → `1000 bytes`.
pub(crate) fn bytes_text(n: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = KIB * KIB;
    const GIB: u64 = MIB * KIB;
    match n {
        0 => "0 bytes".to_owned(),
        n if n % GIB == 0 => format!("{} GiB", n / GIB),
        n if n % MIB == 0 => format!("{} MiB", n / MIB),
        n if n % KIB == 0 => format!("{} KiB", n / KIB),
        n => format!("{n} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let mut r = Report::new("mlx5_3", 1, Mode::Loopback, Duration::from_secs(10));
        r.checks.push(Check::pass("device", "mlx5_3 (1 port)"));
        r.checks.push(Check::fail(
            "port",
            Cause::PortNotActive,
            "port 1 of mlx5_3 is DOWN",
            "set link_state to enable",
        ));
        r.checks
            .push(Check::skipped("address", "skipped: port 1 is not ACTIVE"));
        r.checks.push(Check::fail(
            "memlock",
            Cause::Memlock,
            "RLIMIT_MEMLOCK is 64 KiB",
            "raise the pod's memlock limit",
        ));
        r
    }

    #[test]
    fn failure_message_is_the_first_failure_with_its_fix() {
        let r = sample();
        assert!(!r.passed());
        assert_eq!(r.failure_cause(), Some(Cause::PortNotActive));
        assert_eq!(
            r.failure_message().unwrap(),
            "port 1 of mlx5_3 is DOWN: set link_state to enable"
        );
        assert!(!r.failure_message().unwrap().contains('\n'));
        assert_eq!(r.check("memlock").unwrap().cause, Some(Cause::Memlock));
        assert_eq!(
            (
                r.count(Outcome::Pass),
                r.count(Outcome::Fail),
                r.count(Outcome::Skipped)
            ),
            (1, 2, 1)
        );
    }

    #[test]
    fn skipped_checks_do_not_fail_a_report() {
        let mut r = Report::new("rxe0", 1, Mode::Port, Duration::from_secs(1));
        r.checks.push(Check::pass("device", "rxe0"));
        r.checks.push(Check::skipped("pkey", "no pkey configured"));
        assert!(r.passed());
        assert_eq!(r.failure_message(), None);
        assert!(r
            .summary()
            .starts_with("OK: rxe0 port 1: 1 passed, 0 failed, 1 skipped"));
    }

    #[test]
    fn human_output_has_one_aligned_line_per_check_then_the_summary() {
        let text = sample().to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert_eq!(lines[0], "PASS device      mlx5_3 (1 port)");
        assert_eq!(
            lines[1],
            "FAIL port        port 1 of mlx5_3 is DOWN: set link_state to enable"
        );
        assert_eq!(lines[2], "SKIP address     skipped: port 1 is not ACTIVE");
        assert!(lines[4].starts_with("FAILED: mlx5_3 port 1: 1 passed, 2 failed, 1 skipped; first failure: port 1 of mlx5_3 is DOWN"), "{}", lines[4]);
    }

    #[test]
    fn json_shape() {
        let mut r = sample();
        r.self_test = Some(SelfTest {
            mtu: 1024,
            gid_index: Some(1),
            pkey_index: 0,
            registered_bytes: 4096,
            operations: vec![Operation {
                name: "send",
                bytes_verified: 65536,
                micros: 12.5,
            }],
            latency: None,
        });
        let v: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert_eq!(v["device"], "mlx5_3");
        assert_eq!(v["port"], 1);
        assert_eq!(v["mode"], "loopback");
        assert_eq!(v["passed"], false);
        assert_eq!(v["cause"], "port_not_active");
        assert_eq!(
            v["failure"],
            "port 1 of mlx5_3 is DOWN: set link_state to enable"
        );
        assert_eq!(v["budget_ms"], 10000.0);
        let checks = v["checks"].as_array().unwrap();
        assert_eq!(checks.len(), 4);
        assert_eq!(checks[0]["name"], "device");
        assert_eq!(checks[0]["outcome"], "pass");
        assert!(checks[0]["fix"].is_null() && checks[0]["cause"].is_null());
        assert_eq!(checks[1]["outcome"], "fail");
        assert_eq!(checks[1]["fix"], "set link_state to enable");
        assert_eq!(checks[2]["outcome"], "skipped");
        assert_eq!(checks[3]["cause"], "memlock");
        assert_eq!(v["self_test"]["operations"][0]["bytes_verified"], 65536);
        assert_eq!(v["self_test"]["gid_index"], 1);
        assert!(v["self_test"]["latency"].is_null());
    }

    #[test]
    fn latency_statistics() {
        let mut s: Vec<Duration> = [5u64, 1, 4, 2, 3]
            .iter()
            .map(|&u| Duration::from_micros(u))
            .collect();
        let l = Latency::from_samples("rt", 64, &mut s).unwrap();
        assert_eq!(
            (l.samples, l.min_us, l.median_us, l.p99_us, l.max_us),
            (5, 1.0, 3.0, 5.0, 5.0)
        );
        let mut even: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        let l = Latency::from_samples("rt", 64, &mut even).unwrap();
        assert_eq!((l.median_us, l.p99_us, l.max_us), (50.5, 99.0, 100.0));
        assert!(Latency::from_samples("rt", 64, &mut []).is_none());
        assert_eq!(micros(Duration::from_nanos(12_345)), 12.3);
    }

    #[test]
    fn byte_sizes_read_naturally() {
        assert_eq!(bytes_text(65536), "64 KiB");
        assert_eq!(bytes_text(8 << 20), "8 MiB");
        assert_eq!(bytes_text(1000), "1000 bytes");
        assert_eq!(bytes_text(0), "0 bytes");
        assert_eq!(bytes_text(3 << 30), "3 GiB");
    }
}
