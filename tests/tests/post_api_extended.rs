//! The extended post API (`PostApi::Extended`: `ibv_create_qp_ex`, `ibv_wr_*`) on real verbs:
//! every operation, with the data that crossed the QP checked byte for byte; atomics; inline
//! data; a batch in one critical section; a run's templates; UC; and an extended QP talking
//! to a classic one.

use rdma_device_tests::buffers::{assert_bytes, contents, filled, ok_buf, REMOTE};
use rdma_device_tests::{caps64, pattern, poll_n, Pair, TIMEOUT};
use rdma_verbs::{Access, MemoryRegion, PostApi, QpType, RecvWr, SendWr, WcOpcode};

const ALL: Access = Access::from_bits(REMOTE.bits() | Access::REMOTE_ATOMIC.bits());

/// An extended RC pair, connected with every right.
fn pair() -> Pair {
    let p = Pair::extended(caps64(), QpType::Rc);
    assert_eq!(
        (p.a.post_api(), p.b.post_api()),
        (PostApi::Extended, PostApi::Extended)
    );
    p.connect(ALL)
}

/// Posts a receive of `len` bytes on B.
fn recv_on_b(p: &mut Pair, len: usize, wr_id: u64) {
    let buf = MemoryRegion::new(&p.pd, len, Access::LOCAL_WRITE).unwrap();
    p.b.post_recv(RecvWr::recv(buf).wr_id(wr_id)).unwrap();
}

/// The next completion of B, handed back.
fn b_done(p: &mut Pair) -> rdma_verbs::Completion {
    let wc = poll_n(&p.cq_b, 1, TIMEOUT)[0];
    p.b.complete(&wc).unwrap()
}

/// The next completion of A, handed back.
fn a_done(p: &mut Pair) -> rdma_verbs::Completion {
    let wc = poll_n(&p.cq_a, 1, TIMEOUT)[0];
    p.a.complete(&wc).unwrap()
}

#[test]
fn extended_send_and_send_with_imm_carry_every_byte() {
    let mut p = pair();
    let data = pattern(3000, 1);
    recv_on_b(&mut p, 4096, 10);
    p.a.post_send(SendWr::send(filled(&p.pd, &data, Access::LOCAL_WRITE)).wr_id(1))
        .unwrap();
    let src = ok_buf(a_done(&mut p), WcOpcode::Send);
    let c = b_done(&mut p);
    assert_eq!((c.wr_id, c.byte_len, c.imm_data), (10, 3000, None));
    assert_bytes("send", &contents(&ok_buf(c, WcOpcode::Recv))[..3000], &data);
    assert_bytes("the source came back", &contents(&src), &data);

    recv_on_b(&mut p, 4096, 11);
    p.a.post_send(SendWr::send(src).range(100, 200).imm(0xdead_beef).wr_id(2))
        .unwrap();
    ok_buf(a_done(&mut p), WcOpcode::Send);
    let c = b_done(&mut p);
    assert_eq!((c.byte_len, c.imm_data), (200, Some(0xdead_beef)));
    assert_bytes(
        "send with imm",
        &contents(&ok_buf(c, WcOpcode::Recv))[..200],
        &data[100..300],
    );
}

#[test]
fn extended_write_write_imm_and_read_move_every_byte() {
    let mut p = pair();
    let target = MemoryRegion::new(&p.pd, 8192, Access::LOCAL_WRITE | REMOTE).unwrap();
    let data = pattern(4096, 2);
    let src = filled(&p.pd, &data, Access::LOCAL_WRITE);
    p.a.post_send(SendWr::write(src, target.remote().slice(1024, 4096).unwrap()).wr_id(1))
        .unwrap();
    let src = ok_buf(a_done(&mut p), WcOpcode::RdmaWrite);
    assert_bytes("write", &contents(&target)[1024..5120], &data);

    // With immediate data: B's receive completes with it (no data lands in the receive).
    recv_on_b(&mut p, 64, 20);
    let dst = target.remote().slice(6000, 512).unwrap();
    p.a.post_send(SendWr::write(src, dst).range(0, 512).imm(77).wr_id(2))
        .unwrap();
    let src = ok_buf(a_done(&mut p), WcOpcode::RdmaWrite);
    let c = b_done(&mut p);
    assert_eq!(
        (c.wr_id, c.opcode, c.imm_data, c.byte_len),
        (20, WcOpcode::RecvRdmaWithImm, Some(77), 512)
    );
    assert_bytes(
        "write with imm",
        &contents(&target)[6000..6512],
        &data[..512],
    );

    // Read the first write back into a fresh region.
    drop(src);
    let back = MemoryRegion::new(&p.pd, 4096, Access::LOCAL_WRITE).unwrap();
    p.a.post_send(SendWr::read(back, target.remote().slice(1024, 4096).unwrap()).wr_id(3))
        .unwrap();
    let back = ok_buf(a_done(&mut p), WcOpcode::RdmaRead);
    assert_bytes("read", &contents(&back), &data);
}

#[test]
fn extended_inline_send_and_write_copy_the_bytes() {
    let mut p = pair();
    assert!(p.a.caps().max_inline_data >= 64, "{:?}", p.a.caps());
    let bytes = pattern(60, 3);
    recv_on_b(&mut p, 64, 30);
    p.a.post_send(SendWr::send(&bytes[..]).wr_id(1)).unwrap();
    assert!(a_done(&mut p).is_ok());
    let c = b_done(&mut p);
    assert_eq!(c.byte_len, 60);
    assert_bytes(
        "inline send",
        &contents(&ok_buf(c, WcOpcode::Recv))[..60],
        &bytes,
    );

    let target = MemoryRegion::new(&p.pd, 128, Access::LOCAL_WRITE | REMOTE).unwrap();
    let inline = pattern(48, 4);
    p.a.post_send(SendWr::write(&inline[..], target.remote().slice(8, 48).unwrap()).wr_id(2))
        .unwrap();
    assert!(a_done(&mut p).is_ok());
    assert_bytes("inline write", &contents(&target)[8..56], &inline);
}

#[test]
fn extended_atomics_change_the_peer_and_return_the_old_value() {
    let mut p = pair();
    let mut counter =
        MemoryRegion::new(&p.pd, 16, Access::LOCAL_WRITE | Access::REMOTE_ATOMIC).unwrap();
    assert!(counter.write_at(8, &40u64.to_ne_bytes()));
    let at = counter.remote().slice(8, 8).unwrap();
    let value = |mr: &MemoryRegion, off| {
        let mut b = [0u8; 8];
        assert!(mr.read_at(off, &mut b));
        u64::from_ne_bytes(b)
    };
    let result = MemoryRegion::new(&p.pd, 8, Access::LOCAL_WRITE).unwrap();
    p.a.post_send(SendWr::fetch_add(result, at, 2)).unwrap();
    let result = ok_buf(a_done(&mut p), WcOpcode::FetchAdd);
    assert_eq!((value(&result, 0), value(&counter, 8)), (40, 42));
    p.a.post_send(SendWr::compare_swap(result, at, 42, 1000))
        .unwrap();
    let result = ok_buf(a_done(&mut p), WcOpcode::CompSwap);
    assert_eq!(
        (value(&result, 0), value(&counter, 8)),
        (42, 1000),
        "equal: swapped"
    );
    p.a.post_send(SendWr::compare_swap(result, at, 42, 7))
        .unwrap();
    let result = ok_buf(a_done(&mut p), WcOpcode::CompSwap);
    assert_eq!(
        (value(&result, 0), value(&counter, 8)),
        (1000, 1000),
        "not equal: kept"
    );
}

/// Sixteen writes from a shared source at sixteen offsets and a signaled send, in one
/// critical section: every byte lands, one completion retires the batch.
#[test]
fn an_extended_batch_posts_in_one_critical_section() {
    let mut p = pair();
    let data = pattern(256, 5);
    let shared = p.a.share(filled(&p.pd, &data, Access::LOCAL_WRITE));
    let target = MemoryRegion::new(&p.pd, 16 * 256, Access::LOCAL_WRITE | REMOTE).unwrap();
    recv_on_b(&mut p, 256, 40);
    let mut batch = p.a.send_batch::<17>();
    for k in 0..16 {
        let dst = target.remote().slice(k * 256, 256).unwrap();
        batch
            .push(SendWr::write(shared, dst).signaled(false))
            .unwrap();
    }
    batch.push(SendWr::send(shared).wr_id(99)).unwrap();
    batch.post().unwrap();
    let c = a_done(&mut p);
    assert_eq!((c.wr_id, c.opcode), (99, WcOpcode::Send));
    assert_eq!(
        p.a.send_outstanding(),
        0,
        "one completion retired the batch"
    );
    let got = contents(&target);
    for k in 0..16 {
        assert_bytes(&format!("write {k}"), &got[k * 256..(k + 1) * 256], &data);
    }
    let c = b_done(&mut p);
    assert_bytes("the send", &contents(&ok_buf(c, WcOpcode::Recv)), &data);
    let back = p.a.unshare(shared).unwrap();
    assert_bytes("the shared source", &contents(&back), &data);
}

/// A run's templates and chains post through `ibv_wr_*` on an extended QP.
#[test]
fn a_run_on_an_extended_qp_moves_every_byte() {
    let mut p = pair();
    let data = pattern(512, 6);
    let shared = p.a.share(filled(&p.pd, &data, Access::LOCAL_WRITE));
    let target = MemoryRegion::new(&p.pd, 4096, Access::LOCAL_WRITE | REMOTE).unwrap();
    {
        let run = p.a.run();
        let mut t = run
            .prepare(SendWr::write(
                shared,
                target.remote().slice(0, 512).unwrap(),
            ))
            .unwrap();
        t.post(1, true).unwrap();
        let wc = poll_n(&p.cq_a, 1, TIMEOUT)[0];
        assert!(run.complete(&wc).unwrap().is_ok());
        let mut chain = run
            .prepare_chain(
                SendWr::write(shared, target.remote().slice(1024, 512).unwrap()),
                4,
            )
            .unwrap();
        chain.post(10, true).unwrap();
        let wc = poll_n(&p.cq_a, 1, TIMEOUT)[0];
        let c = run.complete(&wc).unwrap();
        assert_eq!((c.wr_id, c.status), (13, rdma_verbs::WcStatus::Success));
    }
    let got = contents(&target);
    assert_bytes("template write", &got[..512], &data);
    assert_bytes("chain write", &got[1024..1536], &data);
}

#[test]
fn extended_uc_send_and_write_move_every_byte() {
    let mut p = Pair::extended(caps64(), QpType::Uc).connect(Access::LOCAL_WRITE | REMOTE);
    assert_eq!(p.a.qp_type(), QpType::Uc);
    let data = pattern(1000, 7);
    recv_on_b(&mut p, 1024, 50);
    p.a.post_send(SendWr::send(filled(&p.pd, &data, Access::LOCAL_WRITE)).imm(5))
        .unwrap();
    let src = ok_buf(a_done(&mut p), WcOpcode::Send);
    let c = b_done(&mut p);
    assert_eq!((c.byte_len, c.imm_data), (1000, Some(5)));
    assert_bytes(
        "uc send",
        &contents(&ok_buf(c, WcOpcode::Recv))[..1000],
        &data,
    );
    let target = MemoryRegion::new(&p.pd, 1024, Access::LOCAL_WRITE | REMOTE).unwrap();
    p.a.post_send(SendWr::write(src, target.remote().slice(0, 1000).unwrap()))
        .unwrap();
    ok_buf(a_done(&mut p), WcOpcode::RdmaWrite);
    assert_bytes("uc write", &contents(&target)[..1000], &data);
}

/// An extended QP and a classic one are the same on the wire.
#[test]
fn an_extended_qp_talks_to_a_classic_one() {
    let ctx = rdma_device_tests::device();
    let pd = rdma_verbs::ProtectionDomain::new(&ctx).unwrap();
    let cq_a = rdma_verbs::CompletionQueue::new(&ctx, 64).unwrap();
    let cq_b = rdma_verbs::CompletionQueue::new(&ctx, 64).unwrap();
    let build = |cq, api| {
        rdma_verbs::QueuePair::builder(&pd, cq, cq)
            .caps(caps64())
            .post_api(api)
            .build()
            .unwrap()
    };
    let (a, b) = (
        build(&cq_a, PostApi::Extended),
        build(&cq_b, PostApi::Classic),
    );
    let p = Pair {
        ctx,
        pd: pd.clone(),
        cq_a,
        cq_b,
        a,
        b,
    };
    let mut p = p.connect(ALL);
    let data = pattern(2048, 8);
    for (from_a, seed) in [(true, 0u64), (false, 1)] {
        let buf = MemoryRegion::new(&p.pd, 2048, Access::LOCAL_WRITE).unwrap();
        let src = filled(&p.pd, &data, Access::LOCAL_WRITE);
        let (tx, rx, tx_cq, rx_cq) = if from_a {
            (&mut p.a, &mut p.b, &p.cq_a, &p.cq_b)
        } else {
            (&mut p.b, &mut p.a, &p.cq_b, &p.cq_a)
        };
        rx.post_recv(RecvWr::recv(buf).wr_id(seed)).unwrap();
        tx.post_send(SendWr::send(src)).unwrap();
        ok_buf(
            tx.complete(&poll_n(tx_cq, 1, TIMEOUT)[0]).unwrap(),
            WcOpcode::Send,
        );
        let got = ok_buf(
            rx.complete(&poll_n(rx_cq, 1, TIMEOUT)[0]).unwrap(),
            WcOpcode::Recv,
        );
        assert_bytes(
            if from_a {
                "extended to classic"
            } else {
                "classic to extended"
            },
            &contents(&got),
            &data,
        );
    }
}
