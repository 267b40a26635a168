//! A buffer handed to a send cannot be touched until its completion hands it back.
use rdma_verbs::{MemoryRegion, QueuePair, SendWr};

fn post_then_touch(qp: &mut QueuePair, mut buf: MemoryRegion) {
    qp.post_send(SendWr::send(buf)).unwrap();
    buf.as_mut_slice().unwrap()[0] = 1;
}

fn main() {}
