//! An established connection: the core QP plus the id that manages it.

use super::error::{CmError, CmErrorKind};
use super::event::CmEvent;
use super::event_kind::EventKind;
use super::id::RawId;
use super::param::ConnParam;
use crate::error::{Error, Result};
use crate::qp::{QpState, QueuePair};
use crate::sys::cm;
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

/// An established RDMA CM connection: an RTS [`QueuePair`] of the core (post and complete
/// through it as with any other) and the [`ConnectedId`] that reports and closes the
/// connection.
///
/// Dropping it destroys the QP, then the id, which tells the peer the connection is gone (it
/// sees [`CmEvent::Disconnected`]). Use [`into_parts`](Self::into_parts) to run the data path
/// and the connection events on different threads or tasks.
pub struct Connection {
    // Field order is drop order: the QP goes first, then the id.
    qp: QueuePair,
    id: ConnectedId,
}

/// The connection-management half of a [`Connection`]: its events, and disconnecting.
///
/// When it reads [`CmEvent::Disconnected`] it answers the peer's disconnect request at once
/// (`rdma_disconnect`), so the peer's [`disconnect`](Self::disconnect) completes without
/// waiting for a timeout.
pub struct ConnectedId {
    id: RawId,
    peer_param: ConnParam,
    peer: Option<SocketAddr>,
    /// DISCONNECTED was read.
    disconnected: bool,
    /// Our disconnect request was sent (a retried or re-polled disconnect does not resend).
    disconnect_sent: bool,
}

impl Connection {
    pub(crate) fn new(
        id: RawId,
        qp: QueuePair,
        peer_param: ConnParam,
        peer: Option<SocketAddr>,
    ) -> Self {
        Connection {
            qp,
            id: ConnectedId {
                id,
                peer_param,
                peer,
                disconnected: false,
                disconnect_sent: false,
            },
        }
    }

    /// The connected QP.
    pub fn qp(&self) -> &QueuePair {
        &self.qp
    }

    /// The connected QP, to post to and complete on.
    pub fn qp_mut(&mut self) -> &mut QueuePair {
        &mut self.qp
    }

    /// The connection-management half.
    pub fn id(&self) -> &ConnectedId {
        &self.id
    }

    /// The connection-management half, to read events or disconnect.
    pub fn id_mut(&mut self) -> &mut ConnectedId {
        &mut self.id
    }

    /// The parameters and private data the peer sent (with its connect, or its accept).
    pub fn peer_param(&self) -> &ConnParam {
        &self.id.peer_param
    }

    /// Splits the connection, e.g. to poll the QP on one thread and wait for
    /// [`CmEvent::Disconnected`] on another. The QP stays usable after the id is dropped (the
    /// peer is told the connection is gone; later sends fail on the wire).
    pub fn into_parts(self) -> (QueuePair, ConnectedId) {
        (self.qp, self.id)
    }

    /// Disconnects: moves the QP to the error state (outstanding work completes flushed, as
    /// `rdma_disconnect` does for librdmacm's own QPs), sends a disconnect request and waits
    /// up to `timeout` for the peer to answer it ([`ConnectedId::disconnect`]).
    pub fn disconnect(&mut self, timeout: Duration) -> Result<()> {
        self.flush_qp()?;
        self.id.disconnect(timeout)
    }

    pub(crate) fn flush_qp(&mut self) -> Result<()> {
        if self.qp.state() != QpState::Err {
            self.qp.set_error()?;
        }
        Ok(())
    }
}

impl ConnectedId {
    /// The parameters and private data the peer sent.
    pub fn peer_param(&self) -> &ConnParam {
        &self.peer_param
    }

    /// The peer's private data (padded with zeroes to the message size on InfiniBand/RoCE).
    pub fn peer_private_data(&self) -> &[u8] {
        &self.peer_param.private_data
    }

    /// The local address of the connection.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.id.local_addr()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.id.peer_addr()
    }

    /// True once [`CmEvent::Disconnected`] was read.
    pub fn is_disconnected(&self) -> bool {
        self.disconnected
    }

    /// The next event if one is pending, without blocking.
    pub fn try_event(&mut self) -> Result<Option<CmEvent>> {
        let event = self.id.try_next()?;
        if let Some(event) = &event {
            self.note(event);
        }
        Ok(event)
    }

    /// Reads the pending events and fails with [`CmErrorKind::Disconnected`] (or
    /// [`CmErrorKind::DeviceRemoval`]) once the connection is closed; `Ok` while it is up.
    /// Cheap enough to call between completion polls (one non-blocking read).
    pub fn ensure_connected(&mut self) -> Result<()> {
        while let Some(event) = self.try_event()? {
            if let CmEvent::DeviceRemoval = event {
                return Err(self.error(CmErrorKind::DeviceRemoval));
            }
        }
        if self.disconnected {
            return Err(self.error(CmErrorKind::Disconnected));
        }
        Ok(())
    }

    /// Waits up to `timeout` for the next event; `None` if none came.
    pub fn next_event(&mut self, timeout: Duration) -> Result<Option<CmEvent>> {
        let deadline = Instant::now().checked_add(timeout);
        loop {
            if let Some(event) = self.try_event()? {
                return Ok(Some(event));
            }
            if !self.id.channel().wait_readable(deadline)? {
                return Ok(None);
            }
        }
    }

    /// Waits up to `timeout` until the connection is closed (by the peer, or by a
    /// disconnect). Returns at once if that was already seen.
    pub fn wait_disconnected(&mut self, timeout: Duration) -> Result<()> {
        if self.disconnected {
            return Ok(());
        }
        let event = self
            .id
            .wait_for(EventKind::Disconnected, timeout, self.peer)?;
        self.note(&event);
        Ok(())
    }

    /// Sends a disconnect request (`rdma_disconnect`) and waits up to `timeout` for the
    /// connection to close: until the peer answers (its [`ConnectedId`] answers when it reads
    /// [`CmEvent::Disconnected`], librdmacm programs when they call `rdma_disconnect`, any
    /// program when it destroys its id or exits) or the IB CM gives up on the request. If the
    /// peer already closed the connection, returns at once. The QP is not touched: move it
    /// to the error state first if it is still in use ([`Connection::disconnect`] does).
    pub fn disconnect(&mut self, timeout: Duration) -> Result<()> {
        self.request_disconnect()?;
        self.wait_disconnected(timeout)
    }

    /// Sends our disconnect request unless it was sent or the connection is closed.
    pub(crate) fn request_disconnect(&mut self) -> Result<()> {
        if !self.disconnected && !self.disconnect_sent {
            self.send_disconnect()?;
            self.disconnect_sent = true;
        }
        Ok(())
    }

    fn send_disconnect(&self) -> Result<()> {
        // SAFETY: the id is live and connected (or closing).
        if unsafe { cm::rdma_disconnect(self.id.as_ptr()) } != 0 {
            return Err(Error::last_os("rdma_disconnect"));
        }
        Ok(())
    }

    /// Records what `event` says about the connection; answers a peer's disconnect.
    pub(crate) fn note(&mut self, event: &CmEvent) {
        if let CmEvent::Disconnected = event {
            if !self.disconnected {
                self.disconnected = true;
                if !self.disconnect_sent {
                    // Replies to the peer's disconnect request (IB CM DREP); a failure only
                    // means the peer no longer waits for it.
                    let _ = self.send_disconnect();
                }
            }
        }
    }

    #[cfg(feature = "tokio")]
    pub(crate) fn raw(&self) -> &RawId {
        &self.id
    }

    #[cfg(feature = "tokio")]
    pub(crate) fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    pub(crate) fn error(&self, kind: CmErrorKind) -> Error {
        CmError {
            kind,
            peer: self.peer,
            local: None,
        }
        .into()
    }
}

impl AsFd for ConnectedId {
    /// The event channel's descriptor (non-blocking), readable when an event is pending: for
    /// poll loops of your own, followed by [`try_event`](ConnectedId::try_event).
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.id.channel().as_fd()
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("qp", &self.qp)
            .field("id", &self.id)
            .finish()
    }
}

impl std::fmt::Debug for ConnectedId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectedId")
            .field("local", &self.local_addr())
            .field("peer", &self.peer)
            .field("disconnected", &self.disconnected)
            .finish()
    }
}
