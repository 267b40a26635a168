//! A stub-provider QP and its helpers, for the QP module's unit tests.

use super::{QpCaps, QueuePair};
use crate::{stub, Access, CompletionQueue, MemoryRegion, ProtectionDomain, WorkCompletion};

/// Both queues `depth` deep, one SGE, 64 bytes of inline data.
pub(super) fn caps(depth: u32) -> QpCaps {
    QpCaps {
        max_send_wr: depth,
        max_recv_wr: depth,
        max_send_sge: 1,
        max_recv_sge: 1,
        max_inline_data: 64,
    }
}

pub(super) struct Fixture {
    pub(super) pd: ProtectionDomain,
    pub(super) cq: CompletionQueue,
    pub(super) qp: QueuePair,
}

/// A stub QP in RTS (queues `depth` deep) whose sends and receives complete on one CQ.
pub(super) fn fixture(depth: u32, cq_depth: u32) -> Fixture {
    let ctx = stub::context();
    let pd = stub::protection_domain(&ctx);
    let cq = stub::completion_queue(&ctx, cq_depth);
    let qp = stub::queue_pair(&pd, &cq, &cq, caps(depth), false);
    Fixture { pd, cq, qp }
}

/// A stub region of `len` bytes.
pub(super) fn mr(pd: &ProtectionDomain, len: usize) -> MemoryRegion {
    stub::memory_region(pd, len, Access::LOCAL_WRITE).unwrap()
}

/// The next completion on `cq` (the stub completes every request when it is posted).
pub(super) fn poll_one(cq: &CompletionQueue) -> WorkCompletion {
    let mut wcs = [WorkCompletion::default(); 1];
    cq.poll(&mut wcs).unwrap()[0]
}
