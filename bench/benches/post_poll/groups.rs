//! The criterion groups, each `safe_*` against `raw_*` on the same stub QP and CQ.

use crate::blocks::SEND_BLOCK;
use crate::setup::Bench;
use criterion::{Criterion, Throughput};

/// Runs every group on `b`.
pub(crate) fn all(c: &mut Criterion, b: &mut Bench) {
    post_send(c, b);
    recv_cycle(c, b);
    poll_empty(c, b);
    send_batch16(c, b);
    runs(c, b);
}

fn post_send(c: &mut Criterion, b: &mut Bench) {
    let mut g = c.benchmark_group("post_send");
    g.throughput(Throughput::Elements(1));
    g.bench_function("safe_shared", |bn| bn.iter(|| b.safe_send(false)));
    g.bench_function("raw_sge", |bn| bn.iter(|| b.raw_send(false)));
    g.bench_function("safe_inline", |bn| bn.iter(|| b.safe_send(true)));
    g.bench_function("raw_inline", |bn| bn.iter(|| b.raw_send(true)));
    g.finish();
}

fn recv_cycle(c: &mut Criterion, b: &mut Bench) {
    let mut g = c.benchmark_group("recv_cycle");
    g.throughput(Throughput::Elements(1));
    g.bench_function("safe", |bn| bn.iter(|| b.safe_recv_cycle()));
    g.bench_function("raw", |bn| bn.iter(|| b.raw_recv_cycle()));
    g.finish();
}

fn poll_empty(c: &mut Criterion, b: &mut Bench) {
    let mut g = c.benchmark_group("poll_empty");
    g.throughput(Throughput::Elements(1));
    g.bench_function("safe", |bn| bn.iter(|| b.safe_poll_empty()));
    g.bench_function("raw", |bn| bn.iter(|| b.raw_poll_empty()));
    g.finish();
}

fn send_batch16(c: &mut Criterion, b: &mut Bench) {
    let mut g = c.benchmark_group("send_batch16");
    g.throughput(Throughput::Elements(16));
    g.bench_function("safe", |bn| bn.iter(|| b.safe_batch16()));
    g.bench_function("raw", |bn| bn.iter(|| b.raw_batch16()));
    g.finish();
}

fn runs(c: &mut Criterion, b: &mut Bench) {
    let mut g = c.benchmark_group("run");
    // One iteration is a block: run and templates made, SEND_BLOCK sends posted, run ended.
    g.throughput(Throughput::Elements(SEND_BLOCK));
    g.bench_function("safe_template_send", |bn| bn.iter(|| b.run_sends()));
    g.bench_function("raw_prepared_send", |bn| bn.iter(|| b.raw_prepared_sends()));
    g.bench_function("safe_chain16", |bn| bn.iter(|| b.run_chains16()));
    g.bench_function("raw_prepared_chain16", |bn| {
        bn.iter(|| b.raw_prepared_chains16())
    });
    g.finish();
}
