//! What the safe API costs on a real device, against raw FFI doing the same work: post a work
//! request and poll until it completed, on two RC QPs of the first RDMA device connected to
//! each other in loopback (`$RDMA_DEVICE` chooses another). Without a device this benchmark
//! FAILS ("no RDMA device"); it never skips. Run it in the Soft-RoCE VM: `scripts/bench-device`.
//!
//! Groups, each `safe*` against `raw` on the same QPs and CQs (QP A sends, QP B is the peer):
//! - `write64`: one signaled 64-byte RDMA WRITE, then poll A's CQ until its completion. Safe
//!   side twice: the source owned by the request (moved in, handed back by `complete`) and a
//!   source shared with the QP (`QueuePair::share`, as `rdma-perf` does).
//! - `send_recv64`: B posts a receive, A a 64-byte SEND; poll both CQs until the send and the
//!   receive completed (safe side: both buffers owned by their request and handed back).
//! - `write64_pipeline16`: signaled 64-byte writes from a shared source with 16 in flight; each
//!   iteration posts one write, polling first (until at least one completes) when 16 are out.
//!   The time is per write.
//!
//! After the criterion groups, `main` prints a table of each safe benchmark against its raw
//! twin measured interleaved (medians of ns per operation): the one-at-a-time operations
//! alternate singly, 5001 per side (501 with `--quick`); the pipelined ones in 41 blocks of
//! 200 writes per side (11 of 50). Criterion measures one benchmark after the other, so under
//! an emulated VM on a shared host a change of load alone can make one side look slower;
//! interleaved measurements see the same load.
//!
//! Every completion's status (and opcode, length, id on the raw side) is checked. Each benchmark
//! writes its own 64-byte slot of B's memory (or receive buffer) from its own byte pattern: the
//! slots are zeroed after a first self-check round and compared byte for byte with their
//! pattern after the run, so the benchmark cannot silently measure failing operations.
//!
//! The dev-dependency on `rdma` enables the `stub-provider` feature (for `post_poll`); it adds a
//! flag to the context that only the control path and the destructors look at, so nothing here
//! changes on a real device.
//!
//! `scripts/bench-device [--quick]` builds this and runs it in the VM; `scripts/test-device`
//! runs it with `--quick` after the device tests, so it cannot rot.

#[path = "device_post_poll/bench.rs"]
mod bench;
#[path = "common/device.rs"]
mod device;
#[path = "common/median.rs"]
mod median;
#[path = "device_post_poll/paired.rs"]
mod paired;

use bench::{Bench, DEPTH, SLOTS};
use criterion::{Criterion, Throughput};
use paired::{paired_table, Depth};

fn main() {
    let mut b = Bench::new();
    // Self-check: one round of everything, every byte where it belongs; then zero the
    // destinations so the final check sees only what the measured runs wrote.
    b.safe_write_owned();
    b.safe_write_shared();
    b.raw_write();
    b.safe_send_recv();
    b.raw_send_recv();
    for _ in 0..2 * DEPTH {
        b.safe_pipeline();
    }
    b.safe_drain();
    for _ in 0..2 * DEPTH {
        b.raw_pipeline();
    }
    b.raw_drain();
    assert_eq!(b.verify(), SLOTS, "self-check");
    b.clear();
    b.done = [0; SLOTS];

    let mut c = Criterion::default().configure_from_args();
    {
        let mut g = c.benchmark_group("write64");
        g.throughput(Throughput::Elements(1));
        g.bench_function("safe_owned", |bn| bn.iter(|| b.safe_write_owned()));
        g.bench_function("safe_shared", |bn| bn.iter(|| b.safe_write_shared()));
        g.bench_function("raw", |bn| bn.iter(|| b.raw_write()));
        g.finish();
    }
    {
        let mut g = c.benchmark_group("send_recv64");
        g.throughput(Throughput::Elements(1));
        g.bench_function("safe", |bn| bn.iter(|| b.safe_send_recv()));
        g.bench_function("raw", |bn| bn.iter(|| b.raw_send_recv()));
        g.finish();
    }
    {
        let mut g = c.benchmark_group("write64_pipeline16");
        g.throughput(Throughput::Elements(1));
        g.bench_function("safe", |bn| bn.iter(|| b.safe_pipeline()));
        b.safe_drain();
        g.bench_function("raw", |bn| bn.iter(|| b.raw_pipeline()));
        b.raw_drain();
        g.finish();
    }
    c.final_summary();
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--list") {
        let has = |flag: &str| args.iter().any(|a| a == flag);
        let depth = if has("--test") {
            Depth::Token
        } else if has("--quick") {
            Depth::Quick
        } else {
            Depth::Full
        };
        paired_table(&mut b, depth);
    }
    assert_eq!(b.a.send_outstanding(), 0, "every safe send was retired");
    assert_eq!(b.b.recv_outstanding(), 0, "every safe receive was retired");
    let checked = b.verify();
    println!(
        "device_post_poll: {checked} benchmark(s) verified byte for byte ({:?} operations)",
        b.done
    );
}
