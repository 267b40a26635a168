//! A run holds the QP: the buffer a template names cannot be taken back while the template
//! can still be posted.
use rdma_verbs::{Shared, QueuePair, SendWr};

fn unshare_then_post(qp: &mut QueuePair, src: Shared) {
    let run = qp.run();
    let mut write = run.prepare(SendWr::send(src)).unwrap();
    let _buf = qp.unshare(src);
    write.post(1, true).unwrap();
}

fn main() {}
