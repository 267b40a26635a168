//! The bandwidth tests after the session is set up: `write_bw`, `read_bw`, `atomic_bw`
//! (requester and passive server, or both requesters with `-b`) and `send_bw` (sender and
//! receiver).

use super::additions::{output_bw, Counters, CpuWindow};
use super::hint::sum_reports;
use super::out::{number, out, Res};
use super::session::Session;
use crate::cli::params::Params;
use rdma_bench::perftest::handshake::{
    send_bw_post_size, send_finish, send_pre_run, write_bw_client_finish, write_bw_server_finish,
};
use rdma_bench::perftest::report::{
    bw_header, bw_row, with_cpu_util_header, with_cpu_util_row, RESULT_LINE,
};
use rdma_bench::perftest::stats::{
    bandwidth, BwInput, BwResult, MAX_ITERS_WITH_PEAK, NS_TICKS_PER_USEC,
};
use rdma_bench::perftest::transport::Role;
use rdma_bench::perftest::wire::BwReportMsg;
use rdma_bench::perftest::Verb;
use rdma_bench::run::{
    bw_receiver, bw_requester, post_receives, BwConfig, BwOp, BwSamples, Clock, Receiving,
    RecvConfig,
};
use rdma_verbs::{Access, MemoryRegion, Sink};
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// Runs the BW test on `s` and returns the rows this side printed.
pub fn run(s: Session, p: &Params, progress: &AtomicU64) -> Res<Vec<BwResult>> {
    if p.x.cpu_util {
        out(&with_cpu_util_header(&bw_header(p.unit)));
    } else {
        out(&bw_header(p.unit));
    }
    let ud = p.connection == rdma_bench::perftest::Connection::Ud;
    let rows = match (p.test.verb(), s.role, p.bidirectional) {
        (Verb::Send, _, _) if ud => super::ud::send_bw(s, p, progress)?,
        (Verb::Send, _, true) => send_duplex(s, p, progress)?,
        (Verb::Send, Role::Client, false) => send_client(s, p, progress)?,
        (Verb::Send, Role::Server, false) => send_server(s, p, progress)?,
        (Verb::Write | Verb::Read | Verb::Atomic, _, true) => duplex(s, p, progress)?,
        (Verb::Write | Verb::Read | Verb::Atomic, Role::Client, false) => {
            requester_client(s, p, progress)?
        }
        (Verb::Write | Verb::Read | Verb::Atomic, Role::Server, false) => passive_server(s, p)?,
    };
    out(RESULT_LINE);
    Ok(rows)
}

/// How long "until stopped" is: ten years.
const FOREVER: Duration = Duration::from_secs(10 * 365 * 86_400);

/// How long the passive side waits for the peer's whole run: its progress deadline plus the
/// run at a pessimistic 1 MB/s (a peer that dies closes the connection much sooner).
pub(super) fn run_wait(p: &Params) -> Duration {
    if p.x.run_infinitely {
        // The peer runs until stopped; it closing the connection ends the wait.
        return FOREVER;
    }
    let bytes: u64 = p
        .sizes
        .iter()
        .map(|s| s.saturating_mul(p.iters).saturating_mul(u64::from(p.qps)))
        .sum();
    p.timeout + p.duration.unwrap_or_default() + Duration::from_secs(bytes >> 20)
}

/// The requester's work requests: a shared source (WRITE, SEND) or a sink (READ, atomics)
/// per QP. Every atomic of a QP lands on the first 8 bytes of the peer's slice (perftest
/// moves along its buffer; the peer cannot tell).
fn ops(s: &mut Session, p: &Params) -> Res<Vec<BwOp>> {
    let len = usize::try_from(p.max_size())?;
    let mut ops = Vec::with_capacity(s.qps.len());
    for i in 0..s.qps.len() {
        let remote = s.remote_buf(i, p.max_size());
        let mr = MemoryRegion::new(&s.pd, len, Access::LOCAL_WRITE)?;
        let qp = &mut s.qps[i];
        ops.push(match p.test.verb() {
            Verb::Write => BwOp::Write {
                src: qp.share(mr),
                remote,
            },
            Verb::Send => BwOp::Send { src: qp.share(mr) },
            Verb::Read => BwOp::Read {
                sink: qp.sink(mr),
                remote,
            },
            Verb::Atomic => BwOp::Atomic {
                sink: qp.sink(mr),
                remote,
                kind: p.atomic,
            },
        });
    }
    Ok(ops)
}

/// Runs one size and computes this side's row as perftest's `print_report_bw` does.
fn measure(
    s: &mut Session,
    ops: &[BwOp],
    recv: Option<Receiving<'_>>,
    p: &Params,
    size: u64,
    progress: &AtomicU64,
) -> Res<BwResult> {
    let cfg = BwConfig {
        span: p.span(),
        size,
        tx_depth: p.tx_depth,
        cq_mod: p.cq_mod,
        timeout: p.timeout,
        inline: size <= u64::from(p.inline_size),
        post_list: p.x.post_list,
        events: p.x.events,
    };
    let clock = Clock::new();
    let mut smp = bw_requester(&mut s.qps, ops, &s.send_cq, recv, &cfg, &clock, progress)?;
    Ok(requester_row(&mut smp, p, size)?)
}

pub(super) fn requester_row(
    smp: &mut BwSamples,
    p: &Params,
    size: u64,
) -> Result<BwResult, rdma_bench::perftest::stats::StatsError> {
    let duration = p.duration.is_some();
    let no_peak = duration || p.iters > MAX_ITERS_WITH_PEAK || p.x.no_peak;
    if no_peak && !duration {
        // perftest keeps the last completion time in slot 0 without peak.
        smp.completed[0] = smp.completed[smp.completed.len() - 1];
    }
    stats(p, size, &smp.posted, &smp.completed, smp.iters, no_peak)
}

/// perftest's `print_report_bw` numbers from the timestamps (`iters`: the messages counted in
/// a duration run; otherwise `p.iters` per QP).
pub(super) fn stats(
    p: &Params,
    size: u64,
    tposted: &[u64],
    tcompleted: &[u64],
    iters: u64,
    no_peak: bool,
) -> Result<BwResult, rdma_bench::perftest::stats::StatsError> {
    let duration = p.duration.is_some();
    bandwidth(&BwInput {
        tposted,
        tcompleted,
        size,
        iters: if duration { iters } else { p.iters },
        num_qps: u64::from(p.qps),
        post_list: u64::from(p.x.post_list),
        // A post list signals its last request only.
        cq_mod: u64::from(if p.x.post_list > 1 {
            p.x.post_list
        } else {
            p.cq_mod
        }),
        no_peak,
        duration,
        ticks_per_sec: NS_TICKS_PER_USEC * 1e6,
        unit: p.unit,
    })
}

/// `ib_write_bw`/`ib_read_bw` client: every size, one row each (with `--run_infinitely`, a
/// row every `-D` seconds until stopped); the last row goes to the server.
fn requester_client(mut s: Session, p: &Params, progress: &AtomicU64) -> Res<Vec<BwResult>> {
    let ops = ops(&mut s, p)?;
    let mut rows = Vec::with_capacity(p.sizes.len());
    for &size in &p.sizes {
        let row = windows(&mut s, p, |s| measure(s, &ops, None, p, size, progress))?;
        rows.push(row);
    }
    let last = *rows.last().ok_or("no size was run")?;
    write_bw_client_finish(s.chan, &s.mine[0], &BwReportMsg::from(last))?;
    Ok(rows)
}

/// `ib_write_bw`/`ib_read_bw` server: waits for the client's run and prints its last row.
fn passive_server(mut s: Session, p: &Params) -> Res<Vec<BwResult>> {
    let window = CpuWindow::start(p)?;
    let theirs = write_bw_server_finish(s.chan, &s.mine[0], run_wait(p))?;
    let row = BwResult::from(theirs);
    print_row(&mut s.counters, p, &row, window.finish()?)?;
    drop(s.target);
    Ok(vec![row])
}

/// `-b` on the WRITE and READ tests: both sides run the requester; before each size a keys
/// exchange lines them up, after it (with `-a`) another; the reports are exchanged and both
/// print the sum of bandwidth and message rate with their own size and iterations (also with
/// `-D`, as 6.06 does).
fn duplex(mut s: Session, p: &Params, progress: &AtomicU64) -> Res<Vec<BwResult>> {
    let ops = ops(&mut s, p)?;
    let wait = run_wait(p);
    let mut rows = Vec::with_capacity(p.sizes.len());
    for &size in &p.sizes {
        let window = CpuWindow::start(p)?;
        s.chan.exchange_keys_within(&s.mine[0], wait)?;
        let mine = measure(&mut s, &ops, None, p, size, progress)?;
        if p.all {
            s.chan.exchange_keys_within(&s.mine[0], wait)?;
        }
        let row = with_peer_report(&mut s, mine)?;
        print_row(&mut s.counters, p, &row, window.finish()?)?;
        rows.push(row);
    }
    s.chan.close_connection(&s.mine[0])?;
    Ok(rows)
}

/// `ib_send_bw` client: before each size the server has posted its receives (a keys
/// exchange tells), after each (with `-a`) another exchange; each side prints its own row.
fn send_client(mut s: Session, p: &Params, progress: &AtomicU64) -> Res<Vec<BwResult>> {
    let ops = ops(&mut s, p)?;
    let wait = run_wait(p);
    let mut rows = Vec::with_capacity(p.sizes.len());
    for &size in &p.sizes {
        send_pre_run(&mut s.chan, &s.mine[0])?;
        let row = windows(&mut s, p, |s| measure(s, &ops, None, p, size, progress))?;
        rows.push(row);
        if p.all {
            send_bw_post_size(&mut s.chan, &s.mine[0], wait)?;
        }
    }
    send_finish(s.chan, &s.mine[0], wait)?;
    Ok(rows)
}

/// `ib_send_bw` server: posts the receives into a sink per QP, then counts the messages.
fn send_server(mut s: Session, p: &Params, progress: &AtomicU64) -> Res<Vec<BwResult>> {
    let sinks = sinks(&mut s, p)?;
    let wait = run_wait(p);
    let mut rows = Vec::with_capacity(p.sizes.len());
    for &size in &p.sizes {
        arm_receives(&mut s, &sinks, p, size)?;
        let cfg = recv_config(p, size);
        let clock = Clock::new();
        // With --run_infinitely the receives stay posted from one window to the next.
        let row = windows(&mut s, p, |s| {
            let r = bw_receiver(&mut s.qps, &sinks, &s.recv_cq, &cfg, &clock, progress)?;
            // perftest never measures a peak on the receiving side.
            Ok(stats(p, size, &[r.first], &[r.last], r.iters, true)?)
        })?;
        rows.push(row);
        if p.all {
            send_bw_post_size(&mut s.chan, &s.mine[0], wait)?;
        }
    }
    send_finish(s.chan, &s.mine[0], wait)?;
    Ok(rows)
}

/// `ib_send_bw -b`: both sides post receives into a sink per QP, line up with a keys
/// exchange, then send and receive at once (the server starts sending when the client's first
/// message arrives); the reports of iteration runs are exchanged and both print the sum (a
/// `-D` row counts both directions itself, as perftest 6.06's).
fn send_duplex(mut s: Session, p: &Params, progress: &AtomicU64) -> Res<Vec<BwResult>> {
    let ops = ops(&mut s, p)?;
    let sinks = sinks(&mut s, p)?;
    let wait = run_wait(p);
    let rx_depth = p.receives_ahead();
    let recv_cq = s.recv_cq.clone();
    let mut rows = Vec::with_capacity(p.sizes.len());
    for &size in &p.sizes {
        let window = CpuWindow::start(p)?;
        arm_receives(&mut s, &sinks, p, size)?;
        let recv = Receiving {
            cq: &recv_cq,
            sinks: &sinks,
            rx_depth,
            wait_first: s.role == Role::Server,
        };
        let mine = measure(&mut s, &ops, Some(recv), p, size, progress)?;
        let row = send_duplex_row(&mut s, p, mine)?;
        print_row(&mut s.counters, p, &row, window.finish()?)?;
        rows.push(row);
        if p.all {
            send_bw_post_size(&mut s.chan, &s.mine[0], wait)?;
        }
    }
    send_finish(s.chan, &s.mine[0], wait)?;
    Ok(rows)
}

/// The receiving loop's settings for messages of `size` (RC and UD).
pub(super) fn recv_config(p: &Params, size: u64) -> RecvConfig {
    RecvConfig {
        span: p.span(),
        size,
        rx_depth: p.receives_ahead(),
        timeout: p.timeout,
        events: p.x.events,
    }
}

/// Runs one size and prints its row; with `--run_infinitely`, again every window until
/// stopped (the receives of a receiver stay posted between windows). Returns the last row.
pub(super) fn windows(
    s: &mut Session,
    p: &Params,
    mut run: impl FnMut(&mut Session) -> Res<BwResult>,
) -> Res<BwResult> {
    loop {
        let window = CpuWindow::start(p)?;
        let row = run(s)?;
        print_row(&mut s.counters, p, &row, window.finish()?)?;
        if !p.x.run_infinitely {
            return Ok(row);
        }
    }
}

/// `-b`: this side's row plus the peer's report, exchanged now.
fn with_peer_report(s: &mut Session, mine: BwResult) -> Res<BwResult> {
    let theirs = BwResult::from(s.chan.exchange_bw_report(&BwReportMsg::from(mine))?);
    sum_reports(mine, theirs)
}

/// The row of `send_bw -b` (RC and UD): with the peer's report after an iterations run; a
/// `-D` row already counts both directions, and perftest 6.06's send_bw exchanges no report
/// then.
pub(super) fn send_duplex_row(s: &mut Session, p: &Params, mine: BwResult) -> Res<BwResult> {
    if p.duration.is_some() {
        Ok(mine)
    } else {
        with_peer_report(s, mine)
    }
}

/// Prints a row as perftest does: the row (with `--cpu_util`, the CPU utilization of this
/// side over the run), or only its number with `--output`; then the `-W` counters.
pub(super) fn print_row(
    counters: &mut Option<Counters>,
    p: &Params,
    row: &BwResult,
    cpu: Option<f64>,
) -> Res<()> {
    match p.x.output {
        Some(which) => number(&output_bw(which, row)),
        None => {
            let text = bw_row(row, p.unit);
            match cpu {
                Some(c) => out(&with_cpu_util_row(&text, c)),
                None => out(&text),
            }
        }
    }
    if let Some(c) = counters.as_mut() {
        out(&c.report()?);
    }
    Ok(())
}

/// One sink per QP, as large as the largest message, for receives.
fn sinks(s: &mut Session, p: &Params) -> Res<Vec<Sink>> {
    let len = usize::try_from(p.max_size())?;
    let mut sinks = Vec::with_capacity(s.qps.len());
    for qp in &mut s.qps {
        sinks.push(qp.sink(MemoryRegion::new(&s.pd, len, Access::LOCAL_WRITE)?));
    }
    Ok(sinks)
}

/// Before each size of a SEND test: the receives posted into each QP's sink, then the keys
/// exchange that tells the peer it may send.
fn arm_receives(s: &mut Session, sinks: &[Sink], p: &Params, size: u64) -> Res<()> {
    for (qp, &sink) in s.qps.iter_mut().zip(sinks) {
        post_receives(qp, sink, size, p.receives_ahead())?;
    }
    send_pre_run(&mut s.chan, &s.mine[0])?;
    Ok(())
}
