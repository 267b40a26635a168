//! The interleaved comparison printed after the criterion groups: each safe benchmark against
//! its raw twin, blocks of both sides alternating, medians of ns per operation.

use crate::bench::Bench;
use crate::median::median;
use std::time::Instant;

/// The medians of interleaved blocks: ns per operation of each side.
struct Paired {
    safe: f64,
    raw: f64,
}

/// Runs `blocks` blocks of `ops` operations of each side, alternating which side goes first,
/// and returns the median ns per operation of each. Criterion measures one benchmark after the
/// other, so a change of load on the machine (an emulated VM on a shared host) shows up as a
/// difference between them; blocks of both sides interleaved see the same load. `settle` runs
/// after every block, untimed (the pipelined benchmarks drain there).
fn paired(
    b: &mut Bench,
    blocks: usize,
    ops: usize,
    safe: fn(&mut Bench),
    raw: fn(&mut Bench),
    settle: fn(&mut Bench),
) -> Paired {
    let (mut s, mut r) = (Vec::with_capacity(blocks), Vec::with_capacity(blocks));
    let block = |b: &mut Bench, op: fn(&mut Bench)| {
        let t = Instant::now();
        for _ in 0..ops {
            op(b);
        }
        let ns = t.elapsed().as_nanos() as f64 / ops as f64;
        settle(b);
        ns
    };
    for k in 0..blocks {
        if k % 2 == 0 {
            s.push(block(b, safe));
            r.push(block(b, raw));
        } else {
            r.push(block(b, raw));
            s.push(block(b, safe));
        }
    }
    Paired {
        safe: median(&mut s),
        raw: median(&mut r),
    }
}

/// How many interleaved measurements `paired_table` takes.
#[derive(Clone, Copy)]
pub(crate) enum Depth {
    /// `--test`: a token run, to check the code path only.
    Token,
    /// `--quick`.
    Quick,
    /// A full run.
    Full,
}

/// The interleaved comparison of every safe benchmark with its raw twin, printed as a table.
/// One-at-a-time operations alternate singly (each timed alone: the median is the typical
/// operation's time, untouched by load bursts shorter than half the run); the pipelined ones
/// alternate in blocks, drained (untimed) after each.
pub(crate) fn paired_table(b: &mut Bench, depth: Depth) {
    fn nothing(_: &mut Bench) {}
    fn drain(b: &mut Bench) {
        b.safe_drain();
        b.raw_drain();
    }
    let (single, (blocks, ops)) = match depth {
        Depth::Token => (3, (2, 4)),
        Depth::Quick => (501, (11, 50)),
        Depth::Full => (5001, (41, 200)),
    };
    type Row = (&'static str, fn(&mut Bench), fn(&mut Bench), usize, usize);
    let rows: [Row; 4] = [
        (
            "write64, owned source",
            Bench::safe_write_owned,
            Bench::raw_write,
            single,
            1,
        ),
        (
            "write64, shared source",
            Bench::safe_write_shared,
            Bench::raw_write,
            single,
            1,
        ),
        (
            "send_recv64",
            Bench::safe_send_recv,
            Bench::raw_send_recv,
            single,
            1,
        ),
        (
            "write64_pipeline16 (per write)",
            Bench::safe_pipeline,
            Bench::raw_pipeline,
            blocks,
            ops,
        ),
    ];
    println!();
    println!("interleaved safe vs raw, median ns per operation:");
    println!(
        "{:<32} {:>18} {:>10} {:>10} {:>9}",
        "benchmark", "blocks x ops/side", "safe ns", "raw ns", "safe/raw"
    );
    for (name, safe, raw, blocks, ops) in rows {
        let settle = if ops == 1 { nothing } else { drain };
        let p = paired(b, blocks, ops, safe, raw, settle);
        println!(
            "{name:<32} {:>18} {:>10.0} {:>10.0} {:>9.3}",
            format!("{blocks} x {ops}"),
            p.safe,
            p.raw,
            p.safe / p.raw
        );
    }
}
