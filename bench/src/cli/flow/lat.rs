//! The latency tests after the session is set up: `write_lat` and `send_lat` (both sides
//! measure) and `read_lat`, `atomic_lat` (the client measures; the server only keeps its
//! buffer).

use super::additions::{cpu_mhz, Counters, CpuWindow};
use super::out::{number, out, Res};
use super::session::Session;
use crate::cli::params::Params;
use rdma_bench::perftest::handshake::{send_finish, send_pre_run};
use rdma_bench::perftest::report::{
    lat_dur_header, lat_dur_row, lat_header, lat_row, sample_lists, with_cpu_util_header,
    with_cpu_util_row, LatDurResult, LatResult, SampleLists, RESULT_LINE,
};
use rdma_bench::perftest::stats::{latency, latency_duration, NS_TICKS_PER_USEC};
use rdma_bench::perftest::transport::Role;
use rdma_bench::perftest::Verb;
use rdma_bench::run::{
    post_receives, read_lat, send_lat, write_lat, Clock, LatConfig, LatRole, LatRun, LatSource,
    ReadLatConfig, SendLatConfig,
};
use rdma_verbs::{Access, MemoryRegion};
use std::time::Duration;

/// The rows a latency test printed: perftest's full statistics, or a `-D` run's average.
#[derive(Debug, Clone, PartialEq)]
pub enum LatRows {
    /// Iterations.
    Iters(Vec<LatResult>),
    /// Duration (`-D`).
    Duration(Vec<LatDurResult>),
}

impl LatRows {
    pub(super) fn new(p: &Params) -> LatRows {
        if p.duration.is_some() {
            LatRows::Duration(Vec::new())
        } else {
            LatRows::Iters(Vec::with_capacity(p.sizes.len()))
        }
    }

    /// Computes, prints and keeps the row of one size (`rtt_factor` 2 halves the round trip).
    pub(super) fn push(
        &mut self,
        run: &LatRun,
        p: &Params,
        size: u64,
        rtt_factor: u32,
        pr: &mut LatPrint,
    ) -> Res<()> {
        let cpu = pr.window.finish()?;
        let with_cpu = |row: String| match cpu {
            Some(c) => with_cpu_util_row(&row, c),
            None => row,
        };
        match self {
            LatRows::Iters(rows) => {
                out(&sample_lists(
                    &run.posted,
                    pr.ticks_per_unit,
                    rtt_factor,
                    pr.unit,
                    pr.lists,
                ));
                let stats = latency(&run.posted, pr.ticks_per_unit, rtt_factor)?;
                let r = LatResult {
                    size,
                    iters: p.iters,
                    stats,
                };
                if p.x.output.is_some() {
                    number(&format!("{:.6}\n", r.stats.t_avg));
                }
                out(&with_cpu(lat_row(&r)));
                rows.push(r);
            }
            LatRows::Duration(rows) => {
                let (t_avg, tps) = latency_duration(run.sample_ns, run.iters, rtt_factor)?;
                let r = LatDurResult {
                    size,
                    iters: run.iters,
                    t_avg,
                    tps,
                };
                if p.x.output.is_some() {
                    number(&format!("{t_avg:.6}\n"));
                }
                out(&with_cpu(lat_dur_row(&r)));
                rows.push(r);
            }
        }
        if let Some(c) = pr.counters.as_mut() {
            out(&c.report()?);
        }
        pr.window = CpuWindow::start(p)?;
        Ok(())
    }
}

/// How a latency side prints its rows: the unit of `-C` (cycles at the CPU's MHz) or
/// microseconds, the sample lists of `-H`/`-U`, the `-W` counters and the `--cpu_util`
/// reading of the size being run.
pub(super) struct LatPrint {
    ticks_per_unit: f64,
    unit: &'static str,
    lists: SampleLists,
    counters: Option<Counters>,
    window: CpuWindow,
}

impl LatPrint {
    fn new(p: &Params, counters: Option<Counters>) -> Res<LatPrint> {
        let (ticks_per_unit, unit) = if p.x.lat_report.cycles {
            // Clock ticks are nanoseconds: one cycle is 1000 / MHz of them.
            (NS_TICKS_PER_USEC / cpu_mhz()?, "cycles")
        } else {
            (NS_TICKS_PER_USEC, "usec")
        };
        Ok(LatPrint {
            ticks_per_unit,
            unit,
            lists: p.x.lat_report.lists,
            counters,
            window: CpuWindow::start(p)?,
        })
    }
}

pub(super) fn header(p: &Params) -> String {
    let h = if p.duration.is_some() {
        lat_dur_header()
    } else {
        lat_header()
    };
    if p.x.cpu_util {
        with_cpu_util_header(&h)
    } else {
        h
    }
}

/// Runs the latency test on `s` and returns the rows this side printed.
pub fn run(mut s: Session, p: &Params) -> Res<LatRows> {
    let mut pr = LatPrint::new(p, s.counters.take())?;
    let role = if s.role == Role::Server {
        LatRole::Server
    } else {
        LatRole::Client
    };
    let rows = match p.test.verb() {
        Verb::Write => write(s, p, role, &mut pr)?,
        Verb::Send if p.connection == rdma_bench::perftest::Connection::Ud => {
            super::ud::send_lat(s, p, role, &mut pr)?
        }
        Verb::Send => send(s, p, role, &mut pr)?,
        Verb::Read | Verb::Atomic => read(s, p, &mut pr)?,
    };
    out(RESULT_LINE);
    Ok(rows)
}

/// How long the side that waits for the peer's whole run may wait (see the BW tests).
pub(super) fn run_wait(p: &Params) -> Duration {
    let bytes: u64 = p.sizes.iter().map(|s| s.saturating_mul(p.iters)).sum();
    p.timeout + p.duration.unwrap_or_default() + Duration::from_secs(bytes >> 20)
}

/// `ib_write_lat`: the server writes first; no handshake between sizes or at the end.
fn write(mut s: Session, p: &Params, role: LatRole, pr: &mut LatPrint) -> Res<LatRows> {
    out(&header(p));
    let mut rows = LatRows::new(p);
    for &size in &p.sizes {
        let source = if size <= u64::from(p.inline_size) {
            LatSource::Inline
        } else {
            LatSource::Buffer(MemoryRegion::new(
                &s.pd,
                usize::try_from(size)?,
                Access::LOCAL_WRITE,
            )?)
        };
        let cfg = LatConfig {
            span: p.span(),
            size,
            timeout: p.timeout,
            role,
        };
        let clock = Clock::new();
        let peer = s.remote_buf(0, size);
        let run = write_lat(
            &mut s.qps[0],
            &s.send_cq,
            &s.target,
            source,
            peer,
            &cfg,
            &clock,
        )?;
        rows.push(&run, p, size, 2, pr)?;
    }
    Ok(rows)
}

/// The SEND ping-pong's settings for messages of `size` (RC and UD).
pub(super) fn send_lat_config(p: &Params, size: u64, role: LatRole) -> SendLatConfig {
    SendLatConfig {
        span: p.span(),
        size,
        rx_depth: p.receives_ahead(),
        timeout: p.timeout,
        role,
        inline: size <= u64::from(p.inline_size),
        events: p.x.events,
    }
}

/// `ib_send_lat`: the client sends first; before each size the receives are posted and a
/// keys exchange lines the sides up; a closing handshake at the end.
fn send(mut s: Session, p: &Params, role: LatRole, pr: &mut LatPrint) -> Res<LatRows> {
    out(&header(p));
    let len = usize::try_from(p.max_size())?;
    let src = s.qps[0].share(MemoryRegion::new(&s.pd, len, Access::LOCAL_WRITE)?);
    let sink = s.qps[0].sink(MemoryRegion::new(&s.pd, len, Access::LOCAL_WRITE)?);
    let rx_depth = p.receives_ahead();
    let mut rows = LatRows::new(p);
    for &size in &p.sizes {
        post_receives(&mut s.qps[0], sink, size, rx_depth)?;
        send_pre_run(&mut s.chan, &s.mine[0])?;
        let cfg = send_lat_config(p, size, role);
        let clock = Clock::new();
        let run = send_lat(
            &mut s.qps[0],
            &s.send_cq,
            &s.recv_cq,
            src,
            sink,
            &cfg,
            &clock,
        )?;
        rows.push(&run, p, size, 2, pr)?;
    }
    send_finish(s.chan, &s.mine[0], run_wait(p))?;
    Ok(rows)
}

/// `ib_read_lat` and `ib_atomic_lat`: the client reads (or runs atomics) and prints; the
/// server closes the connection when the client does (after its run) and prints nothing more.
fn read(mut s: Session, p: &Params, pr: &mut LatPrint) -> Res<LatRows> {
    if s.role == Role::Server {
        s.chan.link_mut().set_timeout(run_wait(p));
        s.chan.close_connection(&s.mine[0])?;
        drop(s.target);
        return Ok(LatRows::new(p));
    }
    out(&header(p));
    let len = usize::try_from(p.max_size())?;
    let sink = s.qps[0].sink(MemoryRegion::new(&s.pd, len, Access::LOCAL_WRITE)?);
    let mut rows = LatRows::new(p);
    for &size in &p.sizes {
        let clock = Clock::new();
        let peer = s.remote_buf(0, size);
        let cfg = ReadLatConfig {
            span: p.span(),
            size,
            timeout: p.timeout,
            atomic: (p.test.verb() == Verb::Atomic).then_some(p.atomic),
            events: p.x.events,
        };
        let run = read_lat(&mut s.qps[0], &s.send_cq, sink, peer, &cfg, &clock)?;
        rows.push(&run, p, size, 1, pr)?;
    }
    s.chan.close_connection(&s.mine[0])?;
    Ok(rows)
}
