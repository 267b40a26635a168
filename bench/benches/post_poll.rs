//! What the safe API costs on the data path, against raw FFI calls doing the same work, on the
//! host: both run over the in-process stub provider (the `rdma-stub` crate), whose ops table is a set
//! of `extern "C"` stubs. Both sides make the same one indirect call into the same stub, so the
//! difference is the wrapper's own work (checks, the in-flight ring, nonces, `complete`).
//!
//! Groups, each `safe_*` against `raw_*` on the same stub QP and CQ:
//! - `post_send`: one SEND from a pinned source (SGE) and one inline SEND; one in 64 is
//!   signaled, then polled (and, safe side, handed to `complete`, retiring the 64).
//! - `recv_cycle`: post a receive, poll its completion, and (safe side) `complete` it, which
//!   hands the buffer back for the next round.
//! - `poll_empty`: polling an empty CQ (16 entries asked).
//! - `send_batch16`: 16 SENDs chained and posted with one doorbell, the last signaled, polled
//!   and completed; the time is per batch (per WR: divide by 16).
//! - `run`: posts from a run (`QueuePair::run`): a SEND template from a pinned source (one in
//!   64 signaled, polled, completed) and a 16-SEND chain, against raw requests built once and
//!   posted again with only their `wr_id` and flags set; per block of 1024 sends.
//!
//! Before the groups, `main` runs 10 000 rounds of each safe operation under a counting global
//! allocator and fails when any allocated (or freed) memory.
//!
//! After them, it measures every pair again interleaved (alternating blocks of about a
//! thousand operations, 2001 blocks per side, 101 with `--quick`) and prints the median ns
//! of each side and the median and quartiles of the per-block difference: criterion runs one
//! benchmark after the other, and on a shared host that alone moves them apart by more than
//! what is measured here. The receive pairs there split posting and completing (256 receives
//! posted, then all polled and completed), each timed alone.
//!
//! Full run: `cargo bench -p rdma-bench --bench post_poll`. Short mode (CI): `-- --quick`.
//! `-- --interleaved [BLOCKS]` prints only the interleaved table. `-- --count OP ROUNDS` runs
//! one operation's loop, for `scripts/count-instructions` (instructions per operation under
//! valgrind, which do not depend on the load).

#[path = "common/median.rs"]
mod median;

use criterion::{Criterion, Throughput};
use median::median;
use rdma_verbs::{
    sys, Access, Completion, CompletionQueue, Local, MemoryRegion, Pinned, QpCaps, QueuePair,
    SendWr, Sink, WcStatus, WorkCompletion,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::ptr;
use std::time::Instant;

// ---------------------------------------------------------------------------------------------
// Counting allocator (for the zero-allocation check)

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

/// What the benchmark does with a completion handed back, as the raw side does with a raw
/// one: checks its status and uses its `wr_id`; returns the buffer it held.
#[inline(always)]
fn used(c: Completion) -> Option<MemoryRegion> {
    if !c.is_ok() {
        failed(c.status.to_raw());
    }
    black_box(c.wr_id);
    c.buf
}

/// A completion that did not succeed: the benchmark stops. `extern "C"`, so that it cannot
/// unwind, as the raw side's failed check has nothing to drop either.
#[cold]
#[inline(never)]
extern "C" fn failed(status: u32) -> ! {
    panic!("a benchmark request failed: {}", WcStatus::from_raw(status));
}

// ---------------------------------------------------------------------------------------------
// The stub setup and one round of each operation

/// One signaled send in this many (the rest unsignaled), as a real sender does.
const SIGNAL_EVERY: u64 = 64;
const CAPS: QpCaps = QpCaps {
    max_send_wr: 256,
    max_recv_wr: 256,
    max_send_sge: 1,
    max_recv_sge: 1,
    max_inline_data: 64,
};
const POLL: usize = 16;
/// Receives posted at once by the interleaved receive measurements (the QP's depth).
const RECV_DEPTH: usize = 256;

struct Bench {
    cq: CompletionQueue,
    qp: QueuePair,
    pinned: Pinned,
    /// The pinned source, as the raw side describes it.
    src: sys::ibv_sge,
    /// The receive buffer of the safe cycle (None while posted).
    recv_buf: Option<MemoryRegion>,
    /// The receive buffer of the raw cycle.
    raw_recv: MemoryRegion,
    /// `RECV_DEPTH` pieces of one region for the safe receives of the interleaved
    /// measurement (all here while none is posted).
    pool: Vec<MemoryRegion>,
    /// The same pieces as the raw side describes them (the raw receives post these).
    raw_pieces: Vec<sys::ibv_sge>,
    /// A sink for the receives of runs (64 bytes of it per receive).
    sink: Sink,
    /// The raw side's sink: 64 bytes of `raw_recv`.
    raw_sink: sys::ibv_sge,
    /// The raw side's free pieces, by index: what a raw user keeps to know which buffers are
    /// not posted (the safe side's pool does the same with the pieces themselves).
    raw_free: Vec<usize>,
    inline: [u8; 32],
    wcs: [WorkCompletion; POLL],
    raw_wcs: [sys::ibv_wc; POLL],
    i: u64,
}

impl Bench {
    fn new() -> Self {
        // SAFETY: the benchmark only posts, polls, completes and drops on the stub objects.
        let ctx = unsafe { rdma_stub::context() };
        let pd = rdma_stub::protection_domain(&ctx);
        let cq = rdma_stub::completion_queue(&ctx, 1024);
        let mut qp = rdma_stub::queue_pair(&pd, &cq, &cq, CAPS, false);
        let mr = |len| rdma_stub::memory_region(&pd, len, Access::LOCAL_WRITE).expect("mmap");
        let pinned = qp.pin(mr(4096));
        let p = qp.pinned(pinned).expect("just pinned");
        let src = sys::ibv_sge {
            addr: p.addr(),
            length: p.len() as u32,
            lkey: p.lkey(),
        };
        let pool = mr(RECV_DEPTH * 64).chunks(64);
        let raw_pieces = pool
            .iter()
            .map(|p| sys::ibv_sge {
                addr: p.addr(),
                length: p.len() as u32,
                lkey: p.lkey(),
            })
            .collect();
        let sink = qp.sink(mr(4096));
        let raw_recv = mr(4096);
        let raw_sink = sys::ibv_sge {
            addr: raw_recv.addr(),
            length: 64,
            lkey: raw_recv.lkey(),
        };
        Bench {
            sink,
            raw_sink,
            pool,
            raw_pieces,
            raw_free: (0..RECV_DEPTH).collect(),
            recv_buf: Some(mr(4096)),
            raw_recv,
            cq,
            qp,
            pinned,
            src,
            inline: [0x5a; 32],
            wcs: [WorkCompletion::default(); POLL],
            raw_wcs: [sys::ibv_wc::default(); POLL],
            i: 0,
        }
    }

    fn next(&mut self) -> u64 {
        self.i = self.i.wrapping_add(1);
        self.i
    }

    /// Polls the CQ and hands every completion to the QP.
    #[inline(always)]
    fn safe_retire(&mut self) {
        for wc in self.cq.poll(&mut self.wcs).expect("poll") {
            used(self.qp.complete(wc).expect("complete"));
        }
    }

    /// Polls the CQ raw and checks every completion's status.
    #[inline(always)]
    fn raw_retire(&mut self) {
        // SAFETY: the stub CQ is live and `raw_wcs` has room for POLL entries.
        let n =
            unsafe { sys::ibv_poll_cq(self.cq.as_raw(), POLL as i32, self.raw_wcs.as_mut_ptr()) };
        assert!(n >= 0, "ibv_poll_cq: {n}");
        for wc in &self.raw_wcs[..n as usize] {
            assert_eq!(wc.status, sys::ibv_wc_status::IBV_WC_SUCCESS);
            black_box(wc.wr_id);
        }
    }

    #[inline(always)]
    fn safe_send(&mut self, inline: bool) {
        let i = self.next();
        let signaled = i % SIGNAL_EVERY == SIGNAL_EVERY - 1;
        let data = black_box(self.inline);
        let local = if inline {
            Local::Inline(&data)
        } else {
            Local::Pinned(self.pinned)
        };
        self.qp
            .post_send(SendWr::send(local).wr_id(i).signaled(signaled))
            .expect("post_send");
        if signaled {
            self.safe_retire();
        }
    }

    #[inline(always)]
    fn raw_send(&mut self, inline: bool) {
        let i = self.next();
        let signaled = i % SIGNAL_EVERY == SIGNAL_EVERY - 1;
        let data = black_box(self.inline);
        let (mut sge, flags) = if inline {
            let sge = sys::ibv_sge {
                addr: data.as_ptr() as u64,
                length: data.len() as u32,
                lkey: 0,
            };
            (sge, sys::ibv_send_flags::IBV_SEND_INLINE)
        } else {
            (self.src, 0)
        };
        let mut wr = sys::ibv_send_wr {
            wr_id: i,
            next: ptr::null_mut(),
            sg_list: &mut sge,
            num_sge: 1,
            opcode: sys::ibv_wr_opcode::IBV_WR_SEND,
            send_flags: flags
                | if signaled {
                    sys::ibv_send_flags::IBV_SEND_SIGNALED
                } else {
                    0
                },
            ..Default::default()
        };
        let mut bad = ptr::null_mut();
        // SAFETY: the stub QP is live; the SGE describes the pinned source (kept by the QP for
        // the whole run) or inline bytes alive for the call.
        let ret = unsafe { sys::ibv_post_send(self.qp.as_raw(), &mut wr, &mut bad) };
        assert_eq!(ret, 0, "ibv_post_send");
        if signaled {
            self.raw_retire();
        }
    }

    #[inline(always)]
    fn safe_recv_cycle(&mut self) {
        let i = self.next();
        let buf = self.recv_buf.take().expect("handed back by the last round");
        self.qp.post_recv(buf, i).expect("post_recv");
        for wc in self.cq.poll(&mut self.wcs).expect("poll") {
            self.recv_buf = used(self.qp.complete(wc).expect("complete"));
        }
    }

    #[inline(always)]
    fn raw_recv_cycle(&mut self) {
        let i = self.next();
        let sge = sys::ibv_sge {
            addr: self.raw_recv.addr(),
            length: self.raw_recv.len() as u32,
            lkey: self.raw_recv.lkey(),
        };
        // SAFETY: `raw_recv` is a region of the stub PD and lives as long as the bench.
        unsafe { self.raw_post_recv(sge, i) };
        self.raw_retire();
    }

    /// Posts one raw receive into `sge`.
    ///
    /// # Safety
    /// `sge` describes memory of a region of the stub PD that outlives the request (the stub
    /// completes it at once and never writes it).
    #[inline(always)]
    unsafe fn raw_post_recv(&mut self, mut sge: sys::ibv_sge, wr_id: u64) {
        let mut wr = sys::ibv_recv_wr {
            wr_id,
            next: ptr::null_mut(),
            sg_list: &mut sge,
            num_sge: 1,
        };
        let mut bad = ptr::null_mut();
        // SAFETY: the stub QP is live; the SGE as the caller promised.
        let ret = unsafe { sys::ibv_post_recv(self.qp.as_raw(), &mut wr, &mut bad) };
        assert_eq!(ret, 0, "ibv_post_recv");
    }

    #[inline(always)]
    fn safe_poll_empty(&mut self) {
        black_box(self.cq.poll(&mut self.wcs).expect("poll").len());
    }

    #[inline(always)]
    fn raw_poll_empty(&mut self) {
        // SAFETY: the stub CQ is live and `raw_wcs` has room for POLL entries.
        let n =
            unsafe { sys::ibv_poll_cq(self.cq.as_raw(), POLL as i32, self.raw_wcs.as_mut_ptr()) };
        assert!(n >= 0, "ibv_poll_cq: {n}");
        black_box(n);
    }

    #[inline(always)]
    fn safe_batch16(&mut self) {
        let base = self.next() * 16;
        let mut batch = self.qp.send_batch::<16>();
        for k in 0..16 {
            let wr = SendWr::send(self.pinned).wr_id(base + k).signaled(k == 15);
            batch.push(wr).expect("push");
        }
        batch.post().expect("post");
        self.safe_retire();
    }

    #[inline(always)]
    fn raw_batch16(&mut self) {
        let base = self.next() * 16;
        let mut sges = [self.src; 16];
        let mut wrs = raw_chain16(&mut sges, base);
        let head = link16(&mut wrs);
        let mut bad = ptr::null_mut();
        // SAFETY: the stub QP is live; `wrs` is a chain of 16 requests, each with its SGE in
        // `sges` describing the pinned source; both arrays live until the call returns.
        let ret = unsafe { sys::ibv_post_send(self.qp.as_raw(), head, &mut bad) };
        assert_eq!(ret, 0, "ibv_post_send");
        self.raw_retire();
    }
}

/// 16 raw SENDs, request `k` of `sges[k]` with `wr_id` `base + k`, the last signaled; not yet
/// linked (see [`link16`]).
#[inline(always)]
fn raw_chain16(sges: &mut [sys::ibv_sge; 16], base: u64) -> [sys::ibv_send_wr; 16] {
    let sg = sges.as_mut_ptr();
    std::array::from_fn(|k| sys::ibv_send_wr {
        wr_id: base + k as u64,
        next: ptr::null_mut(),
        sg_list: sg.wrapping_add(k),
        num_sge: 1,
        opcode: sys::ibv_wr_opcode::IBV_WR_SEND,
        send_flags: if k == 15 {
            sys::ibv_send_flags::IBV_SEND_SIGNALED
        } else {
            0
        },
        ..Default::default()
    })
}

/// Links the 16 requests of `wrs` in order, where they are now; returns the chain's head.
#[inline(always)]
fn link16(wrs: &mut [sys::ibv_send_wr; 16]) -> *mut sys::ibv_send_wr {
    let head = wrs.as_mut_ptr();
    for k in 0..15 {
        // SAFETY: k + 1 < 16: both are elements of `wrs`, reached through `head` only.
        unsafe { (*head.add(k)).next = head.add(k + 1) };
    }
    head
}

// ---------------------------------------------------------------------------------------------
// Zero-allocation check

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

fn zero_alloc_check() {
    // The counter is live: one Vec is one allocation and one deallocation.
    let (a0, d0) = counts();
    drop(black_box(Vec::<u8>::with_capacity(8)));
    let (a1, d1) = counts();
    assert_eq!((a1 - a0, d1 - d0), (1, 1), "the counting allocator counts");

    let mut b = Bench::new();
    type Op = (&'static str, fn(&mut Bench));
    let ops: [Op; 6] = [
        ("post_send/safe_pinned", |b| b.safe_send(false)),
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
            pinned,
            sink,
            ..
        } = &mut b;
        let run = qp.run();
        let mut send = run.prepare(SendWr::send(*pinned)).expect("prepare");
        let mut chain = run
            .prepare_chain(SendWr::send(*pinned), 16)
            .expect("prepare_chain");
        let mut recv = run.prepare_recv(*sink, 0, 64).expect("prepare_recv");
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

// ---------------------------------------------------------------------------------------------
// Benchmarks

fn post_send(c: &mut Criterion, b: &mut Bench) {
    let mut g = c.benchmark_group("post_send");
    g.throughput(Throughput::Elements(1));
    g.bench_function("safe_pinned", |bn| bn.iter(|| b.safe_send(false)));
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

// ---------------------------------------------------------------------------------------------
// Interleaved measurement: safe and raw in alternating blocks

/// Receives and their completions, split so that each phase is timed alone: `RECV_DEPTH`
/// receives posted (each into its own piece), then all polled (`POLL` at a time) and, safe
/// side, handed to `complete`, which gives the pieces back.
impl Bench {
    /// Posts `RECV_DEPTH` receives from the pool; returns the ns this took.
    #[inline(always)]
    fn safe_post_recvs(&mut self) -> f64 {
        let t = Instant::now();
        for k in 0..RECV_DEPTH as u64 {
            let buf = self.pool.pop().expect("every piece is back");
            self.qp.post_recv(buf, k).expect("post_recv");
        }
        t.elapsed().as_nanos() as f64
    }

    /// Polls and completes every receive posted; returns the ns this took.
    #[inline(always)]
    fn safe_complete_recvs(&mut self) -> f64 {
        self.safe_drain_recvs(|pool, buf| pool.push(buf.expect("a receive's piece")))
    }

    /// Polls (`POLL` at a time) until `RECV_DEPTH` completions came, hands each to `complete`
    /// and [`used`], and the buffer it gave back to `each` with the pool; returns the ns.
    #[inline(always)]
    fn safe_drain_recvs(
        &mut self,
        mut each: impl FnMut(&mut Vec<MemoryRegion>, Option<MemoryRegion>),
    ) -> f64 {
        let t = Instant::now();
        let mut left = RECV_DEPTH;
        while left > 0 {
            for wc in self.cq.poll(&mut self.wcs).expect("poll") {
                each(
                    &mut self.pool,
                    used(self.qp.complete(wc).expect("complete")),
                );
                left -= 1;
            }
        }
        t.elapsed().as_nanos() as f64
    }

    #[inline(always)]
    fn raw_post_recvs(&mut self) -> f64 {
        let t = Instant::now();
        for _ in 0..RECV_DEPTH {
            let k = self.raw_free.pop().expect("every piece is back");
            // SAFETY: the pieces are of a region of the stub PD that lives as long as the
            // bench (the raw side completes all its receives before the safe side posts them).
            unsafe { self.raw_post_recv(self.raw_pieces[k], k as u64) };
        }
        t.elapsed().as_nanos() as f64
    }

    #[inline(always)]
    fn raw_complete_recvs(&mut self) -> f64 {
        self.raw_drain_recvs(|b, wr_id| b.raw_free.push(wr_id as usize))
    }

    /// Polls raw (`POLL` at a time) until `RECV_DEPTH` completions came, checks each one's
    /// status and hands its `wr_id` to `each`; returns the ns this took.
    #[inline(always)]
    fn raw_drain_recvs(&mut self, mut each: impl FnMut(&mut Self, u64)) -> f64 {
        let t = Instant::now();
        let mut left = RECV_DEPTH;
        while left > 0 {
            // SAFETY: the stub CQ is live and `raw_wcs` has room for POLL entries.
            let n = unsafe {
                sys::ibv_poll_cq(self.cq.as_raw(), POLL as i32, self.raw_wcs.as_mut_ptr())
            };
            assert!(n >= 0, "ibv_poll_cq: {n}");
            for k in 0..n as usize {
                let wc = &self.raw_wcs[k];
                assert_eq!(wc.status, sys::ibv_wc_status::IBV_WC_SUCCESS);
                let wr_id = wc.wr_id;
                each(self, wr_id);
            }
            left -= n as usize;
        }
        t.elapsed().as_nanos() as f64
    }
}

/// Runs: templates checked once ([`QueuePair::run`]), against raw requests built once.
impl Bench {
    /// `SEND_BLOCK` sends in one run of a pinned-source SEND template (run and template made
    /// and ended in the block), one in 64 signaled, polled and completed; ns per send.
    #[inline(always)]
    fn run_sends(&mut self) -> f64 {
        let t0 = Instant::now();
        let run = self.qp.run();
        let mut t = run.prepare(SendWr::send(self.pinned)).expect("prepare");
        for _ in 0..SEND_BLOCK {
            self.i = self.i.wrapping_add(1);
            let i = self.i;
            let signaled = i % SIGNAL_EVERY == SIGNAL_EVERY - 1;
            t.post(i, signaled).expect("post");
            if signaled {
                for wc in self.cq.poll(&mut self.wcs).expect("poll") {
                    used(run.complete(wc).expect("complete"));
                }
            }
        }
        drop(run);
        t0.elapsed().as_nanos() as f64 / SEND_BLOCK as f64
    }

    /// The raw twin of `run_sends`: one request built before the block, and per send only
    /// its `wr_id` and flags set.
    #[inline(always)]
    fn raw_prepared_sends(&mut self) -> f64 {
        let t0 = Instant::now();
        let mut sge = self.src;
        let mut wr = sys::ibv_send_wr {
            num_sge: 1,
            opcode: sys::ibv_wr_opcode::IBV_WR_SEND,
            ..Default::default()
        };
        for _ in 0..SEND_BLOCK {
            let i = self.next();
            let signaled = i % SIGNAL_EVERY == SIGNAL_EVERY - 1;
            wr.wr_id = i;
            wr.send_flags = if signaled {
                sys::ibv_send_flags::IBV_SEND_SIGNALED
            } else {
                0
            };
            wr.sg_list = &mut sge;
            let mut bad = ptr::null_mut();
            // SAFETY: the stub QP is live; the SGE describes the pinned source (kept by the
            // QP for the whole run).
            let ret = unsafe { sys::ibv_post_send(self.qp.as_raw(), &mut wr, &mut bad) };
            assert_eq!(ret, 0, "ibv_post_send");
            if signaled {
                self.raw_retire();
            }
        }
        t0.elapsed().as_nanos() as f64 / SEND_BLOCK as f64
    }

    /// `SEND_BLOCK / 16` posts of a 16-send chain of a pinned-source SEND in one run (run and
    /// chain made and ended in the block), the last of each signaled, polled and completed;
    /// ns per send.
    #[inline(always)]
    fn run_chains16(&mut self) -> f64 {
        let t0 = Instant::now();
        let run = self.qp.run();
        let mut chain = run
            .prepare_chain(SendWr::send(self.pinned), 16)
            .expect("prepare_chain");
        for _ in 0..SEND_BLOCK / 16 {
            self.i = self.i.wrapping_add(1);
            chain.post(self.i * 16, true).expect("post");
            for wc in self.cq.poll(&mut self.wcs).expect("poll") {
                used(run.complete(wc).expect("complete"));
            }
        }
        drop(chain);
        drop(run);
        t0.elapsed().as_nanos() as f64 / SEND_BLOCK as f64
    }

    /// The raw twin of `run_chains16`: a chain of 16 requests built and linked before the
    /// block; per post only the `wr_id`s are set.
    #[inline(always)]
    fn raw_prepared_chains16(&mut self) -> f64 {
        let t0 = Instant::now();
        let mut sges = [self.src; 16];
        let mut wrs = raw_chain16(&mut sges, 0);
        let head = link16(&mut wrs);
        for _ in 0..SEND_BLOCK / 16 {
            let base = self.next() * 16;
            for k in 0..16 {
                // SAFETY: k < 16, an element of `wrs`.
                unsafe { (*head.add(k)).wr_id = base + k as u64 };
            }
            let mut bad = ptr::null_mut();
            // SAFETY: the stub QP is live; `wrs` is a chain of 16 requests, each with its SGE
            // in `sges` describing the pinned source; both arrays outlive the call.
            let ret = unsafe { sys::ibv_post_send(self.qp.as_raw(), head, &mut bad) };
            assert_eq!(ret, 0, "ibv_post_send");
            self.raw_retire();
        }
        t0.elapsed().as_nanos() as f64 / SEND_BLOCK as f64
    }

    /// One round of the poll measurement: `POLL` raw receives posted (the same on both sides),
    /// then one poll that returns their `POLL` completions, safe (`CompletionQueue::poll`)
    /// or raw, each checked for success.
    #[inline(always)]
    fn poll_full(&mut self, safe: bool) {
        for k in 0..POLL as u64 {
            // SAFETY: `raw_sink` is 64 bytes of `raw_recv`, a region of the stub PD that lives
            // as long as the bench (the stub never writes it).
            unsafe { self.raw_post_recv(self.raw_sink, k) };
        }
        if safe {
            let wcs = self.cq.poll(&mut self.wcs).expect("poll");
            assert_eq!(wcs.len(), POLL);
            for wc in wcs {
                assert!(wc.is_ok());
                black_box(wc.raw_wr_id());
            }
        } else {
            // SAFETY: the stub CQ is live and `raw_wcs` has room for POLL entries.
            let n = unsafe {
                sys::ibv_poll_cq(self.cq.as_raw(), POLL as i32, self.raw_wcs.as_mut_ptr())
            };
            assert_eq!(n, POLL as i32, "ibv_poll_cq");
            for wc in &self.raw_wcs {
                assert_eq!(wc.status, sys::ibv_wc_status::IBV_WC_SUCCESS);
                black_box(wc.wr_id);
            }
        }
    }

    /// Posts `RECV_DEPTH` receives into 64 bytes of the sink in one run; returns the ns.
    #[inline(always)]
    fn run_post_recvs(&mut self) -> f64 {
        let t0 = Instant::now();
        let run = self.qp.run();
        let mut t = run.prepare_recv(self.sink, 0, 64).expect("prepare_recv");
        for k in 0..RECV_DEPTH as u64 {
            t.post(k).expect("post_recv");
        }
        drop(run);
        t0.elapsed().as_nanos() as f64
    }

    /// Polls and completes the receives `run_post_recvs` posted; returns the ns.
    #[inline(always)]
    fn sink_complete_recvs(&mut self) -> f64 {
        self.safe_drain_recvs(|_, buf| debug_assert!(buf.is_none()))
    }

    /// The raw twin of `run_post_recvs`: one SGE, `RECV_DEPTH` receives.
    #[inline(always)]
    fn raw_sink_post_recvs(&mut self) -> f64 {
        let t0 = Instant::now();
        let mut sge = self.raw_sink;
        let mut wr = sys::ibv_recv_wr {
            num_sge: 1,
            ..Default::default()
        };
        for k in 0..RECV_DEPTH as u64 {
            wr.wr_id = k;
            wr.sg_list = &mut sge;
            let mut bad = ptr::null_mut();
            // SAFETY: the stub QP is live; the SGE describes 64 bytes of `raw_recv`, a region
            // of the stub PD that lives as long as the bench (the stub never writes it).
            let ret = unsafe { sys::ibv_post_recv(self.qp.as_raw(), &mut wr, &mut bad) };
            assert_eq!(ret, 0, "ibv_post_recv");
        }
        t0.elapsed().as_nanos() as f64
    }

    /// The raw twin of `sink_complete_recvs`: polls, checks each status.
    #[inline(always)]
    fn raw_sink_complete_recvs(&mut self) -> f64 {
        self.raw_drain_recvs(|_, wr_id| {
            black_box(wr_id);
        })
    }
}

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

/// Sends per timed block (the ring retires them every 64, so this keeps nothing queued).
const SEND_BLOCK: u64 = 1024;

/// The measured pairs: name, safe side, raw side.
const PAIRS: [(&str, Side, Side); 12] = [
    (
        "post_send, pinned source",
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
        "run: post_send template, pinned",
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
fn interleaved(blocks: usize) {
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

// ---------------------------------------------------------------------------------------------
// Instruction counts (`--count OP N`, run under valgrind by scripts/count-instructions)

/// `n` rounds of one operation, in a function of its own that is never inlined, so that
/// callgrind (`--toggle-collect`) counts exactly the instructions of these rounds.
macro_rules! count_loops {
    ($($name:ident => $op:expr;)*) => {
        $(
            #[inline(never)]
            fn $name(b: &mut Bench, n: u64) {
                let op: fn(&mut Bench) = $op;
                for _ in 0..n {
                    op(b);
                }
            }
        )*
        /// The operations `--count` knows, by name.
        const COUNTED: &[(&str, fn(&mut Bench, u64))] = &[$((stringify!($name), $name)),*];
    };
}

count_loops! {
    count_safe_pinned => |b| b.safe_send(false);
    count_raw_pinned => |b| b.raw_send(false);
    count_safe_inline => |b| b.safe_send(true);
    count_raw_inline => |b| b.raw_send(true);
    count_safe_recv_cycle => Bench::safe_recv_cycle;
    count_raw_recv_cycle => Bench::raw_recv_cycle;
    count_safe_recvs => |b| {
        b.safe_post_recvs();
        b.safe_complete_recvs();
    };
    count_raw_recvs => |b| {
        b.raw_post_recvs();
        b.raw_complete_recvs();
    };
    count_safe_poll_empty => Bench::safe_poll_empty;
    count_raw_poll_empty => Bench::raw_poll_empty;
    count_safe_batch16 => Bench::safe_batch16;
    count_raw_batch16 => Bench::raw_batch16;
    count_safe_poll_full => |b| b.poll_full(true);
    count_raw_poll_full => |b| b.poll_full(false);
    count_safe_run_sends => |b| {
        b.run_sends();
    };
    count_raw_run_sends => |b| {
        b.raw_prepared_sends();
    };
    count_safe_run_chains16 => |b| {
        b.run_chains16();
    };
    count_raw_run_chains16 => |b| {
        b.raw_prepared_chains16();
    };
    count_safe_run_recvs => |b| {
        b.run_post_recvs();
        b.sink_complete_recvs();
    };
    count_raw_run_recvs => |b| {
        b.raw_sink_post_recvs();
        b.raw_sink_complete_recvs();
    };
}

/// `--count OP N`: runs `N` rounds of `OP` (a name of [`COUNTED`]) in its own
/// function. Without valgrind this only checks that the operation runs.
fn count_mode(args: &[String]) {
    let usage = || {
        let names: Vec<_> = COUNTED.iter().map(|(n, _)| *n).collect();
        eprintln!(
            "usage: post_poll --count OP ROUNDS   (OP: {})",
            names.join(", ")
        );
        std::process::exit(2);
    };
    let [op, rounds] = args else { usage() };
    let Some(&(_, run)) = COUNTED.iter().find(|(n, _)| n == op) else {
        usage()
    };
    let Ok(rounds) = rounds.parse::<u64>() else {
        usage()
    };
    let mut b = Bench::new();
    run(&mut b, rounds);
    println!("{op}: {rounds} rounds");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--count") {
        return count_mode(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("--interleaved") {
        // Only the interleaved table: `--interleaved [BLOCKS]`.
        let blocks = args.get(1).map_or(Ok(2001), |n| n.parse());
        let Ok(blocks @ 1..) = blocks else {
            eprintln!("usage: post_poll --interleaved [BLOCKS]   (BLOCKS: a positive number)");
            std::process::exit(2);
        };
        return interleaved(blocks);
    }
    zero_alloc_check();
    // `--quick` (CI) and `--test` (cargo test --benches) shorten the interleaved run too.
    let short = args.iter().any(|a| a == "--quick" || a == "--test");
    let blocks = if short { 101 } else { 2001 };
    let mut c = Criterion::default().configure_from_args();
    let mut b = Bench::new();
    post_send(&mut c, &mut b);
    recv_cycle(&mut c, &mut b);
    poll_empty(&mut c, &mut b);
    send_batch16(&mut c, &mut b);
    runs(&mut c, &mut b);
    c.final_summary();
    interleaved(blocks);
}
