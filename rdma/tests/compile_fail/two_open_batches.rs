//! At most one open post batch per QP: a batch holds the QP mutably until posted.
use rdma_verbs::QueuePair;

fn two_batches(qp: &mut QueuePair) {
    let first = qp.send_batch::<4>();
    let second = qp.send_batch::<4>();
    first.post().unwrap();
    second.post().unwrap();
}

fn main() {}
