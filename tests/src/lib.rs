//! Shared helpers for the device tests (they run in the Soft-RoCE VM: `scripts/test-device`).
//!
//! Every helper that needs a device panics when there is none: a device test that cannot
//! find a device fails, it never skips.

pub mod async_wait;
pub mod buffers;
pub mod cni_node;
pub mod counting_alloc;
pub mod pingpong;
pub mod process;
pub mod ud;

use rdma_verbs::{
    Access, CompletionQueue, ConnectOptions, Context, PostApi, ProtectionDomain, QpCaps, QpType,
    QueuePair, WorkCompletion,
};
use std::time::{Duration, Instant};

/// The device under test: `$RDMA_DEVICE`, or the first one. Panics (fails the test) with the
/// library's error message when there is none.
pub fn device() -> Context {
    let name = std::env::var("RDMA_DEVICE").ok();
    match Context::open(name.as_deref()) {
        Ok(ctx) => ctx,
        Err(e) => panic!(
            "device tests need an RDMA device and found none ({e}); run them in the Soft-RoCE \
             VM: scripts/test-device"
        ),
    }
}

/// perftest's `-F -d <device> [-x <gid index>]` for the device under test (`$RDMA_DEVICE` or
/// the first). `-F`: perftest's CPU frequency sanity check fails at random under emulation
/// ("Correlation coefficient r^2 < 0.9, Can't produce a report"); rdma-perf accepts it too.
pub fn perftest_device_args() -> Vec<String> {
    let ctx = device();
    let mut args = vec!["-F".to_string(), "-d".to_string(), ctx.name().to_string()];
    if let Some(g) = ctx.default_gid_index(1).expect("a usable GID on port 1") {
        args.extend(["-x".to_string(), g.to_string()]);
    }
    args
}

/// Queues 64 deep, one SGE per request, 64 bytes of inline data: what the data-path tests
/// use.
pub fn caps64() -> QpCaps {
    QpCaps {
        max_send_wr: 64,
        max_recv_wr: 64,
        max_send_sge: 1,
        max_recv_sge: 1,
        max_inline_data: 64,
    }
}

/// Connect options for a loopback pair on `ctx` port 1: the perftest-chosen GID on RoCE.
pub fn loopback_options(ctx: &Context, psn: u32, access: Access) -> ConnectOptions {
    let port = ctx.active_port(1).expect("port 1 is ACTIVE");
    ConnectOptions {
        gid_index: ctx.default_gid_index(1).expect("a usable GID"),
        mtu: port.active_mtu().expect("a valid active MTU"),
        psn,
        access,
        ..ConnectOptions::default()
    }
}

/// Two RC QPs on one device, each with its own CQ, not yet connected.
pub struct Pair {
    /// The context.
    pub ctx: Context,
    /// The PD both use.
    pub pd: ProtectionDomain,
    /// A's CQ (send and receive).
    pub cq_a: CompletionQueue,
    /// B's CQ.
    pub cq_b: CompletionQueue,
    /// QP A.
    pub a: QueuePair,
    /// QP B.
    pub b: QueuePair,
}

impl Pair {
    /// Creates the pair (RESET state).
    pub fn new(caps: QpCaps) -> Pair {
        Self::build(caps, false, QpType::Rc, PostApi::Classic)
    }

    /// Creates an unreliable-connected pair (RESET state).
    pub fn uc(caps: QpCaps) -> Pair {
        Self::build(caps, false, QpType::Uc, PostApi::Classic)
    }

    /// Creates the pair (RESET state) with a completion channel on each CQ, for `AsyncCq`.
    pub fn with_channels(caps: QpCaps) -> Pair {
        Self::build(caps, true, QpType::Rc, PostApi::Classic)
    }

    /// Creates a pair of `qp_type` whose QPs post with the extended API (RESET state).
    pub fn extended(caps: QpCaps, qp_type: QpType) -> Pair {
        Self::build(caps, false, qp_type, PostApi::Extended)
    }

    fn build(caps: QpCaps, channels: bool, qp_type: QpType, post_api: PostApi) -> Pair {
        let ctx = device();
        let pd = ProtectionDomain::new(&ctx).expect("alloc pd");
        let cq = |name| {
            let b = CompletionQueue::builder(&ctx, 512);
            let b = if channels { b.with_channel() } else { b };
            b.build().unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        let (cq_a, cq_b) = (cq("cq a"), cq("cq b"));
        let a = QueuePair::builder(&pd, &cq_a, &cq_a)
            .caps(caps)
            .qp_type(qp_type)
            .post_api(post_api)
            .build()
            .expect("qp a");
        let b = QueuePair::builder(&pd, &cq_b, &cq_b)
            .caps(caps)
            .qp_type(qp_type)
            .post_api(post_api)
            .build()
            .expect("qp b");
        Pair {
            ctx,
            pd,
            cq_a,
            cq_b,
            a,
            b,
        }
    }

    /// Connects A and B to each other, both granting `access`.
    pub fn connect(self, access: Access) -> Pair {
        self.connect_with(access, |_| {})
    }

    /// Connects A and B, letting `tweak` change both sides' options (e.g. rnr_retry).
    pub fn connect_with(self, access: Access, tweak: impl Fn(&mut ConnectOptions)) -> Pair {
        let Pair {
            ctx,
            pd,
            cq_a,
            cq_b,
            a,
            b,
        } = self;
        let mut oa = loopback_options(&ctx, 0x1111, access);
        let mut ob = loopback_options(&ctx, 0x2222, access);
        tweak(&mut oa);
        tweak(&mut ob);
        let ra = a.address(&oa).expect("the address of A");
        let rb = b.address(&ob).expect("the address of B");
        let a = a.connect(&rb, &oa).expect("connect a");
        let b = b.connect(&ra, &ob).expect("connect b");
        Pair {
            ctx,
            pd,
            cq_a,
            cq_b,
            a,
            b,
        }
    }
}

/// Polls `cq` until `n` completions arrived or `timeout` passed (then panics naming how many
/// came).
pub fn poll_n(cq: &CompletionQueue, n: usize, timeout: Duration) -> Vec<WorkCompletion> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut wcs = [WorkCompletion::default(); 32];
    while out.len() < n {
        let got = cq.poll(&mut wcs).expect("poll_cq");
        out.extend_from_slice(got);
        if got.is_empty() {
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {n} completions, got {}: {out:?}",
                out.len()
            );
            std::thread::yield_now();
        }
    }
    out
}

/// A deterministic byte pattern distinct per `seed`.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed).rotate_left(3))
        .collect()
}

/// The default timeout for a completion in the emulated VM.
pub const TIMEOUT: Duration = Duration::from_secs(20);
