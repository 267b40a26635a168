//! A run holds the QP: the buffer a template names cannot be taken back while the template
//! can still be posted.
use rdma_verbs::{Pinned, QueuePair, SendWr};

fn unpin_then_post(qp: &mut QueuePair, src: Pinned) {
    let run = qp.run();
    let mut write = run.prepare(SendWr::send(src)).unwrap();
    let _buf = qp.unpin(src);
    write.post(1, true).unwrap();
}

fn main() {}
