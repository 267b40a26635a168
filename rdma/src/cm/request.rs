//! A peer's connect request as the event delivers it: what the peer asked for and the new id
//! that will carry the connection. Accepting it is the passive side's step, in `listen`;
//! rejecting it needs only the id and is here.

use super::id::RawId;
use super::param::{ConnParam, REJECT_PRIVATE_DATA_MAX};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::qp::QueuePair;
use crate::sys::cm;
use std::net::SocketAddr;

/// A peer's request to connect, with the new id that will carry the connection (on an event
/// channel of its own). [`accept`](Self::accept) it with a QP created on its
/// [`context`](Self::context), or [`reject`](Self::reject) it; dropping it rejects it.
pub struct ConnectRequest {
    id: RawId,
    param: ConnParam,
    peer: Option<SocketAddr>,
}

impl ConnectRequest {
    pub(crate) fn new(id: RawId, param: ConnParam) -> Self {
        let peer = id.peer_addr();
        ConnectRequest { id, param, peer }
    }

    /// The parameters the peer asked for, with its private data (padded with zeroes to
    /// [`CONNECT_PRIVATE_DATA_MAX`](super::CONNECT_PRIVATE_DATA_MAX) bytes on
    /// InfiniBand/RoCE).
    pub fn param(&self) -> &ConnParam {
        &self.param
    }

    /// The peer's private data.
    pub fn private_data(&self) -> &[u8] {
        &self.param.private_data
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// The local address the request came to.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.id.local_addr()
    }

    /// Opens a context on the device the request came in on, to create the PD, CQs and QP
    /// to accept with. Each call opens the device again: call it once and clone.
    pub fn context(&self) -> Result<Context> {
        self.id.context()
    }

    /// The device port the request came in on.
    pub fn port(&self) -> u8 {
        self.id.port()
    }

    /// Moves a RESET `qp` to INIT for this connection, so receives can be posted before
    /// [`accept`](Self::accept) (which does it otherwise).
    pub fn init_qp(&self, qp: &mut QueuePair) -> Result<()> {
        self.id.init_qp(qp)
    }

    /// Rejects the request, sending `private_data` (at most [`REJECT_PRIVATE_DATA_MAX`]
    /// bytes); the peer's connect fails with
    /// [`CmErrorKind::Rejected`](super::CmErrorKind::Rejected) (status 28 on
    /// InfiniBand/RoCE) carrying it.
    pub fn reject(self, private_data: &[u8]) -> Result<()> {
        if private_data.len() > REJECT_PRIVATE_DATA_MAX {
            return Err(Error::InvalidArgument(format!(
                "RDMA CM reject: {} bytes of private data, the most it carries is \
                 {REJECT_PRIVATE_DATA_MAX}",
                private_data.len()
            )));
        }
        self.send_reject(private_data)
    }

    /// `rdma_reject` with `private_data` (at most [`REJECT_PRIVATE_DATA_MAX`] bytes).
    pub(crate) fn send_reject(&self, private_data: &[u8]) -> Result<()> {
        let ptr = if private_data.is_empty() {
            std::ptr::null()
        } else {
            private_data.as_ptr().cast()
        };
        // SAFETY: the id is live with a pending request; the data is read during the call
        // and its length was checked to fit the u8 field.
        if unsafe { cm::rdma_reject(self.id.as_ptr(), ptr, private_data.len() as u8) } != 0 {
            return Err(Error::last_os("rdma_reject"));
        }
        Ok(())
    }

    /// The request's id.
    pub(crate) fn raw(&self) -> &RawId {
        &self.id
    }

    /// The peer's address, as the request reported it.
    pub(crate) fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// The id, the peer's parameters and its address, to build the connection from.
    pub(crate) fn into_parts(self) -> (RawId, ConnParam, Option<SocketAddr>) {
        (self.id, self.param, self.peer)
    }
}

impl std::fmt::Debug for ConnectRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectRequest")
            .field("peer", &self.peer)
            .field("param", &self.param)
            .finish()
    }
}
