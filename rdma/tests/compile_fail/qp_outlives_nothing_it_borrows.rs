//! A batch cannot outlive the QP it posts to.
use rdma_verbs::{QueuePair, SendBatch};

fn escape(qp: QueuePair) -> SendBatch<'static, 'static, 4> {
    let mut qp = qp;
    qp.send_batch::<4>()
}

fn main() {}
