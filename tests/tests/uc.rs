//! Unreliable-connected QPs on real verbs: SEND, RDMA WRITE and WRITE with immediate cross
//! the QP byte for byte; READ and atomics are refused at post, naming the transport.

use rdma_device_tests::{caps64, pattern, poll_n, Pair, TIMEOUT};
use rdma_verbs::{Access, Error, MemoryRegion, QpType, RecvWr, SendWr, WcOpcode};

#[test]
fn uc_sends_and_writes_cross_the_qp() {
    let mut p = Pair::uc(caps64()).connect(Access::LOCAL_WRITE | Access::REMOTE_WRITE);
    assert_eq!((p.a.qp_type(), p.b.qp_type()), (QpType::Uc, QpType::Uc));
    let rbuf = MemoryRegion::new(&p.pd, 4096, Access::LOCAL_WRITE).unwrap();
    p.b.post_recv(RecvWr::recv(rbuf).wr_id(1)).unwrap();
    p.b.post_recv(RecvWr::empty().wr_id(2)).unwrap();
    let data = pattern(4096, 41);
    let mut sbuf = MemoryRegion::new(&p.pd, 4096, Access::LOCAL_WRITE).unwrap();
    sbuf.as_mut_slice().unwrap().copy_from_slice(&data);
    p.a.post_send(SendWr::send(sbuf)).unwrap();
    let target =
        MemoryRegion::new(&p.pd, 2048, Access::LOCAL_WRITE | Access::REMOTE_WRITE).unwrap();
    let wdata = pattern(2048, 42);
    let mut wbuf = MemoryRegion::new(&p.pd, 2048, Access::LOCAL_WRITE).unwrap();
    wbuf.as_mut_slice().unwrap().copy_from_slice(&wdata);
    p.a.post_send(SendWr::write(wbuf, target.remote()).imm(5))
        .unwrap();
    for wc in poll_n(&p.cq_a, 2, TIMEOUT) {
        p.a.complete(&wc).unwrap().result().unwrap();
    }
    let got: Vec<_> = poll_n(&p.cq_b, 2, TIMEOUT)
        .iter()
        .map(|wc| p.b.complete(wc).unwrap())
        .collect();
    got.iter().for_each(|g| g.result().unwrap());
    assert_eq!(
        (got[0].wr_id, got[0].opcode, got[0].byte_len),
        (1, WcOpcode::Recv, 4096)
    );
    let recv = got[0].buf.as_ref().unwrap();
    assert_eq!(recv.as_slice().unwrap(), &data[..]);
    assert_eq!(
        (got[1].wr_id, got[1].opcode, got[1].imm_data),
        (2, WcOpcode::RecvRdmaWithImm, Some(5))
    );
    let mut back = vec![0u8; 2048];
    assert!(target.read_at(0, &mut back));
    assert_eq!(back, wdata);
}

#[test]
fn uc_refuses_reads_and_atomics_naming_the_transport() {
    let mut p = Pair::uc(caps64()).connect(Access::LOCAL_WRITE | Access::REMOTE_WRITE);
    let remote = MemoryRegion::new(&p.pd, 64, Access::LOCAL_WRITE | Access::REMOTE_WRITE)
        .unwrap()
        .remote();
    let dst = || MemoryRegion::new(&p.pd, 8, Access::LOCAL_WRITE).unwrap();
    let (d1, d2) = (dst(), dst());
    for wr in [
        SendWr::read(d1, remote),
        SendWr::fetch_add(d2, remote.slice(0, 8).unwrap(), 1),
    ] {
        let e = p.a.post_send(wr).unwrap_err();
        assert!(
            matches!(e.error, Error::InvalidArgument(ref m) if m.contains("is UC")),
            "{e}"
        );
        assert_eq!(e.returned.len(), 1, "the buffer comes back");
    }
    assert_eq!(p.a.send_outstanding(), 0);
}
