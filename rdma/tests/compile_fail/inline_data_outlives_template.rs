//! A template of inline data borrows the data: the provider copies it at every post.
use rdma_verbs::{QueuePair, SendWr};

fn post_freed_inline_data(qp: &mut QueuePair) {
    let run = qp.run();
    let mut send = {
        let data = [0u8; 8];
        run.prepare(SendWr::send(&data[..])).unwrap()
    };
    send.post(1, true).unwrap();
}

fn main() {}
