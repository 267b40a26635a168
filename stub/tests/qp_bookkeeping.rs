//! The ring's bookkeeping seen through the QP, on the stub provider: shared and sink marks
//! after failed and dropped batches, buffers of earlier requests retired by a later
//! completion, and completions that are not this QP's.

mod common;

use common::{caps, fixture, mr, poll_one, Fixture};
use rdma_verbs::{
    sys, Error, Local, PostError, QpState, RecvWr, RemoteBuf, SendWr, WorkCompletion,
};

/// The error kind of a refused post, with the buffer it handed back.
fn refused_kind(r: std::result::Result<(), PostError>) -> (&'static str, usize) {
    let e = r.expect_err("refused");
    let kind = match e.error {
        Error::QpState { what, .. } => what,
        Error::QueueFull { queue, .. } => queue,
        other => panic!("unexpected error {other:?}"),
    };
    (kind, e.returned.len())
}

#[test]
fn the_state_opens_and_closes_the_queues_with_every_way_to_post() {
    let Fixture { pd, cq, mut qp } = fixture(4, 16);
    // A QP in `state`, with a shared source and a sink of its own.
    let in_state = |state| {
        let mut qp = rdma_stub::queue_pair_in(state, &pd, &cq, &cq, caps(4), false);
        let p = qp.share(mr(&pd, 64));
        let sink = qp.sink(mr(&pd, 64));
        (qp, p, sink)
    };
    // INIT and RTR: receives only.
    for state in [QpState::Init, QpState::Rtr] {
        let (mut qp, p, _) = in_state(state);
        let r = qp.post_send(SendWr::send(mr(&pd, 8)));
        assert_eq!(refused_kind(r), ("a send", 1), "{state:?}");
        let r = qp.post_send(SendWr::send(p));
        assert_eq!(refused_kind(r), ("a send", 0));
        {
            let mut b = qp.send_batch::<2>();
            assert_eq!(refused_kind(b.push(SendWr::send(p))), ("a send", 0));
        }
        qp.post_recv(RecvWr::recv(mr(&pd, 8)).wr_id(1))
            .expect("receives are open");
        let done = qp.complete(&poll_one(&cq)).unwrap();
        assert_eq!(done.buf.map(|b| b.len()), Some(8));
    }
    // RESET and ERR: nothing, whichever way it is posted.
    let (mut moved_to_err, _, _) = in_state(QpState::Rts);
    moved_to_err.set_error().unwrap();
    assert_eq!(moved_to_err.query_state().unwrap(), QpState::Err);
    for state in [QpState::Reset, QpState::Err] {
        let (mut qp, p, sink) = in_state(state);
        let r = qp.post_recv(RecvWr::recv(mr(&pd, 8)).wr_id(2));
        assert_eq!(refused_kind(r), ("a receive", 1), "{state:?}");
        {
            let mut b = qp.recv_batch::<2>();
            assert_eq!(
                refused_kind(b.push(RecvWr::recv(mr(&pd, 8)).wr_id(3))),
                ("a receive", 1)
            );
        }
        let r = qp.post_recv(RecvWr::recv_to_sink(sink).range(0, 8).wr_id(4));
        assert_eq!(refused_kind(r), ("a receive", 0), "{state:?}");
        let r = qp.post_send(SendWr::send(p));
        assert_eq!(refused_kind(r), ("a send", 0));
    }
    let r = moved_to_err.post_recv(RecvWr::recv(mr(&pd, 8)).wr_id(5));
    assert_eq!(refused_kind(r), ("a receive", 1), "after set_error");
    // RTS: both, until the queue is full; a full queue is told apart from a closed one.
    let p = qp.share(mr(&pd, 64));
    for i in 0..4 {
        qp.post_send(SendWr::send(p).signaled(i == 3).wr_id(i))
            .unwrap();
    }
    let r = qp.post_send(SendWr::send(p));
    assert_eq!(refused_kind(r), ("send queue", 0));
    assert_eq!(rdma_stub::counters(&qp).send_wrs, 4);
    assert_eq!(qp.complete(&poll_one(&cq)).unwrap().wr_id, 3);
    assert_eq!(
        qp.send_outstanding(),
        0,
        "the signaled one retired all four"
    );
    // Far past the first blocks of nonces (1024 per block at this depth): every
    // completion still finds its request.
    for i in 0..2100u64 {
        qp.post_send(SendWr::send(p).wr_id(i)).unwrap();
        let wc = poll_one(&cq);
        assert_eq!(qp.complete(&wc).unwrap().wr_id, i);
        assert_eq!(qp.send_outstanding(), 0);
    }
}

#[test]
fn a_batch_failing_midway_leaves_only_its_posted_requests_using_the_source() {
    // A CQ with room for two completions: the third signaled send of the chain fails.
    let Fixture { pd, cq, mut qp } = fixture(16, 2);
    let p = qp.share(mr(&pd, 64));
    let mut b = qp.send_batch::<4>();
    for i in 0..4 {
        b.push(SendWr::send(p).wr_id(i)).unwrap();
    }
    let err = b.post().unwrap_err();
    assert_eq!(err.posted, 2);
    assert_eq!(qp.send_outstanding(), 2);
    assert!(qp.unshare(p).is_err(), "two posted sends use it");
    let second = {
        let mut wcs = [WorkCompletion::default(); 2];
        cq.poll(&mut wcs).unwrap()[1]
    };
    assert_eq!(qp.complete(&second).unwrap().wr_id, 1);
    assert_eq!(qp.send_outstanding(), 0);
    assert_eq!(
        qp.unshare(p).unwrap().len(),
        64,
        "the two requests that were never posted do not hold it"
    );
}

#[test]
fn a_dropped_batch_releases_its_sources_and_buffers() {
    let Fixture { pd, cq, mut qp } = fixture(16, 16);
    let p = qp.share(mr(&pd, 64));
    let owned = mr(&pd, 32);
    {
        let mut b = qp.send_batch::<4>();
        b.push(SendWr::send(p).signaled(false)).unwrap();
        b.push(SendWr::send(owned)).unwrap();
        assert_eq!(b.len(), 2);
    }
    assert_eq!(qp.send_outstanding(), 0);
    assert_eq!(rdma_stub::counters(&qp).send_doorbells, 0);
    assert!(qp.unshare(p).is_ok(), "nothing was posted");
    // The stub counts live regions: the owned buffer the batch gave up is still with the QP
    // (a batch has no destructor) until a request owning a buffer is staged in its ring
    // slot (the second; an inline send staged there first leaves it alone).
    let ctx = pd.context();
    let regions = || rdma_stub::live_regions(&ctx);
    let before = regions();
    qp.post_send(SendWr::send(mr(&pd, 32)).wr_id(7)).unwrap();
    assert_eq!(regions(), before + 1, "the first slot held no buffer");
    qp.post_send(SendWr::send(&[1u8][..]).wr_id(8)).unwrap();
    assert_eq!(
        regions(),
        before + 1,
        "an inline send leaves the second slot's alone"
    );
    for id in [7, 8] {
        // The first hands its buffer back (dropped here).
        assert_eq!(qp.complete(&poll_one(&cq)).unwrap().wr_id, id);
    }
    assert_eq!(regions(), before);
    for i in 0..14 {
        qp.post_send(SendWr::send(&[1u8][..]).wr_id(9 + i)).unwrap();
        assert_eq!(qp.complete(&poll_one(&cq)).unwrap().wr_id, 9 + i);
    }
    // A lap later (16 slots), the second slot again: a buffer staged there drops the
    // given-up one.
    qp.post_send(SendWr::send(mr(&pd, 32)).wr_id(30)).unwrap();
    assert_eq!(regions(), before + 1);
    qp.post_send(SendWr::send(mr(&pd, 32)).wr_id(31)).unwrap();
    assert_eq!(
        regions(),
        before + 1,
        "one more in, the given-up one dropped"
    );
}

#[test]
fn a_later_completion_retires_earlier_owned_and_shared_requests() {
    let Fixture { pd, cq, mut qp } = fixture(8, 16);
    let p = qp.share(mr(&pd, 64));
    let sink = qp.sink(mr(&pd, 64));
    let remote = RemoteBuf {
        addr: 0x1000,
        rkey: 1,
        len: 64,
    };
    // owned (signaled), shared (unsignaled), read into the sink (unsignaled), owned.
    qp.post_send(SendWr::send(mr(&pd, 16)).wr_id(1)).unwrap();
    qp.post_send(SendWr::send(p).wr_id(2).signaled(false))
        .unwrap();
    qp.post_send(SendWr::read_to_sink(sink, remote).wr_id(3).signaled(false))
        .unwrap();
    let last = mr(&pd, 16);
    let addr = last.addr();
    qp.post_send(SendWr::send(last).wr_id(4)).unwrap();
    assert_eq!(qp.send_outstanding(), 4);
    assert!(qp.unshare(p).is_err() && qp.unsink(sink).is_err());
    let mut wcs = [WorkCompletion::default(); 4];
    let polled = cq.poll(&mut wcs).unwrap();
    assert_eq!(polled.len(), 2, "two signaled sends");
    // The second completion first: the first owned buffer is dropped with the rest.
    let done = qp.complete(&polled[1]).unwrap();
    assert_eq!((done.wr_id, done.buf.unwrap().addr()), (4, addr));
    assert_eq!(qp.send_outstanding(), 0);
    assert!(matches!(
        qp.complete(&polled[0]),
        Err(Error::ForeignCompletion { .. })
    ));
    assert!(qp.unshare(p).is_ok() && qp.unsink(sink).is_ok());
    // And the ring goes on: a full lap more of owned sends, each handed back.
    for i in 0..20 {
        let b = mr(&pd, 8);
        let a = b.addr();
        qp.post_send(SendWr::send(b).wr_id(100 + i)).unwrap();
        let done = qp.complete(&poll_one(&cq)).unwrap();
        assert_eq!((done.wr_id, done.buf.unwrap().addr()), (100 + i, a));
    }
}

#[test]
fn a_sink_is_held_by_receives_and_reads_separately() {
    let Fixture { pd, cq, mut qp } = fixture(8, 16);
    let sink = qp.sink(mr(&pd, 64));
    qp.post_recv(RecvWr::recv_to_sink(sink).range(0, 64).wr_id(1))
        .unwrap();
    let remote = RemoteBuf {
        addr: 0x1000,
        rkey: 1,
        len: 64,
    };
    qp.post_send(SendWr::read_to_sink(sink, remote).wr_id(2))
        .unwrap();
    let (a, b) = (poll_one(&cq), poll_one(&cq));
    qp.complete(&a).unwrap();
    assert!(qp.unsink(sink).is_err(), "the read still writes it");
    qp.complete(&b).unwrap();
    assert_eq!(qp.unsink(sink).unwrap().len(), 64);
    // A stale handle of the freed slot reaches nothing, and the slot is reused.
    assert_eq!(qp.sink_len(sink), None);
    assert!(qp
        .post_recv(RecvWr::recv_to_sink(sink).range(0, 8).wr_id(3))
        .is_err());
    let p = qp.share(mr(&pd, 32));
    // Both Debug forms name the slot: `Shared(n)`, `Sink(n)`.
    let slot = |handle: String| handle.trim_start_matches(char::is_alphabetic).to_string();
    assert_eq!(
        slot(format!("{p:?}")),
        slot(format!("{sink:?}")),
        "the free slot is reused"
    );
    assert_eq!(
        qp.sink_len(sink),
        None,
        "a sink handle never reaches a source"
    );
    assert!(qp.post_send(SendWr::send(Local::Sink(sink))).is_err());
}

#[test]
fn completions_with_foreign_marks_are_rejected() {
    let Fixture { pd, cq, mut qp } = fixture(8, 16);
    qp.post_recv(RecvWr::recv(mr(&pd, 64)).wr_id(7)).unwrap();
    let wc = *poll_one(&cq).as_raw();
    // The same nonce with the SRQ mark (bit 62), or without the receive mark (bit 63), is
    // not this receive; nor is it with another QP number. The stub queues each as if the
    // provider had reported it.
    let srq = sys::ibv_wc {
        wr_id: wc.wr_id | 1 << 62,
        ..wc
    };
    let send_side = sys::ibv_wc {
        wr_id: wc.wr_id & !(1 << 63),
        ..wc
    };
    let other_qp = sys::ibv_wc {
        qp_num: wc.qp_num ^ 1,
        ..wc
    };
    assert_ne!(srq.wr_id, wc.wr_id, "the receive's wr_id had no SRQ mark");
    assert_ne!(
        send_side.wr_id, wc.wr_id,
        "the receive's wr_id had its mark"
    );
    for bad in [srq, send_side, other_qp] {
        assert!(rdma_stub::inject(&cq, bad));
        assert!(matches!(
            qp.complete(&poll_one(&cq)),
            Err(Error::ForeignCompletion { .. })
        ));
    }
    assert!(rdma_stub::inject(&cq, wc));
    let wc = poll_one(&cq);
    assert_eq!(qp.recv_outstanding(), 1);
    let done = qp.complete(&wc).unwrap();
    assert_eq!((done.wr_id, done.buf.unwrap().len()), (7, 64));
}
