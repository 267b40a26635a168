//! Waiting for a completion: synchronous busy poll against `rdma_verbs::AsyncCq` on tokio in
//! busy-poll, event and adaptive mode, on a real device. A 64-byte ping-pong between two RC QPs
//! of the first RDMA device (`$RDMA_DEVICE` chooses another) connected in loopback: A sends 64
//! bytes (inline) and waits for the echo; B, on a thread of its own, busy-polls its CQ and
//! sends every message back. Only how A waits changes between the variants:
//!
//! - `pingpong64/sync_busy`: `CompletionQueue::poll` in a loop, no runtime.
//! - `pingpong64/async_busy`: `AsyncCq::poll` in [`WaitMode::BusyPoll`] on a current-thread
//!   runtime (poll, `yield_now`, poll).
//! - `pingpong64/async_event`: [`WaitMode::Event`]: arm the CQ, sleep in the reactor until the
//!   completion channel is readable.
//! - `pingpong64/async_adaptive`: [`WaitMode::Adaptive`] with 64 spins, then events.
//!
//! After the criterion group, `main` prints a table of the four measured interleaved (medians
//! over blocks of round trips, every variant once per block) with each one's ratio to
//! `sync_busy`: criterion measures one after the other, and on an emulated VM a change of load
//! alone could make one look slower.
//!
//! Every completion's status is checked, and every echo byte for byte (the message carries
//! the round number), so the benchmark cannot silently measure failing operations. A
//! watchdog ends the process when no round trip completes for a minute. Without a device this
//! benchmark FAILS ("no RDMA device"); it never skips. `BENCH=device_async scripts/bench-device`
//! builds it and runs it in the Soft-RoCE VM; `scripts/test-device` runs it with `--quick`
//! after the device tests, so it cannot rot.

#[path = "common/device.rs"]
mod device;

use criterion::{Criterion, Throughput};
use device::{address, open_device, options};
use rdma_verbs::{
    Access, AsyncCq, CompletionQueue, ConnectOptions, Context, MemoryRegion, ProtectionDomain,
    QpCaps, QueuePair, RecvWr, SendWr, WaitMode, WcOpcode, WcStatus, WorkCompletion,
};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

/// Bytes per message.
const MSG: usize = 64;
/// Receives B keeps posted.
const B_RECVS: usize = 8;
/// No round trip for this long ends the process.
const STALL: Duration = Duration::from_secs(60);

/// B: echoes every message from its own thread, busy-polling, until `stop`.
fn echo_peer(mut qp: QueuePair, cq: CompletionQueue, stop: Arc<AtomicBool>) -> JoinHandle<u64> {
    thread::spawn(move || {
        let pd = qp.pd();
        for _ in 0..B_RECVS {
            let buf = MemoryRegion::new(&pd, MSG, Access::LOCAL_WRITE).expect("reg_mr");
            qp.post_recv(RecvWr::recv(buf)).expect("post_recv");
        }
        let mut wcs = [WorkCompletion::default(); 16];
        let mut echoed = 0;
        while !stop.load(Ordering::Relaxed) {
            for wc in cq.poll(&mut wcs).expect("poll_cq") {
                let c = qp.complete(wc).expect("B's completion");
                assert_eq!(c.status, WcStatus::Success, "B: {c:?}");
                let buf = c.buf.expect("owned");
                if c.opcode == WcOpcode::Recv {
                    let echo = SendWr::send(buf).range(0, c.byte_len as usize);
                    qp.post_send(echo).expect("echo");
                    echoed += 1;
                } else {
                    qp.post_recv(RecvWr::recv(buf)).expect("post_recv");
                }
            }
        }
        echoed
    })
}

/// A: the measured side.
struct Pinger {
    qp: QueuePair,
    acq: AsyncCq,
    /// The receive buffer (None while posted).
    rbuf: Option<MemoryRegion>,
    msg: [u8; MSG],
    /// Round trips done; shared with the watchdog.
    rounds: Arc<AtomicU64>,
}

impl Pinger {
    /// Posts the receive for the echo and sends message number `n` (inline).
    #[inline(always)]
    fn post(&mut self) {
        let n = self.rounds.load(Ordering::Relaxed);
        self.msg[..8].copy_from_slice(&n.to_le_bytes());
        self.qp
            .post_recv(RecvWr::recv(self.rbuf.take().expect("returned")).wr_id(n))
            .expect("post_recv");
        self.qp
            .post_send(SendWr::send(&self.msg[..]).wr_id(n))
            .expect("post_send");
    }

    /// Hands a completion back; true when it was the echo (checked byte for byte).
    #[inline(always)]
    fn complete(&mut self, wc: &WorkCompletion) -> bool {
        let c = self.qp.complete(wc).expect("A's completion");
        assert_eq!(c.status, WcStatus::Success, "A: {c:?}");
        if c.opcode != WcOpcode::Recv {
            return false;
        }
        let buf = c.buf.expect("owned");
        assert_eq!(buf.as_slice().expect("local"), &self.msg[..], "the echo");
        self.rbuf = Some(buf);
        self.rounds.fetch_add(1, Ordering::Relaxed);
        true
    }

    fn round_trip_sync(&mut self, wcs: &mut [WorkCompletion]) {
        self.post();
        let cq = self.acq.cq().clone();
        loop {
            let mut echoed = false;
            for wc in cq.poll(wcs).expect("poll_cq") {
                echoed |= self.complete(wc);
            }
            if echoed {
                return;
            }
        }
    }

    async fn round_trip_async(&mut self, wcs: &mut [WorkCompletion]) {
        self.post();
        loop {
            let mut echoed = false;
            for wc in self.acq.poll(wcs).await.expect("AsyncCq::poll") {
                echoed |= self.complete(wc);
            }
            if echoed {
                return;
            }
        }
    }

    /// `n` round trips waiting as `variant` says; the time they took.
    fn run(&mut self, rt: &Runtime, variant: Variant, n: u64) -> Duration {
        let mut wcs = [WorkCompletion::default(); 4];
        match variant.mode() {
            None => {
                let t0 = Instant::now();
                for _ in 0..n {
                    self.round_trip_sync(&mut wcs);
                }
                t0.elapsed()
            }
            Some(mode) => {
                self.acq.set_mode(mode);
                rt.block_on(async {
                    let t0 = Instant::now();
                    for _ in 0..n {
                        self.round_trip_async(&mut wcs).await;
                    }
                    t0.elapsed()
                })
            }
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Variant {
    SyncBusy,
    AsyncBusy,
    AsyncEvent,
    AsyncAdaptive,
}

const VARIANTS: [Variant; 4] = [
    Variant::SyncBusy,
    Variant::AsyncBusy,
    Variant::AsyncEvent,
    Variant::AsyncAdaptive,
];

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::SyncBusy => "sync_busy",
            Variant::AsyncBusy => "async_busy",
            Variant::AsyncEvent => "async_event",
            Variant::AsyncAdaptive => "async_adaptive",
        }
    }

    fn mode(self) -> Option<WaitMode> {
        match self {
            Variant::SyncBusy => None,
            Variant::AsyncBusy => Some(WaitMode::BusyPoll),
            Variant::AsyncEvent => Some(WaitMode::Event),
            Variant::AsyncAdaptive => Some(WaitMode::Adaptive { spins: 64 }),
        }
    }
}

/// Ends the process when `rounds` stops moving for [`STALL`] (a lost completion would
/// otherwise hang the benchmark).
fn watchdog(rounds: Arc<AtomicU64>) {
    thread::spawn(move || {
        let mut last = (rounds.load(Ordering::Relaxed), Instant::now());
        loop {
            thread::sleep(Duration::from_secs(1));
            let now = rounds.load(Ordering::Relaxed);
            if now != last.0 {
                last = (now, Instant::now());
            } else if last.1.elapsed() > STALL {
                eprintln!("device_async: no round trip completed for {STALL:?} (after {now})");
                std::process::exit(1);
            }
        }
    });
}

/// Medians of the interleaved blocks, in µs per round trip, with ratios to `sync_busy`.
fn paired_table(p: &mut Pinger, rt: &Runtime, blocks: usize, per_block: u64) {
    let mut us: Vec<Vec<f64>> = vec![Vec::with_capacity(blocks); VARIANTS.len()];
    for _ in 0..blocks {
        for (i, v) in VARIANTS.iter().enumerate() {
            let t = p.run(rt, *v, per_block);
            us[i].push(t.as_secs_f64() * 1e6 / per_block as f64);
        }
    }
    let medians: Vec<f64> = us
        .iter_mut()
        .map(|v| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        })
        .collect();
    println!(
        "\npingpong64, interleaved ({blocks} blocks of {per_block} round trips per variant), \
         median µs per round trip:"
    );
    for (v, m) in VARIANTS.iter().zip(&medians) {
        println!(
            "  {:<15} {m:>9.2} µs   x{:.2} of sync_busy",
            v.name(),
            m / medians[0]
        );
    }
}

fn main() {
    let ctx = open_device();
    let pd = ProtectionDomain::new(&ctx).expect("alloc_pd");
    let cq = |ctx: &Context| {
        CompletionQueue::builder(ctx, 64)
            .with_channel()
            .build()
            .expect("create_cq")
    };
    let (cq_a, cq_b) = (cq(&ctx), cq(&ctx));
    let caps = QpCaps {
        max_send_wr: 16,
        max_recv_wr: 16,
        max_inline_data: MSG as u32,
        ..QpCaps::default()
    };
    let qp = |cq: &CompletionQueue| {
        QueuePair::builder(&pd, cq, cq)
            .caps(caps)
            .build()
            .expect("create_qp")
    };
    let (a, b) = (qp(&cq_a), qp(&cq_b));
    // The ping-pong is SENDs only: the default access rights.
    let access = ConnectOptions::default().access;
    let (oa, ob) = (options(&ctx, 0x111, access), options(&ctx, 0x222, access));
    let (ra, rb) = (address(&ctx, &a, &oa), address(&ctx, &b, &ob));
    let a = a.connect(&rb, &oa).expect("connect A");
    let b = b.connect(&ra, &ob).expect("connect B");

    let stop = Arc::new(AtomicBool::new(false));
    let peer = echo_peer(b, cq_b, stop.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let rounds = Arc::new(AtomicU64::new(0));
    let mut p = Pinger {
        acq: {
            let _in_runtime = rt.enter();
            AsyncCq::new(cq_a, WaitMode::Event).expect("AsyncCq")
        },
        qp: a,
        rbuf: Some(MemoryRegion::new(&pd, MSG, Access::LOCAL_WRITE).expect("reg_mr")),
        msg: std::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0x5a),
        rounds: rounds.clone(),
    };
    watchdog(rounds.clone());
    // Self-check: a few round trips of every variant.
    for v in VARIANTS {
        p.run(&rt, v, 10);
    }
    assert_eq!(rounds.load(Ordering::Relaxed), 40, "self-check");

    let mut c = Criterion::default().configure_from_args();
    {
        let mut g = c.benchmark_group("pingpong64");
        g.throughput(Throughput::Elements(1));
        for v in VARIANTS {
            g.bench_function(v.name(), |bn| bn.iter_custom(|n| p.run(&rt, v, n)));
        }
        g.finish();
    }
    c.final_summary();
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--list") {
        let has = |flag: &str| args.iter().any(|a| a == flag);
        let (blocks, per_block) = if has("--test") {
            (1, 10)
        } else if has("--quick") {
            (11, 100)
        } else {
            (41, 500)
        };
        paired_table(&mut p, &rt, blocks, per_block);
    }
    stop.store(true, Ordering::Relaxed);
    let echoed = peer.join().expect("the echo thread");
    let done = rounds.load(Ordering::Relaxed);
    assert_eq!(echoed, done, "B echoed every message A got back");
    assert_eq!(p.qp.recv_outstanding(), 0, "every receive of A was retired");
}
