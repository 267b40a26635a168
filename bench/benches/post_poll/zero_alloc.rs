//! The zero-allocation check `main` runs first: a counting global allocator, and 10 000
//! rounds of each safe operation under it, which must neither allocate nor free.

use crate::setup::{used, Bench};
use rdma_verbs::{RecvWr, SendWr};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;

struct Counting;

thread_local! {
    /// (allocations incl. reallocations, deallocations) made by this thread.
    static COUNTS: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

fn note(alloc: u64, dealloc: u64) {
    // A const-initialized Cell has no destructor: `try_with` never fails nor allocates.
    let _ = COUNTS.try_with(|c| {
        let (a, d) = c.get();
        c.set((a + alloc, d + dealloc));
    });
}

fn counts() -> (u64, u64) {
    COUNTS.with(Cell::get)
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting touches only a
// thread-local Cell.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(1, 0);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(1, 0);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(1, 0);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(0, 1);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Allocations and deallocations made by 10 000 rounds of `op` after 1 000 warm-up rounds.
fn alloc_counts(b: &mut Bench, op: fn(&mut Bench)) -> (u64, u64) {
    for _ in 0..1_000 {
        op(b);
    }
    let (a0, d0) = counts();
    for _ in 0..10_000 {
        op(b);
    }
    let (a1, d1) = counts();
    (a1 - a0, d1 - d0)
}

pub(crate) fn zero_alloc_check() {
    // The counter is live: one Vec is one allocation and one deallocation.
    let (a0, d0) = counts();
    drop(black_box(Vec::<u8>::with_capacity(8)));
    let (a1, d1) = counts();
    assert_eq!((a1 - a0, d1 - d0), (1, 1), "the counting allocator counts");

    let mut b = Bench::new();
    type Op = (&'static str, fn(&mut Bench));
    let ops: [Op; 6] = [
        ("post_send/safe_shared", |b| b.safe_send(false)),
        ("post_send/safe_inline", |b| b.safe_send(true)),
        ("recv_cycle/safe", Bench::safe_recv_cycle),
        ("poll_empty/safe", Bench::safe_poll_empty),
        ("send_batch16/safe", Bench::safe_batch16),
        ("raw post_send (reference)", |b| b.raw_send(false)),
    ];
    let mut bad = Vec::new();
    println!("zero-allocation check (10000 rounds each):");
    for (name, op) in ops {
        let (a, d) = alloc_counts(&mut b, op);
        println!("  {name:<28} allocations {a}, deallocations {d}");
        if a != 0 || d != 0 {
            bad.push(name);
        }
    }
    // Runs: the run, its templates and the chain (which allocates its requests) are made
    // once, outside the count; what is counted is posting them and completing their requests.
    {
        let Bench {
            qp,
            cq,
            wcs,
            shared,
            sink,
            ..
        } = &mut b;
        let run = qp.run();
        let mut send = run.prepare(SendWr::send(*shared)).expect("prepare");
        let mut chain = run
            .prepare_chain(SendWr::send(*shared), 16)
            .expect("prepare_chain");
        let mut recv = run
            .prepare_recv(RecvWr::recv_to_sink(*sink).range(0, 64))
            .expect("prepare_recv");
        let mut round = |i: u64| {
            send.post(i, true).expect("post");
            chain.post(i, true).expect("post a chain");
            recv.post(i).expect("post a receive");
            for wc in cq.poll(wcs).expect("poll") {
                used(run.complete(wc).expect("complete"));
            }
        };
        (0..1_000).for_each(&mut round);
        let (a0, d0) = counts();
        (0..10_000).for_each(&mut round);
        let (a, d) = counts();
        let (a, d) = (a - a0, d - d0);
        let name = "run: template, chain, recv";
        println!("  {name:<28} allocations {a}, deallocations {d}");
        if a != 0 || d != 0 {
            bad.push(name);
        }
    }
    assert!(bad.is_empty(), "these operations allocate: {bad:?}");
    assert_eq!(b.qp.send_outstanding(), 0, "every send was retired");
}
