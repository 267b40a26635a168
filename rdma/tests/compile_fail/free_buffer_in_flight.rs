//! A receive buffer is moved into the QP: dropping (freeing) it while in flight is impossible.
use rdma_verbs::{MemoryRegion, QueuePair, RecvWr};

fn post_then_free(qp: &mut QueuePair, buf: MemoryRegion) {
    qp.post_recv(RecvWr::recv(buf).wr_id(1)).unwrap();
    drop(buf);
}

fn main() {}
