//! What the device benchmarks (`device_post_poll`, `device_async`) share: the device under
//! test, loopback connect options on port 1, and a QP's address as a peer on the same device.

use rdma_verbs::{Access, ConnectOptions, Context, QueuePair, RemoteQp};

/// The device under test: `$RDMA_DEVICE`, or the first one. A benchmark without a device
/// fails; it never skips.
pub fn open_device() -> Context {
    let name = std::env::var("RDMA_DEVICE").ok();
    match Context::open(name.as_deref()) {
        Ok(ctx) => ctx,
        Err(e) => panic!(
            "no RDMA device: {e}. This benchmark needs one and never skips; run it in the \
             Soft-RoCE VM: scripts/bench-device (scripts/test-device runs it too)"
        ),
    }
}

/// Connect options for a loopback pair on port 1: the perftest-chosen GID on RoCE.
pub fn options(ctx: &Context, psn: u32, access: Access) -> ConnectOptions {
    let port = ctx.active_port(1).expect("port 1 is ACTIVE");
    ConnectOptions {
        gid_index: ctx.default_gid_index(1).expect("a usable GID"),
        mtu: port.active_mtu().expect("a valid active MTU"),
        psn,
        access,
        ..ConnectOptions::default()
    }
}

/// The address of `qp` as a peer on the same device sees it.
pub fn address(ctx: &Context, qp: &QueuePair, opts: &ConnectOptions) -> RemoteQp {
    RemoteQp {
        qpn: qp.qpn(),
        psn: opts.psn,
        lid: ctx.query_port(opts.port).expect("query_port").lid(),
        gid: opts
            .gid_index
            .map(|i| ctx.query_gid(opts.port, i).expect("query_gid")),
    }
}
