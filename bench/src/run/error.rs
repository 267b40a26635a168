//! Why a measured loop stopped, and [`qp_index`], which refuses a completion of a QP that is
//! not the run's.

use rdma_verbs::{CompletionError, Error, PostError, WorkCompletion};
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

/// Which of the run's QPs (by number, `qpns`) a completion belongs to; a completion of any
/// other QP is an error (it cannot happen when the CQ is the run's own).
#[inline]
pub(super) fn qp_index(qpns: &[u32], wc: &WorkCompletion) -> Result<usize, RunError> {
    qpns.iter().position(|&q| q == wc.qp_num()).ok_or_else(|| {
        RunError::Verb(Error::ForeignCompletion {
            wr_id: wc.raw_wr_id(),
            qp_num: wc.qp_num(),
            owner: "the benchmark's QPs".into(),
        })
    })
}
