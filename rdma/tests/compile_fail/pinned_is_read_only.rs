//! A pinned source may be read by many requests at once: the QP only lends it out shared.
use rdma_verbs::{Pinned, QueuePair};

fn write_pinned(qp: &mut QueuePair, p: Pinned) {
    qp.pinned(p).unwrap().as_mut_slice().unwrap()[0] = 1;
}

fn main() {}
