//! The passive side: listen, take connect requests, accept them (the request itself, what
//! it reports and its reject, is in `request`).

use super::connection::Connection;
use super::error::{addr_error, timeout_error, CmError, CmErrorKind};
use super::event::CmEvent;
use super::event_kind::EventKind;
use super::id::RawId;
use super::param::{ConnParam, ACCEPT_PRIVATE_DATA_MAX};
use super::request::ConnectRequest;
use crate::error::{Error, Result};
use crate::qp::QueuePair;
use crate::sys::cm;
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

/// A listening id: reports connect requests ([`get_request`](Self::get_request)).
pub struct Listener {
    id: RawId,
}

impl Listener {
    /// Binds `addr` (`0.0.0.0`/`[::]` for every RDMA device, port 0 for one the kernel
    /// picks, see [`local_addr`](Self::local_addr)) and listens with room for `backlog`
    /// pending requests (`rdma_bind_addr`, `rdma_listen`).
    pub fn bind(addr: SocketAddr, backlog: u16) -> Result<Self> {
        let mut id = RawId::new()?;
        id.bind(&addr)
            .map_err(|e| addr_error(e, Some(addr), None))?;
        // SAFETY: the id is live and bound.
        if unsafe { cm::rdma_listen(id.as_ptr(), i32::from(backlog)) } != 0 {
            return Err(Error::last_os("rdma_listen"));
        }
        Ok(Listener { id })
    }

    /// The bound address, with the port the kernel chose if 0 was asked for.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.id.local_addr()
    }

    /// Waits up to `timeout` for the next connect request. Other events of a listener
    /// (address changes) are skipped; a device removal is [`CmErrorKind::DeviceRemoval`].
    pub fn get_request(&mut self, timeout: Duration) -> Result<ConnectRequest> {
        let deadline = Instant::now().checked_add(timeout);
        loop {
            if let Some(request) = self.try_request()? {
                return Ok(request);
            }
            if !self.id.channel().wait_readable(deadline)? {
                return Err(timeout_error(EventKind::ConnectRequest, timeout, None));
            }
        }
    }

    /// The next connect request if one is pending, without blocking.
    pub fn try_request(&mut self) -> Result<Option<ConnectRequest>> {
        match self.id.poll_for(EventKind::ConnectRequest)? {
            None => Ok(None),
            Some(Ok(CmEvent::ConnectRequest(request))) => Ok(Some(*request)),
            Some(Ok(other)) => Err(unexpected(EventKind::ConnectRequest, other.kind(), None)),
            Some(Err(kind)) => Err(CmError {
                kind,
                peer: None,
                local: None,
            }
            .into()),
        }
    }

    #[cfg(feature = "tokio")]
    pub(crate) fn raw(&self) -> &RawId {
        &self.id
    }
}

impl ConnectRequest {
    /// Accepts with `qp` (created on [`context`](Self::context), RESET or INIT), sending
    /// `param` (private data at most [`ACCEPT_PRIVATE_DATA_MAX`] bytes), and waits up to
    /// `timeout` for the connection to be established.
    ///
    /// The QP goes INIT → RTR → RTS with the attributes the CM negotiated (RDMA reads
    /// limited to `param`'s `responder_resources` and `initiator_depth`) before
    /// `rdma_accept`, as librdmacm does for its own QPs. On failure the peer is rejected (if
    /// it was not accepted yet) and the id and QP are destroyed; when the failure is the
    /// peer going away, the error says so ([`CmErrorKind::Rejected`],
    /// [`CmErrorKind::Disconnected`], …).
    pub fn accept(
        self,
        mut qp: QueuePair,
        param: &ConnParam,
        timeout: Duration,
    ) -> Result<Connection> {
        self.start_accept(&mut qp, param)?;
        self.raw()
            .wait_for(EventKind::Established, timeout, self.peer())?;
        Ok(self.into_connection(qp))
    }

    /// Validates, moves `qp` to RTS and sends the accept. On failure the peer is rejected
    /// and the error explains a failure caused by the peer when an event says so.
    pub(crate) fn start_accept(&self, qp: &mut QueuePair, param: &ConnParam) -> Result<()> {
        param.validate("accept", ACCEPT_PRIVATE_DATA_MAX)?;
        let sent = self.transition_and_accept(qp, param);
        if let Err(err) = sent {
            // Tell the peer now rather than when the id is destroyed; it may be gone already.
            let _ = self.send_reject(&[]);
            return Err(self.explain(err));
        }
        Ok(())
    }

    fn transition_and_accept(&self, qp: &mut QueuePair, param: &ConnParam) -> Result<()> {
        // As librdmacm's rdma_accept: never offer more RDMA-read resources than the peer
        // asked to use, nor use more than it offered.
        let offer = ConnParam {
            responder_resources: param.responder_resources.min(self.param().initiator_depth),
            initiator_depth: param.initiator_depth.min(self.param().responder_resources),
            ..param.clone()
        };
        self.raw().connect_qp(
            qp,
            |rtr| rtr.max_dest_rd_atomic = rtr.max_dest_rd_atomic.min(offer.responder_resources),
            |rts| rts.max_rd_atomic = rts.max_rd_atomic.min(offer.initiator_depth),
        )?;
        let mut raw = offer.to_raw(qp.qpn(), qp.uses_srq());
        // SAFETY: the id is live with a pending request; `raw` points into `offer`, which
        // outlives the call (librdmacm copies it).
        if unsafe { cm::rdma_accept(self.raw().as_ptr(), &mut raw) } != 0 {
            return Err(Error::last_os("rdma_accept"));
        }
        Ok(())
    }

    /// `err`, or the typed reason when the peer went away: an event that says so, or the CM
    /// refusing the request's steps (`EINVAL`; the request's id reports no events before
    /// it is accepted, so a peer that gave up before shows only this way).
    fn explain(&self, err: Error) -> Error {
        let kind = match self.raw().poll_for(EventKind::Established) {
            Ok(Some(Err(kind))) => kind,
            _ if err.errno() == Some(libc::EINVAL)
                && matches!(err.verb(), Some("rdma_init_qp_attr" | "rdma_accept")) =>
            {
                CmErrorKind::RequestAbandoned
            }
            _ => return err,
        };
        CmError {
            kind,
            peer: self.peer(),
            local: None,
        }
        .into()
    }

    pub(crate) fn into_connection(self, qp: QueuePair) -> Connection {
        let (id, param, peer) = self.into_parts();
        Connection::new(id, qp, param, peer)
    }
}

fn unexpected(expected: EventKind, got: EventKind, peer: Option<SocketAddr>) -> Error {
    CmError {
        kind: CmErrorKind::UnexpectedEvent { expected, got },
        peer,
        local: None,
    }
    .into()
}

impl AsFd for Listener {
    /// The listener's event channel descriptor (non-blocking), readable when a request is
    /// pending: for poll loops of your own, followed by [`Listener::try_request`].
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.id.channel().as_fd()
    }
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("local", &self.local_addr())
            .finish()
    }
}
