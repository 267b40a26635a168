//! What the safe API costs on a real device, against raw FFI doing the same work: post a work
//! request and poll until it completed, on two RC QPs of the first RDMA device connected to
//! each other in loopback (`$RDMA_DEVICE` chooses another). Without a device this benchmark
//! FAILS ("no RDMA device"); it never skips. Run it in the Soft-RoCE VM: `scripts/bench-device`.
//!
//! Groups, each `safe*` against `raw` on the same QPs and CQs (QP A sends, QP B is the peer):
//! - `write64`: one signaled 64-byte RDMA WRITE, then poll A's CQ until its completion. Safe
//!   side twice: the source owned by the request (moved in, handed back by `complete`) and a
//!   source pinned to the QP (`QueuePair::pin`, as `rdma-perf` does).
//! - `send_recv64`: B posts a receive, A a 64-byte SEND; poll both CQs until the send and the
//!   receive completed (safe side: both buffers owned by their request and handed back).
//! - `write64_pipeline16`: signaled 64-byte writes from a pinned source with 16 in flight; each
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

#[path = "common/device.rs"]
mod device;
#[path = "common/median.rs"]
mod median;

use criterion::{Criterion, Throughput};
use device::{address, open_device, options};
use median::median;
use rdma_verbs::{
    sys, Access, CompletionQueue, MemoryRegion, Pinned, ProtectionDomain, QpCaps, QueuePair,
    RemoteBuf, SendWr, WcOpcode, WorkCompletion,
};
use std::ptr;
use std::time::{Duration, Instant};

/// Bytes per message.
const MSG: usize = 64;
/// Writes in flight in the pipelined group.
const DEPTH: usize = 16;
/// Completions asked per poll.
const POLL: usize = 16;
/// A completion that takes longer than this fails the benchmark.
const TIMEOUT: Duration = Duration::from_secs(20);
const CAPS: QpCaps = QpCaps {
    max_send_wr: 64,
    max_recv_wr: 64,
    max_send_sge: 1,
    max_recv_sge: 1,
    max_inline_data: 0,
};

// The 64-byte slots, one per benchmark: offset `slot * MSG` in the sources and in B's memory.
const WRITE_OWNED: usize = 0;
const WRITE_PINNED: usize = 1;
const WRITE_RAW: usize = 2;
const SEND_SAFE: usize = 3;
const SEND_RAW: usize = 4;
const PIPE_SAFE: usize = 5;
const PIPE_RAW: usize = 6;
const SLOTS: usize = 7;
const SLOT_NAMES: [&str; SLOTS] = [
    "write64/safe_owned",
    "write64/safe_pinned",
    "write64/raw",
    "send_recv64/safe",
    "send_recv64/raw",
    "write64_pipeline16/safe",
    "write64_pipeline16/raw",
];

/// The byte pattern of `slot`: distinct per slot, never all zero.
fn pattern(slot: usize) -> [u8; MSG] {
    std::array::from_fn(|i| {
        (i as u8)
            .wrapping_mul(31)
            .wrapping_add(0x41 + 17 * slot as u8)
            | 1
    })
}

/// Counts empty polls and panics when one wait passed [`TIMEOUT`] (reads the clock once every
/// 4096 empty polls only).
struct Deadline {
    spins: u32,
    start: Option<Instant>,
}

impl Deadline {
    #[inline(always)]
    fn new() -> Self {
        Deadline {
            spins: 0,
            start: None,
        }
    }

    #[inline(always)]
    fn tick(&mut self, what: &str) {
        self.spins = self.spins.wrapping_add(1);
        if self.spins.is_multiple_of(4096) {
            let start = *self.start.get_or_insert_with(Instant::now);
            assert!(
                start.elapsed() < TIMEOUT,
                "{what}: no completion within {TIMEOUT:?}"
            );
        }
    }
}

struct Bench {
    // Declared (and dropped) before the CQs and the PD they were made from; every object holds
    // what it was made from anyway.
    a: QueuePair,
    b: QueuePair,
    cq_a: CompletionQueue,
    cq_b: CompletionQueue,
    /// B's memory that A writes (REMOTE_WRITE: read only with volatile `read_at`).
    dst: MemoryRegion,
    remote: RemoteBuf,
    /// A's pinned source (every slot's pattern).
    pinned: Pinned,
    /// The owned source of `write64/safe_owned` (None while posted).
    src_owned: Option<MemoryRegion>,
    /// The owned source of `send_recv64/safe` (None while posted).
    send_buf: Option<MemoryRegion>,
    /// B's owned receive buffer of `send_recv64/safe` (None while posted).
    recv_buf: Option<MemoryRegion>,
    /// The raw side's source (every slot's pattern); only read by the device.
    raw_src: MemoryRegion,
    /// B's raw receive buffer: the device writes it while a raw receive is posted.
    raw_recv: MemoryRegion,
    wcs: [WorkCompletion; POLL],
    raw_wcs: [sys::ibv_wc; POLL],
    /// Raw wr_ids (small: bits 62 and 63 are the crate's).
    next_id: u64,
    /// Writes in flight, per pipelined benchmark.
    pipe_safe: usize,
    pipe_raw: usize,
    /// Operations completed per slot.
    done: [u64; SLOTS],
}

/// A registered buffer of A or B with every slot's pattern in it.
fn patterned(pd: &ProtectionDomain) -> MemoryRegion {
    let mut mr = MemoryRegion::new(pd, 4096, Access::LOCAL_WRITE).expect("reg_mr");
    let bytes = mr.as_mut_slice().expect("local memory");
    for slot in 0..SLOTS {
        bytes[slot * MSG..][..MSG].copy_from_slice(&pattern(slot));
    }
    mr
}

impl Bench {
    fn new() -> Self {
        let ctx = open_device();
        let pd = ProtectionDomain::new(&ctx).expect("alloc_pd");
        let cq_a = CompletionQueue::new(&ctx, 256).expect("create_cq a");
        let cq_b = CompletionQueue::new(&ctx, 256).expect("create_cq b");
        let build = |cq: &CompletionQueue| {
            QueuePair::builder(&pd, cq, cq)
                .caps(CAPS)
                .build()
                .expect("create_qp")
        };
        let (a, b) = (build(&cq_a), build(&cq_b));
        let access = Access::LOCAL_WRITE | Access::REMOTE_WRITE;
        let (oa, ob) = (options(&ctx, 0x1111, access), options(&ctx, 0x2222, access));
        let (ra, rb) = (address(&ctx, &a, &oa), address(&ctx, &b, &ob));
        let mut a = a.connect(&rb, &oa).expect("connect a");
        let b = b.connect(&ra, &ob).expect("connect b");

        let dst = MemoryRegion::new(&pd, 4096, Access::LOCAL_WRITE | Access::REMOTE_WRITE)
            .expect("reg_mr dst");
        let remote = dst.remote();
        let pinned = a.pin(patterned(&pd));
        let mut send_buf = MemoryRegion::new(&pd, 4096, Access::LOCAL_WRITE).expect("reg_mr");
        send_buf.as_mut_slice().expect("local")[..MSG].copy_from_slice(&pattern(SEND_SAFE));
        Bench {
            a,
            b,
            cq_a,
            cq_b,
            dst,
            remote,
            pinned,
            src_owned: Some(patterned(&pd)),
            send_buf: Some(send_buf),
            recv_buf: Some(MemoryRegion::new(&pd, 4096, Access::LOCAL_WRITE).expect("reg_mr")),
            raw_src: patterned(&pd),
            raw_recv: MemoryRegion::new(&pd, 4096, Access::LOCAL_WRITE).expect("reg_mr"),
            wcs: [WorkCompletion::default(); POLL],
            raw_wcs: [sys::ibv_wc::default(); POLL],
            next_id: 0,
            pipe_safe: 0,
            pipe_raw: 0,
            done: [0; SLOTS],
        }
    }

    #[inline(always)]
    fn next_id(&mut self) -> u64 {
        self.next_id = (self.next_id + 1) & ((1 << 48) - 1);
        self.next_id
    }

    #[inline(always)]
    fn slot_remote(&self, slot: usize) -> RemoteBuf {
        RemoteBuf {
            addr: self.remote.addr + (slot * MSG) as u64,
            rkey: self.remote.rkey,
            len: MSG as u64,
        }
    }

    // -- safe ------------------------------------------------------------------------------

    /// Polls A's CQ until at least one completion came, hands each to A; returns how many.
    #[inline(always)]
    fn safe_reap_a(&mut self, what: &str) -> usize {
        let mut d = Deadline::new();
        loop {
            let got = self.cq_a.poll(&mut self.wcs).expect("poll");
            if got.is_empty() {
                d.tick(what);
                continue;
            }
            let n = got.len();
            for wc in got {
                let done = self.a.complete(wc).expect("complete");
                done.result().expect("completion status");
                if let Some(buf) = done.buf {
                    if done.opcode == WcOpcode::RdmaWrite {
                        self.src_owned = Some(buf);
                    } else {
                        self.send_buf = Some(buf);
                    }
                }
            }
            return n;
        }
    }

    #[inline(always)]
    fn safe_write_owned(&mut self) {
        let src = self
            .src_owned
            .take()
            .expect("handed back by the last round");
        let wr = SendWr::write(src, self.slot_remote(WRITE_OWNED)).range(WRITE_OWNED * MSG, MSG);
        self.a.post_send(wr).expect("post_send");
        self.safe_reap_a("write64/safe_owned");
        self.done[WRITE_OWNED] += 1;
    }

    #[inline(always)]
    fn safe_write_pinned(&mut self) {
        let wr = SendWr::write(self.pinned, self.slot_remote(WRITE_PINNED))
            .range(WRITE_PINNED * MSG, MSG);
        self.a.post_send(wr).expect("post_send");
        self.safe_reap_a("write64/safe_pinned");
        self.done[WRITE_PINNED] += 1;
    }

    #[inline(always)]
    fn safe_send_recv(&mut self) {
        let rbuf = self.recv_buf.take().expect("handed back by the last round");
        self.b.post_recv(rbuf, 1).expect("post_recv");
        let sbuf = self.send_buf.take().expect("handed back by the last round");
        self.a
            .post_send(SendWr::send(sbuf).range(0, MSG))
            .expect("post_send");
        let (mut sent, mut received) = (false, false);
        let mut d = Deadline::new();
        while !(sent && received) {
            let mut progress = false;
            if !sent {
                for wc in self.cq_a.poll(&mut self.wcs).expect("poll") {
                    let done = self.a.complete(wc).expect("complete");
                    done.result().expect("send completion status");
                    self.send_buf = done.buf;
                    sent = true;
                    progress = true;
                }
            }
            if !received {
                for wc in self.cq_b.poll(&mut self.wcs).expect("poll") {
                    let done = self.b.complete(wc).expect("complete");
                    done.result().expect("receive completion status");
                    assert_eq!(done.byte_len as usize, MSG, "bytes received");
                    self.recv_buf = done.buf;
                    received = true;
                    progress = true;
                }
            }
            if !progress {
                d.tick("send_recv64/safe");
            }
        }
        self.done[SEND_SAFE] += 1;
    }

    #[inline(always)]
    fn safe_pipeline(&mut self) {
        if self.pipe_safe == DEPTH {
            self.pipe_safe -= self.safe_reap_a("write64_pipeline16/safe");
        }
        let wr =
            SendWr::write(self.pinned, self.slot_remote(PIPE_SAFE)).range(PIPE_SAFE * MSG, MSG);
        self.a.post_send(wr).expect("post_send");
        self.pipe_safe += 1;
        self.done[PIPE_SAFE] += 1;
    }

    fn safe_drain(&mut self) {
        while self.pipe_safe > 0 {
            self.pipe_safe -= self.safe_reap_a("write64_pipeline16/safe drain");
        }
    }

    // -- raw -------------------------------------------------------------------------------

    /// Polls `cq` raw until at least one completion came; checks each (success, `opcode`,
    /// `byte_len` when given, ids in order from `first_id`); returns how many.
    #[inline(always)]
    fn raw_reap(
        cq: &CompletionQueue,
        wcs: &mut [sys::ibv_wc; POLL],
        opcode: u32,
        byte_len: Option<u32>,
        first_id: u64,
        what: &str,
    ) -> usize {
        let mut d = Deadline::new();
        loop {
            // SAFETY: the CQ is live and `wcs` has room for POLL entries.
            let n = unsafe { sys::ibv_poll_cq(cq.as_raw(), POLL as i32, wcs.as_mut_ptr()) };
            assert!(n >= 0, "ibv_poll_cq: {n}");
            if n == 0 {
                d.tick(what);
                continue;
            }
            for (k, wc) in wcs[..n as usize].iter().enumerate() {
                assert_eq!(
                    wc.status,
                    sys::ibv_wc_status::IBV_WC_SUCCESS,
                    "{what}: status"
                );
                assert_eq!(wc.opcode, opcode, "{what}: opcode");
                assert_eq!(wc.wr_id, first_id + k as u64, "{what}: wr_id");
                if let Some(len) = byte_len {
                    assert_eq!(wc.byte_len, len, "{what}: byte_len");
                }
            }
            return n as usize;
        }
    }

    /// Posts one signaled 64-byte RDMA WRITE of `slot` raw.
    #[inline(always)]
    fn raw_post_write(&mut self, slot: usize, id: u64) {
        let mut sge = sys::ibv_sge {
            addr: self.raw_src.addr() + (slot * MSG) as u64,
            length: MSG as u32,
            lkey: self.raw_src.lkey(),
        };
        let mut wr = sys::ibv_send_wr {
            wr_id: id,
            next: ptr::null_mut(),
            sg_list: &mut sge,
            num_sge: 1,
            opcode: sys::ibv_wr_opcode::IBV_WR_RDMA_WRITE,
            send_flags: sys::ibv_send_flags::IBV_SEND_SIGNALED,
            ..Default::default()
        };
        wr.wr.rdma = sys::ibv_send_wr__bindgen_ty_2__bindgen_ty_1 {
            remote_addr: self.remote.addr + (slot * MSG) as u64,
            rkey: self.remote.rkey,
        };
        let mut bad = ptr::null_mut();
        // The callers poll each completion before `self` can go away; at most DEPTH (< the SQ
        // depth) are in flight, and raw and safe requests are never outstanding together.
        // SAFETY: A is live and connected; the SGE describes `raw_src`, registered in A's PD,
        // alive as long as `self` and never written after setup; the request is complete.
        let ret = unsafe { sys::ibv_post_send(self.a.as_raw(), &mut wr, &mut bad) };
        assert_eq!(ret, 0, "ibv_post_send");
    }

    #[inline(always)]
    fn raw_write(&mut self) {
        let id = self.next_id();
        self.raw_post_write(WRITE_RAW, id);
        let wc = sys::ibv_wc_opcode::IBV_WC_RDMA_WRITE;
        Self::raw_reap(&self.cq_a, &mut self.raw_wcs, wc, None, id, "write64/raw");
        self.done[WRITE_RAW] += 1;
    }

    #[inline(always)]
    fn raw_send_recv(&mut self) {
        let id = self.next_id();
        let mut rsge = sys::ibv_sge {
            addr: self.raw_recv.addr(),
            length: self.raw_recv.len() as u32,
            lkey: self.raw_recv.lkey(),
        };
        let mut rwr = sys::ibv_recv_wr {
            wr_id: id,
            next: ptr::null_mut(),
            sg_list: &mut rsge,
            num_sge: 1,
        };
        let mut rbad = ptr::null_mut();
        // SAFETY: B is live; `raw_recv` is registered in B's PD and outlives the request, whose
        // completion is polled below before anything reads the buffer.
        let ret = unsafe { sys::ibv_post_recv(self.b.as_raw(), &mut rwr, &mut rbad) };
        assert_eq!(ret, 0, "ibv_post_recv");
        let mut sge = sys::ibv_sge {
            addr: self.raw_src.addr() + (SEND_RAW * MSG) as u64,
            length: MSG as u32,
            lkey: self.raw_src.lkey(),
        };
        let mut wr = sys::ibv_send_wr {
            wr_id: id,
            next: ptr::null_mut(),
            sg_list: &mut sge,
            num_sge: 1,
            opcode: sys::ibv_wr_opcode::IBV_WR_SEND,
            send_flags: sys::ibv_send_flags::IBV_SEND_SIGNALED,
            ..Default::default()
        };
        let mut bad = ptr::null_mut();
        // SAFETY: A is live; the SGE describes `raw_src` (see raw_post_write); the completion
        // is polled below.
        let ret = unsafe { sys::ibv_post_send(self.a.as_raw(), &mut wr, &mut bad) };
        assert_eq!(ret, 0, "ibv_post_send");
        let (mut sent, mut received) = (false, false);
        while !(sent && received) {
            // Each reap spins until its completion: the send's comes first on rxe, and waiting
            // for one then the other is what the safe side's loop amounts to.
            if !sent {
                let op = sys::ibv_wc_opcode::IBV_WC_SEND;
                Self::raw_reap(
                    &self.cq_a,
                    &mut self.raw_wcs,
                    op,
                    None,
                    id,
                    "send_recv64/raw",
                );
                sent = true;
            }
            if !received {
                let op = sys::ibv_wc_opcode::IBV_WC_RECV;
                let what = "send_recv64/raw receive";
                Self::raw_reap(
                    &self.cq_b,
                    &mut self.raw_wcs,
                    op,
                    Some(MSG as u32),
                    id,
                    what,
                );
                received = true;
            }
        }
        self.done[SEND_RAW] += 1;
    }

    #[inline(always)]
    fn raw_pipeline(&mut self) {
        if self.pipe_raw == DEPTH {
            let first = self.next_id - DEPTH as u64 + 1;
            let op = sys::ibv_wc_opcode::IBV_WC_RDMA_WRITE;
            let what = "write64_pipeline16/raw";
            self.pipe_raw -= Self::raw_reap(&self.cq_a, &mut self.raw_wcs, op, None, first, what);
        }
        let id = self.next_id();
        self.raw_post_write(PIPE_RAW, id);
        self.pipe_raw += 1;
        self.done[PIPE_RAW] += 1;
    }

    fn raw_drain(&mut self) {
        while self.pipe_raw > 0 {
            let first = self.next_id - self.pipe_raw as u64 + 1;
            let op = sys::ibv_wc_opcode::IBV_WC_RDMA_WRITE;
            let what = "write64_pipeline16/raw drain";
            self.pipe_raw -= Self::raw_reap(&self.cq_a, &mut self.raw_wcs, op, None, first, what);
        }
    }

    // -- checks ----------------------------------------------------------------------------

    /// What arrived for `slot`: its bytes of B's memory, or of the receive buffer.
    fn landed(&self, slot: usize) -> [u8; MSG] {
        let mut got = [0; MSG];
        match slot {
            SEND_SAFE => {
                let buf = self.recv_buf.as_ref().expect("handed back");
                got.copy_from_slice(&buf.as_slice().expect("local memory")[..MSG]);
            }
            SEND_RAW => {
                got.copy_from_slice(&self.raw_recv.as_slice().expect("local memory")[..MSG]);
            }
            _ => assert!(self.dst.read_at(slot * MSG, &mut got), "in range"),
        }
        got
    }

    /// Zeroes what arrived for every slot (nothing is in flight).
    fn clear(&mut self) {
        self.dst.write_at(0, &[0; SLOTS * MSG]);
        self.recv_buf.as_mut().expect("handed back").fill(0);
        self.raw_recv.fill(0);
    }

    /// Checks byte for byte that every slot used since the last `clear` holds its pattern;
    /// returns how many were checked.
    fn verify(&self) -> usize {
        let mut checked = 0;
        for (slot, (name, &done)) in SLOT_NAMES.iter().zip(&self.done).enumerate() {
            if done == 0 {
                continue;
            }
            let (got, want) = (self.landed(slot), pattern(slot));
            assert!(
                got == want,
                "{name}: after {done} operations the destination holds {got:02x?}, expected \
                 {want:02x?}"
            );
            checked += 1;
        }
        checked
    }
}

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
enum Depth {
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
fn paired_table(b: &mut Bench, depth: Depth) {
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
            "write64, pinned source",
            Bench::safe_write_pinned,
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

fn main() {
    let mut b = Bench::new();
    // Self-check: one round of everything, every byte where it belongs; then zero the
    // destinations so the final check sees only what the measured runs wrote.
    b.safe_write_owned();
    b.safe_write_pinned();
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
        g.bench_function("safe_pinned", |bn| bn.iter(|| b.safe_write_pinned()));
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
