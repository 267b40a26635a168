//! An atomic's result buffer is moved into the QP: reading it before the completion hands it
//! back is impossible.
use rdma_verbs::{MemoryRegion, QueuePair, RemoteBuf, SendWr};

fn fetch_then_read(qp: &mut QueuePair, dst: MemoryRegion, remote: RemoteBuf) -> u8 {
    qp.post_send(SendWr::fetch_add(dst, remote, 1)).unwrap();
    dst.as_slice().unwrap()[0]
}

fn main() {}
