//! Scatter-gather on real verbs: requests of several pieces (ranges of the owned buffer,
//! shared sources, sinks, inline bytes) cross the QP byte for byte, each piece where it was
//! asked; the pieces' slots are kept while the request is outstanding; every refusal names
//! its reason and hands the buffer back.

use rdma_device_tests::buffers::{assert_bytes, contents, filled};
use rdma_device_tests::ud::{complete_all, UdPair};
use rdma_device_tests::{caps64, pattern, poll_n, Pair, TIMEOUT};
use rdma_verbs::ud::DEFAULT_QKEY;
use rdma_verbs::{
    Access, Error, MemoryRegion, Piece, PostApi, QpCaps, QpType, RecvWr, SendWr, WcOpcode,
};

fn caps4() -> QpCaps {
    QpCaps {
        max_send_sge: 4,
        max_recv_sge: 4,
        ..caps64()
    }
}

#[test]
fn gather_send_lands_scattered_byte_for_byte() {
    let mut p = Pair::new(caps4()).connect(Access::LOCAL_WRITE);
    let head = pattern(16, 1);
    let body = pattern(1000, 2);
    let tail = pattern(100, 3);
    let mut src = MemoryRegion::new(&p.pd, 8192, Access::LOCAL_WRITE).unwrap();
    src.write_at(0, &head);
    src.write_at(4096, &tail);
    let body_src = p.a.share(filled(&p.pd, &body, Access::LOCAL_WRITE));
    let sink =
        p.b.sink(MemoryRegion::new(&p.pd, 512, Access::LOCAL_WRITE).unwrap());
    // The receiver: the header at 0, the body from 2048, 12 bytes into a sink, the rest at
    // 6000.
    let scatter = [
        Piece::owned(2048, 1000),
        Piece::sink(sink, 100, 12),
        Piece::owned(6000, 500),
    ];
    let dst = MemoryRegion::new(&p.pd, 8192, Access::LOCAL_WRITE).unwrap();
    p.b.post_recv(RecvWr::recv(dst).range(0, 16).scatter(&scatter).wr_id(7))
        .unwrap();
    let gather = [Piece::shared(body_src, 0, 1000), Piece::owned(4096, 100)];
    p.a.post_send(SendWr::send(src).range(0, 16).gather(&gather).wr_id(8))
        .unwrap();
    // The shared source is kept while the send is outstanding.
    let e = p.a.unshare(body_src).unwrap_err();
    assert!(
        matches!(e, Error::InvalidArgument(ref m) if m.contains("outstanding")),
        "{e}"
    );
    let sent = poll_n(&p.cq_a, 1, TIMEOUT);
    let c = p.a.complete(&sent[0]).unwrap();
    c.result().unwrap();
    assert_eq!((c.wr_id, c.buf.as_ref().map(|b| b.len())), (8, Some(8192)));
    let got = poll_n(&p.cq_b, 1, TIMEOUT);
    let c = p.b.complete(&got[0]).unwrap();
    c.result().unwrap();
    assert_eq!((c.wr_id, c.opcode, c.byte_len), (7, WcOpcode::Recv, 1116));
    let dst = contents(c.buf.as_ref().unwrap());
    let mut msg = head.clone();
    msg.extend_from_slice(&body);
    msg.extend_from_slice(&tail);
    assert_bytes("piece 1", &dst[..16], &msg[..16]);
    assert_bytes("piece 2", &dst[2048..3048], &msg[16..1016]);
    assert_bytes("piece 4", &dst[6000..6088], &msg[1028..]);
    assert!(
        dst[16..2048].iter().all(|&b| b == 0),
        "between the pieces: untouched"
    );
    assert!(
        dst[6088..].iter().all(|&b| b == 0),
        "past the message: untouched"
    );
    let sunk = contents(&p.b.unsink(sink).unwrap());
    assert_bytes("piece 3 (sink)", &sunk[100..112], &msg[1016..1028]);
    assert_eq!(p.a.unshare(body_src).unwrap().len(), 1000);
}

#[test]
fn a_read_scatters_and_a_write_gathers_inline_pieces() {
    let mut p = Pair::new(caps4())
        .connect(Access::LOCAL_WRITE | Access::REMOTE_WRITE | Access::REMOTE_READ);
    let data = pattern(3000, 9);
    let remote = filled(
        &p.pd,
        &data,
        Access::LOCAL_WRITE | Access::REMOTE_READ | Access::REMOTE_WRITE,
    );
    let dst = MemoryRegion::new(&p.pd, 4096, Access::LOCAL_WRITE).unwrap();
    let pieces = [Piece::owned(1000, 1000), Piece::owned(3000, 1000)];
    p.a.post_send(
        SendWr::read(dst, remote.remote())
            .range(0, 1000)
            .gather(&pieces),
    )
    .unwrap();
    let c = p.a.complete(&poll_n(&p.cq_a, 1, TIMEOUT)[0]).unwrap();
    c.result().unwrap();
    let got = contents(c.buf.as_ref().unwrap());
    assert_bytes("read piece 1", &got[..1000], &data[..1000]);
    assert_bytes("read piece 2", &got[1000..2000], &data[1000..2000]);
    assert_bytes("read piece 3", &got[3000..4000], &data[2000..3000]);
    assert!(got[2000..3000].iter().all(|&b| b == 0));
    // Three inline slices written as one message.
    let (x, y, z) = (pattern(10, 1), pattern(20, 2), pattern(30, 3));
    let more = [Piece::inline(&y), Piece::inline(&z)];
    p.a.post_send(SendWr::write(&x[..], remote.remote().slice(100, 60).unwrap()).gather(&more))
        .unwrap();
    p.a.complete(&poll_n(&p.cq_a, 1, TIMEOUT)[0])
        .unwrap()
        .result()
        .unwrap();
    let mut back = vec![0u8; 60];
    assert!(remote.read_at(100, &mut back));
    assert_bytes("inline gather", &back, &[x, y, z].concat());
}

#[test]
fn gathers_that_cannot_be_posted_are_refused_with_their_reason() {
    let mut p = Pair::new(caps4()).connect(Access::LOCAL_WRITE | Access::REMOTE_WRITE);
    let target = MemoryRegion::new(&p.pd, 64, Access::LOCAL_WRITE | Access::REMOTE_WRITE).unwrap();
    let src =
        p.a.share(MemoryRegion::new(&p.pd, 64, Access::LOCAL_WRITE).unwrap());
    let sink =
        p.a.sink(MemoryRegion::new(&p.pd, 64, Access::LOCAL_WRITE).unwrap());
    let buf = || MemoryRegion::new(&p.pd, 64, Access::LOCAL_WRITE).unwrap();
    let five = [Piece::owned(0, 1); 4];
    let inline = [1u8; 8];
    let owned8 = [Piece::owned(0, 8)];
    let past_end = [Piece::owned(60, 8)];
    let of_sink = [Piece::sink(sink, 0, 8)];
    let of_shared = [Piece::shared(src, 0, 8)];
    let inline8 = [Piece::inline(&inline)];
    let empty = [Piece::owned(0, 0)];
    let second8 = [Piece::owned(8, 8)];
    let cases: Vec<(SendWr, &str, usize)> = vec![
        (SendWr::send(buf()).gather(&five), "at most 4", 1),
        (SendWr::send(src).gather(&owned8), "owns none", 0),
        (SendWr::send(buf()).gather(&past_end), "does not fit", 1),
        (SendWr::send(buf()).gather(&of_sink), "sink", 1),
        (
            SendWr::read(buf(), target.remote()).gather(&of_shared),
            "read-only",
            1,
        ),
        (SendWr::send(buf()).gather(&inline8), "inline", 1),
        (SendWr::send(&inline[..]).gather(&owned8), "inline", 0),
        (SendWr::send(buf()).gather(&empty), "empty", 1),
        (
            SendWr::write(buf(), target.remote()).gather(&of_shared),
            "do not fit the 64-byte remote",
            1,
        ),
        (
            SendWr::fetch_add(buf(), target.remote().slice(0, 8).unwrap(), 1)
                .range(0, 8)
                .gather(&second8),
            "atomic",
            1,
        ),
    ];
    for (wr, why, returned) in cases {
        let e = p.a.post_send(wr).unwrap_err();
        assert!(
            matches!(e.error, Error::InvalidArgument(ref m) if m.contains(why)),
            "{why}: {e}"
        );
        assert_eq!(
            e.returned.len(),
            returned,
            "{why}: the owned buffer comes back"
        );
    }
    assert_eq!(p.a.send_outstanding(), 0, "nothing was posted");
    // Batches post one SGE per request.
    let mut batch = p.a.send_batch::<2>();
    let e = batch.push(SendWr::send(buf()).gather(&owned8)).unwrap_err();
    assert!(
        matches!(e.error, Error::InvalidArgument(ref m) if m.contains("posted alone")),
        "{e}"
    );
    assert_eq!(e.returned.len(), 1);
    let e = p.b.post_recv(RecvWr::empty().scatter(&owned8)).unwrap_err();
    assert!(
        matches!(e.error, Error::InvalidArgument(ref m) if m.contains("owns none")),
        "{e}"
    );
    let e =
        p.b.post_recv(RecvWr::recv(buf()).scatter(&of_shared))
            .unwrap_err();
    assert!(
        matches!(e.error, Error::InvalidArgument(ref m) if m.contains("read-only")),
        "{e}"
    );
    assert_eq!(e.returned.len(), 1);
}

#[test]
fn ud_datagrams_gather_and_scatter_after_the_header() {
    let ctx_caps = QpCaps {
        max_send_sge: 3,
        max_recv_sge: 3,
        ..caps64()
    };
    let mut p = UdPair::with_caps(ctx_caps);
    let ah = p.ah(&p.b);
    let to_b = p.a.add_peer(ah, p.b.qpn(), DEFAULT_QKEY).unwrap();
    let data = pattern(600, 4);
    let mut src = p.mr(1024);
    src.write_at(0, &data[..200]);
    src.write_at(512, &data[200..]);
    let dst = p.mr(2048);
    let scatter = [Piece::owned(1024, 300), Piece::owned(1500, 100)];
    p.b.post_recv(RecvWr::recv(dst).range(0, 200).scatter(&scatter))
        .unwrap();
    p.a.post_send(
        to_b,
        SendWr::send(src)
            .range(0, 200)
            .gather(&[Piece::owned(512, 400)]),
    )
    .unwrap();
    complete_all(&mut p.a, &p.cq_a, 1)[0].result().unwrap();
    let got = complete_all(&mut p.b, &p.cq_b, 1).pop().unwrap();
    got.result().unwrap();
    assert_eq!(got.byte_len, 600, "the payload without the header");
    assert_eq!(got.sender.unwrap().qpn(), p.a.qpn());
    let dst = contents(got.buf.as_ref().unwrap());
    assert_bytes("piece 1", &dst[..200], &data[..200]);
    assert_bytes("piece 2", &dst[1024..1324], &data[200..500]);
    assert_bytes("piece 3", &dst[1500..1600], &data[500..]);
    // Too long for the MTU, counted over all pieces.
    let mtu = p.a.max_message() as usize;
    let big = p.mr(mtu);
    let e =
        p.a.post_send(to_b, SendWr::send(big).gather(&[Piece::owned(0, 1)]))
            .unwrap_err();
    assert!(
        matches!(e.error, Error::MessageTooLong { len, .. } if len == mtu + 1),
        "{e}"
    );
    assert_eq!(e.returned.len(), 1);
}

#[test]
fn gathers_cross_an_extended_qp_too() {
    let mut p =
        Pair::extended(caps4(), QpType::Rc).connect(Access::LOCAL_WRITE | Access::REMOTE_WRITE);
    assert_eq!(p.a.post_api(), PostApi::Extended);
    let data = pattern(300, 6);
    let mut src = MemoryRegion::new(&p.pd, 1024, Access::LOCAL_WRITE).unwrap();
    src.write_at(0, &data[..100]);
    src.write_at(512, &data[100..]);
    let dst = MemoryRegion::new(&p.pd, 1024, Access::LOCAL_WRITE).unwrap();
    let scatter = [Piece::owned(600, 200)];
    p.b.post_recv(RecvWr::recv(dst).range(0, 100).scatter(&scatter))
        .unwrap();
    let gather = [Piece::owned(512, 200)];
    p.a.post_send(SendWr::send(src).range(0, 100).gather(&gather))
        .unwrap();
    p.a.complete(&poll_n(&p.cq_a, 1, TIMEOUT)[0])
        .unwrap()
        .result()
        .unwrap();
    let c = p.b.complete(&poll_n(&p.cq_b, 1, TIMEOUT)[0]).unwrap();
    c.result().unwrap();
    assert_eq!(c.byte_len, 300);
    let got = contents(c.buf.as_ref().unwrap());
    assert_bytes("piece 1", &got[..100], &data[..100]);
    assert_bytes("piece 2", &got[600..800], &data[100..]);
    // Inline pieces too (posted with ibv_post_send: see qp/gather.rs).
    let target = MemoryRegion::new(&p.pd, 64, Access::LOCAL_WRITE | Access::REMOTE_WRITE).unwrap();
    let (x, y) = (pattern(24, 1), pattern(40, 2));
    let more = [Piece::inline(&y)];
    p.a.post_send(SendWr::write(&x[..], target.remote()).gather(&more))
        .unwrap();
    p.a.complete(&poll_n(&p.cq_a, 1, TIMEOUT)[0])
        .unwrap()
        .result()
        .unwrap();
    let mut back = vec![0u8; 64];
    assert!(target.read_at(0, &mut back));
    assert_bytes("inline gather", &back, &[x, y].concat());
}
