//! A stub QP and its helpers, shared by the test files.
#![allow(dead_code)]

use rdma_verbs::{
    Access, CompletionQueue, MemoryRegion, ProtectionDomain, QpCaps, QueuePair, WorkCompletion,
};

/// Both queues `depth` deep, one SGE, 64 bytes of inline data.
pub fn caps(depth: u32) -> QpCaps {
    QpCaps {
        max_send_wr: depth,
        max_recv_wr: depth,
        max_send_sge: 1,
        max_recv_sge: 1,
        max_inline_data: 64,
    }
}

pub struct Fixture {
    pub pd: ProtectionDomain,
    pub cq: CompletionQueue,
    pub qp: QueuePair,
}

/// A stub QP in RTS (queues `depth` deep) whose sends and receives complete on one CQ.
pub fn fixture(depth: u32, cq_depth: u32) -> Fixture {
    // SAFETY: the tests use only the stub's constructors, the data path, state changes and
    // drop on these objects.
    let ctx = unsafe { rdma_stub::context() };
    let pd = rdma_stub::protection_domain(&ctx);
    let cq = rdma_stub::completion_queue(&ctx, cq_depth);
    let qp = rdma_stub::queue_pair(&pd, &cq, &cq, caps(depth), false);
    Fixture { pd, cq, qp }
}

/// A stub region of `len` bytes.
pub fn mr(pd: &ProtectionDomain, len: usize) -> MemoryRegion {
    rdma_stub::memory_region(pd, len, Access::LOCAL_WRITE).unwrap()
}

/// The next completion on `cq` (the stub completes every request when it is posted).
pub fn poll_one(cq: &CompletionQueue) -> WorkCompletion {
    let mut wcs = [WorkCompletion::default(); 1];
    cq.poll(&mut wcs).unwrap()[0]
}
