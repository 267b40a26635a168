//! UD pairs for the device tests: two UD QPs on one device and the handles between them.

use crate::{caps64, device, loopback_options, poll_n, TIMEOUT};
use rdma_verbs::ud::{UdCompletion, UdQueuePair};
use rdma_verbs::{
    Access, AddressHandle, CompletionQueue, ConnectOptions, Context, MemoryRegion,
    ProtectionDomain, QpCaps,
};

/// Two UD QPs on one device, each with its own CQ, and the options their addresses use.
pub struct UdPair {
    /// The context.
    pub ctx: Context,
    /// The PD both use.
    pub pd: ProtectionDomain,
    /// A's CQ (send and receive).
    pub cq_a: CompletionQueue,
    /// B's CQ.
    pub cq_b: CompletionQueue,
    /// QP A.
    pub a: UdQueuePair,
    /// QP B.
    pub b: UdQueuePair,
    /// The options both addresses are made with.
    pub opts: ConnectOptions,
}

impl UdPair {
    /// Two QPs of 64-deep queues, ready; addresses with hop limit 64 (as `ibv_ud_pingpong`).
    pub fn open() -> UdPair {
        Self::with_caps(caps64())
    }

    /// [`open`](Self::open) with queues of `caps`.
    pub fn with_caps(caps: QpCaps) -> UdPair {
        let ctx = device();
        let pd = ProtectionDomain::new(&ctx).unwrap();
        let cq_a = CompletionQueue::new(&ctx, 128).unwrap();
        let cq_b = CompletionQueue::new(&ctx, 128).unwrap();
        let a = UdQueuePair::builder(&pd, &cq_a, &cq_a)
            .caps(caps)
            .build()
            .unwrap();
        let b = UdQueuePair::builder(&pd, &cq_b, &cq_b)
            .caps(caps)
            .build()
            .unwrap();
        let mut opts = loopback_options(&ctx, 0, Access::NONE);
        opts.hop_limit = 64;
        UdPair {
            ctx,
            pd,
            cq_a,
            cq_b,
            a,
            b,
            opts,
        }
    }

    /// An address handle for `to`, made from its address as a peer would get it.
    pub fn ah(&self, to: &UdQueuePair) -> AddressHandle {
        let addr = to.address(&self.opts).unwrap();
        AddressHandle::to(&self.pd, &addr, &self.opts).unwrap()
    }

    /// A zeroed local region.
    pub fn mr(&self, len: usize) -> MemoryRegion {
        MemoryRegion::new(&self.pd, len, Access::LOCAL_WRITE).unwrap()
    }

    /// A local region holding `data`.
    pub fn filled(&self, data: &[u8]) -> MemoryRegion {
        let mut mr = self.mr(data.len());
        mr.as_mut_slice().unwrap().copy_from_slice(data);
        mr
    }
}

/// Polls `n` completions of `qp` from `cq` and hands them back to it.
pub fn complete_all(qp: &mut UdQueuePair, cq: &CompletionQueue, n: usize) -> Vec<UdCompletion> {
    poll_n(cq, n, TIMEOUT)
        .iter()
        .map(|wc| qp.complete(wc).unwrap())
        .collect()
}
