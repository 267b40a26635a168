//! What both sides set up the same way: the device (which must support atomics), RC QPs,
//! their `RDMA-EP/1` endpoints and connection options.

use std::hash::{BuildHasher, RandomState};

use rdma_examples::device::{DeviceArgs, OpenPort};
use rdma_exchange::Endpoint;
use rdma_verbs::sys::ibv_atomic_cap::IBV_ATOMIC_NONE;
use rdma_verbs::{
    Access, CompletionQueue, ConnectOptions, Mtu, ProtectionDomain, QpCaps, QueuePair, RemoteBuf,
    RemoteQp,
};

use crate::output::Failure;

/// The most RDMA READs and atomics a QP answers at once (fewer if the device allows fewer).
const MAX_DEST_RD_ATOMIC: u32 = 16;

/// An opened device port with a protection domain.
pub(crate) struct Device {
    /// The port, its address and the device.
    pub(crate) port: OpenPort,
    /// The protection domain of every QP and region.
    pub(crate) pd: ProtectionDomain,
    /// How many incoming READs and atomics a QP of this device may answer at once.
    pub(crate) max_dest_rd_atomic: u8,
}

/// Opens the device's port (ACTIVE, with its GID) and checks that the device does atomics and
/// lets a QP have one READ or atomic outstanding.
pub(crate) fn open(args: &DeviceArgs) -> Result<Device, Failure> {
    let port = args.open()?;
    let dev = port.ctx.query_device()?;
    if dev.atomic_cap() == IBV_ATOMIC_NONE {
        return Err(Failure(format!(
            "{} does not support atomic operations (its atomic_cap is IBV_ATOMIC_NONE)",
            port.ctx.name()
        )));
    }
    if dev.max_qp_init_rd_atom() == 0 || dev.max_qp_rd_atom() == 0 {
        return Err(Failure(format!(
            "{} allows no outstanding RDMA READ or atomic per QP (max_qp_init_rd_atom {}, \
             max_qp_rd_atom {})",
            port.ctx.name(),
            dev.max_qp_init_rd_atom(),
            dev.max_qp_rd_atom()
        )));
    }
    let max_dest_rd_atomic = dev.max_qp_rd_atom().min(MAX_DEST_RD_ATOMIC) as u8;
    let pd = ProtectionDomain::new(&port.ctx)?;
    Ok(Device {
        port,
        pd,
        max_dest_rd_atomic,
    })
}

impl Device {
    /// An RC QP on `cq` with room for `send_depth` send requests and one receive.
    pub(crate) fn qp(&self, cq: &CompletionQueue, send_depth: u32) -> Result<QueuePair, Failure> {
        let qp = QueuePair::builder(&self.pd, cq, cq)
            .caps(QpCaps {
                max_send_wr: send_depth,
                max_recv_wr: 1,
                max_send_sge: 1,
                max_recv_sge: 1,
                max_inline_data: 0,
            })
            .build()?;
        Ok(qp)
    }

    /// `qp`'s endpoint as sent to the peer, starting at `psn`, with `buffer` if the peer may
    /// access one.
    pub(crate) fn endpoint(&self, qp: &QueuePair, psn: u32, buffer: Option<RemoteBuf>) -> Endpoint {
        Endpoint {
            lid: self.port.attr.lid(),
            qpn: qp.qpn(),
            psn,
            gid: self.port.gid,
            mtu: self.port.mtu.to_raw() as u8,
            remote_buffer: buffer,
        }
    }

    /// Options to connect towards `peer`: the smaller of both MTUs, our `psn`, the `access`
    /// granted to the peer, one READ or atomic outstanding towards it, and as many answered
    /// at once as the device allows.
    pub(crate) fn options(
        &self,
        peer: &Endpoint,
        psn: u32,
        access: Access,
    ) -> Result<ConnectOptions, Failure> {
        let peer_mtu = Mtu::from_raw(u32::from(peer.mtu))
            .ok_or_else(|| Failure(format!("the peer sent an invalid MTU {}", peer.mtu)))?;
        Ok(ConnectOptions {
            port: self.port.num,
            gid_index: self.port.gid_index,
            mtu: self.port.mtu.min(peer_mtu),
            psn,
            access,
            max_rd_atomic: 1,
            max_dest_rd_atomic: self.max_dest_rd_atomic,
            ..ConnectOptions::default()
        })
    }

    /// `device rxe0 port 1, GID index 1, MTU 1024`.
    pub(crate) fn describe(&self) -> String {
        format!(
            "device {} port {}, {}, MTU {}",
            self.port.ctx.name(),
            self.port.num,
            self.port.addressing(),
            self.port.mtu
        )
    }
}

/// The peer as [`QueuePair::connect`] wants it (an all-zero GID means LID addressing).
pub(crate) fn remote_qp(peer: &Endpoint) -> RemoteQp {
    RemoteQp {
        qpn: peer.qpn,
        psn: peer.psn,
        lid: peer.lid,
        gid: (!peer.gid.is_zero()).then_some(peer.gid),
    }
}

/// A random 24-bit starting PSN (from the standard library's randomly keyed hasher).
pub(crate) fn random_psn() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let h = RandomState::new().hash_one((std::process::id(), nanos));
    (h & u64::from(rdma_exchange::MAX_24_BIT)) as u32
}
