//! A template borrows its run: it cannot be posted after the run has ended (the run's end
//! records where its requests stop, which keeps their buffers in the QP).
use rdma_verbs::{Shared, QueuePair, SendWr};

fn post_after_the_run(qp: &mut QueuePair, src: Shared) {
    let run = qp.run();
    let mut write = run.prepare(SendWr::send(src)).unwrap();
    drop(run);
    write.post(1, true).unwrap();
}

fn main() {}
