//! The results as markdown tables, one per curve, and a list of the points that failed.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::record::{ConnectPoint, EchoPoint, Results, Role, Via};

/// `v` with about three significant digits: `1234`, `12.3`, `0.0123`; `-` for none.
pub fn num(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if !v.is_finite() => "-".into(),
        Some(0.0) => "0".into(),
        Some(v) => {
            let digits = 2 - v.abs().log10().floor() as i32;
            format!("{v:.*}", digits.clamp(0, 6) as usize)
        }
    }
}

fn row(out: &mut String, cells: &[String]) {
    let _ = writeln!(out, "| {} |", cells.join(" | "));
}

fn header(out: &mut String, cells: &[&str]) {
    row(
        out,
        &cells.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
    );
    row(
        out,
        &cells.iter().map(|_| "---:".to_string()).collect::<Vec<_>>(),
    );
}

/// Curve 1: bandwidth and message rate per QP count, two columns per message size.
pub fn bw_table(r: &Results) -> String {
    let mut out = String::new();
    let mut sizes: Vec<u64> = r.bw.iter().map(|p| p.bytes).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let unit = r.bw.first().map_or("MB/sec", |p| p.unit.as_str());
    let mut cols = vec!["QPs".to_string()];
    for s in &sizes {
        cols.push(format!("{s} B: BW [{unit}]"));
        cols.push(format!("{s} B: Mpps"));
    }
    header(
        &mut out,
        &cols.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let mut by_qps: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for q in r.bw.iter().map(|p| p.qps) {
        by_qps.entry(q).or_insert_with(|| {
            let mut cells = vec![q.to_string()];
            for s in &sizes {
                let p = r.bw.iter().find(|p| p.qps == q && p.bytes == *s);
                cells.push(num(p.map(|p| p.bw_average)));
                cells.push(num(p.map(|p| p.msg_rate_mpps)));
            }
            cells
        });
    }
    for cells in by_qps.values() {
        row(&mut out, cells);
    }
    out
}

fn ms(s: f64) -> Option<f64> {
    Some(s * 1e3)
}

/// Curve 2: time and memory to create and connect N QPs, client and server side by side;
/// rows by exchange, queue depth, QP count.
pub fn connect_table(r: &Results) -> String {
    let mut out = String::new();
    header(
        &mut out,
        &[
            "via",
            "QPs",
            "depth",
            "create [ms]",
            "exchange [ms]",
            "connect [ms]",
            "connect per QP [µs]",
            "server connect [ms]",
            "RSS per QP [KiB]",
            "server RSS per QP [KiB]",
            "fds",
            "destroy [ms]",
        ],
    );
    let mut keys: Vec<(Via, u32, u32)> =
        r.connect.iter().map(|p| (p.via, p.depth, p.qps)).collect();
    keys.sort_unstable();
    keys.dedup();
    let find = |key, role| {
        r.connect
            .iter()
            .find(|p: &&ConnectPoint| (p.via, p.depth, p.qps) == key && p.role == role)
    };
    for key @ (via, depth, qps) in keys {
        let (c, s) = (find(key, Role::Client), find(key, Role::Server));
        row(
            &mut out,
            &[
                via.as_str().to_string(),
                qps.to_string(),
                depth.to_string(),
                num(c.and_then(|c| ms(c.create_s))),
                num(c.and_then(|c| c.exchange_s.map(|e| e * 1e3))),
                num(c.and_then(|c| ms(c.connect_s))),
                num(c.map(|c| c.connect_s * 1e6 / f64::from(qps))),
                num(s.and_then(|s| ms(s.connect_s))),
                num(c.map(ConnectPoint::rss_per_qp_kib)),
                num(s.map(ConnectPoint::rss_per_qp_kib)),
                c.map_or("-".into(), |c| c.fds.to_string()),
                num(c.and_then(|c| ms(c.destroy_s))),
            ],
        );
    }
    out
}

/// Curve 3: async_echo's latency and CPU per message per connection count.
pub fn echo_table(r: &Results) -> String {
    let mut out = String::new();
    header(
        &mut out,
        &[
            "connections",
            "round trips",
            "round trips/s",
            "RTT avg [µs]",
            "RTT p50 [µs]",
            "RTT p99 [µs]",
            "client CPU/msg [µs]",
            "server CPU/msg [µs]",
            "machine CPU/msg [µs]",
        ],
    );
    let mut clients: Vec<&EchoPoint> = r.echo.iter().filter(|p| p.role == Role::Client).collect();
    clients.sort_by_key(|p| (p.qps, p.threads, p.size));
    for c in clients {
        let s = r.echo.iter().find(|s| {
            s.role == Role::Server && (s.qps, s.threads, s.size) == (c.qps, c.threads, c.size)
        });
        let per_msg = |cpu: Option<f64>| cpu.map(|cpu| cpu * 1e6 / c.messages.max(1) as f64);
        row(
            &mut out,
            &[
                c.qps.to_string(),
                c.messages.to_string(),
                num(Some(c.messages as f64 / c.wall_s)),
                num(c.rtt_avg_us),
                num(c.rtt_p50_us),
                num(c.rtt_p99_us),
                num(Some(c.cpu_per_msg_us())),
                num(s.map(EchoPoint::cpu_per_msg_us)),
                num(per_msg(c.machine_cpu_s)),
            ],
        );
    }
    out
}

/// The three tables under their headings, and the failed points (if any).
pub fn markdown(r: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### Bandwidth and message rate against QP count\n");
    out.push_str(&bw_table(r));
    let _ = writeln!(out, "\n### Creating and connecting N QPs\n");
    out.push_str(&connect_table(r));
    let _ = writeln!(
        out,
        "\n### async_echo on one tokio thread against connections\n"
    );
    out.push_str(&echo_table(r));
    if !r.failed.is_empty() {
        let _ = writeln!(out, "\nFailed points (exit status; 124: timed out):\n");
        for f in &r.failed {
            let _ = writeln!(out, "- {}: {}", f.failed, f.status);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::record::{parse, tests::SAMPLE};
    use super::*;

    #[test]
    fn numbers_keep_three_digits() {
        let n = |v| num(Some(v));
        assert_eq!(
            [n(1234.4), n(12.34), n(0.01234), n(0.0), n(999.9)],
            ["1234", "12.3", "0.0123", "0", "1000"]
        );
        assert_eq!([num(None), n(f64::NAN)], ["-", "-"]);
    }

    #[test]
    fn tables_have_one_row_per_point() {
        let r = parse(SAMPLE).unwrap();
        let bw = bw_table(&r);
        assert_eq!(
            bw.lines().collect::<Vec<_>>(),
            [
                "| QPs | 65536 B: BW [MB/sec] | 65536 B: Mpps |",
                "| ---: | ---: | ---: |",
                "| 4 | 250 | 0.00401 |",
            ]
        );
        let c = connect_table(&r);
        assert_eq!(
            c.lines().nth(2),
            Some("| cm | 8 | 128 | 4.00 | - | 80.0 | 10000 | - | 100 | - | 30 | 2.00 |")
        );
        let e = echo_table(&r);
        assert_eq!(
            e.lines().nth(2),
            Some("| 16 | 3200 | 6400 | 2500 | 2400 | 4000 | 100 | - | 281 |")
        );
        let md = markdown(&r);
        assert!(md.contains("- connect tcp 1024: 124"), "{md}");
        assert_eq!(md.matches("### ").count(), 3);
    }
}
