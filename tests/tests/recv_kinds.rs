//! Receives that own no buffer or use part of one, on real verbs: `RecvWr::empty` and
//! `RecvWr::range`, data checked byte for byte; what a shared receive queue refuses.

use rdma_device_tests::{caps64, device, pattern, poll_n, Pair, TIMEOUT};
use rdma_verbs::{
    Access, Error, Local, MemoryRegion, ProtectionDomain, RecvWr, SendWr, SharedReceiveQueue,
    WcOpcode, WcStatus,
};

#[test]
fn empty_receives_take_a_write_with_imm_and_a_zero_length_send() {
    let mut p = Pair::new(caps64()).connect(Access::LOCAL_WRITE | Access::REMOTE_WRITE);
    let target =
        MemoryRegion::new(&p.pd, 1024, Access::LOCAL_WRITE | Access::REMOTE_WRITE).unwrap();
    p.b.post_recv(RecvWr::empty().wr_id(1)).unwrap();
    p.b.post_recv(RecvWr::empty().wr_id(2)).unwrap();
    let mut src = MemoryRegion::new(&p.pd, 1024, Access::LOCAL_WRITE).unwrap();
    let data = pattern(1024, 31);
    src.as_mut_slice().unwrap().copy_from_slice(&data);
    p.a.post_send(SendWr::write(src, target.remote()).imm(7).wr_id(10))
        .unwrap();
    p.a.post_send(SendWr::send(Local::Empty).imm(9).wr_id(11))
        .unwrap();
    for wc in poll_n(&p.cq_a, 2, TIMEOUT) {
        p.a.complete(&wc).unwrap().result().unwrap();
    }
    let got: Vec<_> = poll_n(&p.cq_b, 2, TIMEOUT)
        .iter()
        .map(|wc| p.b.complete(wc).unwrap())
        .collect();
    for g in &got {
        g.result().unwrap();
        assert!(g.buf.is_none(), "an empty receive hands back no buffer");
    }
    let seen: Vec<_> = got
        .iter()
        .map(|g| (g.wr_id, g.opcode, g.byte_len, g.imm_data))
        .collect();
    assert_eq!(
        seen,
        [
            (1, WcOpcode::RecvRdmaWithImm, 1024, Some(7)),
            (2, WcOpcode::Recv, 0, Some(9)),
        ]
    );
    let mut back = vec![0u8; 1024];
    assert!(target.read_at(0, &mut back));
    assert_eq!(back, data);
}

#[test]
fn a_receive_into_a_range_fills_that_range_only() {
    let mut p = Pair::new(caps64()).connect(Access::LOCAL_WRITE);
    let rbuf = MemoryRegion::new(&p.pd, 4096, Access::LOCAL_WRITE).unwrap();
    p.b.post_recv(RecvWr::recv(rbuf).range(1000, 512).wr_id(3))
        .unwrap();
    let data = pattern(512, 32);
    let mut sbuf = MemoryRegion::new(&p.pd, 512, Access::LOCAL_WRITE).unwrap();
    sbuf.as_mut_slice().unwrap().copy_from_slice(&data);
    p.a.post_send(SendWr::send(sbuf)).unwrap();
    p.a.complete(&poll_n(&p.cq_a, 1, TIMEOUT)[0])
        .unwrap()
        .result()
        .unwrap();
    let got = p.b.complete(&poll_n(&p.cq_b, 1, TIMEOUT)[0]).unwrap();
    got.result().unwrap();
    assert_eq!((got.wr_id, got.byte_len), (3, 512));
    let buf = got.buf.expect("the whole buffer comes back");
    let bytes = buf.as_slice().unwrap();
    assert_eq!(bytes.len(), 4096);
    assert_eq!(&bytes[1000..1512], &data[..]);
    assert!(bytes[..1000].iter().chain(&bytes[1512..]).all(|&b| b == 0));
}

#[test]
fn a_message_longer_than_the_receive_range_fails_the_receive() {
    let mut p = Pair::new(caps64()).connect(Access::LOCAL_WRITE);
    let rbuf = MemoryRegion::new(&p.pd, 4096, Access::LOCAL_WRITE).unwrap();
    p.b.post_recv(RecvWr::recv(rbuf).range(0, 256).wr_id(4))
        .unwrap();
    let sbuf = MemoryRegion::new(&p.pd, 512, Access::LOCAL_WRITE).unwrap();
    p.a.post_send(SendWr::send(sbuf)).unwrap();
    let got = p.b.complete(&poll_n(&p.cq_b, 1, TIMEOUT)[0]).unwrap();
    // The status names a local error of the receive: mlx5 reports a length error, rxe a
    // local QP operation error. Without the range, 4096 bytes would have fit.
    assert_eq!(got.wr_id, 4);
    assert!(
        matches!(
            got.status,
            WcStatus::LocalLength | WcStatus::LocalQpOperation
        ),
        "{:?}",
        got.status
    );
    assert_eq!(
        got.buf.map(|b| b.len()),
        Some(4096),
        "handed back on error too"
    );
}

#[test]
fn a_shared_receive_queue_refuses_sinks_and_empty_receives() {
    let ctx = device();
    let pd = ProtectionDomain::new(&ctx).unwrap();
    let mut srq = SharedReceiveQueue::new(&pd, 16, 1).unwrap();
    let e = srq.post_recv(RecvWr::empty()).unwrap_err();
    assert!(matches!(e.error, Error::InvalidArgument(_)), "{e}");
    let buf = MemoryRegion::new(&pd, 64, Access::LOCAL_WRITE).unwrap();
    let e = srq.post_recv(RecvWr::recv(buf).range(32, 64)).unwrap_err();
    assert!(matches!(e.error, Error::InvalidArgument(_)), "{e}");
    assert_eq!(e.returned.len(), 1, "the buffer comes back");
    assert_eq!(srq.outstanding(), 0);
}
