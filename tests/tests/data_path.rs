//! Every operation of the safe API on real verbs, data checked byte for byte.

use rdma::{Access, MemoryRegion, QpCaps, SendWr, WcOpcode, WcStatus};
use rdma_device_tests::{pattern, poll_n, Pair, TIMEOUT};

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
fn send_recv_bytes_cross_the_qp() {
    let mut p = Pair::new(caps()).connect(Access::LOCAL_WRITE);
    let rbuf = MemoryRegion::new(&p.pd, 4096, Access::LOCAL_WRITE).unwrap();
    p.b.post_recv(rbuf, 77).unwrap();
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
