//! A receive buffer is moved into the QP: dropping (freeing) it while in flight is impossible.
use rdma_verbs::{MemoryRegion, QueuePair};

fn post_then_free(qp: &mut QueuePair, buf: MemoryRegion) {
    qp.post_recv(buf, 1).unwrap();
    drop(buf);
}

fn main() {}
