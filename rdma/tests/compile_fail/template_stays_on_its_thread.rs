//! A template keeps its run's pointer to the QP: it cannot move to another thread, which
//! could post it while this thread posts another template of the same run.
use rdma_verbs::{Shared, QueuePair, SendWr};

fn post_from_two_threads(qp: &mut QueuePair, src: Shared) {
    let run = qp.run();
    let mut there = run.prepare(SendWr::send(src)).unwrap();
    let mut here = run.prepare(SendWr::send(src)).unwrap();
    std::thread::scope(|s| {
        s.spawn(move || there.post(1, true));
        here.post(2, true).unwrap();
    });
}

fn main() {}
