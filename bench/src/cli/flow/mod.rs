//! One test, both roles, in perftest 6.06's order: the session (device, handshake, QPs;
//! [`session`]), then the measured runs, statistics and report of a BW test ([`bw`]) or a
//! latency test ([`lat`]; the UD SEND tests in [`ud`]), then the optional JSON and SVG outputs.

mod additions;
mod bw;
mod cm;
pub mod hint;
mod lat;
mod out;
mod peer_check;
mod session;
mod ud;

use super::params::Params;
use out::Res;
use rdma_bench::output::bw_unit_str;
use rdma_bench::output::json::{JsonReport, RunInfo};
use rdma_bench::output::plot::{self, BwPoint, PlotLabels};
use rdma_bench::output::progress::{Progress, Total};
use std::time::SystemTime;

/// Runs the test described by `p`.
pub fn run(p: &Params) -> Res<()> {
    for (stdout, stderr) in &p.x.notices {
        out::out(stdout);
        eprint!("{stderr}");
    }
    if p.x.output.is_some() {
        out::quiet();
    }
    // The session may adjust the sizes (UD caps them at the path MTU).
    let mut p = p.clone();
    let s = session::open(&mut p)?;
    let p = &p;
    let info = RunInfo {
        test: p.test,
        role: s.role,
        device: s.ctx.name().to_string(),
        ib_port: p.ib_port,
        gid_index: s.gid_index,
        link_layer: s.link_name().to_string(),
        mtu: s.mtu_bytes,
        qps: p.qps,
        tx_depth: p.tx_depth,
        cq_mod: p.cq_mod,
        iterations: p.iters,
        duration_s: p.duration.map(|d| d.as_secs_f64()),
        bidirectional: p.bidirectional,
        connection: p.connection.as_str().to_string(),
        atomic: (p.test.verb() == rdma_bench::perftest::Verb::Atomic)
            .then(|| p.atomic.as_str().to_string()),
        post_api: if s.extended {
            "ibv_wr"
        } else {
            "ibv_post_send"
        }
        .to_string(),
        post_list: p.x.post_list,
        events: p.x.events,
    };
    let mut verdict = Ok(());
    let report = if p.test.is_bw() {
        let total = match p.duration {
            Some(d) => Total::Duration(d),
            None => Total::Iterations(p.iters.saturating_mul(u64::from(p.qps))),
        };
        let progress = Progress::start(p.test.as_str().to_string(), total);
        let c_peer = s.c_peer;
        let rows = bw::run(s, p, progress.counter()).map_err(|e| hint::explain(e, c_peer))?;
        progress.finish();
        if let Some(path) = &p.plot {
            let points: Vec<BwPoint> = rows.iter().map(BwPoint::from).collect();
            let title = format!(
                "rdma-perf {}, {}, {}",
                p.test.as_str(),
                info.device,
                now_utc()
            );
            plot::write_to(
                path,
                &points,
                &PlotLabels {
                    title: &title,
                    bw_unit: bw_unit_str(p.unit),
                },
            )?;
        }
        verdict = additions::check_limits(p, &rows);
        JsonReport::from_bw(info, p.unit, &rows)
    } else {
        let c_peer = s.c_peer;
        match lat::run(s, p).map_err(|e| hint::explain(e, c_peer))? {
            lat::LatRows::Iters(rows) => JsonReport::from_lat(info, &rows),
            lat::LatRows::Duration(rows) => JsonReport::from_lat_duration(info, &rows),
        }
    };
    if let Some(path) = &p.out_json {
        report.write_to(path)?;
    }
    std::thread::sleep(p.x.wait_destroy);
    verdict
}

/// The current time as `YYYY-MM-DD HH:MM UTC` (for plot titles).
fn now_utc() -> String {
    utc(SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()))
}

/// `secs` after the Unix epoch as `YYYY-MM-DD HH:MM UTC`.
fn utc(secs: u64) -> String {
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_dates_are_civil() {
        assert_eq!(super::utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::utc(951_782_400), "2000-02-29 00:00 UTC", "leap day");
        assert_eq!(super::utc(1_795_000_000), "2026-11-18 11:06 UTC");
    }
}
