//! `AsyncCq` over a CQ without a channel.

use rdma_verbs::{AsyncCq, Error, WaitMode};

#[test]
fn a_cq_without_a_channel_is_refused_naming_with_channel() {
    // SAFETY: only the stub's constructors, AsyncCq::new's checks and drop touch it.
    let ctx = unsafe { rdma_stub::context() };
    let cq = rdma_stub::completion_queue(&ctx, 8);
    let err = AsyncCq::new(cq, WaitMode::Event).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidArgument(m) if m.contains(".with_channel()")),
        "{err}"
    );
}
