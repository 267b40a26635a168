//! Templates post through a shared borrow of their run, which reaches the QP through a
//! pointer: the run cannot be shared with another thread (which could post at the same time).
use rdma_verbs::{Shared, QueuePair, SendWr};

fn post_from_two_threads(qp: &mut QueuePair, src: Shared) {
    let run = qp.run();
    std::thread::scope(|s| {
        s.spawn(|| run.prepare(SendWr::send(src)).unwrap().post(1, true));
        run.prepare(SendWr::send(src)).unwrap().post(2, true).unwrap();
    });
}

fn main() {}
