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

const MODES: [WaitMode; 3] = [
    WaitMode::Event,
    WaitMode::BusyPoll,
    WaitMode::Adaptive { spins: 16 },
];
const MIB: usize = 1 << 20;
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
    assert!(mr.write_at(0, bytes));
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
        let got = if round % 2 == 0 {
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

#[test]
fn waits_cancelled_mid_transfer_lose_no_completion_and_no_buffer() {
    let mut p = Pair::with_channels(caps(16)).connect_with(REMOTE, short_retries);
    current_thread().block_on(async {
        let mut qa = AsyncCq::new(p.cq_a.clone(), WaitMode::Event).unwrap();
        let mut qb = AsyncCq::new(p.cq_b.clone(), WaitMode::Event).unwrap();
        // B's 4 MiB that A reads in 1 MiB pieces, and 4 MiB that A sends to B's receives.
        const N: usize = 4;
        let source = filled(&p.pd, &pattern(N * MIB, 7), REMOTE);
        for i in 0..N {
            let rbuf = MemoryRegion::new(&p.pd, MIB, Access::LOCAL_WRITE).unwrap();
            p.b.post_recv(rbuf, i as u64).unwrap();
        }
        for i in 0..N {
            let dst = MemoryRegion::new(&p.pd, MIB, Access::LOCAL_WRITE).unwrap();
            let from = source.remote().slice((i * MIB) as u64, MIB as u64).unwrap();
            p.a.post_send(SendWr::read(dst, from).wr_id(i as u64))
                .unwrap();
            let s = filled(&p.pd, &pattern(MIB, 100 + i as u8), Access::LOCAL_WRITE);
            p.a.post_send(SendWr::send(s).wr_id(100 + i as u64))
                .unwrap();
        }
        let (done_a, cancelled_a) = complete_n_cancelling(&mut qa, &mut p.a, 2 * N).await;
        let (done_b, cancelled_b) = complete_n_cancelling(&mut qb, &mut p.b, N).await;
        assert!(
            cancelled_a > 0 && cancelled_b > 0,
            "no wait was cancelled mid-transfer (A {cancelled_a}, B {cancelled_b})"
        );
        let want = pattern(N * MIB, 7);
        let mut ids: Vec<u64> = done_a.iter().map(|c| c.wr_id).collect();
        ids.sort_unstable();
        assert_eq!(
            ids,
            [0, 1, 2, 3, 100, 101, 102, 103],
            "every request of A, once"
        );
        for c in done_a {
            let id = c.wr_id as usize;
            if id < 100 {
                let dst = ok_buf(c, WcOpcode::RdmaRead);
                assert_bytes(
                    &format!("read {id}"),
                    dst.as_slice().unwrap(),
                    &want[id * MIB..(id + 1) * MIB],
                );
            } else {
                ok_buf(c, WcOpcode::Send);
            }
        }
        for (i, c) in done_b.into_iter().enumerate() {
            assert_eq!(c.wr_id, i as u64, "receives complete in order");
            let b = ok_buf(c, WcOpcode::Recv);
            assert_bytes(
                &format!("recv {i}"),
                b.as_slice().unwrap(),
                &pattern(MIB, 100 + i as u8),
            );
        }
        eprintln!("cancelled waits: A {cancelled_a}, B {cancelled_b}");
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
    dst: MemoryRegion,
    target: MemoryRegion,
    peer_src: rdma::RemoteBuf,
    /// Work requests the task's QP has outstanding, published after every wake.
    outstanding: Arc<AtomicU64>,
}

impl Victim {
    /// Posts two receives and an RDMA READ, says so, and awaits them; returns the bytes it
    /// verified and the target the peer wrote (to be checked once the peer's writes are done).
    async fn run(self, seed: u8, posted: tokio::sync::mpsc::Sender<()>) -> (usize, MemoryRegion) {
        let Victim {
            mut qp,
            mut acq,
            recvs,
            dst,
            target,
            peer_src,
            outstanding,
        } = self;
        for (i, r) in recvs.into_iter().enumerate() {
            qp.post_recv(r, i as u64).unwrap();
        }
        qp.post_send(SendWr::read(dst, peer_src).wr_id(9)).unwrap();
        outstanding.store(3, Ordering::SeqCst);
        posted.send(()).await.unwrap();
        let mut wcs = [WorkCompletion::default(); 4];
        let mut verified = 0;
        while qp.recv_outstanding() + qp.send_outstanding() > 0 {
            for wc in acq.poll(&mut wcs).await.unwrap() {
                let c = qp.complete(wc).unwrap();
                let (opcode, want) = match c.wr_id {
                    9 => (WcOpcode::RdmaRead, pattern(MIB, seed)),
                    i => (WcOpcode::Recv, pattern(MIB, seed + 50 + i as u8)),
                };
                let b = ok_buf(c, opcode);
                assert_bytes("victim", b.as_slice().unwrap(), &want);
                verified += b.len();
            }
            let left = qp.recv_outstanding() + qp.send_outstanding();
            outstanding.store(left, Ordering::SeqCst);
        }
        (verified, target)
    }
}

/// The peer of a victim: two SENDs into the victim's receives and `WRITES` RDMA WRITEs of one
/// pinned source into its target; returns every completion's status, in order.
async fn peer(
    mut qp: QueuePair,
    mut acq: AsyncCq,
    seed: u8,
    target: rdma::RemoteBuf,
) -> Vec<WcStatus> {
    const WRITES: usize = 8;
    let pd = qp.pd();
    let src = qp.pin(filled(&pd, &pattern(MIB, seed + 200), Access::LOCAL_WRITE));
    for i in 0..2u8 {
        let s = filled(&pd, &pattern(MIB, seed + 50 + i), Access::LOCAL_WRITE);
        qp.post_send(SendWr::send(s).wr_id(i.into())).unwrap();
    }
    for i in 0..WRITES {
        qp.post_send(SendWr::write(src, target).wr_id(10 + i as u64))
            .unwrap();
    }
    complete_n(&mut acq, &mut qp, 2 + WRITES, Duration::from_secs(120))
        .await
        .into_iter()
        .map(|c| c.status)
        .collect()
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
        .map(|_| Pair::with_channels(caps(16)).connect_with(REMOTE, short_retries))
        .collect();
    let pd = pairs[0].pd.clone();
    rt.block_on(async {
        let (posted_tx, mut posted_rx) = tokio::sync::mpsc::channel(CONNS);
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
            let src = filled(&pd, &pattern(MIB, seed), REMOTE);
            let mr = |access| MemoryRegion::new(&pd, MIB, access).unwrap();
            let v = Victim {
                qp: b,
                acq: AsyncCq::new(cq_b, WaitMode::Event).unwrap(),
                recvs: [mr(Access::LOCAL_WRITE), mr(Access::LOCAL_WRITE)],
                dst: mr(Access::LOCAL_WRITE),
                target: mr(REMOTE),
                peer_src: src.remote(),
                outstanding: Arc::new(AtomicU64::new(0)),
            };
            let target = v.target.remote();
            let outstanding = v.outstanding.clone();
            sources.push(src);
            victims.push((tokio::spawn(v.run(seed, posted_tx.clone())), outstanding));
            peers.push((
                a,
                AsyncCq::new(cq_a, WaitMode::Event).unwrap(),
                seed,
                target,
            ));
        }
        for _ in 0..CONNS {
            posted_rx.recv().await.unwrap();
        }
        let peers: Vec<_> = peers
            .into_iter()
            .map(|(qp, acq, seed, target)| tokio::spawn(peer(qp, acq, seed, target)))
            .collect();
        tokio::time::sleep(Duration::from_millis(20)).await;
        // Abort every odd victim: its QP is destroyed, then its buffers freed.
        for (handle, _) in victims.iter().skip(1).step_by(2) {
            handle.abort();
        }
        let mut survivors = Vec::new();
        for (i, (handle, outstanding)) in victims.into_iter().enumerate() {
            match handle.await {
                Err(e) if i % 2 == 1 => {
                    assert!(e.is_cancelled(), "victim {i}: {e}");
                    let left = outstanding.load(Ordering::SeqCst);
                    assert!(left > 0, "victim {i} was aborted with nothing in flight");
                }
                Ok((verified, target)) if i % 2 == 0 => {
                    assert_eq!(verified, 3 * MIB, "victim {i}");
                    survivors.push((i, target));
                }
                other => panic!("victim {i}: {:?}", other.map(|r| r.0)),
            }
        }
        // Memory the aborted tasks freed is reused now; no late DMA may land in it.
        let mut sentinels: Vec<MemoryRegion> = (0..4)
            .map(|_| MemoryRegion::new(&pd, 2 * MIB, Access::LOCAL_WRITE).unwrap())
            .collect();
        for s in &mut sentinels {
            s.as_mut_slice().unwrap().fill(0xa5);
        }
        let t0 = Instant::now();
        for (i, handle) in peers.into_iter().enumerate() {
            let statuses = handle.await.unwrap();
            if i % 2 == 0 {
                assert!(
                    statuses.iter().all(|s| *s == WcStatus::Success),
                    "peer {i} of a running task: {statuses:?}"
                );
            } else {
                assert!(
                    statuses.contains(&WcStatus::RetryExceeded)
                        && *statuses.last().unwrap() != WcStatus::Success,
                    "peer {i} of an aborted task ends with errors: {statuses:?}"
                );
            }
        }
        eprintln!(
            "the peers of aborted tasks ended {:?} after the survivors",
            t0.elapsed()
        );
        for s in &sentinels {
            assert!(
                s.as_slice().unwrap().iter().all(|b| *b == 0xa5),
                "late DMA into freed memory"
            );
        }
        for (i, target) in survivors {
            assert_bytes(
                &format!("target {i}"),
                &contents(&target),
                &pattern(MIB, i as u8 + 200),
            );
        }
    });
}
