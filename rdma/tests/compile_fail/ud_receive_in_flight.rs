//! A buffer handed to a UD receive cannot be read until its completion hands it back: the
//! device writes the datagram's payload there at any moment meanwhile.
use rdma_verbs::ud::UdQueuePair;
use rdma_verbs::{MemoryRegion, RecvWr};

fn post_then_read(qp: &mut UdQueuePair, buf: MemoryRegion) -> u8 {
    qp.post_recv(RecvWr::recv(buf)).unwrap();
    buf.as_slice().unwrap()[0]
}

fn main() {}
