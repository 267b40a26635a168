//! The two loopback QPs, their memory and the byte patterns every benchmark writes and
//! checks: [`Bench`], with its safe operations ([`safe`]) and their raw twins ([`raw`]).

#[path = "raw.rs"]
mod raw;
#[path = "safe.rs"]
mod safe;

use crate::device::{address, open_device, options};
use rdma_verbs::{
    sys, Access, CompletionQueue, MemoryRegion, ProtectionDomain, QpCaps, QueuePair, RemoteBuf,
    Shared, WorkCompletion,
};
use std::time::{Duration, Instant};

/// Bytes per message.
const MSG: usize = 64;
/// Writes in flight in the pipelined group.
pub(crate) const DEPTH: usize = 16;
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
const WRITE_SHARED: usize = 1;
const WRITE_RAW: usize = 2;
const SEND_SAFE: usize = 3;
const SEND_RAW: usize = 4;
const PIPE_SAFE: usize = 5;
const PIPE_RAW: usize = 6;
pub(crate) const SLOTS: usize = 7;
const SLOT_NAMES: [&str; SLOTS] = [
    "write64/safe_owned",
    "write64/safe_shared",
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

pub(crate) struct Bench {
    // Declared (and dropped) before the CQs and the PD they were made from; every object holds
    // what it was made from anyway.
    pub(crate) a: QueuePair,
    pub(crate) b: QueuePair,
    cq_a: CompletionQueue,
    cq_b: CompletionQueue,
    /// B's memory that A writes (REMOTE_WRITE: read only with volatile `read_at`).
    dst: MemoryRegion,
    remote: RemoteBuf,
    /// A's shared source (every slot's pattern).
    shared: Shared,
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
    pub(crate) done: [u64; SLOTS],
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
    pub(crate) fn new() -> Self {
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
        let shared = a.share(patterned(&pd));
        let mut send_buf = MemoryRegion::new(&pd, 4096, Access::LOCAL_WRITE).expect("reg_mr");
        send_buf.as_mut_slice().expect("local")[..MSG].copy_from_slice(&pattern(SEND_SAFE));
        Bench {
            a,
            b,
            cq_a,
            cq_b,
            dst,
            remote,
            shared,
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
    pub(crate) fn clear(&mut self) {
        self.dst.write_at(0, &[0; SLOTS * MSG]);
        self.recv_buf.as_mut().expect("handed back").fill(0);
        self.raw_recv.fill(0);
    }

    /// Checks byte for byte that every slot used since the last `clear` holds its pattern;
    /// returns how many were checked.
    pub(crate) fn verify(&self) -> usize {
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
