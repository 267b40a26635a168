//! Why a measured loop stopped.

use rdma_verbs::{CompletionError, Error, PostError};
use std::time::Duration;

/// A loop that could not finish.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A verb or a post failed.
    #[error(transparent)]
    Verb(#[from] Error),
    /// A work request completed with an error status.
    #[error(transparent)]
    Completion(#[from] CompletionError),
    /// Nothing happened for too long: the peer vanished or stalled.
    #[error("no progress for {after:?} while {what} (iteration {iteration}): the peer stopped or vanished")]
    Timeout {
        /// What the loop waited for.
        what: &'static str,
        /// The iteration it was at.
        iteration: u64,
        /// The time budget.
        after: Duration,
    },
}

impl From<PostError> for RunError {
    fn from(e: PostError) -> Self {
        RunError::Verb(e.error)
    }
}
