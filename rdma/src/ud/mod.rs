//! Unreliable datagram queue pairs: [`UdQueuePair`], its peers and its completions.
//!
//! A UD QP has no peer of its own: each send names its destination, a [`Peer`] of the QP (an
//! [`AddressHandle`](crate::AddressHandle), the remote QP number and Q_Key), and each receive
//! may come from any UD QP that knows the Q_Key. The ownership model is the connected QPs':
//! buffers are owned (or shared, or sinks) while the device may touch them and handed back by
//! [`UdQueuePair::complete`].
//!
//! # The 40 bytes before a datagram
//! A UD receive puts a 40-byte Global Routing Header (or, on RoCE v2 over IPv4, an IPv4
//! header in its last 20 bytes; or nothing) before the payload. The QP posts every receive
//! with a first scatter entry of its own, one 40-byte slot per receive, so a receive buffer
//! holds the payload only, from its first byte, and the completion's `byte_len` counts the
//! payload only. The header comes back apart, with the sender's address, as a [`Sender`].

mod completion;
mod peer;
mod post;

pub use completion::{Sender, UdCompletion};
pub use peer::Peer;

use crate::cq::CompletionQueue;
use crate::error::{Error, Result};
use crate::mr::MemoryRegion;
use crate::pd::ProtectionDomain;
use crate::qp::{
    ConnectOptions, QpAttr, QpBuilder, QpCaps, QpState, QpType, QueuePair, RemoteQp, Shared, Sink,
};
use crate::Access;
use peer::PeerSlot;
use std::fmt;

/// The size of the header area before each datagram (`sizeof(struct ibv_grh)`).
pub const GRH_LEN: usize = 40;

/// The Q_Key `ibv_ud_pingpong` and perftest use, and the default here.
pub const DEFAULT_QKEY: u32 = 0x1111_1111;

/// An unreliable datagram queue pair (`IBV_QPT_UD`), ready to send and receive once built.
///
/// Sends are SENDs (with immediate data or not) of at most one path MTU, each to a [`Peer`];
/// receives take datagrams from any UD QP that uses this QP's Q_Key. Posting needs
/// `&mut self`, as on a [`QueuePair`].
pub struct UdQueuePair {
    pub(crate) qp: QueuePair,
    /// The address of the GRH slots (`lifelong` of `qp`: `slots * GRH_LEN` bytes, one slot
    /// per receive ring slot) and their lkey.
    grh_addr: u64,
    grh_lkey: u32,
    pub(crate) peers: Vec<PeerSlot>,
    qkey: u32,
    /// The largest message a send may carry: the port's active MTU when the QP was built.
    max_msg: u32,
}

/// Options for [`UdQueuePair::builder`].
pub struct UdBuilder<'a> {
    qp: QpBuilder<'a>,
    qkey: u32,
    port: u8,
    pkey_index: u16,
    psn: u32,
}

impl<'a> UdBuilder<'a> {
    /// The Q_Key receives accept (default [`DEFAULT_QKEY`]); peers send with it.
    pub fn qkey(mut self, qkey: u32) -> Self {
        self.qkey = qkey;
        self
    }
    /// The port the QP uses (default 1).
    pub fn port(mut self, port: u8) -> Self {
        self.port = port;
        self
    }
    /// The P_Key index (default 0).
    pub fn pkey_index(mut self, i: u16) -> Self {
        self.pkey_index = i;
        self
    }
    /// The first send PSN (24 bits, default 0).
    pub fn psn(mut self, psn: u32) -> Self {
        self.psn = psn;
        self
    }
    /// Queue capacities (default [`QpCaps::default`]). `max_recv_sge` counts the caller's
    /// scatter entries: the QP adds one of its own for the header.
    pub fn caps(mut self, caps: QpCaps) -> Self {
        self.qp = self.qp.caps(caps);
        self
    }
    /// Send queue depth.
    pub fn max_send_wr(mut self, n: u32) -> Self {
        self.qp = self.qp.max_send_wr(n);
        self
    }
    /// Receive queue depth.
    pub fn max_recv_wr(mut self, n: u32) -> Self {
        self.qp = self.qp.max_recv_wr(n);
        self
    }
    /// Largest inline send.
    pub fn max_inline_data(mut self, n: u32) -> Self {
        self.qp = self.qp.max_inline_data(n);
        self
    }
    /// Generate a completion for every send, whatever its `signaled` flag says.
    pub fn sig_all(mut self, yes: bool) -> Self {
        self.qp = self.qp.sig_all(yes);
        self
    }

    /// Creates the QP (`ibv_create_qp`, `IBV_QPT_UD`), registers its header slots and takes
    /// it through INIT (port, P_Key index, Q_Key) and RTR to RTS: it can send and receive.
    pub fn build(self) -> Result<UdQueuePair> {
        let pd = self.qp.pd_ref().clone();
        let port = pd.context().query_port(self.port)?;
        let max_msg = port.active_mtu().map_or(256, |m| m.bytes());
        if self.psn > 0xff_ffff {
            return Err(Error::InvalidArgument(format!(
                "a PSN is 24 bits, {:#x} is not",
                self.psn
            )));
        }
        let mut caps = self.qp.caps_ref();
        caps.max_recv_sge = caps.max_recv_sge.saturating_add(1);
        let mut qp = self.qp.caps(caps).qp_type(QpType::Ud).create()?;
        qp.caps.max_recv_sge = qp.caps.max_recv_sge.saturating_sub(1);
        let grh = MemoryRegion::new(&pd, qp.rq.slot_count() * GRH_LEN, Access::LOCAL_WRITE)?;
        let (grh_addr, grh_lkey) = (grh.addr(), grh.lkey());
        // Before any receive is posted: from here the device may write the slots.
        qp.lifelong = Some(grh);
        qp.modify(
            &QpAttr::new()
                .state(QpState::Init)
                .pkey_index(self.pkey_index)
                .port(self.port)
                .qkey(self.qkey),
        )?;
        qp.modify(&QpAttr::new().state(QpState::Rtr))?;
        qp.modify(&QpAttr::new().state(QpState::Rts).sq_psn(self.psn))?;
        Ok(UdQueuePair {
            qp,
            grh_addr,
            grh_lkey,
            peers: Vec::new(),
            qkey: self.qkey,
            max_msg,
        })
    }
}

impl UdQueuePair {
    /// A builder for a UD QP on `pd` whose sends complete on `send_cq` and receives on
    /// `recv_cq` (the same CQ is fine).
    pub fn builder<'a>(
        pd: &'a ProtectionDomain,
        send_cq: &'a CompletionQueue,
        recv_cq: &'a CompletionQueue,
    ) -> UdBuilder<'a> {
        UdBuilder {
            qp: QueuePair::builder(pd, send_cq, recv_cq),
            qkey: DEFAULT_QKEY,
            port: 1,
            pkey_index: 0,
            psn: 0,
        }
    }

    /// The QP number, which peers send to.
    #[inline]
    pub fn qpn(&self) -> u32 {
        self.qp.qpn()
    }
    /// What a peer needs to send to this QP with `opts` (its port and GID index): its
    /// number, `opts.psn`, the port's LID and GID, as [`QueuePair::address`] gives them.
    /// The peer makes an [`AddressHandle`](crate::AddressHandle) of it
    /// ([`AddressHandle::to`](crate::AddressHandle::to)).
    pub fn address(&self, opts: &ConnectOptions) -> Result<RemoteQp> {
        self.qp.address(opts)
    }
    /// The Q_Key the QP receives with.
    pub fn qkey(&self) -> u32 {
        self.qkey
    }
    /// The port the QP uses.
    pub fn port(&self) -> u8 {
        self.qp.port()
    }
    /// The largest message a send may carry: the port's active MTU when the QP was built.
    pub fn max_message(&self) -> u32 {
        self.max_msg
    }
    /// The actual capacities the provider gave (`max_recv_sge` without the header's entry).
    pub fn caps(&self) -> QpCaps {
        self.qp.caps()
    }
    /// The state as last set through this handle.
    pub fn state(&self) -> QpState {
        self.qp.state()
    }
    /// Asks the device for the QP's current state.
    pub fn query_state(&mut self) -> Result<QpState> {
        self.qp.query_state()
    }
    /// Moves the QP to the error state: outstanding work completes flushed.
    pub fn set_error(&mut self) -> Result<()> {
        self.qp.set_error()
    }
    /// The protection domain.
    pub fn pd(&self) -> ProtectionDomain {
        self.qp.pd()
    }
    /// Outstanding sends.
    pub fn send_outstanding(&self) -> u64 {
        self.qp.send_outstanding()
    }
    /// Outstanding receives.
    pub fn recv_outstanding(&self) -> u64 {
        self.qp.recv_outstanding()
    }
    /// The raw QP pointer (valid while this QP lives).
    pub fn as_raw(&self) -> *mut crate::sys::ibv_qp {
        self.qp.as_raw()
    }

    /// Gives the QP a read-only source buffer many sends may share
    /// ([`QueuePair::share`]).
    pub fn share(&mut self, mr: MemoryRegion) -> Shared {
        self.qp.share(mr)
    }
    /// A shared buffer, read-only.
    pub fn shared(&self, p: Shared) -> Option<&MemoryRegion> {
        self.qp.shared(p)
    }
    /// Takes a shared buffer back, once no outstanding send uses it.
    pub fn unshare(&mut self, p: Shared) -> Result<MemoryRegion> {
        self.qp.unshare(p)
    }
    /// Gives the QP a write-only target for receives ([`QueuePair::sink`]).
    pub fn sink(&mut self, mr: MemoryRegion) -> Sink {
        self.qp.sink(mr)
    }
    /// Takes a sink back, once no outstanding receive writes it.
    pub fn unsink(&mut self, s: Sink) -> Result<MemoryRegion> {
        self.qp.unsink(s)
    }

    /// The SGE of the header slot of the receive with sequence number `seq`.
    #[inline(always)]
    fn grh_sge(&self, seq: u64) -> crate::sys::ibv_sge {
        crate::sys::ibv_sge {
            addr: self.grh_addr + (self.qp.rq.slot_index(seq) * GRH_LEN) as u64,
            length: GRH_LEN as u32,
            lkey: self.grh_lkey,
        }
    }
}

impl fmt::Debug for UdQueuePair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdQueuePair")
            .field("qpn", &format_args!("{:#x}", self.qp.qpn()))
            .field("qkey", &format_args!("{:#x}", self.qkey))
            .field("max_message", &self.max_msg)
            .field(
                "peers",
                &self.peers.iter().filter(|p| p.ah.is_some()).count(),
            )
            .field("send_outstanding", &self.qp.send_outstanding())
            .field("recv_outstanding", &self.qp.recv_outstanding())
            .finish()
    }
}
