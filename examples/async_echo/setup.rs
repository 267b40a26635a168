//! The device, one CQ (with a completion channel) and one RC QP per connection, and the
//! out-of-band exchange that connects them all over one TCP connection.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use rdma_exchange::{Endpoint, OobListener, OobStream};
use rdma_verbs::gid::Gid;
use rdma_verbs::{
    Access, CompletionQueue, ConnectOptions, Mtu, ProtectionDomain, QpCaps, QueuePair, RemoteQp,
};

use crate::args::Args;
use crate::output::{say, Doing, Failure};

/// Work requests per queue: the server keeps two receives posted and echoes from one.
const DEPTH: u32 = 4;

/// The opened device and what every connection shares.
pub(crate) struct Device {
    pub(crate) pd: ProtectionDomain,
    lid: u16,
    gid_index: Option<u32>,
    gid: Gid,
    mtu: Mtu,
    port: u8,
}

/// One connection's CQ and QP (not yet connected), and the PSN it starts with.
pub(crate) struct Conn {
    pub(crate) cq: CompletionQueue,
    pub(crate) qp: QueuePair,
    psn: u32,
}

/// Opens the device, checks the port is ACTIVE and picks the GID index (the given one, which
/// must exist, or the perftest-like default).
pub(crate) fn open(args: &Args) -> Result<Device, Failure> {
    let port = args.device.open()?;
    say!(
        "device {} port {}, {}, MTU {}",
        port.ctx.name(),
        port.num,
        port.addressing(),
        port.mtu
    );
    Ok(Device {
        pd: ProtectionDomain::new(&port.ctx)?,
        lid: port.attr.lid(),
        gid_index: port.gid_index,
        gid: port.gid,
        mtu: port.mtu,
        port: port.num,
    })
}

impl Device {
    /// `n` connections, each with its own CQ and completion channel (for `rdma_verbs::AsyncCq`).
    pub(crate) fn conns(&self, n: u32) -> Result<Vec<Conn>, Failure> {
        let ctx = self.pd.context();
        let salt = RandomState::new().hash_one(std::process::id());
        (0..n)
            .map(|i| {
                let cq = CompletionQueue::builder(&ctx, 2 * DEPTH)
                    .with_channel()
                    .build()
                    .doing("creating a CQ with a completion channel")?;
                let qp = QueuePair::builder(&self.pd, &cq, &cq)
                    .caps(QpCaps {
                        max_send_wr: DEPTH,
                        max_recv_wr: DEPTH,
                        ..QpCaps::default()
                    })
                    .build()
                    .doing(&format!("creating QP {i}"))?;
                let psn = (salt.wrapping_add(u64::from(i) * 0x9e37) & 0xff_ffff) as u32;
                Ok(Conn { cq, qp, psn })
            })
            .collect()
    }

    fn endpoint(&self, c: &Conn) -> Endpoint {
        Endpoint {
            lid: self.lid,
            qpn: c.qp.qpn(),
            psn: c.psn,
            gid: self.gid,
            mtu: self.mtu.to_raw() as u8,
            remote_buffer: None,
        }
    }

    /// Connects `c` to `peer` (path MTU: the smaller of both).
    fn connect(&self, c: Conn, peer: &Endpoint, i: usize) -> Result<Conn, Failure> {
        let peer_mtu = Mtu::from_raw(u32::from(peer.mtu))
            .ok_or_else(|| Failure(format!("the peer sent an invalid MTU {}", peer.mtu)))?;
        let opts = ConnectOptions {
            port: self.port,
            gid_index: self.gid_index,
            mtu: self.mtu.min(peer_mtu),
            psn: c.psn,
            access: Access::NONE,
            ..ConnectOptions::default()
        };
        let remote = RemoteQp {
            qpn: peer.qpn,
            psn: peer.psn,
            lid: peer.lid,
            gid: (!peer.gid.is_zero()).then_some(peer.gid),
        };
        let qp =
            c.qp.connect(&remote, &opts)
                .doing(&format!("connecting QP {i}"))?;
        Ok(Conn { qp, ..c })
    }
}

/// Server side of the exchange: accepts one client, reads its endpoints (one per connection),
/// connects each QP, then answers with ours. `before_reply` runs once every QP is connected
/// and before the client learns our addresses (the server posts its receives there).
pub(crate) fn accept(
    dev: &Device,
    conns: Vec<Conn>,
    args: &Args,
    before_reply: impl FnOnce(&mut [Conn]) -> Result<(), Failure>,
) -> Result<Vec<Conn>, Failure> {
    let timeout = Duration::from_secs(args.timeout);
    let listener = OobListener::bind(args.port)?;
    say!(
        "listening on TCP port {} for a client with {} QPs",
        listener.local_port(),
        conns.len()
    );
    let mut stream = listener.accept(timeout).doing("waiting for a client")?;
    let mut peers = Vec::with_capacity(conns.len());
    for i in 0..conns.len() {
        peers.push(stream.recv_endpoint().doing(&format!(
            "reading the client's endpoint {i} (do both sides use the same --qps?)"
        ))?);
    }
    let mut conns = conns
        .into_iter()
        .zip(&peers)
        .enumerate()
        .map(|(i, (c, peer))| dev.connect(c, peer, i))
        .collect::<Result<Vec<_>, _>>()?;
    before_reply(&mut conns)?;
    for c in &conns {
        stream.send_endpoint(&dev.endpoint(c))?;
    }
    stream.recv_done().doing("waiting for the client's done")?;
    Ok(conns)
}

/// Client side of the exchange: sends our endpoints, reads the server's, connects each QP.
pub(crate) fn connect(
    dev: &Device,
    conns: Vec<Conn>,
    args: &Args,
    host: &str,
) -> Result<Vec<Conn>, Failure> {
    let timeout = Duration::from_secs(args.timeout);
    let mut stream = OobStream::connect(host, args.port, timeout)
        .doing(&format!("connecting to {host} port {}", args.port))?;
    for c in &conns {
        stream.send_endpoint(&dev.endpoint(c))?;
    }
    let mut out = Vec::with_capacity(conns.len());
    for (i, c) in conns.into_iter().enumerate() {
        let peer = stream.recv_endpoint().doing(&format!(
            "reading the server's endpoint {i} (do both sides use the same --qps?)"
        ))?;
        out.push(dev.connect(c, &peer, i)?);
    }
    stream.send_done()?;
    Ok(out)
}
