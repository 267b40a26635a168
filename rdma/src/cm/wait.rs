//! Waiting on an id for its events as [`CmEvent`]s, and judging each against the awaited
//! kind. This sits above the event types rather than in `id`: a connect request event owns
//! the new connection's id, so building events needs the id, not the other way round.

use super::error::{judge, timeout_error, CmError, CmErrorKind, Verdict};
use super::event::CmEvent;
use super::event_kind::EventKind;
use super::id::RawId;
use super::request::ConnectRequest;
#[cfg(feature = "tokio")]
use crate::error::Error;
use crate::error::Result;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

impl RawId {
    /// The next event of this id if one is pending, without blocking.
    pub(crate) fn try_next(&self) -> Result<Option<CmEvent>> {
        let Some((event, child)) = self.read_event()? else {
            return Ok(None);
        };
        Ok(Some(match child {
            Some(id) => CmEvent::ConnectRequest(Box::new(ConnectRequest::new(id, event.param))),
            None => CmEvent::from_parts(event.kind, event.status, event.param),
        }))
    }

    /// Waits for the next event on tokio. Cancel safe: an event is read, copied and
    /// acknowledged within one poll of this future, so dropping it never loses one.
    #[cfg(feature = "tokio")]
    pub(crate) async fn next_async(&self) -> Result<CmEvent> {
        let afd = self.channel().async_fd()?;
        loop {
            if let Some(event) = self.try_next()? {
                return Ok(event);
            }
            let mut guard = afd.readable().await.map_err(|source| Error::Verb {
                verb: "tokio readiness of the RDMA CM channel",
                source,
            })?;
            // Clears only the readiness seen before the guard was made: an event that
            // arrived after try_next looked wakes the next readable() at once.
            guard.clear_ready();
        }
    }

    /// Reads pending events until the one awaited (`Some(Ok)`), a failure (`Some(Err)`), or
    /// none is left (`None`).
    pub(crate) fn poll_for(
        &self,
        expected: EventKind,
    ) -> Result<Option<Result<CmEvent, CmErrorKind>>> {
        while let Some(event) = self.try_next()? {
            match judge(expected, event) {
                Verdict::Done(event) => return Ok(Some(Ok(event))),
                Verdict::Skip => {}
                Verdict::Fail(kind) => return Ok(Some(Err(kind))),
            }
        }
        Ok(None)
    }

    /// Blocks until the `expected` event (or a failure, or `timeout`); errors name `peer`.
    pub(crate) fn wait_for(
        &self,
        expected: EventKind,
        timeout: Duration,
        peer: Option<SocketAddr>,
    ) -> Result<CmEvent> {
        let deadline = Instant::now().checked_add(timeout);
        loop {
            if let Some(outcome) = self.poll_for(expected)? {
                return outcome.map_err(|kind| failed(kind, peer));
            }
            if !self.channel().wait_readable(deadline)? {
                return Err(timeout_error(expected, timeout, peer));
            }
        }
    }

    /// [`wait_for`](Self::wait_for) on tokio. Cancel safe: events are consumed only in the
    /// poll that returns them.
    #[cfg(feature = "tokio")]
    pub(crate) async fn wait_for_async(
        &self,
        expected: EventKind,
        timeout: Duration,
        peer: Option<SocketAddr>,
    ) -> Result<CmEvent> {
        let wait = async {
            loop {
                if let Some(outcome) = self.poll_for(expected)? {
                    return outcome.map_err(|kind| failed(kind, peer));
                }
                let event = self.next_async().await?;
                match judge(expected, event) {
                    Verdict::Done(event) => return Ok(event),
                    Verdict::Skip => {}
                    Verdict::Fail(kind) => return Err(failed(kind, peer)),
                }
            }
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(outcome) => outcome,
            Err(_) => Err(timeout_error(expected, timeout, peer)),
        }
    }
}

/// The error of an awaited event that failed with `kind`, naming `peer`.
fn failed(kind: CmErrorKind, peer: Option<SocketAddr>) -> crate::error::Error {
    CmError {
        kind,
        peer,
        local: None,
    }
    .into()
}
