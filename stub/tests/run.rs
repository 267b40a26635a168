//! Runs on the stub provider: what reaches the provider, the error kinds, and how long the
//! buffers a run used stay taken.

mod common;

use common::{caps, fixture, mr, poll_one, Fixture};
use rdma_verbs::{Error, Local, PostError, RecvWr, RemoteBuf, SendWr, WcOpcode};

fn remote(len: u64) -> RemoteBuf {
    RemoteBuf {
        addr: 0x1000,
        rkey: 7,
        len,
    }
}

#[test]
fn templates_post_what_they_were_checked_as_with_each_posts_wr_id() {
    let Fixture { pd, cq, mut qp } = fixture(16, 64);
    let src = qp.share(mr(&pd, 100));
    let sink = qp.sink(mr(&pd, 256));
    let run = qp.run();
    let mut write = run
        .prepare(SendWr::write(src, remote(64)).range(10, 48).imm(5))
        .unwrap();
    let mut recv = run
        .prepare_recv(RecvWr::recv_to_sink(sink).range(64, 32))
        .unwrap();
    let data = *b"inline bytes";
    let mut inline = run.prepare(SendWr::send(Local::Inline(&data))).unwrap();
    for i in 0..3 {
        write.post(100 + i, i == 2).unwrap();
    }
    recv.post(7).unwrap();
    inline.post(8, true).unwrap();
    let wcs: Vec<_> = (0..3).map(|_| poll_one(&cq)).collect();
    let done: Vec<_> = wcs.iter().map(|wc| run.complete(wc).unwrap()).collect();
    assert_eq!(
        done.iter()
            .map(|c| (c.wr_id, c.opcode, c.byte_len))
            .collect::<Vec<_>>(),
        [
            (102, WcOpcode::RdmaWrite, 48),
            (7, WcOpcode::Recv, 32),
            (8, WcOpcode::Send, 12)
        ],
        "the unsignaled writes retire with the signaled one"
    );
    assert!(done.iter().all(|c| c.buf.is_none()));
    assert_eq!((run.send_outstanding(), run.recv_outstanding()), (0, 0));
    drop(run);
    let c = rdma_stub::counters(&qp);
    assert_eq!((c.send_wrs, c.recv_wrs), (4, 1));
    assert_eq!(rdma_stub::queued(&cq), 0);
}

#[test]
fn a_template_is_refused_for_what_post_send_refuses_and_hands_an_owned_buffer_back() {
    let Fixture { pd, cq, mut qp } = fixture(4, 16);
    let src = qp.share(mr(&pd, 64));
    let sink = qp.sink(mr(&pd, 64));
    // Handles of another QP: its first sink names slot 0 (here `src`, a shared source), its
    // shared sources slots 1 to 9 (nothing here).
    let mut other = rdma_stub::queue_pair(&pd, &cq, &cq, caps(4), false);
    let other_sink = other.sink(mr(&pd, 8));
    let unknown = (0..9).map(|_| other.share(mr(&pd, 8))).last().unwrap();
    assert_eq!(format!("{src:?} {other_sink:?}"), "Shared(0) Sink(0)");
    assert_eq!(format!("{unknown:?}"), "Shared(9)");
    let run = qp.run();
    let e = run.prepare(SendWr::send(mr(&pd, 8))).unwrap_err();
    assert!(matches!(e.error, Error::InvalidArgument(ref m) if m.contains("own")));
    assert_eq!(e.returned.len(), 1, "the buffer is handed back");
    for wr in [
        SendWr::send(src).range(60, 8),
        SendWr::send(Local::Sink(sink)),
        SendWr::read_to_sink(other_sink, remote(64)),
        SendWr::write(src, remote(8)),
        SendWr::send(Local::Inline(&[0; 65])),
        SendWr::send(unknown),
    ] {
        let e = run.prepare(wr).unwrap_err();
        assert!(matches!(e.error, Error::InvalidArgument(_)), "{e:?}");
        assert!(e.returned.is_empty());
    }
    assert!(matches!(
        run.prepare_recv(RecvWr::recv_to_sink(sink).range(60, 8)),
        Err(PostError {
            error: Error::InvalidArgument(_),
            ..
        })
    ));
    assert!(matches!(
        run.prepare_recv(RecvWr::recv_to_sink(other_sink).range(0, 8)),
        Err(PostError {
            error: Error::InvalidArgument(_),
            ..
        })
    ));
    assert!(matches!(
        run.prepare_chain(SendWr::send(src), 0),
        Err(PostError {
            error: Error::InvalidArgument(_),
            ..
        })
    ));
    assert!(matches!(
        run.prepare_chain(SendWr::send(src), 5),
        Err(PostError {
            error: Error::InvalidArgument(_),
            ..
        })
    ));
}

#[test]
fn a_run_post_checks_the_state_and_room_and_posts_nothing_when_refused() {
    let Fixture { pd, cq, mut qp } = fixture(2, 16);
    let src = qp.share(mr(&pd, 64));
    let sink = qp.sink(mr(&pd, 64));
    {
        let run = qp.run();
        let mut send = run.prepare(SendWr::send(src)).unwrap();
        let mut recv = run
            .prepare_recv(RecvWr::recv_to_sink(sink).range(0, 8))
            .unwrap();
        let mut chain = run.prepare_chain(SendWr::send(src), 2).unwrap();
        send.post(1, false).unwrap();
        let e = chain.post(2, true).unwrap_err();
        assert!(matches!(e.error, Error::QueueFull { depth: 2, .. }));
        send.post(2, false).unwrap();
        assert!(matches!(send.post(3, true), Err(Error::QueueFull { .. })));
        recv.post(1).unwrap();
        recv.post(2).unwrap();
        assert!(matches!(recv.post(3), Err(Error::QueueFull { .. })));
    }
    assert_eq!(rdma_stub::counters(&qp).send_wrs, 2);
    assert_eq!(rdma_stub::counters(&qp).recv_wrs, 2);
    // Templates made in RTS refuse to post once the QP has left it.
    qp.set_error().unwrap();
    let _ = (poll_one(&cq), poll_one(&cq));
    let run = qp.run();
    let mut send = run.prepare(SendWr::send(src)).unwrap();
    assert!(matches!(
        send.post(4, true),
        Err(Error::QpState { what: "a send", .. })
    ));
    let mut recv = run
        .prepare_recv(RecvWr::recv_to_sink(sink).range(0, 8))
        .unwrap();
    assert!(matches!(
        recv.post(4),
        Err(Error::QpState {
            what: "a receive",
            ..
        })
    ));
}

#[test]
fn a_chain_posts_n_copies_with_consecutive_wr_ids_and_counts_a_partial_post() {
    // A CQ of 3: the second chain's signaled last request finds it full.
    let Fixture { pd, cq, mut qp } = fixture(8, 3);
    let src = qp.share(mr(&pd, 64));
    let raw_qp = qp.as_raw();
    let run = qp.run();
    let mut chain = run
        .prepare_chain(SendWr::send(src).range(0, 16), 4)
        .unwrap();
    assert_eq!(chain.len(), 4);
    chain.post(40, true).unwrap();
    // SAFETY: the run's QP is a live stub QP.
    let doorbells = unsafe { rdma_stub::counters_raw(raw_qp) }.send_doorbells;
    assert_eq!(doorbells, 1);
    let wc = poll_one(&cq);
    let done = run.complete(&wc).unwrap();
    assert_eq!((done.wr_id, done.byte_len), (43, 16));
    assert_eq!(run.send_outstanding(), 0);
    // Fill the CQ with three signaled sends, then a chain whose last request fails.
    let mut one = run.prepare(SendWr::send(src)).unwrap();
    for i in 0..3 {
        one.post(i, true).unwrap();
    }
    let e = chain.post(50, true).unwrap_err();
    assert_eq!(e.posted, 3, "the provider took the first three");
    assert_eq!(run.send_outstanding(), 6);
    for _ in 0..3 {
        let wc = poll_one(&cq);
        run.complete(&wc).unwrap();
    }
    // The three of the failed chain are outstanding, unsignaled: a later signaled request
    // retires them.
    assert_eq!(run.send_outstanding(), 3);
    one.post(60, true).unwrap();
    let done = run.complete(&poll_one(&cq)).unwrap();
    assert_eq!(done.wr_id, 60);
    assert_eq!(run.send_outstanding(), 0);
}

#[test]
fn a_buffer_a_run_used_comes_back_once_the_runs_requests_completed() {
    let Fixture { pd, cq, mut qp } = fixture(8, 16);
    let src = qp.share(mr(&pd, 64));
    let sink = qp.sink(mr(&pd, 64));
    let other = qp.share(mr(&pd, 64));
    {
        let run = qp.run();
        let mut send = run.prepare(SendWr::send(src)).unwrap();
        let mut recv = run
            .prepare_recv(RecvWr::recv_to_sink(sink).range(0, 8))
            .unwrap();
        for i in 0..3 {
            send.post(i, false).unwrap();
        }
        recv.post(9).unwrap();
    }
    // Three unsignaled sends and a receive of the run are outstanding.
    assert!(matches!(qp.unshare(src), Err(Error::InvalidArgument(m)) if m.contains("run")));
    assert!(matches!(qp.unsink(sink), Err(Error::InvalidArgument(_))));
    // A buffer the run did not use comes back at once.
    assert!(qp.unshare(other).is_ok());
    qp.complete(&poll_one(&cq)).unwrap();
    let sink_mr = qp.unsink(sink).expect("the receive completed");
    assert_eq!(sink_mr.len(), 64);
    assert!(qp.unshare(src).is_err(), "the sends are still outstanding");
    qp.post_send(SendWr::send(Local::Empty).wr_id(5)).unwrap();
    assert_eq!(qp.complete(&poll_one(&cq)).unwrap().wr_id, 5);
    assert_eq!(qp.unshare(src).expect("all retired").len(), 64);
}

#[test]
fn a_leaked_run_keeps_the_buffers_its_templates_used() {
    let Fixture { pd, cq, mut qp } = fixture(8, 16);
    let src = qp.share(mr(&pd, 64));
    let run = qp.run();
    let mut send = run.prepare(SendWr::send(src)).unwrap();
    send.post(1, true).unwrap();
    std::mem::forget(run);
    qp.complete(&poll_one(&cq)).unwrap();
    assert_eq!(qp.send_outstanding(), 0);
    match qp.unshare(src) {
        Err(Error::InvalidArgument(m)) => assert!(m.contains("never ended"), "{m}"),
        other => panic!("unshared after a leaked run: {other:?}"),
    }
    // The QP itself goes on working.
    qp.post_send(SendWr::send(src).wr_id(2)).unwrap();
    assert_eq!(qp.complete(&poll_one(&cq)).unwrap().wr_id, 2);
}
