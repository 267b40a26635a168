//! Every operation of the safe API on real verbs, data checked byte for byte.

use rdma_device_tests::{caps64, pattern, poll_n, Pair, TIMEOUT};
use rdma_verbs::{Access, MemoryRegion, RecvWr, SendWr, WcOpcode, WcStatus};

#[test]
fn send_recv_bytes_cross_the_qp() {
    let mut p = Pair::new(caps64()).connect(Access::LOCAL_WRITE);
    let rbuf = MemoryRegion::new(&p.pd, 4096, Access::LOCAL_WRITE).unwrap();
    p.b.post_recv(RecvWr::recv(rbuf).wr_id(77)).unwrap();
    let mut sbuf = MemoryRegion::new(&p.pd, 4096, Access::LOCAL_WRITE).unwrap();
    let data = pattern(4096, 1);
    sbuf.as_mut_slice().unwrap().copy_from_slice(&data);
    p.a.post_send(SendWr::send(sbuf).wr_id(5)).unwrap();

    let wc = poll_n(&p.cq_a, 1, TIMEOUT);
    let sent = p.a.complete(&wc[0]).unwrap();
    assert_eq!(
        (sent.wr_id, sent.status, sent.opcode),
        (5, WcStatus::Success, WcOpcode::Send)
    );
    assert!(sent.buf.is_some(), "the send buffer comes back");

    let wc = poll_n(&p.cq_b, 1, TIMEOUT);
    let got = p.b.complete(&wc[0]).unwrap();
    got.result().unwrap();
    assert_eq!(
        (got.wr_id, got.opcode, got.byte_len),
        (77, WcOpcode::Recv, 4096)
    );
    assert_eq!(got.buf.unwrap().as_slice().unwrap(), &data[..]);
    assert!(
        p.b.complete(&wc[0]).is_err(),
        "a completion is handed back once"
    );
}

#[test]
fn send_with_immediate_delivers_imm_and_bytes() {
    let mut p = Pair::new(caps64()).connect(Access::LOCAL_WRITE);
    p.b.post_recv(
        RecvWr::recv(MemoryRegion::new(&p.pd, 256, Access::LOCAL_WRITE).unwrap()).wr_id(1),
    )
    .unwrap();
    let mut s = MemoryRegion::new(&p.pd, 200, Access::LOCAL_WRITE).unwrap();
    let data = pattern(200, 9);
    s.as_mut_slice().unwrap().copy_from_slice(&data);
    p.a.post_send(SendWr::send(s).imm(0xdead_beef)).unwrap();
    let done = p.a.complete(&poll_n(&p.cq_a, 1, TIMEOUT)[0]).unwrap();
    done.result().unwrap();
    let got = p.b.complete(&poll_n(&p.cq_b, 1, TIMEOUT)[0]).unwrap();
    got.result().unwrap();
    assert_eq!(got.imm_data, Some(0xdead_beef));
    assert_eq!(got.byte_len, 200);
    assert_eq!(&got.buf.unwrap().as_slice().unwrap()[..200], &data[..]);
}

#[test]
fn inline_send_copies_at_post_time() {
    let mut p = Pair::new(caps64()).connect(Access::LOCAL_WRITE);
    p.b.post_recv(
        RecvWr::recv(MemoryRegion::new(&p.pd, 64, Access::LOCAL_WRITE).unwrap()).wr_id(3),
    )
    .unwrap();
    let mut data = pattern(48, 4);
    p.a.post_send(SendWr::send(&data[..]).wr_id(8)).unwrap();
    let expected = data.clone();
    data.fill(0); // the provider copied it during post
    let sent = p.a.complete(&poll_n(&p.cq_a, 1, TIMEOUT)[0]).unwrap();
    sent.result().unwrap();
    assert!(sent.buf.is_none());
    let got = p.b.complete(&poll_n(&p.cq_b, 1, TIMEOUT)[0]).unwrap();
    assert_eq!(got.byte_len, 48);
    assert_eq!(&got.buf.unwrap().as_slice().unwrap()[..48], &expected[..]);
}

#[test]
fn inline_larger_than_cap_is_rejected_before_the_device() {
    let mut p = Pair::new(caps64()).connect(Access::LOCAL_WRITE);
    let big = vec![0u8; p.a.caps().max_inline_data as usize + 1];
    let err = p.a.post_send(SendWr::send(&big[..])).unwrap_err();
    assert!(
        matches!(err.error, rdma_verbs::Error::InvalidArgument(_)),
        "{err}"
    );
    assert_eq!(p.a.send_outstanding(), 0);
}

#[test]
fn rdma_write_lands_in_remote_memory() {
    let mut p = Pair::new(caps64()).connect(Access::LOCAL_WRITE | Access::REMOTE_WRITE);
    let target =
        MemoryRegion::new(&p.pd, 8192, Access::LOCAL_WRITE | Access::REMOTE_WRITE).unwrap();
    assert!(
        target.as_slice().is_none(),
        "remote-writable memory is not a &[u8]"
    );
    let mut src = MemoryRegion::new(&p.pd, 4096, Access::LOCAL_WRITE).unwrap();
    let data = pattern(4096, 2);
    src.as_mut_slice().unwrap().copy_from_slice(&data);
    let remote = target.remote().slice(1000, 4096).unwrap();
    p.a.post_send(SendWr::write(src, remote).wr_id(11)).unwrap();
    let done = p.a.complete(&poll_n(&p.cq_a, 1, TIMEOUT)[0]).unwrap();
    done.result().unwrap();
    assert_eq!((done.wr_id, done.opcode), (11, WcOpcode::RdmaWrite));
    let mut back = vec![0u8; 8192];
    assert!(target.read_at(0, &mut back));
    assert_eq!(&back[1000..5096], &data[..]);
    assert!(back[..1000].iter().all(|&b| b == 0) && back[5096..].iter().all(|&b| b == 0));
}

#[test]
fn rdma_write_with_imm_consumes_a_receive_and_signals_the_peer() {
    let mut p = Pair::new(caps64()).connect(Access::LOCAL_WRITE | Access::REMOTE_WRITE);
    let target =
        MemoryRegion::new(&p.pd, 1024, Access::LOCAL_WRITE | Access::REMOTE_WRITE).unwrap();
    p.b.post_recv(
        RecvWr::recv(MemoryRegion::new(&p.pd, 16, Access::LOCAL_WRITE).unwrap()).wr_id(42),
    )
    .unwrap();
    let mut src = MemoryRegion::new(&p.pd, 1024, Access::LOCAL_WRITE).unwrap();
    let data = pattern(1024, 3);
    src.as_mut_slice().unwrap().copy_from_slice(&data);
    p.a.post_send(SendWr::write(src, target.remote()).imm(7))
        .unwrap();
    p.a.complete(&poll_n(&p.cq_a, 1, TIMEOUT)[0])
        .unwrap()
        .result()
        .unwrap();
    let got = p.b.complete(&poll_n(&p.cq_b, 1, TIMEOUT)[0]).unwrap();
    got.result().unwrap();
    assert_eq!(
        (got.wr_id, got.opcode, got.imm_data),
        (42, WcOpcode::RecvRdmaWithImm, Some(7))
    );
    let mut back = vec![0u8; 1024];
    assert!(target.read_at(0, &mut back));
    assert_eq!(back, data);
}

#[test]
fn rdma_read_fetches_remote_memory() {
    let mut p = Pair::new(caps64()).connect(Access::LOCAL_WRITE | Access::REMOTE_READ);
    let mut source =
        MemoryRegion::new(&p.pd, 4096, Access::LOCAL_WRITE | Access::REMOTE_READ).unwrap();
    let data = pattern(4096, 5);
    source.as_mut_slice().unwrap().copy_from_slice(&data);
    let dst = MemoryRegion::new(&p.pd, 4096, Access::LOCAL_WRITE).unwrap();
    p.a.post_send(SendWr::read(dst, source.remote()).wr_id(99))
        .unwrap();
    let done = p.a.complete(&poll_n(&p.cq_a, 1, TIMEOUT)[0]).unwrap();
    done.result().unwrap();
    assert_eq!(
        (done.wr_id, done.opcode, done.byte_len),
        (99, WcOpcode::RdmaRead, 4096)
    );
    assert_eq!(done.buf.unwrap().as_slice().unwrap(), &data[..]);
}

#[test]
fn unsignaled_shared_writes_in_one_doorbell_then_signaled_retires_all() {
    let mut p = Pair::new(caps64()).connect(Access::LOCAL_WRITE | Access::REMOTE_WRITE);
    let target =
        MemoryRegion::new(&p.pd, 8 * 512, Access::LOCAL_WRITE | Access::REMOTE_WRITE).unwrap();
    let mut src = MemoryRegion::new(&p.pd, 512, Access::LOCAL_WRITE).unwrap();
    let data = pattern(512, 6);
    src.as_mut_slice().unwrap().copy_from_slice(&data);
    let shared = p.a.share(src);
    {
        let mut batch = p.a.send_batch::<8>();
        for i in 0..8u64 {
            let dst = target.remote().slice(i * 512, 512).unwrap();
            batch
                .push(SendWr::write(shared, dst).wr_id(i).signaled(i == 7))
                .unwrap();
        }
        assert_eq!(batch.len(), 8);
        batch.post().unwrap();
    }
    assert_eq!(p.a.send_outstanding(), 8);
    assert!(
        p.a.unshare(shared).is_err(),
        "a shared source in flight cannot be taken back"
    );
    let wcs = poll_n(&p.cq_a, 1, TIMEOUT);
    let done = p.a.complete(&wcs[0]).unwrap();
    done.result().unwrap();
    assert_eq!(done.wr_id, 7);
    assert_eq!(
        p.a.send_outstanding(),
        0,
        "the signaled completion retired the 7 before it"
    );
    let src = p.a.unshare(shared).unwrap();
    assert_eq!(src.as_slice().unwrap(), &data[..]);
    let mut back = vec![0u8; 8 * 512];
    assert!(target.read_at(0, &mut back));
    for chunk in back.chunks(512) {
        assert_eq!(chunk, &data[..]);
    }
}

#[test]
fn unsignaled_request_cannot_own_a_buffer() {
    let mut p = Pair::new(caps64()).connect(Access::LOCAL_WRITE);
    let buf = MemoryRegion::new(&p.pd, 64, Access::LOCAL_WRITE).unwrap();
    let addr = buf.addr();
    let err =
        p.a.post_send(SendWr::send(buf).signaled(false))
            .unwrap_err();
    assert!(matches!(err.error, rdma_verbs::Error::InvalidArgument(_)));
    assert_eq!(err.returned.len(), 1, "the buffer is handed back");
    assert_eq!(err.returned[0].addr(), addr);
}

#[test]
fn recv_batch_and_chunks_of_one_region() {
    let mut p = Pair::new(caps64()).connect(Access::LOCAL_WRITE);
    let pieces = MemoryRegion::new(&p.pd, 4 * 1024, Access::LOCAL_WRITE)
        .unwrap()
        .chunks(1024);
    assert_eq!(pieces.len(), 4);
    let mut batch = p.b.recv_batch::<4>();
    for (i, piece) in pieces.into_iter().enumerate() {
        batch
            .push(RecvWr::recv(piece).wr_id(100 + i as u64))
            .unwrap();
    }
    batch.post().unwrap();
    assert_eq!(p.b.recv_outstanding(), 4);
    let msgs: Vec<Vec<u8>> = (0..4).map(|i| pattern(64, 10 + i)).collect();
    let mut sends = p.a.send_batch::<4>();
    for (i, m) in msgs.iter().enumerate() {
        sends.push(SendWr::send(&m[..]).wr_id(i as u64)).unwrap();
    }
    sends.post().unwrap();
    let sent = poll_n(&p.cq_a, 4, TIMEOUT);
    for wc in &sent {
        p.a.complete(wc).unwrap().result().unwrap();
    }
    let got = poll_n(&p.cq_b, 4, TIMEOUT);
    let mut joined: Option<MemoryRegion> = None;
    for (i, wc) in got.iter().enumerate() {
        let c = p.b.complete(wc).unwrap();
        c.result().unwrap();
        assert_eq!(c.wr_id, 100 + i as u64, "receives complete in post order");
        let buf = c.buf.unwrap();
        assert_eq!(&buf.as_slice().unwrap()[..64], &msgs[i][..]);
        joined = Some(match joined {
            None => buf,
            Some(j) => j.unsplit(buf).expect("adjacent pieces join back"),
        });
    }
    assert_eq!(joined.unwrap().len(), 4096);
}

#[test]
fn shared_receive_queue_serves_two_qps() {
    use rdma_device_tests::{device, loopback_options};
    use rdma_verbs::{CompletionQueue, QueuePair, SharedReceiveQueue};
    let ctx = device();
    let pd = rdma_verbs::ProtectionDomain::new(&ctx).unwrap();
    let cq = CompletionQueue::new(&ctx, 64).unwrap();
    let mut srq = SharedReceiveQueue::new(&pd, 16, 1).unwrap();
    let mk = |srq: Option<&SharedReceiveQueue>| {
        let b = QueuePair::builder(&pd, &cq, &cq).caps(caps64());
        match srq {
            Some(s) => b.srq(s).build().unwrap(),
            None => b.build().unwrap(),
        }
    };
    let (s1, s2, r1, r2) = (mk(None), mk(None), mk(Some(&srq)), mk(Some(&srq)));
    let o = loopback_options(&ctx, 0x10, Access::LOCAL_WRITE);
    let addr = |q: &QueuePair| q.address(&o).unwrap();
    let (a1, a2, b1, b2) = (addr(&s1), addr(&s2), addr(&r1), addr(&r2));
    let mut s1 = s1.connect(&b1, &o).unwrap();
    let mut s2 = s2.connect(&b2, &o).unwrap();
    let r1 = r1.connect(&a1, &o).unwrap();
    let r2 = r2.connect(&a2, &o).unwrap();
    for (i, piece) in MemoryRegion::new(&pd, 4 * 128, Access::LOCAL_WRITE)
        .unwrap()
        .chunks(128)
        .into_iter()
        .enumerate()
    {
        srq.post_recv(RecvWr::recv(piece).wr_id(i as u64)).unwrap();
    }
    assert_eq!(srq.outstanding(), 4);
    let m1 = pattern(60, 21);
    let m2 = pattern(50, 22);
    s1.post_send(SendWr::send(&m1[..]).wr_id(1)).unwrap();
    s2.post_send(SendWr::send(&m2[..]).wr_id(2)).unwrap();
    let wcs = poll_n(&cq, 4, TIMEOUT);
    let mut seen = 0;
    for wc in &wcs {
        if wc.qp_num() == s1.qpn() || wc.qp_num() == s2.qpn() {
            let q = if wc.qp_num() == s1.qpn() {
                &mut s1
            } else {
                &mut s2
            };
            q.complete(wc).unwrap().result().unwrap();
            continue;
        }
        assert!(wc.qp_num() == r1.qpn() || wc.qp_num() == r2.qpn());
        let c = srq.complete(wc).unwrap();
        c.result().unwrap();
        let expect = if wc.qp_num() == r1.qpn() { &m1 } else { &m2 };
        assert_eq!(c.byte_len as usize, expect.len());
        assert_eq!(
            &c.buf.unwrap().as_slice().unwrap()[..expect.len()],
            &expect[..]
        );
        assert!(srq.complete(wc).is_err(), "handed back once");
        seen += 1;
    }
    assert_eq!(seen, 2);
    assert_eq!(srq.outstanding(), 2);
}

#[test]
fn completion_of_another_qp_is_rejected() {
    let mut p = Pair::new(caps64()).connect(Access::LOCAL_WRITE);
    p.b.post_recv(
        RecvWr::recv(MemoryRegion::new(&p.pd, 64, Access::LOCAL_WRITE).unwrap()).wr_id(1),
    )
    .unwrap();
    p.a.post_send(SendWr::send(&[1u8, 2, 3][..])).unwrap();
    let wc = poll_n(&p.cq_a, 1, TIMEOUT);
    let err = p.b.complete(&wc[0]).unwrap_err();
    assert!(
        matches!(err, rdma_verbs::Error::ForeignCompletion { .. }),
        "{err}"
    );
    assert!(p.a.complete(&wc[0]).is_ok());
    let zero = rdma_verbs::WorkCompletion::default();
    assert!(matches!(
        p.a.complete(&zero),
        Err(rdma_verbs::Error::ForeignCompletion { .. })
    ));
}
