//! An established connection's events and disconnect on tokio.

use super::connection::{ConnectedId, Connection};
use super::event::CmEvent;
use super::event_kind::EventKind;
use crate::error::Result;
use std::time::Duration;

impl ConnectedId {
    /// [`next_event`](Self::next_event) on tokio: the next event, or `None` after
    /// `timeout`. Cancel safe.
    pub async fn next_event_async(&mut self, timeout: Duration) -> Result<Option<CmEvent>> {
        match tokio::time::timeout(timeout, self.raw().next_async()).await {
            Ok(event) => {
                let event = event?;
                self.note(&event);
                Ok(Some(event))
            }
            Err(_elapsed) => Ok(None),
        }
    }

    /// [`wait_disconnected`](Self::wait_disconnected) on tokio. Cancel safe.
    pub async fn disconnected_async(&mut self, timeout: Duration) -> Result<()> {
        if self.is_disconnected() {
            return Ok(());
        }
        let event = self
            .raw()
            .wait_for_async(EventKind::Disconnected, timeout, self.peer())
            .await?;
        self.note(&event);
        Ok(())
    }

    /// [`disconnect`](Self::disconnect) on tokio. Cancel safe: a retry after a dropped
    /// future does not send a second request.
    pub async fn disconnect_async(&mut self, timeout: Duration) -> Result<()> {
        self.request_disconnect()?;
        self.disconnected_async(timeout).await
    }
}

impl Connection {
    /// [`disconnect`](Self::disconnect) on tokio.
    pub async fn disconnect_async(&mut self, timeout: Duration) -> Result<()> {
        self.flush_qp()?;
        self.id_mut().disconnect_async(timeout).await
    }
}
