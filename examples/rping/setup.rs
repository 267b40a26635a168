//! The verbs objects of one connection, as the C tool makes them: a PD, one CQ with a
//! completion channel for sends and receives, an RC QP (16 sends, 2 receives), and the
//! buffers.

use rdma_examples::rping::INFO_LEN;
use rdma_verbs::async_cq::{AsyncCq, WaitMode};
use rdma_verbs::{
    Access, CompletionQueue, Context, MemoryRegion, ProtectionDomain, QpCaps, QueuePair,
};

use crate::output::Failure;

/// Send queue depth (`RPING_SQ_DEPTH`).
const SQ_DEPTH: u32 = 16;

/// The objects a connection is made of, before it connects.
pub(crate) struct Verbs {
    pub(crate) pd: ProtectionDomain,
    pub(crate) cq: AsyncCq,
    pub(crate) qp: QueuePair,
}

/// Creates the PD, CQ and QP on `ctx` (inside the tokio runtime: the CQ is awaited).
pub(crate) fn create(ctx: &Context) -> Result<Verbs, Failure> {
    let pd = ProtectionDomain::new(ctx)?;
    let cq = CompletionQueue::builder(ctx, SQ_DEPTH * 2)
        .with_channel()
        .build()?;
    let qp = QueuePair::builder(&pd, &cq, &cq)
        .caps(QpCaps {
            max_send_wr: SQ_DEPTH,
            max_recv_wr: 2,
            max_send_sge: 1,
            max_recv_sge: 1,
            // The 16-byte messages go inline: no send buffer to track.
            max_inline_data: INFO_LEN as u32,
        })
        .build()?;
    let cq = AsyncCq::new(cq, WaitMode::Event)?;
    Ok(Verbs { pd, cq, qp })
}

/// The receive buffer of the 16-byte messages.
pub(crate) fn recv_buf(pd: &ProtectionDomain) -> Result<MemoryRegion, Failure> {
    Ok(MemoryRegion::new(pd, INFO_LEN, Access::LOCAL_WRITE)?)
}

/// A ping-data buffer of `size` bytes with the rights `access`.
pub(crate) fn data_buf(
    pd: &ProtectionDomain,
    size: u32,
    access: Access,
) -> Result<MemoryRegion, Failure> {
    Ok(MemoryRegion::new(pd, size as usize, access)?)
}
