//! Atomics on the stub provider: what `post_send` checks before the device (the 8-byte
//! result, the remote alignment, no immediate, owned results only) and that a good one is
//! posted with its operands and hands its result buffer back.

mod common;

use common::{fixture, mr, poll_one};
use rdma_verbs::{Error, RemoteBuf, SendWr, WcOpcode};

fn remote(addr: u64) -> RemoteBuf {
    RemoteBuf {
        addr,
        rkey: 7,
        len: 8,
    }
}

#[test]
fn atomics_post_and_hand_their_result_buffer_back() {
    let f = fixture(8, 16);
    let (pd, cq, mut qp) = (f.pd, f.cq, f.qp);
    let dst = mr(&pd, 8);
    let addr = dst.addr();
    qp.post_send(SendWr::fetch_add(dst, remote(0x1000), 5).wr_id(1))
        .unwrap();
    let done = qp.complete(&poll_one(&cq)).unwrap();
    assert_eq!(
        (done.wr_id, done.opcode, done.byte_len),
        (1, WcOpcode::FetchAdd, 8)
    );
    assert_eq!(done.buf.unwrap().addr(), addr);
    // 8 bytes of a larger region, through `range`.
    let big = mr(&pd, 64);
    qp.post_send(
        SendWr::compare_swap(big, remote(0x1008), 1, 2)
            .range(8, 8)
            .wr_id(2),
    )
    .unwrap();
    let done = qp.complete(&poll_one(&cq)).unwrap();
    assert_eq!((done.wr_id, done.opcode), (2, WcOpcode::CompSwap));
    assert_eq!(done.buf.unwrap().len(), 64, "the whole region comes back");
}

#[test]
fn atomics_refused_before_the_device_say_why_and_hand_the_buffer_back() {
    let f = fixture(8, 16);
    let (pd, mut qp) = (f.pd, f.qp);
    let cases: Vec<(SendWr, &str)> = vec![
        (
            SendWr::fetch_add(mr(&pd, 16), remote(0x1000), 1),
            "8 bytes, not 16",
        ),
        (
            SendWr::fetch_add(mr(&pd, 8), remote(0x1004), 1),
            "0x1004 is not",
        ),
        (
            SendWr::compare_swap(mr(&pd, 8), remote(0x1001), 0, 1),
            "8-byte aligned",
        ),
        (
            SendWr::fetch_add(mr(&pd, 8), remote(0x1000), 1).imm(3),
            "immediate",
        ),
        (
            SendWr::fetch_add(mr(&pd, 8), remote(0x1000), 1).signaled(false),
            "unsignaled",
        ),
        (
            SendWr::fetch_add(
                mr(&pd, 8),
                RemoteBuf {
                    len: 4,
                    ..remote(0x1000)
                },
                1,
            ),
            "4-byte remote",
        ),
    ];
    for (wr, says) in cases {
        let e = qp.post_send(wr).unwrap_err();
        match &e.error {
            Error::InvalidArgument(m) => assert!(m.contains(says), "{m:?} lacks {says:?}"),
            other => panic!("{other:?} for {says:?}"),
        }
        assert_eq!(e.returned.len(), 1, "{says}: the result buffer comes back");
    }
    assert_eq!(qp.send_outstanding(), 0);
}
