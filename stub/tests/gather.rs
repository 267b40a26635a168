//! Scatter-gather over the stub provider: a request of several pieces is posted as one work
//! request with one SGE per piece (the stub sums their lengths into the completion), the
//! pieces' slots are kept until it completes, and batches and templates refuse it.

mod common;

use common::{caps, mr, poll_one};
use rdma_verbs::{Error, Piece, QpCaps, RecvWr, SendWr};

fn fixture4() -> common::Fixture {
    // SAFETY: only the stub's constructors, the data path and drop are used.
    let ctx = unsafe { rdma_stub::context() };
    let pd = rdma_stub::protection_domain(&ctx);
    let cq = rdma_stub::completion_queue(&ctx, 32);
    let qp = rdma_stub::queue_pair(
        &pd,
        &cq,
        &cq,
        QpCaps {
            max_send_sge: 4,
            max_recv_sge: 4,
            ..caps(8)
        },
        false,
    );
    common::Fixture { pd, cq, qp }
}

#[test]
fn a_gather_is_one_request_of_all_its_pieces() {
    let mut f = fixture4();
    let src = f.qp.share(mr(&f.pd, 100));
    let pieces = [Piece::shared(src, 10, 50), Piece::owned(200, 56)];
    f.qp.post_send(
        SendWr::send(mr(&f.pd, 256))
            .range(0, 8)
            .gather(&pieces)
            .wr_id(3),
    )
    .unwrap();
    assert_eq!(f.qp.send_outstanding(), 1);
    // Kept while the request is outstanding, free once it completed.
    let e = f.qp.unshare(src).unwrap_err();
    assert!(
        matches!(e, Error::InvalidArgument(ref m) if m.contains("outstanding")),
        "{e}"
    );
    let c = f.qp.complete(&poll_one(&f.cq)).unwrap();
    assert_eq!((c.wr_id, c.byte_len), (3, 8 + 50 + 56));
    assert_eq!(
        c.buf.map(|b| b.len()),
        Some(256),
        "the owned buffer comes back whole"
    );
    assert_eq!(f.qp.unshare(src).unwrap().len(), 100);

    let sink = f.qp.sink(mr(&f.pd, 64));
    let scatter = [Piece::owned(100, 20), Piece::sink(sink, 0, 64)];
    f.qp.post_recv(RecvWr::recv(mr(&f.pd, 128)).range(0, 10).scatter(&scatter))
        .unwrap();
    assert!(f.qp.unsink(sink).is_err(), "the sink is kept");
    let c = f.qp.complete(&poll_one(&f.cq)).unwrap();
    assert_eq!(c.byte_len, 10 + 20 + 64);
    assert_eq!(f.qp.unsink(sink).unwrap().len(), 64);
}

#[test]
fn batches_and_templates_refuse_gathers() {
    let mut f = fixture4();
    let pieces = [Piece::owned(0, 4)];
    let mut batch = f.qp.send_batch::<2>();
    let e = batch
        .push(SendWr::send(mr(&f.pd, 8)).gather(&pieces))
        .unwrap_err();
    assert!(
        matches!(e.error, Error::InvalidArgument(ref m) if m.contains("posted alone")),
        "{e}"
    );
    assert_eq!(e.returned.len(), 1);
    let mut rb = f.qp.recv_batch::<2>();
    let e = rb
        .push(RecvWr::recv(mr(&f.pd, 8)).scatter(&pieces))
        .unwrap_err();
    assert!(
        matches!(e.error, Error::InvalidArgument(ref m) if m.contains("posted alone")),
        "{e}"
    );
    assert_eq!(e.returned.len(), 1);
    let src = f.qp.share(mr(&f.pd, 8));
    let sink = f.qp.sink(mr(&f.pd, 8));
    let shared = [Piece::shared(src, 0, 4)];
    let sunk = [Piece::sink(sink, 0, 4)];
    let run = f.qp.run();
    let Err(e) = run.prepare(SendWr::send(src).gather(&shared)) else {
        panic!("a template of a gather was made");
    };
    assert!(
        matches!(e.error, Error::InvalidArgument(ref m) if m.contains("posted alone")),
        "{e}"
    );
    let Err(e) = run.prepare_recv(RecvWr::recv_to_sink(sink).scatter(&sunk)) else {
        panic!("a receive template of a scatter was made");
    };
    assert!(
        matches!(e.error, Error::InvalidArgument(ref m) if m.contains("posted alone")),
        "{e}"
    );
}

#[test]
fn too_many_pieces_are_refused_before_anything_is_staged() {
    let mut f = fixture4();
    let pieces = [Piece::owned(0, 1); 4];
    let e =
        f.qp.post_send(SendWr::send(mr(&f.pd, 8)).gather(&pieces))
            .unwrap_err();
    assert!(
        matches!(e.error, Error::InvalidArgument(ref m) if m.contains("at most 4")),
        "{e}"
    );
    assert_eq!(e.returned.len(), 1);
    let e =
        f.qp.post_recv(RecvWr::recv(mr(&f.pd, 8)).scatter(&pieces))
            .unwrap_err();
    assert!(
        matches!(e.error, Error::InvalidArgument(ref m) if m.contains("at most 4")),
        "{e}"
    );
    assert_eq!((f.qp.send_outstanding(), f.qp.recv_outstanding()), (0, 0));
    // Exactly four is fine.
    f.qp.post_send(SendWr::send(mr(&f.pd, 8)).gather(&pieces[..3]))
        .unwrap();
    assert_eq!(f.qp.complete(&poll_one(&f.cq)).unwrap().byte_len, 8 + 3);
}
