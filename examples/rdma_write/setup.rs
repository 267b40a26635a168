//! The setup shared by both roles: the device, the port, the GID, and a PD, a CQ and an RC QP.

use std::hash::{BuildHasher, RandomState};

use rdma_exchange::{Endpoint, PingpongDest};
use rdma_verbs::gid::Gid;
use rdma_verbs::{
    Access, CompletionQueue, ConnectOptions, Context, Mtu, PortAttr, ProtectionDomain, QpCaps,
    QueuePair, RemoteBuf, RemoteQp,
};

use crate::args::Args;
use crate::output::{say, Failure};
use rdma_examples::device::OpenPort;

/// Send queue depth asked for (less if the device allows fewer).
const SQ_DEPTH: u32 = 256;

/// The opened device and the resources both roles create the same way.
pub(crate) struct Side {
    pub(crate) ctx: Context,
    pub(crate) port: PortAttr,
    pub(crate) gid_index: Option<u32>,
    pub(crate) gid: Gid,
    pub(crate) mtu: Mtu,
    pub(crate) pd: ProtectionDomain,
    pub(crate) cq: CompletionQueue,
    pub(crate) qp: QueuePair,
    pub(crate) psn: u32,
}

/// Opens the device, checks the port is ACTIVE, picks the GID index (the given one, which
/// must exist, or the perftest-like default), and creates a PD, a CQ and an RC QP.
pub(crate) fn open(args: &Args) -> Result<Side, Failure> {
    let OpenPort {
        ctx,
        attr: port,
        mtu,
        gid_index,
        gid,
        ..
    } = args.device.open()?;
    let dev = ctx.query_device()?;
    let depth = SQ_DEPTH.min(dev.max_qp_wr()).max(2);
    let pd = ProtectionDomain::new(&ctx)?;
    let cq = CompletionQueue::new(&ctx, depth + 1)?;
    let qp = QueuePair::builder(&pd, &cq, &cq)
        .caps(QpCaps {
            max_send_wr: depth,
            max_recv_wr: 1,
            max_send_sge: 1,
            max_recv_sge: 1,
            max_inline_data: 0,
        })
        .build()?;
    Ok(Side {
        ctx,
        port,
        gid_index,
        gid,
        mtu,
        pd,
        cq,
        qp,
        psn: random_psn(),
    })
}

/// A random 24-bit starting PSN (from the standard library's randomly keyed hasher).
fn random_psn() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let h = RandomState::new().hash_one((std::process::id(), nanos));
    (h & u64::from(rdma_exchange::MAX_24_BIT)) as u32
}

impl Side {
    /// Our endpoint as sent to the peer, with `buffer` if the peer may access one.
    pub(crate) fn endpoint(&self, buffer: Option<RemoteBuf>) -> Endpoint {
        Endpoint {
            lid: self.port.lid(),
            qpn: self.qp.qpn(),
            psn: self.psn,
            gid: self.gid,
            mtu: self.mtu.to_raw() as u8,
            remote_buffer: buffer,
        }
    }

    /// Connection options towards `peer`: path MTU the smaller of both sides' active MTUs.
    pub(crate) fn options(
        &self,
        args: &Args,
        peer: &Endpoint,
        access: Access,
    ) -> Result<ConnectOptions, Failure> {
        let peer_mtu = Mtu::from_raw(u32::from(peer.mtu))
            .ok_or_else(|| Failure(format!("the peer sent an invalid MTU {}", peer.mtu)))?;
        Ok(ConnectOptions {
            port: args.device.ib_port,
            gid_index: self.gid_index,
            mtu: self.mtu.min(peer_mtu),
            psn: self.psn,
            access,
            ..ConnectOptions::default()
        })
    }

    /// Prints the device, our address and the peer's.
    pub(crate) fn show(
        &self,
        args: &Args,
        mine: &Endpoint,
        peer: &Endpoint,
        opts: &ConnectOptions,
    ) {
        let gid = match self.gid_index {
            Some(i) => format!("GID index {i}"),
            None => "LID addressing".into(),
        };
        say!(
            "device {} port {}, {gid}, path MTU {}",
            self.ctx.name(),
            args.device.ib_port,
            opts.mtu
        );
        say!("  local address:  {}", PingpongDest::from(mine));
        say!("  remote address: {}", PingpongDest::from(peer));
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
