//! The interleaved measurement printed after the criterion groups: every safe operation
//! against its raw twin in alternating blocks, medians of ns per operation and of the
//! per-block difference.

use crate::blocks::SEND_BLOCK;
use crate::median::median;
use crate::setup::{Bench, POLL, RECV_DEPTH};
use std::time::Instant;

/// One side of a measured pair: runs a block and returns ns per operation of its timed part.
type Side = fn(&mut Bench) -> f64;

/// Times `rounds` rounds of `op`: ns per round, divided by `per` operations in a round.
#[inline(always)]
fn timed(b: &mut Bench, rounds: u64, per: u64, op: impl Fn(&mut Bench)) -> f64 {
    let t = Instant::now();
    for _ in 0..rounds {
        op(b);
    }
    t.elapsed().as_nanos() as f64 / (rounds * per) as f64
}

/// The measured pairs: name, safe side, raw side.
const PAIRS: [(&str, Side, Side); 12] = [
    (
        "post_send, shared source",
        |b| timed(b, SEND_BLOCK, 1, |b| b.safe_send(false)),
        |b| timed(b, SEND_BLOCK, 1, |b| b.raw_send(false)),
    ),
    (
        "post_send, 32 B inline",
        |b| timed(b, SEND_BLOCK, 1, |b| b.safe_send(true)),
        |b| timed(b, SEND_BLOCK, 1, |b| b.raw_send(true)),
    ),
    (
        "post_recv, owned piece",
        |b| {
            let ns = b.safe_post_recvs();
            b.safe_complete_recvs();
            ns / RECV_DEPTH as f64
        },
        |b| {
            let ns = b.raw_post_recvs();
            b.raw_complete_recvs();
            ns / RECV_DEPTH as f64
        },
    ),
    (
        "poll + complete, per receive",
        |b| {
            b.safe_post_recvs();
            b.safe_complete_recvs() / RECV_DEPTH as f64
        },
        |b| {
            b.raw_post_recvs();
            b.raw_complete_recvs() / RECV_DEPTH as f64
        },
    ),
    (
        "recv cycle (post, poll, complete)",
        |b| timed(b, SEND_BLOCK, 1, Bench::safe_recv_cycle),
        |b| timed(b, SEND_BLOCK, 1, Bench::raw_recv_cycle),
    ),
    (
        "poll, empty CQ",
        |b| timed(b, SEND_BLOCK, 1, Bench::safe_poll_empty),
        |b| timed(b, SEND_BLOCK, 1, Bench::raw_poll_empty),
    ),
    (
        "poll, 16 completions (per completion)",
        |b| {
            timed(b, SEND_BLOCK / POLL as u64, POLL as u64, |b| {
                b.poll_full(true)
            })
        },
        |b| {
            timed(b, SEND_BLOCK / POLL as u64, POLL as u64, |b| {
                b.poll_full(false)
            })
        },
    ),
    (
        "run: post_send template, shared",
        Bench::run_sends,
        Bench::raw_prepared_sends,
    ),
    (
        "run: 16-send chain (per send)",
        Bench::run_chains16,
        Bench::raw_prepared_chains16,
    ),
    (
        "run: post_recv template, sink",
        |b| {
            let ns = b.run_post_recvs();
            b.sink_complete_recvs();
            ns / RECV_DEPTH as f64
        },
        |b| {
            let ns = b.raw_sink_post_recvs();
            b.raw_sink_complete_recvs();
            ns / RECV_DEPTH as f64
        },
    ),
    (
        "poll + complete, per sink receive",
        |b| {
            b.run_post_recvs();
            b.sink_complete_recvs() / RECV_DEPTH as f64
        },
        |b| {
            b.raw_sink_post_recvs();
            b.raw_sink_complete_recvs() / RECV_DEPTH as f64
        },
    ),
    (
        "16 sends, one doorbell (per send)",
        |b| timed(b, SEND_BLOCK / 16, 16, Bench::safe_batch16),
        |b| timed(b, SEND_BLOCK / 16, 16, Bench::raw_batch16),
    ),
];

/// Runs every pair in `blocks` alternating blocks (which side goes first alternates too) and
/// prints, per operation, the median ns of each side and the median and quartiles of the
/// per-block difference. Criterion measures one benchmark after the other, so a change of
/// load on a shared host shows up as a difference; two blocks measured back to back see the
/// same load, and the median of their differences ignores the blocks a burst disturbed.
pub(crate) fn interleaved(blocks: usize) {
    let mut b = Bench::new();
    println!();
    println!("interleaved safe vs raw: {blocks} blocks per side, ns per operation");
    println!(
        "{:<36} {:>8} {:>8} {:>8} {:>17}",
        "operation", "safe", "raw", "added", "added p25..p75"
    );
    for (name, safe, raw) in PAIRS {
        // One block of each untimed: the pool, the rings and the caches are warm.
        safe(&mut b);
        raw(&mut b);
        let (mut s, mut r, mut d) = (Vec::new(), Vec::new(), Vec::new());
        for k in 0..blocks {
            let (x, y) = if k % 2 == 0 {
                let x = safe(&mut b);
                (x, raw(&mut b))
            } else {
                let y = raw(&mut b);
                (safe(&mut b), y)
            };
            s.push(x);
            r.push(y);
            d.push(x - y);
        }
        let (ms, mr, md) = (median(&mut s), median(&mut r), median(&mut d));
        let q = |f: f64| d[((d.len() - 1) as f64 * f) as usize];
        println!(
            "{name:<36} {ms:>8.2} {mr:>8.2} {md:>+8.2} {:>17}",
            format!("{:+.2}..{:+.2}", q(0.25), q(0.75))
        );
    }
    assert_eq!(b.qp.send_outstanding(), 0, "every send was retired");
}
