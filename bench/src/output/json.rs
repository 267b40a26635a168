//! `--out_json FILE`: the run and its results as one valid JSON object.
//!
//! perftest's own `--out_json` writes something that is not JSON (trailing commas,
//! `nan`); this report always parses. Every float that is not finite (perftest's
//! stdev can be `-nan`, see [`stats`](crate::perftest::stats)) is written as
//! `null`.
//!
//! # Schema
//!
//! One object; the keys are always present (`null` where the comment says so):
//!
//! | key | type | |
//! |---|---|---|
//! | `tool` | string | `"rdma-perf"` |
//! | `version` | string | rdma-perf's version |
//! | `perftest_version` | string | the perftest version it is compatible with, `"6.06"` |
//! | `test` | string | `write_bw`, `write_lat`, `send_bw`, `send_lat`, `read_bw`, `read_lat` |
//! | `role` | string | `server` or `client` |
//! | `device` | string | `-d` |
//! | `ib_port` | integer | `-i` |
//! | `gid_index` | integer or null | `-x`, or the index chosen |
//! | `link_layer` | string | `IB`, `Ethernet` |
//! | `mtu` | integer | path MTU in bytes |
//! | `qps` | integer | `-q` |
//! | `tx_depth` | integer | `-t` |
//! | `cq_mod` | integer | `-Q` |
//! | `iterations` | integer | `-n` |
//! | `duration_s` | number or null | `-D`, null without |
//! | `bidirectional` | bool | `-b` |
//! | `clock` | string | `"CLOCK_MONOTONIC"` (nanoseconds, not perftest's TSC cycles) |
//! | `bw_unit` | string or null | `"MB/sec"` (MiB/s) or `"Gb/sec"` in BW tests, null in latency tests |
//! | `results` | array | one row per message size |
//!
//! A row is not tagged: a BW row has the keys `bytes`, `iterations`, `bw_peak`,
//! `bw_average` (both in `bw_unit`), `msg_rate_mpps`; a latency row has `bytes`,
//! `iterations`, `t_min_us`, `t_max_us`, `t_typical_us`, `t_avg_us`, `t_stdev_us`,
//! `p99_us`, `p99_9_us` (microseconds). Every float may be `null` (not finite).
//!
//! ```json
//! {
//!   "tool": "rdma-perf",
//!   "version": "0.1.0",
//!   "perftest_version": "6.06",
//!   "test": "write_bw",
//!   "role": "client",
//!   "device": "rxe0",
//!   "ib_port": 1,
//!   "gid_index": 1,
//!   "link_layer": "Ethernet",
//!   "mtu": 1024,
//!   "qps": 1,
//!   "tx_depth": 128,
//!   "cq_mod": 100,
//!   "iterations": 5000,
//!   "duration_s": null,
//!   "bidirectional": false,
//!   "connection": "RC",
//!   "atomic": null,
//!   "post_api": "ibv_wr",
//!   "post_list": 1,
//!   "events": false,
//!   "clock": "CLOCK_MONOTONIC",
//!   "bw_unit": "MB/sec",
//!   "results": [
//!     {
//!       "bytes": 65536,
//!       "iterations": 5000,
//!       "bw_peak": 34.45,
//!       "bw_average": 33.24,
//!       "msg_rate_mpps": 0.000532
//!     }
//!   ]
//! }
//! ```
//!
//! A latency row:
//!
//! ```json
//! { "bytes": 2, "iterations": 1000, "t_min_us": 7.9, "t_max_us": 52.3,
//!   "t_typical_us": 9.1, "t_avg_us": 10.2, "t_stdev_us": null,
//!   "p99_us": 40.8, "p99_9_us": 52.3 }
//! ```

use std::path::Path;

use serde::{Serialize, Serializer};

use super::{bw_unit_str, write_atomic, WriteError};
use crate::perftest::report::{LatDurResult, LatResult};
use crate::perftest::stats::{BwResult, BwUnit};
use crate::perftest::transport::Role;
use crate::perftest::{Measure, PerfTest};

/// The value of `tool`.
pub const TOOL: &str = "rdma-perf";

/// The value of `perftest_version`.
pub const PERFTEST_VERSION: &str = "6.06";

/// The value of `clock`.
pub const CLOCK: &str = "CLOCK_MONOTONIC";

fn ser_role<S: Serializer>(role: &Role, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match role {
        Role::Server => "server",
        Role::Client => "client",
    })
}

/// A float, or `null` when it is not finite (whatever the serializer would do).
fn finite_or_null<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    if x.is_finite() {
        s.serialize_f64(*x)
    } else {
        s.serialize_none()
    }
}

fn opt_finite_or_null<S: Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match x {
        Some(v) if v.is_finite() => s.serialize_f64(*v),
        _ => s.serialize_none(),
    }
}

/// The parameters of the run, as given by the caller (flattened into
/// [`JsonReport`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunInfo {
    /// `test`.
    pub test: PerfTest,
    /// `role`: `server` or `client`.
    #[serde(serialize_with = "ser_role")]
    pub role: Role,
    /// `device`.
    pub device: String,
    /// `ib_port`.
    pub ib_port: u8,
    /// `gid_index`.
    pub gid_index: Option<u32>,
    /// `link_layer`: `IB`, `Ethernet`.
    pub link_layer: String,
    /// `mtu`, in bytes.
    pub mtu: u32,
    /// `qps`.
    pub qps: u32,
    /// `tx_depth`.
    pub tx_depth: u32,
    /// `cq_mod`.
    pub cq_mod: u32,
    /// `iterations` (`-n`).
    pub iterations: u64,
    /// `duration_s` (`-D`); `null` when absent or not finite.
    #[serde(serialize_with = "opt_finite_or_null")]
    pub duration_s: Option<f64>,
    /// `bidirectional` (`-b`).
    pub bidirectional: bool,
    /// `connection`: `RC`, `UC`, ... (`-c`).
    pub connection: String,
    /// `atomic`: `FETCH_AND_ADD` or `CMP_AND_SWAP` on the atomic tests (`-A`), else `null`.
    pub atomic: Option<String>,
    /// `post_api`: `ibv_wr` (the extended API) or `ibv_post_send`.
    pub post_api: String,
    /// `post_list` (`-l`).
    pub post_list: u32,
    /// `events` (`-e`): completions waited for on the completion channel.
    pub events: bool,
}

/// One BW row.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BwRow {
    /// Message size.
    pub bytes: u64,
    /// Iterations counted.
    pub iterations: u64,
    /// Peak bandwidth (0 when not measured), in the report's unit.
    #[serde(serialize_with = "finite_or_null")]
    pub bw_peak: f64,
    /// Average bandwidth, in the report's unit.
    #[serde(serialize_with = "finite_or_null")]
    pub bw_average: f64,
    /// Message rate in millions of messages per second.
    #[serde(serialize_with = "finite_or_null")]
    pub msg_rate_mpps: f64,
}

/// One latency row, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatRow {
    /// Message size.
    pub bytes: u64,
    /// Iterations (`-n`).
    pub iterations: u64,
    /// Smallest sample.
    #[serde(serialize_with = "finite_or_null")]
    pub t_min_us: f64,
    /// perftest's `t_max` (the largest kept sample).
    #[serde(serialize_with = "finite_or_null")]
    pub t_max_us: f64,
    /// Median.
    #[serde(serialize_with = "finite_or_null")]
    pub t_typical_us: f64,
    /// Mean.
    #[serde(serialize_with = "finite_or_null")]
    pub t_avg_us: f64,
    /// Standard deviation as perftest computes it (`null` where it prints `-nan`).
    #[serde(serialize_with = "finite_or_null")]
    pub t_stdev_us: f64,
    /// 99th percentile.
    #[serde(serialize_with = "finite_or_null")]
    pub p99_us: f64,
    /// 99.9th percentile.
    #[serde(serialize_with = "finite_or_null")]
    pub p99_9_us: f64,
}

/// One element of `results` (untagged: the keys tell the kind).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum JsonRow {
    /// A BW test's row.
    Bw(BwRow),
    /// A latency test's row.
    Lat(LatRow),
    /// A latency test's row of a `-D` run.
    LatDuration(LatDurRow),
}

/// One latency row of a `-D` run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatDurRow {
    /// Message size.
    pub bytes: u64,
    /// Round trips completed within the sample.
    pub iterations: u64,
    /// Mean latency in microseconds.
    #[serde(serialize_with = "finite_or_null")]
    pub t_avg_us: f64,
    /// Round trips per second.
    #[serde(serialize_with = "finite_or_null")]
    pub tps: f64,
}

impl From<&LatDurResult> for JsonRow {
    fn from(r: &LatDurResult) -> Self {
        JsonRow::LatDuration(LatDurRow {
            bytes: r.size,
            iterations: r.iters,
            t_avg_us: r.t_avg,
            tps: r.tps,
        })
    }
}

impl From<&BwResult> for JsonRow {
    fn from(r: &BwResult) -> Self {
        JsonRow::Bw(BwRow {
            bytes: r.size,
            iterations: r.iters,
            bw_peak: r.bw_peak,
            bw_average: r.bw_avg,
            msg_rate_mpps: r.msg_rate,
        })
    }
}

impl From<&LatResult> for JsonRow {
    fn from(r: &LatResult) -> Self {
        let s = &r.stats;
        JsonRow::Lat(LatRow {
            bytes: r.size,
            iterations: r.iters,
            t_min_us: s.t_min,
            t_max_us: s.t_max,
            t_typical_us: s.t_typical,
            t_avg_us: s.t_avg,
            t_stdev_us: s.t_stdev,
            p99_us: s.p99,
            p99_9_us: s.p99_9,
        })
    }
}

/// The whole `--out_json` document (see the module docs for the schema).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JsonReport {
    /// [`TOOL`].
    pub tool: &'static str,
    /// rdma-perf's version (`CARGO_PKG_VERSION`).
    pub version: &'static str,
    /// [`PERFTEST_VERSION`].
    pub perftest_version: &'static str,
    /// The run's parameters.
    #[serde(flatten)]
    pub run: RunInfo,
    /// [`CLOCK`].
    pub clock: &'static str,
    /// `MB/sec` or `Gb/sec` in BW tests, `None` in latency tests.
    pub bw_unit: Option<&'static str>,
    /// One row per message size.
    pub results: Vec<JsonRow>,
}

/// Why `--out_json` could not be written.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// Serialization failed (not expected with these types).
    #[error("cannot serialize the JSON report: {0}")]
    Serialize(#[from] serde_json::Error),
    /// The file could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
}

impl JsonReport {
    /// A report with no rows yet. `bw_unit` is the unit of a BW test (`None`:
    /// perftest's default, `MB/sec`); it is ignored, and written `null`, for a
    /// latency test.
    pub fn new(run: RunInfo, bw_unit: Option<BwUnit>) -> JsonReport {
        let bw_unit = match run.test.measure() {
            Measure::Bw => Some(bw_unit_str(bw_unit.unwrap_or_default())),
            Measure::Lat => None,
        };
        JsonReport {
            tool: TOOL,
            version: env!("CARGO_PKG_VERSION"),
            perftest_version: PERFTEST_VERSION,
            run,
            clock: CLOCK,
            bw_unit,
            results: Vec::new(),
        }
    }

    /// The report of a BW test, one row per result.
    pub fn from_bw(run: RunInfo, unit: BwUnit, rows: &[BwResult]) -> JsonReport {
        let mut r = JsonReport::new(run, Some(unit));
        r.results.extend(rows.iter().map(JsonRow::from));
        r
    }

    /// The report of a latency `-D` run.
    pub fn from_lat_duration(run: RunInfo, rows: &[LatDurResult]) -> JsonReport {
        let mut r = JsonReport::new(run, None);
        r.results.extend(rows.iter().map(JsonRow::from));
        r
    }

    /// The report of a latency test, one row per result.
    pub fn from_lat(run: RunInfo, rows: &[LatResult]) -> JsonReport {
        let mut r = JsonReport::new(run, None);
        r.results.extend(rows.iter().map(JsonRow::from));
        r
    }

    /// Appends a BW row.
    pub fn push_bw(&mut self, row: &BwResult) {
        self.results.push(row.into());
    }

    /// Appends a latency row.
    pub fn push_lat(&mut self, row: &LatResult) {
        self.results.push(row.into());
    }

    /// The document, pretty-printed, with a final newline.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        let mut s = serde_json::to_string_pretty(self)?;
        s.push('\n');
        Ok(s)
    }

    /// Writes [`to_json`](Self::to_json) to `path` (through `path.tmp`, then a
    /// rename); the error names `path`.
    pub fn write_to(&self, path: &Path) -> Result<(), JsonError> {
        let s = self.to_json()?;
        write_atomic(path, s.as_bytes())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::TempDir;
    use super::*;
    use crate::perftest::stats::LatStats;
    use serde_json::Value;

    fn run(test: PerfTest) -> RunInfo {
        RunInfo {
            test,
            role: Role::Client,
            device: "rxe0".into(),
            ib_port: 1,
            gid_index: Some(1),
            link_layer: "Ethernet".into(),
            mtu: 1024,
            qps: 1,
            tx_depth: 128,
            cq_mod: 100,
            iterations: 5000,
            duration_s: None,
            bidirectional: false,
            connection: "RC".into(),
            atomic: None,
            post_api: "ibv_wr".into(),
            post_list: 1,
            events: false,
        }
    }

    fn bw() -> BwResult {
        BwResult {
            size: 65536,
            iters: 5000,
            bw_peak: 34.45,
            bw_avg: 33.24,
            msg_rate: 0.000532,
        }
    }

    fn lat(stdev: f64) -> LatResult {
        LatResult {
            size: 2,
            iters: 1000,
            stats: LatStats {
                t_min: 7.9,
                t_max: 52.3,
                t_typical: 9.1,
                t_avg: 10.2,
                t_stdev: stdev,
                p99: 40.8,
                p99_9: 52.3,
            },
        }
    }

    fn keys(v: &Value) -> Vec<&str> {
        let mut k: Vec<&str> = v.as_object().unwrap().keys().map(|s| s.as_str()).collect();
        k.sort_unstable();
        k
    }

    #[test]
    fn bw_report_fields_and_round_trip() {
        let r = JsonReport::from_bw(run(PerfTest::WriteBw), BwUnit::MBps, &[bw()]);
        let text = r.to_json().unwrap();
        assert!(text.ends_with("}\n"));
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v, serde_json::to_value(&r).unwrap());
        assert_eq!(
            keys(&v),
            [
                "atomic",
                "bidirectional",
                "bw_unit",
                "clock",
                "connection",
                "cq_mod",
                "device",
                "duration_s",
                "events",
                "gid_index",
                "ib_port",
                "iterations",
                "link_layer",
                "mtu",
                "perftest_version",
                "post_api",
                "post_list",
                "qps",
                "results",
                "role",
                "test",
                "tool",
                "tx_depth",
                "version"
            ]
        );
        assert_eq!(v["tool"], "rdma-perf");
        assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(v["perftest_version"], "6.06");
        assert_eq!(v["test"], "write_bw");
        assert_eq!(v["role"], "client");
        assert_eq!(v["device"], "rxe0");
        assert_eq!(v["ib_port"], 1);
        assert_eq!(v["gid_index"], 1);
        assert_eq!(v["link_layer"], "Ethernet");
        assert_eq!(v["mtu"], 1024);
        assert_eq!(v["cq_mod"], 100);
        assert_eq!(v["iterations"], 5000);
        assert_eq!(v["duration_s"], Value::Null);
        assert_eq!(v["bidirectional"], false);
        assert_eq!(v["connection"], "RC");
        assert_eq!(v["atomic"], Value::Null);
        assert_eq!(v["post_api"], "ibv_wr");
        assert_eq!(
            (v["post_list"].clone(), v["events"].clone()),
            (1.into(), false.into())
        );
        assert_eq!(v["clock"], "CLOCK_MONOTONIC");
        assert_eq!(v["bw_unit"], "MB/sec");
        let rows = v["results"].as_array().unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            keys(&rows[0]),
            [
                "bw_average",
                "bw_peak",
                "bytes",
                "iterations",
                "msg_rate_mpps"
            ]
        );
        assert_eq!(rows[0]["bytes"], 65536);
        assert_eq!(rows[0]["iterations"], 5000);
        assert_eq!(rows[0]["bw_peak"], 34.45);
        assert_eq!(rows[0]["bw_average"], bw().bw_avg);
        assert_eq!(rows[0]["msg_rate_mpps"], 0.000532);

        let g = JsonReport::from_bw(run(PerfTest::SendBw), BwUnit::Gbps, &[]);
        let v = serde_json::to_value(&g).unwrap();
        assert_eq!(v["bw_unit"], "Gb/sec");
        assert_eq!(v["results"], Value::Array(vec![]));
    }

    #[test]
    fn lat_report_fields() {
        let mut info = run(PerfTest::SendLat);
        info.role = Role::Server;
        info.gid_index = None;
        info.duration_s = Some(5.0);
        let mut r = JsonReport::new(info, Some(BwUnit::Gbps));
        r.push_lat(&lat(1.25));
        let v: Value = serde_json::from_str(&r.to_json().unwrap()).unwrap();
        assert_eq!(v["test"], "send_lat");
        assert_eq!(v["role"], "server");
        assert_eq!(v["gid_index"], Value::Null);
        assert_eq!(v["duration_s"], 5.0);
        assert_eq!(v["bw_unit"], Value::Null, "no unit in a latency test");
        let row = &v["results"][0];
        assert_eq!(
            keys(row),
            [
                "bytes",
                "iterations",
                "p99_9_us",
                "p99_us",
                "t_avg_us",
                "t_max_us",
                "t_min_us",
                "t_stdev_us",
                "t_typical_us"
            ]
        );
        assert_eq!(row["bytes"], 2);
        assert_eq!(row["iterations"], 1000);
        assert_eq!(row["t_min_us"], 7.9);
        assert_eq!(row["t_max_us"], 52.3);
        assert_eq!(row["t_typical_us"], 9.1);
        assert_eq!(row["t_avg_us"], 10.2);
        assert_eq!(row["t_stdev_us"], 1.25);
        assert_eq!(row["p99_us"], 40.8);
        assert_eq!(row["p99_9_us"], 52.3);
    }

    #[test]
    fn non_finite_floats_are_null() {
        // perftest's -nan (sign bit set), and infinities.
        let neg_nan = f64::from_bits(0xfff8_0000_0000_0000);
        let mut info = run(PerfTest::WriteLat);
        info.duration_s = Some(f64::NAN);
        let r = JsonReport::from_lat(info, &[lat(neg_nan)]);
        let text = r.to_json().unwrap();
        assert!(!text.contains("NaN") && !text.contains("nan") && !text.contains("inf"));
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["duration_s"], Value::Null);
        assert_eq!(v["results"][0]["t_stdev_us"], Value::Null);
        assert_eq!(v["results"][0]["t_avg_us"], 10.2);

        let b = BwResult {
            size: 2,
            iters: 1,
            bw_peak: f64::INFINITY,
            bw_avg: f64::NEG_INFINITY,
            msg_rate: f64::NAN,
        };
        let r = JsonReport::from_bw(run(PerfTest::ReadBw), BwUnit::MBps, &[b]);
        let v: Value = serde_json::from_str(&r.to_json().unwrap()).unwrap();
        let row = &v["results"][0];
        assert_eq!(row["bw_peak"], Value::Null);
        assert_eq!(row["bw_average"], Value::Null);
        assert_eq!(row["msg_rate_mpps"], Value::Null);
        // Not only serde_json's own behaviour: the value tree has nulls too.
        let tree = serde_json::to_value(&r).unwrap();
        assert_eq!(tree["results"][0]["bw_peak"], Value::Null);
    }

    #[test]
    fn write_to_file_and_errors_name_the_path() {
        let dir = TempDir::new("json");
        let p = dir.0.join("report.json");
        let r = JsonReport::from_bw(run(PerfTest::WriteBw), BwUnit::MBps, &[bw()]);
        r.write_to(&p).unwrap();
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        assert_eq!(v, serde_json::to_value(&r).unwrap());

        let bad = dir.0.join("no-such-dir").join("report.json");
        let e = r.write_to(&bad).unwrap_err();
        assert!(e.to_string().contains("no-such-dir/report.json"), "{e}");
    }
}
