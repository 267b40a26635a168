//! Every reason `post_send` refuses a request, on the stub provider: the error names it, an
//! owned buffer comes back, and nothing is posted.

mod common;

use common::{fixture, mr};
use rdma_verbs::{Error, Local, RemoteBuf, SendWr};

fn remote(len: u64) -> RemoteBuf {
    RemoteBuf {
        addr: 0x1000,
        rkey: 1,
        len,
    }
}

#[test]
fn each_refusal_names_its_reason_and_hands_the_buffer_back() {
    let f = fixture(8, 16);
    let (pd, mut qp) = (f.pd, f.qp);
    let src = qp.share(mr(&pd, 64));
    let sink = qp.sink(mr(&pd, 64));
    let mut other = rdma_stub::queue_pair(&pd, &f.cq, &f.cq, common::caps(4), false);
    let foreign = (0..3).map(|_| other.share(mr(&pd, 8))).last().unwrap();
    let big = [0u8; 65];
    let cases: Vec<(SendWr, &str, usize)> = vec![
        (SendWr::send(mr(&pd, 8)).signaled(false), "unsignaled", 1),
        (
            SendWr::send(mr(&pd, 8)).range(4, 8),
            "does not fit a 8-byte",
            1,
        ),
        (SendWr::send(src).range(60, 8), "does not fit a 64-byte", 0),
        (
            SendWr::read_to_sink(sink, remote(64)).range(0, 65),
            "does not fit",
            0,
        ),
        (SendWr::send(Local::Shared(src)).imm(1).fence(), "", 0),
        (SendWr::send(foreign), "no shared buffer 2", 0),
        (
            SendWr::send(Local::Sink(sink)),
            "destination of RDMA READs",
            0,
        ),
        (SendWr::send(&big[..]), "65 bytes of inline data", 0),
        (
            SendWr::write(src, remote(8)),
            "do not fit the 8-byte remote",
            0,
        ),
        (
            SendWr::write(&big[..8], remote(4)),
            "do not fit the 4-byte remote",
            0,
        ),
        (SendWr::read(mr(&pd, 8), remote(8)).imm(3), "immediate", 1),
        (
            SendWr::fetch_add_to_sink(sink, remote(16), 1).range(0, 16),
            "8 bytes, not 16",
            0,
        ),
    ];
    for (wr, says, returned) in cases {
        let r = qp.post_send(wr);
        if says.is_empty() {
            // The control: a good request between the bad ones posts.
            r.unwrap();
            continue;
        }
        let e = r.unwrap_err();
        match &e.error {
            Error::InvalidArgument(m) => assert!(m.contains(says), "{m:?} lacks {says:?}"),
            other => panic!("{other:?} for {says:?}"),
        }
        assert_eq!((e.returned.len(), e.posted), (returned, 0), "{says}");
    }
    qp.post_send(SendWr::read_to_sink(sink, remote(8)).range(0, 8))
        .unwrap();
    // Atomics may land in a sink too, signaled or not.
    qp.post_send(
        SendWr::compare_swap_to_sink(sink, remote(8), 0, 1)
            .range(8, 8)
            .signaled(false),
    )
    .unwrap();
    assert_eq!(
        qp.send_outstanding(),
        3,
        "only the three good requests were posted"
    );
}
