//! The active side on tokio: the futures of [`CmId`]'s resolve and connect.

use super::connect::{CmId, RESOLVE_SLACK};
use super::connection::Connection;
use super::event_kind::EventKind;
use super::param::ConnParam;
use crate::error::Result;
use crate::qp::QueuePair;
use std::net::SocketAddr;
use std::time::Duration;

impl CmId {
    /// [`resolve_addr`](Self::resolve_addr) on tokio. Cancel safe: if the future is dropped,
    /// the next `resolve_addr*` of the same destination waits for this resolution's outcome.
    pub async fn resolve_addr_async(
        &mut self,
        src: Option<SocketAddr>,
        dst: SocketAddr,
        timeout: Duration,
    ) -> Result<()> {
        self.start_resolve_addr(src, dst, timeout)?;
        let waited = self
            .raw()
            .wait_for_async(
                EventKind::AddrResolved,
                timeout.saturating_add(RESOLVE_SLACK),
                self.dst(),
            )
            .await;
        self.settle(waited)
    }

    /// [`resolve_route`](Self::resolve_route) on tokio; cancel safe as
    /// [`resolve_addr_async`](Self::resolve_addr_async).
    pub async fn resolve_route_async(&mut self, timeout: Duration) -> Result<()> {
        self.start_resolve_route(timeout)?;
        let waited = self
            .raw()
            .wait_for_async(
                EventKind::RouteResolved,
                timeout.saturating_add(RESOLVE_SLACK),
                self.dst(),
            )
            .await;
        self.settle(waited)
    }

    /// [`connect`](Self::connect) on tokio. Dropping the future destroys the id (the peer
    /// sees the attempt end) and the QP.
    pub async fn connect_async(
        self,
        mut qp: QueuePair,
        param: &ConnParam,
        timeout: Duration,
    ) -> Result<Connection> {
        self.start_connect(&mut qp, param)?;
        let event = self
            .raw()
            .wait_for_async(EventKind::ConnectResponse, timeout, self.dst())
            .await?;
        self.finish_connect(qp, event)
    }
}
