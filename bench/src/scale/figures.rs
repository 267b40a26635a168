//! The results as SVG figures (drawn by [`curve`](crate::output::curve)), one per question:
//! BW and message rate against QPs, connection time against QPs, memory per QP against QPs,
//! echo latency and CPU per message against connections.

use super::record::{ConnectPoint, Results, Role, Via};
use crate::output::curve::{render_svg, Corner, CurveError, Figure, Scale, Series, Side, YAxis};

/// A figure's file name suffix and its SVG.
pub type Svg = (&'static str, String);

fn bw(r: &Results, date: &str) -> Result<Option<Svg>, CurveError> {
    let (Some(big), Some(small)) = (
        r.bw.iter().map(|p| p.bytes).max(),
        r.bw.iter().map(|p| p.bytes).min(),
    ) else {
        return Ok(None);
    };
    let unit = &r.bw[0].unit;
    let at = |bytes: u64, f: fn(&super::record::BwPoint) -> f64| -> Vec<(f64, f64)> {
        r.bw.iter()
            .filter(|p| p.bytes == bytes)
            .map(|p| (f64::from(p.qps), f(p)))
            .collect()
    };
    let big_name = format!("BW, {big} B messages");
    let small_name = format!("message rate, {small} B messages");
    let series = vec![
        Series {
            name: &big_name,
            side: Side::Left,
            points: at(big, |p| p.bw_average),
        },
        Series {
            name: &small_name,
            side: Side::Right,
            points: at(small, |p| p.msg_rate_mpps),
        },
    ];
    let title = format!("{} against QP count, rxe0, {date}", r.bw[0].test);
    let left = format!("BW average [{unit}]");
    let fig = Figure {
        title: &title,
        x_desc: "queue pairs (-q)",
        left: YAxis {
            desc: &left,
            scale: Scale::Linear,
        },
        right: Some(YAxis {
            desc: "message rate [Mpps]",
            scale: Scale::Linear,
        }),
        legend: Corner::LowerRight,
    };
    Ok(Some(("bw", render_svg(&series, &fig)?)))
}

/// A connect-curve series before it is named: what, via, role, points.
type RawSeries = (&'static str, Via, Role, Vec<(f64, f64)>);

fn connect_series(
    r: &Results,
    name: &'static str,
    f: fn(&ConnectPoint) -> Option<f64>,
) -> Vec<RawSeries> {
    // The curves are at one queue depth: the first line's (other depths are table rows).
    let depth = r.connect.first().map_or(0, |p| p.depth);
    let mut out = Vec::new();
    for via in [Via::Tcp, Via::Cm] {
        for role in [Role::Client, Role::Server] {
            let pts: Vec<(f64, f64)> = r
                .connect
                .iter()
                .filter(|p| p.via == via && p.role == role && p.depth == depth)
                .filter_map(|p| f(p).map(|v| (f64::from(p.qps), v)))
                .collect();
            if !pts.is_empty() {
                out.push((name, via, role, pts));
            }
        }
    }
    out
}

fn role_str(role: Role) -> &'static str {
    match role {
        Role::Client => "client",
        Role::Server => "server",
    }
}

/// Milliseconds, or none for a zero time (below the clock's resolution: no log-axis point).
fn pos_ms(v: f64) -> Option<f64> {
    (v > 0.0).then_some(v * 1e3)
}

/// The series of `raw` on the left axis, named by `names` in order.
fn on_left(raw: Vec<RawSeries>, names: &[String]) -> Vec<Series<'_>> {
    raw.into_iter()
        .zip(names)
        .map(|((_, _, _, points), name)| Series {
            name,
            side: Side::Left,
            points,
        })
        .collect()
}

fn connect(r: &Results, date: &str) -> Result<Option<Svg>, CurveError> {
    // Zero times (below the clock's resolution) cannot go on a log axis.
    let mut raw = connect_series(r, "create", |p| pos_ms(p.create_s));
    raw.extend(connect_series(r, "connect", |p| pos_ms(p.connect_s)));
    raw.retain(|s| s.2 == Role::Client || s.0 == "connect");
    if raw.is_empty() {
        return Ok(None);
    }
    let names: Vec<String> = raw
        .iter()
        .map(|(what, via, role, _)| format!("{what}, {}, {}", via.as_str(), role_str(*role)))
        .collect();
    let series = on_left(raw, &names);
    let title = format!("Creating and connecting N RC QPs, rxe0, {date}");
    let fig = Figure {
        title: &title,
        x_desc: "queue pairs",
        left: YAxis {
            desc: "time for all N [ms]",
            scale: Scale::Log,
        },
        right: None,
        legend: Corner::UpperLeft,
    };
    Ok(Some(("connect", render_svg(&series, &fig)?)))
}

fn memory(r: &Results, date: &str) -> Result<Option<Svg>, CurveError> {
    let raw = connect_series(r, "RSS", |p| Some(p.rss_per_qp_kib()));
    if raw.is_empty() {
        return Ok(None);
    }
    let names: Vec<String> = raw
        .iter()
        .map(|(_, via, role, _)| format!("{}, {}", via.as_str(), role_str(*role)))
        .collect();
    let series = on_left(raw, &names);
    let title = format!("Resident memory per connected RC QP, rxe0, {date}");
    let fig = Figure {
        title: &title,
        x_desc: "queue pairs",
        left: YAxis {
            desc: "resident set growth per QP [KiB]",
            scale: Scale::Linear,
        },
        right: None,
        legend: Corner::UpperRight,
    };
    Ok(Some(("memory", render_svg(&series, &fig)?)))
}

fn echo(r: &Results, date: &str) -> Result<Option<Svg>, CurveError> {
    let clients = || r.echo.iter().filter(|p| p.role == Role::Client);
    let rtt: Vec<(f64, f64)> = clients()
        .filter_map(|p| p.rtt_avg_us.map(|v| (f64::from(p.qps), v)))
        .collect();
    let cpu: Vec<(f64, f64)> = clients()
        .map(|p| (f64::from(p.qps), p.cpu_per_msg_us()))
        .filter(|p| p.1 > 0.0)
        .collect();
    if rtt.is_empty() || cpu.is_empty() {
        return Ok(None);
    }
    let series = vec![
        Series {
            name: "round trip, mean",
            side: Side::Left,
            points: rtt,
        },
        Series {
            name: "client CPU per message",
            side: Side::Right,
            points: cpu,
        },
    ];
    let title = format!("async_echo on one tokio thread, rxe0, {date}");
    let fig = Figure {
        title: &title,
        x_desc: "connections (one QP and task each)",
        left: YAxis {
            desc: "round-trip latency [µs]",
            scale: Scale::Log,
        },
        right: Some(YAxis {
            desc: "CPU per message [µs]",
            scale: Scale::Log,
        }),
        legend: Corner::LowerRight,
    };
    Ok(Some(("echo", render_svg(&series, &fig)?)))
}

/// Every figure the results have points for: `(suffix, svg)` with suffix `bw`, `connect`,
/// `memory` or `echo`.
pub fn figures(r: &Results, date: &str) -> Result<Vec<Svg>, CurveError> {
    let mut out = Vec::new();
    for f in [bw, connect, memory, echo] {
        out.extend(f(r, date)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::record::{parse, tests::SAMPLE};
    use super::*;

    #[test]
    fn one_figure_per_curve_with_its_points() {
        let r = parse(SAMPLE).unwrap();
        let figs = figures(&r, "2026-12-07").unwrap();
        let names: Vec<&str> = figs.iter().map(|f| f.0).collect();
        assert_eq!(names, ["bw", "connect", "memory", "echo"]);
        for (name, svg) in &figs {
            let doc = roxmltree::Document::parse(svg).unwrap();
            let circles = doc
                .descendants()
                .filter(|n| n.has_tag_name("circle"))
                .count();
            // bw: one point per series (2); connect: create + connect of the client;
            // memory: one; echo: RTT and CPU.
            let want = match *name {
                "memory" => 1,
                _ => 2,
            };
            assert_eq!(circles, want, "{name}");
            assert!(svg.contains("2026-12-07"), "{name}");
        }
    }

    #[test]
    fn other_depths_stay_out_of_the_curves() {
        let mut r = parse(SAMPLE).unwrap();
        let mut shallow = r.connect[0].clone();
        shallow.depth = 16;
        r.connect.push(shallow);
        let figs = figures(&r, "d").unwrap();
        let connect = &figs.iter().find(|f| f.0 == "connect").unwrap().1;
        assert_eq!(connect.matches("<circle").count(), 2);
        let table = super::super::table::connect_table(&r);
        assert_eq!(table.lines().count(), 4, "{table}");
        assert!(table.contains("| cm | 8 | 16 |"), "{table}");
    }

    #[test]
    fn no_points_no_figures() {
        assert!(figures(&Results::default(), "d").unwrap().is_empty());
    }
}
