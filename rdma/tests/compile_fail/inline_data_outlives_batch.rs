//! Inline data is copied at post time, so it must live until the batch is posted.
use rdma_verbs::{QueuePair, SendWr};

fn short_lived(qp: &mut QueuePair) {
    let mut batch = qp.send_batch::<2>();
    {
        let data = vec![1u8; 16];
        batch.push(SendWr::send(&data[..])).unwrap();
    }
    batch.post().unwrap();
}

fn main() {}
