//! Receive work requests of every kind (owned, a range of one, a sink, a sink's range, empty),
//! posted one at a time, in a batch and from a run, on the stub provider. Its receives
//! complete at once with the length their SGEs describe.

mod common;

use common::{fixture, mr, poll_one, Fixture};
use rdma_verbs::{Error, PostError, RecvWr};

/// Each kind of receive (its `wr_id` is its index + 1), with the byte length its completion
/// reports and the length of the buffer it hands back.
fn kinds(f: &mut Fixture) -> Vec<(RecvWr<'static>, u32, Option<usize>)> {
    let sink = f.qp.sink(mr(&f.pd, 128));
    let wrs = [
        (RecvWr::recv(mr(&f.pd, 256)), 256, Some(256)),
        (RecvWr::recv(mr(&f.pd, 256)).range(16, 100), 100, Some(256)),
        (RecvWr::recv_to_sink(sink), 128, None),
        (RecvWr::recv_to_sink(sink).range(64, 8), 8, None),
        (RecvWr::empty(), 0, None),
    ];
    wrs.into_iter()
        .zip(1..)
        .map(|((wr, n, b), id)| (wr.wr_id(id), n, b))
        .collect()
}

#[test]
fn every_kind_of_receive_posts_and_completes_one_at_a_time() {
    let mut f = fixture(8, 16);
    for ((wr, byte_len, buf_len), wr_id) in kinds(&mut f).into_iter().zip(1..) {
        f.qp.post_recv(wr).unwrap();
        let done = f.qp.complete(&poll_one(&f.cq)).unwrap();
        assert_eq!((done.wr_id, done.byte_len), (wr_id, byte_len));
        // An owned receive hands back its whole buffer, whatever range it used.
        assert_eq!(done.buf.map(|b| b.len()), buf_len, "wr_id {wr_id}");
    }
    assert_eq!(f.qp.recv_outstanding(), 0);
}

#[test]
fn every_kind_of_receive_posts_in_one_batch() {
    let mut f = fixture(8, 16);
    let kinds = kinds(&mut f);
    let expected: Vec<_> = kinds.iter().map(|(_, n, b)| (*n, *b)).collect();
    let mut batch = f.qp.recv_batch::<8>();
    for (wr, _, _) in kinds {
        batch.push(wr).unwrap();
    }
    assert_eq!(batch.len(), 5);
    batch.post().unwrap();
    for ((byte_len, buf_len), wr_id) in expected.into_iter().zip(1..) {
        let done = f.qp.complete(&poll_one(&f.cq)).unwrap();
        assert_eq!((done.wr_id, done.byte_len), (wr_id, byte_len));
        assert_eq!(done.buf.map(|b| b.len()), buf_len, "wr_id {wr_id}");
    }
}

#[test]
fn a_range_outside_the_buffer_or_sink_is_refused_with_the_buffer_back() {
    let Fixture { pd, mut qp, .. } = fixture(8, 16);
    let buf = mr(&pd, 64);
    let addr = buf.addr();
    let PostError {
        error, returned, ..
    } = qp.post_recv(RecvWr::recv(buf).range(60, 8)).unwrap_err();
    assert!(matches!(error, Error::InvalidArgument(_)), "{error}");
    assert_eq!(returned.len(), 1);
    assert_eq!(returned[0].addr(), addr);
    let sink = qp.sink(mr(&pd, 64));
    let e = qp
        .post_recv(RecvWr::recv_to_sink(sink).range(32, 64))
        .unwrap_err();
    assert!(matches!(e.error, Error::InvalidArgument(_)), "{e}");
    assert!(e.returned.is_empty());
    // A sink handle of another QP, or one freed, is refused the same way.
    assert_eq!(qp.unsink(sink).unwrap().len(), 64);
    let e = qp.post_recv(RecvWr::recv_to_sink(sink)).unwrap_err();
    assert!(matches!(e.error, Error::InvalidArgument(_)), "{e}");
    assert_eq!(qp.recv_outstanding(), 0, "nothing was posted");
}

#[test]
fn a_receive_template_takes_a_sink_or_nothing_never_an_owned_buffer() {
    let mut f = fixture(8, 16);
    let sink = f.qp.sink(mr(&f.pd, 64));
    let owned = mr(&f.pd, 64);
    let addr = owned.addr();
    {
        let run = f.qp.run();
        let e = run.prepare_recv(RecvWr::recv(owned)).unwrap_err();
        assert!(matches!(e.error, Error::InvalidArgument(_)), "{e}");
        assert_eq!(e.returned[0].addr(), addr, "the buffer comes back");
        let mut into_sink = run.prepare_recv(RecvWr::recv_to_sink(sink)).unwrap();
        let mut empty = run.prepare_recv(RecvWr::empty()).unwrap();
        into_sink.post(7).unwrap();
        empty.post(8).unwrap();
        for (wr_id, byte_len) in [(7, 64), (8, 0)] {
            let done = run.complete(&poll_one(&f.cq)).unwrap();
            assert_eq!((done.wr_id, done.byte_len), (wr_id, byte_len));
            assert!(done.buf.is_none());
        }
    }
    assert_eq!(f.qp.unsink(sink).unwrap().len(), 64);
}
