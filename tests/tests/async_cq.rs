//! `rdma_verbs::AsyncCq` on the device: every wait mode moves sends, RDMA writes and reads byte for
//! byte; one `AsyncCq` drives a channel; waits cancelled mid-transfer lose no completion and no
//! buffer; a peer that dies or fails ends the waits on the other side with error completions,
//! never a hang. Aborted tasks: `async_abort.rs`.

use rdma_device_tests::async_wait::{caps, complete_n, current_thread, short_retries};
use rdma_device_tests::buffers::{assert_bytes, contents, filled, ok_buf, MIB, READABLE, REMOTE};
use rdma_device_tests::{pattern, Pair, TIMEOUT};
use rdma_verbs::{
    Access, AsyncCq, Completion, MemoryRegion, QpAttr, QpState, QueuePair, RecvWr, SendWr,
    WaitMode, WcOpcode, WcStatus, WorkCompletion,
};
use std::time::{Duration, Instant};

const MODES: [WaitMode; 3] = [
    WaitMode::Event,
    WaitMode::BusyPoll,
    WaitMode::Adaptive { spins: 16 },
];
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
                p.b.post_recv(RecvWr::recv(rbuf).wr_id(i.into())).unwrap();
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
        let refused = |r: rdma_verbs::Result<()>, what: &str| match r {
            Err(rdma_verbs::Error::InvalidArgument(m)) if m.contains("AsyncCq") => {}
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
        matches!(&err, rdma_verbs::Error::InvalidArgument(m) if m.contains("tokio runtime")),
        "outside a runtime: {err}"
    );
    let no_channel = rdma_verbs::CompletionQueue::new(&p.ctx, 4).unwrap();
    current_thread().block_on(async {
        let err = AsyncCq::new(no_channel, WaitMode::Event).unwrap_err();
        assert!(
            matches!(&err, rdma_verbs::Error::InvalidArgument(m) if m.contains(".with_channel()")),
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
            p.a.post_recv(RecvWr::recv(rbuf).wr_id(100 + i as u64))
                .unwrap();
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
        p.b.post_recv(RecvWr::recv(rbuf)).unwrap();
        for i in 0..2 {
            let rbuf = MemoryRegion::new(&p.pd, 4096, Access::LOCAL_WRITE).unwrap();
            p.a.post_recv(RecvWr::recv(rbuf).wr_id(10 + i)).unwrap();
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
            p.b.post_recv(RecvWr::recv(rbuf).wr_id(i)).unwrap();
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
