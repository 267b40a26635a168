//! The fixture over the stub provider: a QP and CQ with their memory as both sides use it
//! ([`Bench`]), the shared steps of the rounds (retiring completions, one raw receive, a raw
//! 16-send chain) and what the safe side does with a completion handed back ([`used`]).

use rdma_verbs::sys::ibv_qp_create_send_ops_flags as with;
use rdma_verbs::{
    sys, Access, Completion, CompletionQueue, MemoryRegion, PostApi, QpCaps, QpType, QueuePair,
    Shared, Sink, WcStatus, WorkCompletion,
};
use std::hint::black_box;
use std::ptr;

/// What the benchmark does with a completion handed back, as the raw side does with a raw
/// one: checks its status and uses its `wr_id`; returns the buffer it held.
#[inline(always)]
pub(crate) fn used(c: Completion) -> Option<MemoryRegion> {
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

/// One signaled send in this many (the rest unsignaled), as a real sender does.
pub(crate) const SIGNAL_EVERY: u64 = 64;
/// The stub QP's capacities: 256 requests deep on each queue, one SGE, 64 inline bytes.
const CAPS: QpCaps = QpCaps {
    max_send_wr: 256,
    max_recv_wr: 256,
    max_send_sge: 1,
    max_recv_sge: 1,
    max_inline_data: 64,
};
/// The send ops flags of the extended stub QP: every RC operation.
const RC_SEND_OPS: u64 = (with::IBV_QP_EX_WITH_SEND
    | with::IBV_QP_EX_WITH_SEND_WITH_IMM
    | with::IBV_QP_EX_WITH_RDMA_WRITE
    | with::IBV_QP_EX_WITH_RDMA_WRITE_WITH_IMM
    | with::IBV_QP_EX_WITH_RDMA_READ
    | with::IBV_QP_EX_WITH_ATOMIC_CMP_AND_SWP
    | with::IBV_QP_EX_WITH_ATOMIC_FETCH_AND_ADD) as u64;
/// Completions asked per poll.
pub(crate) const POLL: usize = 16;
/// Receives posted at once by the interleaved receive measurements (the QP's depth).
pub(crate) const RECV_DEPTH: usize = 256;

/// One stub QP and CQ with the memory, requests and completion arrays of both sides.
pub(crate) struct Bench {
    pub(crate) cq: CompletionQueue,
    pub(crate) qp: QueuePair,
    pub(crate) shared: Shared,
    /// The shared source, as the raw side describes it.
    pub(crate) src: sys::ibv_sge,
    /// The receive buffer of the safe cycle (None while posted).
    pub(crate) recv_buf: Option<MemoryRegion>,
    /// The receive buffer of the raw cycle.
    pub(crate) raw_recv: MemoryRegion,
    /// `RECV_DEPTH` pieces of one region for the safe receives of the interleaved
    /// measurement (all here while none is posted).
    pub(crate) pool: Vec<MemoryRegion>,
    /// The same pieces as the raw side describes them (the raw receives post these).
    pub(crate) raw_pieces: Vec<sys::ibv_sge>,
    /// A sink for the receives of runs (64 bytes of it per receive).
    pub(crate) sink: Sink,
    /// The raw side's sink: 64 bytes of `raw_recv`.
    pub(crate) raw_sink: sys::ibv_sge,
    /// The raw side's free pieces, by index: what a raw user keeps to know which buffers are
    /// not posted (the safe side's pool does the same with the pieces themselves).
    pub(crate) raw_free: Vec<usize>,
    pub(crate) inline: [u8; 32],
    pub(crate) wcs: [WorkCompletion; POLL],
    pub(crate) raw_wcs: [sys::ibv_wc; POLL],
    pub(crate) i: u64,
}

impl Bench {
    pub(crate) fn new() -> Self {
        Self::with_api(PostApi::Classic)
    }

    /// The fixture over a stub QP that posts with `api` (an extended one is created with
    /// every RC send operation).
    pub(crate) fn with_api(api: PostApi) -> Self {
        // SAFETY: the benchmark only posts, polls, completes and drops on the stub objects.
        let ctx = unsafe { rdma_stub::context() };
        let pd = rdma_stub::protection_domain(&ctx);
        let cq = rdma_stub::completion_queue(&ctx, 1024);
        let mut qp = match api {
            PostApi::Classic => rdma_stub::queue_pair(&pd, &cq, &cq, CAPS, false),
            PostApi::Extended => {
                rdma_stub::queue_pair_ex(&pd, &cq, &cq, CAPS, false, QpType::Rc, RC_SEND_OPS)
                    .expect("an extended stub QP")
            }
        };
        let mr = |len| rdma_stub::memory_region(&pd, len, Access::LOCAL_WRITE).expect("mmap");
        let shared = qp.share(mr(4096));
        let p = qp.shared(shared).expect("just shared");
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
            shared,
            src,
            inline: [0x5a; 32],
            wcs: [WorkCompletion::default(); POLL],
            raw_wcs: [sys::ibv_wc::default(); POLL],
            i: 0,
        }
    }

    #[inline(always)]
    pub(crate) fn next(&mut self) -> u64 {
        self.i = self.i.wrapping_add(1);
        self.i
    }

    /// Polls the CQ and hands every completion to the QP.
    #[inline(always)]
    pub(crate) fn safe_retire(&mut self) {
        for wc in self.cq.poll(&mut self.wcs).expect("poll") {
            used(self.qp.complete(wc).expect("complete"));
        }
    }

    /// Polls the CQ raw and checks every completion's status.
    #[inline(always)]
    pub(crate) fn raw_retire(&mut self) {
        // SAFETY: the stub CQ is live and `raw_wcs` has room for POLL entries.
        let n =
            unsafe { sys::ibv_poll_cq(self.cq.as_raw(), POLL as i32, self.raw_wcs.as_mut_ptr()) };
        assert!(n >= 0, "ibv_poll_cq: {n}");
        for wc in &self.raw_wcs[..n as usize] {
            assert_eq!(wc.status, sys::ibv_wc_status::IBV_WC_SUCCESS);
            black_box(wc.wr_id);
        }
    }

    /// Posts one raw receive into `sge`.
    ///
    /// # Safety
    /// `sge` describes memory of a region of the stub PD that outlives the request (the stub
    /// completes it at once and never writes it).
    #[inline(always)]
    pub(crate) unsafe fn raw_post_recv(&mut self, mut sge: sys::ibv_sge, wr_id: u64) {
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
}

/// 16 raw SENDs, request `k` of `sges[k]` with `wr_id` `base + k`, the last signaled; not yet
/// linked (see [`link16`]).
#[inline(always)]
pub(crate) fn raw_chain16(sges: &mut [sys::ibv_sge; 16], base: u64) -> [sys::ibv_send_wr; 16] {
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
pub(crate) fn link16(wrs: &mut [sys::ibv_send_wr; 16]) -> *mut sys::ibv_send_wr {
    let head = wrs.as_mut_ptr();
    for k in 0..15 {
        // SAFETY: k + 1 < 16: both are elements of `wrs`, reached through `head` only.
        unsafe { (*head.add(k)).next = head.add(k + 1) };
    }
    head
}
