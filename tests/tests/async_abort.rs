//! Tasks that own QPs with transfers in flight are aborted: each QP is destroyed before its
//! buffers are freed, no late DMA lands in the freed memory, the tasks that keep running finish
//! with every byte right, and the aborted tasks' peers see their later requests end with
//! errors, not hang.

use rdma_device_tests::async_wait::{caps, complete_n, short_retries};
use rdma_device_tests::buffers::{assert_bytes, filled, ok_buf, READABLE, REMOTE};
use rdma_device_tests::{pattern, Pair};
use rdma_verbs::{
    Access, AsyncCq, Completion, MemoryRegion, QueuePair, RecvWr, SendWr, WaitMode, WcOpcode,
    WcStatus, WorkCompletion,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::AbortHandle;

/// One connection of the abort test: the victim's side, moved into a task.
struct Victim {
    qp: QueuePair,
    acq: AsyncCq,
    recvs: [MemoryRegion; 2],
    dsts: [MemoryRegion; VICTIM_READS],
    /// What the peer reads (the victim owns it; the peer's READs are in flight at the abort).
    target: MemoryRegion,
    peer_src: rdma_verbs::RemoteBuf,
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
            qp.post_recv(RecvWr::recv(r).wr_id(i as u64)).unwrap();
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
    target: rdma_verbs::RemoteBuf,
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
