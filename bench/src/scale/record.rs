//! The results file of `scripts/scale-curves`: one JSON object per line, told apart by its
//! `tool` key.
//!
//! * `rdma-perf`: a `--out_json` report ([`json`](crate::output::json)) of a BW test's
//!   client, joined onto one line; its first row is the point (a failed one when its numbers
//!   are null: nothing completed in the measured time); a server's report is skipped;
//! * `rdma-scale`: the line `rdma-scale connect` prints ([`ConnectPoint`]);
//! * `async_echo`: the line `async_echo --json` prints ([`EchoPoint`]);
//! * `scale-curves`: a point that failed ([`Failed`]), written by the script.
//!
//! Blank lines are skipped; anything else that does not parse is an error naming the line.

use serde::{Deserialize, Serialize};

/// Which side of a connection a line comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The side that listens.
    Server,
    /// The side that connects.
    Client,
}

/// How `rdma-scale connect` connected its QPs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// `RDMA-EP/1` lines over one TCP connection, then `modify` to RTR and RTS.
    Tcp,
    /// One rdma_cm connection per QP.
    Cm,
}

impl Via {
    /// `tcp` or `cm`.
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Tcp => "tcp",
            Via::Cm => "cm",
        }
    }
}

/// One BW measurement: `rdma-perf <test> -q <qps> -s <bytes>`.
#[derive(Debug, Clone, PartialEq)]
pub struct BwPoint {
    /// The test, e.g. `write_bw`.
    pub test: String,
    /// `-q`.
    pub qps: u32,
    /// `-s`.
    pub bytes: u64,
    /// Average bandwidth in `unit`.
    pub bw_average: f64,
    /// Message rate in Mpps.
    pub msg_rate_mpps: f64,
    /// `MB/sec` or `Gb/sec`.
    pub unit: String,
}

/// What one process of `rdma-scale connect` measured (its JSON line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectPoint {
    /// Always `rdma-scale`.
    pub tool: String,
    /// Server or client.
    pub role: Role,
    /// TCP exchange or rdma_cm.
    pub via: Via,
    /// Queue pairs connected.
    pub qps: u32,
    /// Send and receive queue depth of each QP (its CQ has twice as many entries).
    pub depth: u32,
    /// Seconds to create every CQ and QP.
    pub create_s: f64,
    /// Seconds of the TCP exchange of the endpoints (`tcp` only).
    pub exchange_s: Option<f64>,
    /// Seconds to bring every QP to RTS: `modify` calls (`tcp`), or resolving, connecting
    /// and accepting (`cm`).
    pub connect_s: f64,
    /// Seconds to destroy them all.
    pub destroy_s: f64,
    /// Resident set (smaps_rollup `Rss`) before the first QP, in KiB.
    pub rss_start_kib: u64,
    /// Resident set once every QP exists.
    pub rss_created_kib: u64,
    /// Resident set once every QP is connected.
    pub rss_connected_kib: u64,
    /// VmHWM at the end (batched like VmRSS on kernels before 6.2).
    pub hwm_kib: u64,
    /// Open file descriptors once connected.
    pub fds: u32,
}

impl ConnectPoint {
    /// RSS growth per QP from start to connected, in KiB.
    pub fn rss_per_qp_kib(&self) -> f64 {
        self.rss_connected_kib.saturating_sub(self.rss_start_kib) as f64 / f64::from(self.qps)
    }
}

/// What one process of `async_echo --json` measured (its JSON line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EchoPoint {
    /// Always `async_echo`.
    pub tool: String,
    /// Server or client.
    pub role: Role,
    /// Connections (QPs), one task each.
    pub qps: u32,
    /// Runtime worker threads (1: current-thread).
    pub threads: u32,
    /// Bytes per message.
    pub size: u32,
    /// How completions were awaited (`event`, `busy`, `adaptive`).
    pub mode: String,
    /// Messages echoed (server) or verified (client), all connections.
    pub messages: u64,
    /// Seconds from the first task's start to the last one's end.
    pub wall_s: f64,
    /// The process's user CPU seconds over that time.
    pub cpu_user_s: f64,
    /// Its system CPU seconds.
    pub cpu_sys_s: f64,
    /// CPU seconds of the whole machine (every process and kernel thread, softirqs
    /// included; from /proc/stat) over that time; null where unreadable.
    pub machine_cpu_s: Option<f64>,
    /// Round-trip latency (client): mean, median, 99th percentile and maximum, in µs.
    pub rtt_avg_us: Option<f64>,
    /// Median round trip.
    pub rtt_p50_us: Option<f64>,
    /// 99th percentile.
    pub rtt_p99_us: Option<f64>,
    /// Slowest.
    pub rtt_max_us: Option<f64>,
}

impl EchoPoint {
    /// User + system CPU time per message, in µs.
    pub fn cpu_per_msg_us(&self) -> f64 {
        (self.cpu_user_s + self.cpu_sys_s) * 1e6 / self.messages.max(1) as f64
    }
}

/// A point the script could not measure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failed {
    /// Always `scale-curves`.
    pub tool: String,
    /// The point, e.g. `connect tcp 1024`.
    pub failed: String,
    /// Its exit status (124: timed out).
    pub status: i32,
}

/// Every point of a results file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Results {
    /// Curve 1.
    pub bw: Vec<BwPoint>,
    /// Curve 2, both roles.
    pub connect: Vec<ConnectPoint>,
    /// Curve 3, both roles.
    pub echo: Vec<EchoPoint>,
    /// What failed.
    pub failed: Vec<Failed>,
}

/// A line of the results file that is not a known record.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("line {line}: {what}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub what: String,
}

#[derive(Deserialize)]
struct Tool {
    tool: String,
}

#[derive(Deserialize)]
struct PerfReport {
    test: String,
    role: String,
    qps: u32,
    bw_unit: Option<String>,
    results: Vec<PerfRow>,
}

#[derive(Deserialize)]
struct PerfRow {
    bytes: u64,
    bw_average: Option<f64>,
    msg_rate_mpps: Option<f64>,
}

/// A client's report as a point; a report without numbers (nothing completed in the
/// measured time) as a failed point.
fn bw_point(r: PerfReport) -> Result<Option<Result<BwPoint, Failed>>, String> {
    if r.role != "client" {
        return Ok(None);
    }
    let row = r
        .results
        .first()
        .ok_or("an rdma-perf report without results")?;
    let Some(unit) = r.bw_unit else {
        return Err(format!("{} is not a BW report", r.test));
    };
    let (Some(bw), Some(rate)) = (row.bw_average, row.msg_rate_mpps) else {
        return Ok(Some(Err(Failed {
            tool: "scale-curves".into(),
            failed: format!("{} -q {} -s {} (no numbers)", r.test, r.qps, row.bytes),
            status: 0,
        })));
    };
    Ok(Some(Ok(BwPoint {
        test: r.test,
        qps: r.qps,
        bytes: row.bytes,
        bw_average: bw,
        msg_rate_mpps: rate,
        unit,
    })))
}

/// Parses a whole results file.
pub fn parse(text: &str) -> Result<Results, ParseError> {
    let mut out = Results::default();
    for (k, line) in text.lines().enumerate() {
        let err = |what: String| ParseError { line: k + 1, what };
        if line.trim().is_empty() {
            continue;
        }
        let json = |e: serde_json::Error| err(e.to_string());
        let tool: Tool = serde_json::from_str(line).map_err(json)?;
        match tool.tool.as_str() {
            "rdma-perf" => {
                let r = serde_json::from_str(line).map_err(json)?;
                match bw_point(r).map_err(err)? {
                    Some(Ok(p)) => out.bw.push(p),
                    Some(Err(f)) => out.failed.push(f),
                    None => {}
                }
            }
            "rdma-scale" => out.connect.push(serde_json::from_str(line).map_err(json)?),
            "async_echo" => out.echo.push(serde_json::from_str(line).map_err(json)?),
            "scale-curves" => out.failed.push(serde_json::from_str(line).map_err(json)?),
            other => return Err(err(format!("unknown tool {other:?}"))),
        }
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A results file with one record of each kind (and a blank line).
    pub(crate) const SAMPLE: &str = concat!(
        r#"{"tool":"rdma-perf","version":"0.1.0","perftest_version":"6.06","test":"write_bw","role":"client","device":"rxe0","ib_port":1,"gid_index":1,"link_layer":"Ethernet","mtu":1024,"qps":4,"tx_depth":128,"cq_mod":100,"iterations":5000,"duration_s":2,"bidirectional":false,"clock":"CLOCK_MONOTONIC","bw_unit":"MB/sec","results":[{"bytes":65536,"iterations":5000,"bw_peak":null,"bw_average":250.5,"msg_rate_mpps":0.004008}]}"#,
        "\n\n",
        r#"{"tool":"rdma-scale","role":"client","via":"cm","qps":8,"depth":128,"create_s":0.004,"exchange_s":null,"connect_s":0.08,"destroy_s":0.002,"rss_start_kib":4000,"rss_created_kib":4400,"rss_connected_kib":4800,"hwm_kib":4900,"fds":30}"#,
        "\n",
        r#"{"tool":"async_echo","role":"client","qps":16,"threads":1,"size":64,"mode":"Event","messages":3200,"wall_s":0.5,"cpu_user_s":0.2,"cpu_sys_s":0.12,"machine_cpu_s":0.9,"rtt_avg_us":2500.0,"rtt_p50_us":2400.0,"rtt_p99_us":4000.0,"rtt_max_us":5000.0}"#,
        "\n",
        r#"{"tool":"scale-curves","failed":"connect tcp 1024","status":124}"#,
        "\n",
    );

    #[test]
    fn parses_every_kind() {
        let r = parse(SAMPLE).unwrap();
        assert_eq!(
            r.bw,
            vec![BwPoint {
                test: "write_bw".into(),
                qps: 4,
                bytes: 65536,
                bw_average: 250.5,
                msg_rate_mpps: 0.004008,
                unit: "MB/sec".into()
            }]
        );
        assert_eq!((r.connect[0].via, r.connect[0].qps), (Via::Cm, 8));
        assert_eq!(r.connect[0].rss_per_qp_kib(), 100.0);
        assert_eq!(r.echo[0].role, Role::Client);
        assert!((r.echo[0].cpu_per_msg_us() - 100.0).abs() < 1e-9);
        assert_eq!(r.failed[0].failed, "connect tcp 1024");
    }

    #[test]
    fn server_reports_are_skipped_and_bad_lines_named() {
        let server = SAMPLE
            .lines()
            .next()
            .unwrap()
            .replace("\"client\"", "\"server\"");
        assert!(parse(&server).unwrap().bw.is_empty());
        let e = parse("\n{\"tool\":\"ib_write_bw\"}").unwrap_err();
        assert_eq!(
            e,
            ParseError {
                line: 2,
                what: "unknown tool \"ib_write_bw\"".into()
            }
        );
        let e = parse("{\"tool\":\"rdma-scale\",\"role\":\"client\"}").unwrap_err();
        assert!(e.to_string().starts_with("line 1: missing field"), "{e}");
        assert_eq!(parse("not json").unwrap_err().line, 1);
        let lat = r#"{"tool":"rdma-perf","test":"write_lat","role":"client","qps":1,"bw_unit":null,"results":[{"bytes":2}]}"#;
        assert_eq!(parse(lat).unwrap_err().what, "write_lat is not a BW report");
        let empty = r#"{"tool":"rdma-perf","test":"write_bw","role":"client","qps":16,"bw_unit":"MB/sec","results":[{"bytes":65536,"bw_average":null,"msg_rate_mpps":null}]}"#;
        let r = parse(empty).unwrap();
        assert!(r.bw.is_empty());
        assert_eq!(r.failed[0].failed, "write_bw -q 16 -s 65536 (no numbers)");
    }
}
