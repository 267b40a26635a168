//! The passive side on tokio: the futures of [`Listener::get_request`] and
//! [`ConnectRequest::accept`].

use super::connection::Connection;
use super::error::{CmError, CmErrorKind};
use super::event::CmEvent;
use super::event_kind::EventKind;
use super::listen::Listener;
use super::param::ConnParam;
use super::request::ConnectRequest;
use crate::error::Result;
use crate::qp::QueuePair;
use std::time::Duration;

impl Listener {
    /// [`get_request`](Self::get_request) on tokio. Cancel safe: a request is taken from
    /// the channel only in the poll that returns it.
    pub async fn get_request_async(&mut self, timeout: Duration) -> Result<ConnectRequest> {
        match self
            .raw()
            .wait_for_async(EventKind::ConnectRequest, timeout, None)
            .await?
        {
            CmEvent::ConnectRequest(request) => Ok(*request),
            other => Err(CmError {
                kind: CmErrorKind::UnexpectedEvent {
                    expected: EventKind::ConnectRequest,
                    got: other.kind(),
                },
                peer: None,
                local: None,
            }
            .into()),
        }
    }
}

impl ConnectRequest {
    /// [`accept`](Self::accept) on tokio. Dropping the future destroys the id (the peer is
    /// rejected or disconnected) and the QP; a peer that goes away while it waits ends it
    /// with an error.
    pub async fn accept_async(
        self,
        mut qp: QueuePair,
        param: &ConnParam,
        timeout: Duration,
    ) -> Result<Connection> {
        self.start_accept(&mut qp, param)?;
        self.raw()
            .wait_for_async(EventKind::Established, timeout, self.peer())
            .await?;
        Ok(self.into_connection(qp))
    }
}
