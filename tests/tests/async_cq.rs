//! `rdma::AsyncCq` on the device: every wait mode moves sends, RDMA writes and reads byte for
//! byte; waits cancelled mid-transfer lose no completion and no buffer; tasks aborted
//! mid-transfer free nothing the device still uses while the other tasks go on; a peer that
//! dies or fails ends the waits on the other side with error completions, never a hang.

use rdma::{
    Access, AsyncCq, Completion, ConnectOptions, MemoryRegion, QpAttr, QpCaps, QpState, QueuePair,
    SendWr, WaitMode, WcOpcode, WcStatus, WorkCompletion,
};
use rdma_device_tests::async_wait::{complete_n, current_thread};
use rdma_device_tests::{pattern, Pair, TIMEOUT};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio::task::AbortHandle;

const MODES: [WaitMode; 3] = [
    WaitMode::Event,
    WaitMode::BusyPoll,
    WaitMode::Adaptive { spins: 16 },
];
const MIB: usize = 1 << 20;
const READABLE: Access = Access::from_bits(Access::LOCAL_WRITE.bits() | Access::REMOTE_READ.bits());
const REMOTE: Access = Access::from_bits(
    Access::LOCAL_WRITE.bits() | Access::REMOTE_WRITE.bits() | Access::REMOTE_READ.bits(),
);

fn caps(depth: u32) -> QpCaps {
    QpCaps {
        max_send_wr: depth,
        max_recv_wr: depth,
        ..QpCaps::default()
    }
}

/// Short transport timeouts: a peer that is gone makes requests fail in about a second
/// (4.096 µs · 2^16 ≈ 0.27 s per try, 3 retries), yet busy emulated links never exhaust them.
fn short_retries(o: &mut ConnectOptions) {
    o.timeout = 16;
    o.retry_cnt = 3;
    o.max_rd_atomic = 4;
    o.max_dest_rd_atomic = 4;
}

fn filled(pd: &rdma::ProtectionDomain, bytes: &[u8], access: Access) -> MemoryRegion {
    let mut mr = MemoryRegion::new(pd, bytes.len(), access).expect("register");
    match mr.as_mut_slice() {
        Some(s) => s.copy_from_slice(bytes),
        None => assert!(mr.write_at(0, bytes)),
    }
    mr
}

fn contents(mr: &MemoryRegion) -> Vec<u8> {
    match mr.as_slice() {
        Some(s) => s.to_vec(),
        None => {
            let mut v = vec![0; mr.len()];
            assert!(mr.read_at(0, &mut v));
            v
        }
    }
}

fn assert_bytes(what: &str, got: &[u8], want: &[u8]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    if got == want {
        return;
    }
    if let Some(i) = got.iter().zip(want).position(|(g, w)| g != w) {
        panic!("{what}: first wrong byte at {i}: {} != {}", got[i], want[i]);
    }
}

fn ok_buf(c: Completion, opcode: WcOpcode) -> MemoryRegion {
    assert_eq!((c.status, c.opcode), (WcStatus::Success, opcode), "{c:?}");
    c.buf.expect("the request owned a buffer")
}

#[test]
fn every_mode_moves_sends_writes_and_reads_byte_for_byte() {
    for mode in MODES {
        let mut p = Pair::with_channels(caps(16)).connect(REMOTE);
        current_thread().block_on(async {
            let mut qa = AsyncCq::new(p.cq_a.clone(), mode).unwrap();
            let mut qb = AsyncCq::new(p.cq_b.clone(), mode).unwrap();
            const LEN: usize = 64 << 10;
            // Four SENDs into four receives.
            for i in 0..4u8 {
                let rbuf = MemoryRegion::new(&p.pd, LEN, Access::LOCAL_WRITE).unwrap();
                p.b.post_recv(rbuf, i.into()).unwrap();
            }
            for i in 0..4u8 {
                let s = filled(&p.pd, &pattern(LEN, i), Access::LOCAL_WRITE);
                p.a.post_send(SendWr::send(s).wr_id(i.into())).unwrap();
            }
            let recvs = complete_n(&mut qb, &mut p.b, 4, TIMEOUT).await;
            for (i, c) in recvs.into_iter().enumerate() {
                assert_eq!((c.wr_id, c.byte_len), (i as u64, LEN as u32));
                let b = ok_buf(c, WcOpcode::Recv);
                assert_bytes(
                    &format!("{mode:?} recv {i}"),
                    &contents(&b),
                    &pattern(LEN, i as u8),
                );
            }
            for c in complete_n(&mut qa, &mut p.a, 4, TIMEOUT).await {
                ok_buf(c, WcOpcode::Send);
            }
            // An RDMA WRITE into B's memory, then an RDMA READ of it back.
            let target = MemoryRegion::new(&p.pd, LEN, REMOTE).unwrap();
            let src = filled(&p.pd, &pattern(LEN, 40), Access::LOCAL_WRITE);
            p.a.post_send(SendWr::write(src, target.remote()).wr_id(10))
                .unwrap();
            let c = complete_n(&mut qa, &mut p.a, 1, TIMEOUT).await.remove(0);
            ok_buf(c, WcOpcode::RdmaWrite);
            assert_bytes(
                &format!("{mode:?} write"),
                &contents(&target),
                &pattern(LEN, 40),
            );
            let dst = MemoryRegion::new(&p.pd, LEN, Access::LOCAL_WRITE).unwrap();
            p.a.post_send(SendWr::read(dst, target.remote()).wr_id(11))
                .unwrap();
            let c = complete_n(&mut qa, &mut p.a, 1, TIMEOUT).await.remove(0);
            let dst = ok_buf(c, WcOpcode::RdmaRead);
            assert_bytes(
                &format!("{mode:?} read"),
                &contents(&dst),
                &pattern(LEN, 40),
            );
        });
    }
}

#[test]
fn a_second_async_cq_and_raw_event_calls_are_refused_while_one_drives_the_channel() {
    let p = Pair::with_channels(caps(4));
    current_thread().block_on(async {
        let acq = AsyncCq::new(p.cq_a.clone(), WaitMode::Event).unwrap();
        let refused = |r: rdma::Result<()>, what: &str| match r {
            Err(rdma::Error::InvalidArgument(m)) if m.contains("AsyncCq") => {}
            other => panic!("{what}: {other:?}"),
        };
        refused(
            AsyncCq::new(p.cq_a.clone(), WaitMode::BusyPoll).map(drop),
            "second AsyncCq",
        );
        refused(p.cq_a.req_notify(false), "req_notify");
        refused(p.cq_a.get_event().map(drop), "get_event");
        drop(acq);
        // Released: the CQ can be driven again, by hand or by a new AsyncCq.
        p.cq_a.req_notify(false).unwrap();
        AsyncCq::new(p.cq_a.clone(), WaitMode::Event).unwrap();
    });
    let err = AsyncCq::new(p.cq_b.clone(), WaitMode::Event).unwrap_err();
    assert!(
        matches!(&err, rdma::Error::InvalidArgument(m) if m.contains("tokio runtime")),
        "outside a runtime: {err}"
    );
    let no_channel = rdma::CompletionQueue::new(&p.ctx, 4).unwrap();
    current_thread().block_on(async {
        let err = AsyncCq::new(no_channel, WaitMode::Event).unwrap_err();
        assert!(
            matches!(&err, rdma::Error::InvalidArgument(m) if m.contains(".with_channel()")),
            "{err}"
        );
    });
}

/// Awaits completions of `qp` on `acq` until `n` arrived, cancelling the wait again and again
/// (a timeout of a few microseconds, a `select!` against a sleep, with the mode changing);
/// returns the completions and how many waits were cancelled.
async fn complete_n_cancelling(
    acq: &mut AsyncCq,
    qp: &mut QueuePair,
    n: usize,
) -> (Vec<Completion>, u32) {
    let mut out = Vec::new();
    let mut cancelled = 0u32;
    let mut wcs = [WorkCompletion::default(); 4];
    let deadline = Instant::now() + TIMEOUT;
    let mut round = 0u64;
    while out.len() < n {
        assert!(
            Instant::now() < deadline,
            "got {} of {n}: {out:?}",
            out.len()
        );
        round += 1;
        acq.set_mode(MODES[(round % 3) as usize]);
        let tiny = Duration::from_micros(5 + round % 50);
        let got = if round.is_multiple_of(2) {
            tokio::time::timeout(tiny, acq.poll(&mut wcs)).await.ok()
        } else {
            tokio::select! {
                biased;
                r = acq.poll(&mut wcs) => Some(r),
                _ = tokio::time::sleep(tiny) => None,
            }
        };
        match got {
            Some(wcs) => {
                for wc in wcs.expect("AsyncCq::poll") {
                    out.push(qp.complete(wc).expect("a completion of this QP"));
                }
            }
            None => cancelled += 1,
        }
    }
    (out, cancelled)
}

/// Soft-RoCE runs the requester of a user QP inside `ibv_post_send` (SENDs and WRITEs are
/// done when the post returns), but answers RDMA READs from a kernel work queue: READs, and
/// receives whose SENDs come later, are what is in flight while a task waits.
#[test]
fn waits_cancelled_mid_transfer_lose_no_completion_and_no_buffer() {
    let mut p = Pair::with_channels(caps(16)).connect_with(REMOTE, short_retries);
    current_thread().block_on(async {
        let mut qa = AsyncCq::new(p.cq_a.clone(), WaitMode::Event).unwrap();
        let mut qb = AsyncCq::new(p.cq_b.clone(), WaitMode::Event).unwrap();
        // A reads B's 8 MiB in 1 MiB pieces and receives four 1 MiB SENDs from B.
        const READS: usize = 8;
        const SENDS: usize = 4;
        let source = filled(&p.pd, &pattern(READS * MIB, 7), READABLE);
        let sends: Vec<_> = (0..SENDS)
            .map(|i| filled(&p.pd, &pattern(MIB, 100 + i as u8), Access::LOCAL_WRITE))
            .collect();
        for i in 0..SENDS {
            let rbuf = MemoryRegion::new(&p.pd, MIB, Access::LOCAL_WRITE).unwrap();
            p.a.post_recv(rbuf, 100 + i as u64).unwrap();
        }
        for i in 0..READS {
            let dst = MemoryRegion::new(&p.pd, MIB, Access::LOCAL_WRITE).unwrap();
            let from = source.remote().slice((i * MIB) as u64, MIB as u64).unwrap();
            p.a.post_send(SendWr::read(dst, from).wr_id(i as u64))
                .unwrap();
        }
        let b_sends_later = async {
            tokio::time::sleep(Duration::from_millis(30)).await;
            for (i, s) in sends.into_iter().enumerate() {
                p.b.post_send(SendWr::send(s).wr_id(i as u64)).unwrap();
            }
            complete_n_cancelling(&mut qb, &mut p.b, SENDS).await
        };
        let ((done_a, cancelled_a), (done_b, _)) = tokio::join!(
            complete_n_cancelling(&mut qa, &mut p.a, READS + SENDS),
            b_sends_later
        );
        assert!(cancelled_a > 0, "no wait of A was cancelled mid-transfer");
        let want = pattern(READS * MIB, 7);
        let mut ids: Vec<u64> = done_a.iter().map(|c| c.wr_id).collect();
        ids.sort_unstable();
        let all: Vec<u64> = (0..READS as u64).chain(100..100 + SENDS as u64).collect();
        assert_eq!(ids, all, "every request of A, once");
        for c in done_a {
            let id = c.wr_id as usize;
            if id < 100 {
                let dst = ok_buf(c, WcOpcode::RdmaRead);
                let want = &want[id * MIB..(id + 1) * MIB];
                assert_bytes(&format!("read {id}"), dst.as_slice().unwrap(), want);
            } else {
                let b = ok_buf(c, WcOpcode::Recv);
                let want = pattern(MIB, id as u8);
                assert_bytes(&format!("recv {id}"), b.as_slice().unwrap(), &want);
            }
        }
        for c in done_b {
            assert_eq!(ok_buf(c, WcOpcode::Send).len(), MIB);
        }
        eprintln!("A's waits cancelled mid-transfer: {cancelled_a}");
    });
}

#[test]
fn a_peer_that_is_destroyed_mid_transfer_ends_pending_waits_with_errors() {
    let mut p = Pair::with_channels(caps(16)).connect_with(REMOTE, short_retries);
    let outcome = current_thread().block_on(async {
        let mut qa = AsyncCq::new(p.cq_a.clone(), WaitMode::Event).unwrap();
        let rbuf = MemoryRegion::new(&p.pd, MIB, Access::LOCAL_WRITE).unwrap();
        p.b.post_recv(rbuf, 0).unwrap();
        for i in 0..2 {
            let rbuf = MemoryRegion::new(&p.pd, 4096, Access::LOCAL_WRITE).unwrap();
            p.a.post_recv(rbuf, 10 + i).unwrap();
        }
        for i in 0..4u8 {
            let s = filled(&p.pd, &pattern(MIB, i), Access::LOCAL_WRITE);
            p.a.post_send(SendWr::send(s).wr_id(i.into())).unwrap();
        }
        // B dies (its QP destroyed, as when its process exits) with A's sends in flight.
        let b = std::mem::replace(
            &mut p.b,
            QueuePair::builder(&p.pd, &p.cq_b, &p.cq_b).build().unwrap(),
        );
        drop(b);
        let t0 = Instant::now();
        let done = complete_n(&mut qa, &mut p.a, 6, Duration::from_secs(60)).await;
        (done, t0.elapsed())
    });
    let (done, took) = outcome;
    let statuses: Vec<(u64, WcStatus)> = done.iter().map(|c| (c.wr_id, c.status)).collect();
    assert!(
        statuses.contains(&(10, WcStatus::WrFlush)) && statuses.contains(&(11, WcStatus::WrFlush)),
        "A's receives are flushed: {statuses:?}"
    );
    assert!(
        statuses.iter().any(|s| s.1 == WcStatus::RetryExceeded),
        "a send to the dead peer exhausts its retries: {statuses:?}"
    );
    assert!(
        statuses[3..].iter().all(|s| s.1 != WcStatus::Success),
        "at most three sends can have been taken before B died: {statuses:?}"
    );
    eprintln!("the dead peer's requests all ended in {took:?}: {statuses:?}");
}

#[test]
fn a_peer_moved_to_error_ends_both_sides_pending_waits_with_errors() {
    let mut p = Pair::with_channels(caps(16)).connect_with(REMOTE, short_retries);
    current_thread().block_on(async {
        let mut qa = AsyncCq::new(p.cq_a.clone(), WaitMode::Event).unwrap();
        let mut qb = AsyncCq::new(p.cq_b.clone(), WaitMode::Adaptive { spins: 8 }).unwrap();
        for i in 0..2 {
            let rbuf = MemoryRegion::new(&p.pd, 4096, Access::LOCAL_WRITE).unwrap();
            p.b.post_recv(rbuf, i).unwrap();
        }
        // B waits for its receives while, concurrently, B's QP fails (moved to ERR).
        let mut wcs = [WorkCompletion::default(); 2];
        let b_waits = async {
            let mut got = Vec::new();
            while got.len() < 2 {
                got.extend_from_slice(qb.poll(&mut wcs[got.len()..]).await.unwrap());
            }
            got
        };
        let fail_b = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            p.b.modify(&QpAttr::new().state(QpState::Err)).unwrap();
        };
        let (b_polled, ()) = tokio::join!(
            async {
                tokio::time::timeout(Duration::from_secs(60), b_waits)
                    .await
                    .expect("B's pending waits end when B fails")
            },
            fail_b
        );
        for (i, wc) in b_polled.iter().enumerate() {
            let c = p.b.complete(wc).unwrap();
            assert_eq!((c.wr_id, c.status), (i as u64, WcStatus::WrFlush));
            assert_eq!(
                c.buf.unwrap().len(),
                4096,
                "the flushed receive's buffer comes back"
            );
        }
        // A's send to the failed peer ends with an error, within the retry bound.
        let s = filled(&p.pd, &pattern(MIB, 3), Access::LOCAL_WRITE);
        p.a.post_send(SendWr::send(s).wr_id(1)).unwrap();
        let c = complete_n(&mut qa, &mut p.a, 1, Duration::from_secs(60))
            .await
            .remove(0);
        assert_eq!(
            (c.wr_id, c.status),
            (1, WcStatus::RetryExceeded),
            "a send to a peer in ERR: {c:?}"
        );
        assert_eq!(
            c.buf.unwrap().len(),
            MIB,
            "the failed send's buffer comes back"
        );
    });
}

/// One connection of the abort test: the victim's side, moved into a task.
struct Victim {
    qp: QueuePair,
    acq: AsyncCq,
    recvs: [MemoryRegion; 2],
    dsts: [MemoryRegion; VICTIM_READS],
    /// What the peer reads (the victim owns it; the peer's READs are in flight at the abort).
    target: MemoryRegion,
    peer_src: rdma::RemoteBuf,
    /// Work requests the task's QP has outstanding, published after every wake.
    outstanding: Arc<AtomicU64>,
}

const VICTIM_READS: usize = 4;
/// The size of every buffer of the abort test.
const CHUNK: usize = 256 << 10;

impl Victim {
    /// Posts two receives and `VICTIM_READS` RDMA READs of the peer's source, says so, and
    /// awaits them all; returns the bytes it verified.
    async fn run(self, seed: u8, posted: mpsc::Sender<()>) -> usize {
        let Victim {
            mut qp,
            mut acq,
            recvs,
            dsts,
            target,
            peer_src,
            outstanding,
        } = self;
        for (i, r) in recvs.into_iter().enumerate() {
            qp.post_recv(r, i as u64).unwrap();
        }
        for (i, d) in dsts.into_iter().enumerate() {
            qp.post_send(SendWr::read(d, peer_src).wr_id(10 + i as u64))
                .unwrap();
        }
        outstanding.store(
            qp.recv_outstanding() + qp.send_outstanding(),
            Ordering::SeqCst,
        );
        posted.send(()).await.unwrap();
        let mut wcs = [WorkCompletion::default(); 4];
        let mut verified = 0;
        let (sent, read) = (
            [pattern(CHUNK, seed + 50), pattern(CHUNK, seed + 51)],
            pattern(CHUNK, seed),
        );
        while qp.recv_outstanding() + qp.send_outstanding() > 0 {
            for wc in acq.poll(&mut wcs).await.unwrap() {
                let c = qp.complete(wc).unwrap();
                let (opcode, want) = match c.wr_id {
                    i @ 0..=1 => (WcOpcode::Recv, &sent[i as usize]),
                    _ => (WcOpcode::RdmaRead, &read),
                };
                let b = ok_buf(c, opcode);
                assert_bytes("victim", b.as_slice().unwrap(), want);
                verified += b.len();
            }
            let left = qp.recv_outstanding() + qp.send_outstanding();
            outstanding.store(left, Ordering::SeqCst);
        }
        drop(target);
        verified
    }
}

/// The peer of a victim, its buffers made beforehand: `PEER_READS` RDMA READs of the victim's
/// target; then, for an odd peer, the abort of its victim's task while those READs are in
/// flight; then (once told to go) two SENDs into the victim's receives.
struct Peer {
    qp: QueuePair,
    acq: AsyncCq,
    dsts: Vec<MemoryRegion>,
    sends: [MemoryRegion; 2],
    target: rdma::RemoteBuf,
}

/// Many READs, one at a time (`max_rd_atomic` 1). On Soft-RoCE they are usually all answered
/// before the victim's QP is gone (its destruction lets the responder finish what it has); any
/// that fails must fail with an error, and any that succeeds must have read the right bytes.
const PEER_READS: usize = 32;

impl Peer {
    /// Returns every completion, in order.
    async fn run(
        self,
        abort: Option<AbortHandle>,
        posted: mpsc::Sender<()>,
        mut go: watch::Receiver<bool>,
    ) -> Vec<Completion> {
        let Peer {
            mut qp,
            mut acq,
            dsts,
            sends,
            target,
        } = self;
        for (i, d) in dsts.into_iter().enumerate() {
            qp.post_send(SendWr::read(d, target).wr_id(10 + i as u64))
                .unwrap();
        }
        if let Some(victim) = abort {
            victim.abort();
        }
        posted.send(()).await.unwrap();
        go.wait_for(|go| *go).await.unwrap();
        for (i, s) in sends.into_iter().enumerate() {
            qp.post_send(SendWr::send(s).wr_id(i as u64)).unwrap();
        }
        complete_n(&mut acq, &mut qp, PEER_READS + 2, Duration::from_secs(120)).await
    }
}

#[test]
fn tasks_aborted_mid_transfer_free_nothing_the_device_uses_while_the_others_finish() {
    const CONNS: usize = 8;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let pairs: Vec<Pair> = (0..CONNS)
        .map(|_| {
            Pair::with_channels(caps(64)).connect_with(REMOTE, |o| {
                short_retries(o);
                o.max_rd_atomic = 1;
            })
        })
        .collect();
    let pd = pairs[0].pd.clone();
    rt.block_on(async {
        let (posted_tx, mut posted_rx) = mpsc::channel(CONNS);
        let (go_tx, go_rx) = watch::channel(false);
        let mut victims = Vec::new();
        let mut peers = Vec::new();
        let mut sources = Vec::new();
        for (i, p) in pairs.into_iter().enumerate() {
            let seed = i as u8;
            let Pair {
                pd,
                cq_a,
                cq_b,
                a,
                b,
                ..
            } = p;
            let src = filled(&pd, &pattern(CHUNK, seed), READABLE);
            let mr = |access| MemoryRegion::new(&pd, CHUNK, access).unwrap();
            let fill = |s: u8| filled(&pd, &pattern(CHUNK, s), Access::LOCAL_WRITE);
            let v = Victim {
                qp: b,
                acq: AsyncCq::new(cq_b, WaitMode::Event).unwrap(),
                recvs: [mr(Access::LOCAL_WRITE), mr(Access::LOCAL_WRITE)],
                dsts: std::array::from_fn(|_| mr(Access::LOCAL_WRITE)),
                target: filled(&pd, &pattern(CHUNK, seed + 200), READABLE),
                peer_src: src.remote(),
                outstanding: Arc::new(AtomicU64::new(0)),
            };
            peers.push(Peer {
                dsts: (0..PEER_READS).map(|_| mr(Access::LOCAL_WRITE)).collect(),
                sends: [fill(seed + 50), fill(seed + 51)],
                target: v.target.remote(),
                acq: AsyncCq::new(cq_a, WaitMode::Event).unwrap(),
                qp: a,
            });
            let outstanding = v.outstanding.clone();
            sources.push(src);
            victims.push((tokio::spawn(v.run(seed, posted_tx.clone())), outstanding));
        }
        for _ in 0..CONNS {
            posted_rx.recv().await.unwrap();
        }
        // Every odd victim is aborted by its peer right after the peer posted READs of the
        // victim's memory: the victim's QP is destroyed, then its buffers (among them the
        // target the READs are reading) are freed.
        let peers: Vec<_> = peers
            .into_iter()
            .zip(&victims)
            .enumerate()
            .map(|(i, (p, (victim, _)))| {
                let abort = (i % 2 == 1).then(|| victim.abort_handle());
                tokio::spawn(p.run(abort, posted_tx.clone(), go_rx.clone()))
            })
            .collect();
        for _ in 0..CONNS {
            posted_rx.recv().await.unwrap();
        }
        let mut running = Vec::new();
        for (i, (handle, outstanding)) in victims.into_iter().enumerate() {
            if i % 2 == 0 {
                running.push(handle);
                continue;
            }
            let e = handle.await.expect_err("aborted");
            assert!(e.is_cancelled(), "victim {i}: {e}");
            let left = outstanding.load(Ordering::SeqCst);
            assert!(
                left >= 2,
                "victim {i} was aborted with {left} requests in flight"
            );
        }
        // Memory the aborted tasks freed is reused now; no late DMA may land in it.
        let mut sentinels: Vec<MemoryRegion> = (0..16)
            .map(|_| MemoryRegion::new(&pd, 2 * CHUNK, Access::LOCAL_WRITE).unwrap())
            .collect();
        for s in &mut sentinels {
            s.as_mut_slice().unwrap().fill(0xa5);
        }
        go_tx.send(true).unwrap();
        for (n, handle) in running.into_iter().enumerate() {
            let verified = handle.await.expect("a running victim finishes");
            assert_eq!(verified, (2 + VICTIM_READS) * CHUNK, "victim {}", 2 * n);
        }
        for (i, handle) in peers.into_iter().enumerate() {
            let done = handle.await.unwrap();
            let statuses: Vec<WcStatus> = done.iter().map(|c| c.status).collect();
            let want = pattern(CHUNK, i as u8 + 200);
            if i % 2 == 1 {
                // Posted after the victim died: its SENDs fail, first by exhausting their
                // retries, then by being flushed; none hangs.
                assert!(
                    statuses.contains(&WcStatus::RetryExceeded)
                        && done.iter().filter(|c| c.wr_id < 2).all(|c| !c.is_ok()),
                    "peer {i} of an aborted task ends with errors: {statuses:?}"
                );
            }
            // Every READ that succeeded, before or around the abort, read the right bytes.
            for c in done.into_iter().filter(|c| c.wr_id >= 10) {
                if i % 2 == 0 || c.is_ok() {
                    let b = ok_buf(c, WcOpcode::RdmaRead);
                    assert_bytes(&format!("peer {i} read"), b.as_slice().unwrap(), &want);
                }
            }
        }
        for s in &sentinels {
            let intact = s.as_slice().unwrap().iter().all(|b| *b == 0xa5);
            assert!(intact, "late DMA into memory an aborted task freed");
        }
        drop(sources);
    });
}
