//! A single post cannot slip in between the requests of an open batch.
use rdma_verbs::{QueuePair, SendWr};

fn interleave(qp: &mut QueuePair) {
    let batch = qp.recv_batch::<4>();
    qp.post_send(SendWr::send(&[1u8][..])).unwrap();
    batch.post().unwrap();
}

fn main() {}
