//! The active side: resolve the peer's address and route, then connect a core QP.

use super::addr::RawSockAddr;
use super::connection::Connection;
use super::error::{addr_error, CmError, CmErrorKind};
use super::event::CmEvent;
use super::event_kind::EventKind;
use super::id::RawId;
use super::param::{ConnParam, CONNECT_PRIVATE_DATA_MAX};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::qp::QueuePair;
use crate::sys::cm;
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::ptr;
use std::time::Duration;

/// Extra time a resolve waits past the timeout it gives the kernel, whose own timer reports
/// the failure as an event ([`CmErrorKind::AddrError`] with `ETIMEDOUT`).
pub(crate) const RESOLVE_SLACK: Duration = Duration::from_secs(1);

/// The active side of a connection (`struct rdma_cm_id`): [`resolve_addr`](Self::resolve_addr),
/// [`resolve_route`](Self::resolve_route), create the QP on [`context`](Self::context), then
/// [`connect`](Self::connect).
///
/// Each id has its own event channel, so its waits see only its own events. Dropping it
/// destroys the id (cancelling a resolution or connection in progress).
pub struct CmId {
    id: RawId,
    /// The destination given to `resolve_addr`, named in errors.
    dst: Option<SocketAddr>,
    /// A resolution that was started but whose outcome was not read (its wait timed out or
    /// was cancelled): the next resolve of the same step waits for it instead of restarting.
    pending: Option<EventKind>,
}

impl CmId {
    /// A new id for a reliable connection (`rdma_create_id`, TCP port space).
    pub fn new() -> Result<Self> {
        Ok(CmId {
            id: RawId::new()?,
            dst: None,
            pending: None,
        })
    }

    /// Binds a local address (`rdma_bind_addr`), e.g. to choose the source device or port;
    /// optional before [`resolve_addr`](Self::resolve_addr).
    pub fn bind_addr(&mut self, addr: SocketAddr) -> Result<()> {
        self.id
            .bind(&addr)
            .map_err(|e| addr_error(e, Some(addr), None))
    }

    /// Resolves `dst` to a local RDMA device and port (`rdma_resolve_addr`), from `src` if
    /// given, waiting up to `timeout`. An address that no RDMA device can reach fails with
    /// [`CmErrorKind::AddrError`].
    pub fn resolve_addr(
        &mut self,
        src: Option<SocketAddr>,
        dst: SocketAddr,
        timeout: Duration,
    ) -> Result<()> {
        self.start_resolve_addr(src, dst, timeout)?;
        let waited = self.id.wait_for(
            EventKind::AddrResolved,
            timeout.saturating_add(RESOLVE_SLACK),
            self.dst,
        );
        self.settle(waited)
    }

    /// Resolves the route to the destination (`rdma_resolve_route`), waiting up to
    /// `timeout`. Needs [`resolve_addr`](Self::resolve_addr) first.
    pub fn resolve_route(&mut self, timeout: Duration) -> Result<()> {
        self.start_resolve_route(timeout)?;
        let waited = self.id.wait_for(
            EventKind::RouteResolved,
            timeout.saturating_add(RESOLVE_SLACK),
            self.dst,
        );
        self.settle(waited)
    }

    /// Opens a context on the device the address resolved to, to create the PD, CQs and
    /// the QP to connect. Each call opens the device again: call it once and clone.
    pub fn context(&self) -> Result<Context> {
        self.id.context()
    }

    /// The device port the address resolved to.
    pub fn port(&self) -> u8 {
        self.id.port()
    }

    /// Moves a RESET `qp` to INIT with the connection's port, P_Key and access rights, so
    /// receives can be posted before [`connect`](Self::connect) (which does it otherwise).
    pub fn init_qp(&self, qp: &mut QueuePair) -> Result<()> {
        self.id.init_qp(qp)
    }

    /// The local address, once bound or resolved.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.id.local_addr()
    }

    /// The destination address, once resolved.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.id.peer_addr()
    }

    /// Connects `qp` (created on [`context`](Self::context), in RESET or INIT) to the
    /// resolved destination, sending `param` (its private data at most
    /// [`CONNECT_PRIVATE_DATA_MAX`] bytes), and waits up to `timeout` for the peer's answer.
    ///
    /// The QP goes INIT → RTR → RTS with the attributes the CM negotiated
    /// (`rdma_init_qp_attr`), then the connection is completed (`rdma_establish`). A peer
    /// that rejects, or an address where nobody listens, fails with
    /// [`CmErrorKind::Rejected`]; no answer with [`CmErrorKind::Unreachable`] or
    /// [`CmErrorKind::Timeout`]. On failure the id and the QP are destroyed.
    pub fn connect(
        self,
        mut qp: QueuePair,
        param: &ConnParam,
        timeout: Duration,
    ) -> Result<Connection> {
        self.start_connect(&mut qp, param)?;
        let event = self
            .id
            .wait_for(EventKind::ConnectResponse, timeout, self.dst)?;
        self.finish_connect(qp, event)
    }

    pub(crate) fn start_resolve_addr(
        &mut self,
        src: Option<SocketAddr>,
        dst: SocketAddr,
        timeout: Duration,
    ) -> Result<()> {
        if self.pending_for(EventKind::AddrResolved, Some(dst))? {
            return Ok(());
        }
        let mut src_raw = src.map(|a| RawSockAddr::new(&a));
        let mut dst_raw = RawSockAddr::new(&dst);
        let src_ptr = src_raw.as_mut().map_or(ptr::null_mut(), |s| s.as_mut_ptr());
        // SAFETY: the id is live; both addresses are valid sockaddrs read during the call.
        let ret = unsafe {
            cm::rdma_resolve_addr(
                self.id.as_ptr(),
                src_ptr,
                dst_raw.as_mut_ptr(),
                timeout_ms(timeout),
            )
        };
        self.dst = Some(dst);
        if ret != 0 {
            return Err(addr_error(
                Error::last_os("rdma_resolve_addr"),
                src,
                Some(dst),
            ));
        }
        self.pending = Some(EventKind::AddrResolved);
        Ok(())
    }

    pub(crate) fn start_resolve_route(&mut self, timeout: Duration) -> Result<()> {
        if self.pending_for(EventKind::RouteResolved, self.dst)? {
            return Ok(());
        }
        // SAFETY: the id is live.
        if unsafe { cm::rdma_resolve_route(self.id.as_ptr(), timeout_ms(timeout)) } != 0 {
            let err = Error::last_os("rdma_resolve_route");
            return Err(match err.errno() {
                Some(errno) if errno != libc::EINVAL => CmError {
                    kind: CmErrorKind::RouteError { errno },
                    peer: self.dst,
                    local: None,
                }
                .into(),
                // EINVAL: the address was not resolved first.
                _ => err,
            });
        }
        self.pending = Some(EventKind::RouteResolved);
        Ok(())
    }

    /// True if a resolution of the same step (and destination) is already under way; an
    /// error if a different one is.
    fn pending_for(&self, step: EventKind, dst: Option<SocketAddr>) -> Result<bool> {
        match self.pending {
            None => Ok(false),
            Some(p) if p == step && dst == self.dst => Ok(true),
            Some(p) => Err(Error::InvalidArgument(format!(
                "a resolution waiting for {p} is still in progress on this RDMA CM id (of {}): \
                 finish it or drop the id",
                self.dst.map_or("no address".to_string(), |a| a.to_string())
            ))),
        }
    }

    /// Ends the pending step unless its wait timed out (then it stays pending).
    pub(crate) fn settle(&mut self, waited: Result<CmEvent>) -> Result<()> {
        match waited {
            Ok(_) => {
                self.pending = None;
                Ok(())
            }
            Err(e) => {
                let timed_out = matches!(e.cm_kind(), Some(CmErrorKind::Timeout { .. }));
                if !timed_out {
                    self.pending = None;
                }
                Err(e)
            }
        }
    }

    #[cfg(feature = "tokio")]
    pub(crate) fn raw(&self) -> &RawId {
        &self.id
    }

    #[cfg(feature = "tokio")]
    pub(crate) fn dst(&self) -> Option<SocketAddr> {
        self.dst
    }

    /// Validates, moves `qp` to INIT if needed and sends the connect request.
    pub(crate) fn start_connect(&self, qp: &mut QueuePair, param: &ConnParam) -> Result<()> {
        param.validate("connect", CONNECT_PRIVATE_DATA_MAX)?;
        if let Some(step) = self.pending {
            return Err(Error::InvalidArgument(format!(
                "cannot connect: the resolution waiting for {step} has not completed"
            )));
        }
        self.id.init_qp(qp)?;
        let mut raw = param.to_raw(qp.qpn(), qp.uses_srq());
        // SAFETY: the id is live and its route resolved (else librdmacm fails with EINVAL);
        // `raw` points into `param`, which outlives the call (librdmacm copies it).
        if unsafe { cm::rdma_connect(self.id.as_ptr(), &mut raw) } != 0 {
            return Err(Error::last_os("rdma_connect"));
        }
        Ok(())
    }

    /// After the peer's CONNECT_RESPONSE: RTR, RTS, `rdma_establish`.
    pub(crate) fn finish_connect(self, mut qp: QueuePair, event: CmEvent) -> Result<Connection> {
        let CmEvent::ConnectResponse { param } = event else {
            return Err(CmError {
                kind: CmErrorKind::UnexpectedEvent {
                    expected: EventKind::ConnectResponse,
                    got: event.kind(),
                },
                peer: self.dst,
                local: None,
            }
            .into());
        };
        self.id.connect_qp(&mut qp, |_| {}, |_| {})?;
        // SAFETY: the id is live and has just received the connect response.
        if unsafe { cm::rdma_establish(self.id.as_ptr()) } != 0 {
            return Err(Error::last_os("rdma_establish"));
        }
        Ok(Connection::new(self.id, qp, param, self.dst))
    }
}

/// A resolve timeout in milliseconds for librdmacm: at least 1, at most `i32::MAX`.
fn timeout_ms(timeout: Duration) -> i32 {
    i32::try_from(timeout.as_millis())
        .unwrap_or(i32::MAX)
        .max(1)
}

impl AsFd for CmId {
    /// The id's event channel descriptor (non-blocking).
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.id.channel().as_fd()
    }
}

impl std::fmt::Debug for CmId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CmId")
            .field("local", &self.local_addr())
            .field("dst", &self.dst)
            .field("pending", &self.pending)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_timeouts_are_clamped_for_librdmacm() {
        assert_eq!(timeout_ms(Duration::ZERO), 1);
        assert_eq!(timeout_ms(Duration::from_millis(2000)), 2000);
        assert_eq!(timeout_ms(Duration::MAX), i32::MAX);
    }
}
