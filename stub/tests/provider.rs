//! The stub provider through the safe API and through raw posts.

use rdma_stub::{
    completion_queue, counters, memory_region, protection_domain, queue_pair, queued, DEVICE_NAME,
};
use rdma_verbs::{
    sys, Access, CompletionQueue, Error, Local, ProtectionDomain, QpCaps, QpState, QueuePair,
    RecvWr, SendWr, WcOpcode, WorkCompletion,
};
use std::ptr;

/// A stub context.
fn context() -> rdma_verbs::Context {
    // SAFETY: the tests use only the stub's constructors, the data path, state changes and
    // drop on these objects.
    unsafe { rdma_stub::context() }
}

struct Fixture {
    pd: ProtectionDomain,
    cq: CompletionQueue,
    qp: QueuePair,
}

fn fixture(caps: QpCaps, cq_depth: u32) -> Fixture {
    let ctx = context();
    let pd = protection_domain(&ctx);
    let cq = completion_queue(&ctx, cq_depth);
    let qp = queue_pair(&pd, &cq, &cq, caps, false);
    Fixture { pd, cq, qp }
}

fn caps() -> QpCaps {
    QpCaps {
        max_send_wr: 64,
        max_recv_wr: 64,
        max_send_sge: 1,
        max_recv_sge: 1,
        max_inline_data: 64,
    }
}

#[test]
fn stub_recv_completes_with_its_buffer() {
    let Fixture { pd, cq, mut qp } = fixture(caps(), 64);
    let mut buf = memory_region(&pd, 4096, Access::LOCAL_WRITE).unwrap();
    buf.as_mut_slice().unwrap()[..4].copy_from_slice(b"abcd");
    let pieces = buf.chunks(1024);
    let addrs: Vec<u64> = pieces.iter().map(|p| p.addr()).collect();
    for (i, p) in pieces.into_iter().enumerate() {
        qp.post_recv(RecvWr::recv(p).wr_id(100 + i as u64)).unwrap();
    }
    assert_eq!(qp.recv_outstanding(), 4);
    assert_eq!(queued(&cq), 4);
    let mut wcs = [WorkCompletion::default(); 3];
    let mut got = Vec::new();
    loop {
        let polled = cq.poll(&mut wcs).unwrap();
        if polled.is_empty() {
            break;
        }
        for wc in polled {
            assert!(wc.is_ok() && wc.is_recv());
            assert_eq!(wc.qp_num(), qp.qpn());
            let done = qp.complete(wc).unwrap();
            assert_eq!((done.opcode, done.byte_len), (WcOpcode::Recv, 1024));
            got.push((done.wr_id, done.buf.unwrap()));
        }
    }
    assert_eq!(qp.recv_outstanding(), 0);
    let ids: Vec<u64> = got.iter().map(|g| g.0).collect();
    assert_eq!(ids, [100, 101, 102, 103]);
    let back: Vec<u64> = got.iter().map(|g| g.1.addr()).collect();
    assert_eq!(
        back, addrs,
        "each completion hands back the buffer posted with it"
    );
    let mut it = got.into_iter().map(|g| g.1);
    let first = it.next().unwrap();
    let whole = it.fold(first, |acc, p| acc.unsplit(p).unwrap());
    assert_eq!(whole.len(), 4096);
    assert_eq!(&whole.as_slice().unwrap()[..4], b"abcd");
    let c = counters(&qp);
    assert_eq!((c.recv_wrs, c.recv_doorbells), (4, 4));
}

#[test]
fn stub_unsignaled_shared_sends_retire_with_the_signaled_one() {
    let Fixture { pd, cq, mut qp } = fixture(caps(), 64);
    let src = memory_region(&pd, 256, Access::LOCAL_WRITE).unwrap();
    let p = qp.share(src);
    for i in 0..9 {
        qp.post_send(SendWr::send(p).wr_id(i).signaled(false))
            .unwrap();
    }
    assert_eq!(queued(&cq), 0, "unsignaled sends queue no completion");
    assert!(qp.unshare(p).is_err(), "in use by 9 sends");
    let owned = memory_region(&pd, 128, Access::LOCAL_WRITE).unwrap();
    let addr = owned.addr();
    qp.post_send(SendWr::send(owned).wr_id(77)).unwrap();
    assert_eq!(qp.send_outstanding(), 10);
    let mut wcs = [WorkCompletion::default(); 4];
    let wc = cq.poll(&mut wcs).unwrap()[0];
    assert_eq!(wc.opcode(), WcOpcode::Send);
    assert_eq!(wc.byte_len(), 128);
    let done = qp.complete(&wc).unwrap();
    assert_eq!(done.wr_id, 77);
    assert_eq!(done.buf.unwrap().addr(), addr);
    assert_eq!(qp.send_outstanding(), 0);
    assert_eq!(
        qp.unshare(p).unwrap().len(),
        256,
        "no send uses it any more"
    );
    assert!(
        matches!(qp.complete(&wc), Err(Error::ForeignCompletion { .. })),
        "a completion is accepted once"
    );
    let c = counters(&qp);
    assert_eq!((c.send_wrs, c.send_doorbells), (10, 10));
}

#[test]
fn stub_sink_takes_many_receives_and_reads_and_is_never_readable() {
    let Fixture { pd, cq, mut qp } = fixture(caps(), 64);
    // A stale shared handle must never reach a sink that reuses its slot.
    let p = qp.share(memory_region(&pd, 64, Access::LOCAL_WRITE).unwrap());
    qp.unshare(p).unwrap();
    let sink = qp.sink(memory_region(&pd, 256, Access::LOCAL_WRITE).unwrap());
    assert!(qp.shared(p).is_none(), "a shared handle cannot read a sink");
    assert!(qp.unshare(p).is_err(), "nor take it");
    assert!(qp.post_send(SendWr::send(p)).is_err(), "nor send from it");
    assert_eq!(qp.sink_len(sink), Some(256));
    for i in 0..5 {
        qp.post_recv(RecvWr::recv_to_sink(sink).range(0, 256).wr_id(i))
            .unwrap();
    }
    let err = qp
        .post_recv(RecvWr::recv_to_sink(sink).range(128, 256).wr_id(9))
        .unwrap_err();
    assert!(matches!(err.error, Error::InvalidArgument(_)), "{err}");
    assert!(qp.unsink(sink).is_err(), "five receives use it");
    let mut wcs = [WorkCompletion::default(); 8];
    let polled = cq.poll(&mut wcs).unwrap();
    assert_eq!(polled.len(), 5);
    for wc in polled {
        let done = qp.complete(wc).unwrap();
        assert!(done.buf.is_none(), "a sink receive hands back no buffer");
    }
    // RDMA READs into the sink; a SEND from it is refused.
    let remote = rdma_verbs::RemoteBuf {
        addr: 0x1000,
        rkey: 1,
        len: 256,
    };
    qp.post_send(SendWr::read_to_sink(sink, remote).signaled(false))
        .unwrap();
    let bad = SendWr::send(Local::Sink(sink));
    assert!(matches!(
        qp.post_send(bad).unwrap_err().error,
        Error::InvalidArgument(_)
    ));
    assert!(qp.unsink(sink).is_err(), "an unsignaled read still uses it");
    qp.post_send(SendWr::read_to_sink(sink, remote).wr_id(3))
        .unwrap();
    let wc = cq.poll(&mut wcs).unwrap()[0];
    qp.complete(&wc).unwrap();
    assert_eq!(qp.unsink(sink).unwrap().len(), 256);
    assert!(qp.unsink(sink).is_err(), "taken once");
}

#[test]
fn stub_batch_is_one_doorbell_and_inline_is_checked() {
    let Fixture { pd, cq, mut qp } = fixture(caps(), 64);
    let p = qp.share(memory_region(&pd, 64, Access::LOCAL_WRITE).unwrap());
    let data = [7u8; 32];
    let mut b = qp.send_batch::<16>();
    for i in 0..15 {
        b.push(SendWr::send(p).wr_id(i).signaled(false)).unwrap();
    }
    b.push(SendWr::send(&data[..]).wr_id(15)).unwrap();
    b.post().unwrap();
    let c = counters(&qp);
    assert_eq!((c.send_wrs, c.send_doorbells), (16, 1));
    let mut wcs = [WorkCompletion::default(); 4];
    let polled = cq.poll(&mut wcs).unwrap();
    assert_eq!(polled.len(), 1);
    let done = qp.complete(&polled[0]).unwrap();
    assert_eq!((done.wr_id, done.byte_len), (15, 32));
    assert!(done.buf.is_none());
    assert_eq!(qp.send_outstanding(), 0);
    let big = [0u8; 65];
    assert!(
        qp.post_send(SendWr::send(&big[..])).is_err(),
        "over max_inline_data"
    );
    assert_eq!(
        counters(&qp).send_doorbells,
        1,
        "rejected before the provider"
    );
}

#[test]
fn stub_full_cq_fails_the_post_and_hands_the_buffer_back() {
    let Fixture { pd, cq, mut qp } = fixture(caps(), 2);
    for i in 0..2 {
        let b = memory_region(&pd, 64, Access::LOCAL_WRITE).unwrap();
        qp.post_recv(RecvWr::recv(b).wr_id(i)).unwrap();
    }
    let b = memory_region(&pd, 64, Access::LOCAL_WRITE).unwrap();
    let addr = b.addr();
    let err = qp.post_recv(RecvWr::recv(b).wr_id(2)).unwrap_err();
    assert_eq!(err.error.errno(), Some(libc::ENOMEM));
    assert_eq!(err.returned.len(), 1);
    assert_eq!(err.returned[0].addr(), addr);
    assert_eq!(qp.recv_outstanding(), 2);
    let mut wcs = [WorkCompletion::default(); 4];
    let polled = cq.poll(&mut wcs).unwrap();
    assert_eq!(polled.len(), 2);
    // Handing in the second retires the first too (in order); its buffer is dropped.
    let done = qp.complete(&polled[1]).unwrap();
    assert_eq!(done.wr_id, 1);
    assert!(matches!(
        qp.complete(&polled[0]),
        Err(Error::ForeignCompletion { .. })
    ));
}

#[test]
fn stub_completions_of_another_qp_are_foreign() {
    let ctx = context();
    let pd = protection_domain(&ctx);
    let cq = completion_queue(&ctx, 16);
    let mut a = queue_pair(&pd, &cq, &cq, caps(), false);
    let mut b = queue_pair(&pd, &cq, &cq, caps(), false);
    assert_ne!(a.qpn(), b.qpn());
    a.post_recv(RecvWr::recv(memory_region(&pd, 64, Access::LOCAL_WRITE).unwrap()).wr_id(1))
        .unwrap();
    let mut wcs = [WorkCompletion::default(); 4];
    let wc = cq.poll(&mut wcs).unwrap()[0];
    assert!(matches!(
        b.complete(&wc),
        Err(Error::ForeignCompletion { .. })
    ));
    assert_eq!(a.complete(&wc).unwrap().wr_id, 1);
}

#[test]
fn stub_raw_posts_and_polls_through_the_ops_table() {
    let Fixture { pd, cq, mut qp } = fixture(caps(), 16);
    let mr = memory_region(&pd, 64, Access::LOCAL_WRITE).unwrap();
    let mut sge = sys::ibv_sge {
        addr: mr.addr(),
        length: 64,
        lkey: mr.lkey(),
    };
    let mut wr = sys::ibv_recv_wr {
        wr_id: 42,
        next: ptr::null_mut(),
        sg_list: &mut sge,
        num_sge: 1,
    };
    // SAFETY: `mr` outlives the request, which completes at once on the stub.
    unsafe { qp.post_recv_raw(&mut wr) }.unwrap();
    let mut sge2 = sge;
    let mut swr = sys::ibv_send_wr {
        wr_id: 43,
        sg_list: &mut sge2,
        num_sge: 2, // more than max_send_sge
        opcode: sys::ibv_wr_opcode::IBV_WR_SEND,
        send_flags: sys::ibv_send_flags::IBV_SEND_SIGNALED,
        ..Default::default()
    };
    let mut bad = ptr::null_mut();
    // SAFETY: a live QP and a valid request; the provider rejects it before reading sge 2.
    let ret = unsafe { sys::ibv_post_send(qp.as_raw(), &mut swr, &mut bad) };
    assert_eq!((ret, bad), (libc::EINVAL, &mut swr as *mut _));
    let mut wc = [sys::ibv_wc::default(); 4];
    // SAFETY: a live CQ and room for 4 entries.
    let n = unsafe { sys::ibv_poll_cq(cq.as_raw(), 4, wc.as_mut_ptr()) };
    assert_eq!(n, 1);
    assert_eq!((wc[0].wr_id, wc[0].byte_len), (42, 64));
    assert_eq!(wc[0].opcode, sys::ibv_wc_opcode::IBV_WC_RECV);
    assert_eq!(wc[0].qp_num, qp.qpn());
    // SAFETY: as above.
    let n = unsafe { sys::ibv_poll_cq(cq.as_raw(), 4, wc.as_mut_ptr()) };
    assert_eq!(n, 0);
}

#[test]
fn stub_sig_all_and_drop_in_any_order() {
    let ctx = context();
    let pd = protection_domain(&ctx);
    let cq = completion_queue(&ctx, 16);
    let mut qp = queue_pair(&pd, &cq, &cq, caps(), true);
    let p = qp.share(memory_region(&pd, 64, Access::LOCAL_WRITE).unwrap());
    qp.post_send(SendWr::send(p).signaled(false)).unwrap();
    assert_eq!(queued(&cq), 1, "sig_all signals every send");
    let b = memory_region(&pd, 64, Access::LOCAL_WRITE).unwrap();
    qp.post_recv(RecvWr::recv(b).wr_id(1)).unwrap();
    // Outstanding buffers are freed with the QP; the context goes last whatever the order.
    drop(ctx);
    drop(pd);
    drop(cq);
    assert_eq!(qp.pd().context().name(), DEVICE_NAME);
    drop(qp);
}

#[test]
fn stub_qp_state_changes_reach_the_fake_qp() {
    let Fixture { mut qp, .. } = fixture(caps(), 4);
    assert_eq!(qp.state(), QpState::Rts);
    qp.set_error().unwrap();
    assert_eq!(qp.state(), QpState::Err);
    // SAFETY: a live QP; state is a plain field.
    assert_eq!(unsafe { (*qp.as_raw()).state }, QpState::Err.to_raw());
    assert_eq!(qp.query_state().unwrap(), QpState::Err);
}

#[test]
fn stub_objects_are_told_apart() {
    let ctx = context();
    assert!(rdma_stub::is_stub(&ctx));
    assert_eq!(ctx.name(), DEVICE_NAME);
}
