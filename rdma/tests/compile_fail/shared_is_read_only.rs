//! A shared source may be read by many requests at once: the QP only lends it out shared.
use rdma_verbs::{Shared, QueuePair};

fn write_shared(qp: &mut QueuePair, p: Shared) {
    qp.shared(p).unwrap().as_mut_slice().unwrap()[0] = 1;
}

fn main() {}
