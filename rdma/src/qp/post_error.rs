//! [`PostError`]: a refused or failed post, with the buffers it hands back.

use crate::error::Error;
use crate::mr::MemoryRegion;
use std::fmt;

/// A post that failed: the error, how many requests of a batch were posted before it, and the
/// buffers of the requests that were not posted, handed back.
pub struct PostError {
    /// What went wrong.
    pub error: Error,
    /// Requests posted before the failing one (batches; 0 for single posts).
    pub posted: usize,
    /// Owned buffers of the requests that were not posted.
    pub returned: Vec<MemoryRegion>,
}

impl PostError {
    pub(crate) fn new(error: Error, posted: usize, returned: Vec<MemoryRegion>) -> Self {
        PostError {
            error,
            posted,
            returned,
        }
    }
}

impl fmt::Debug for PostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostError")
            .field("error", &self.error)
            .field("posted", &self.posted)
            .field("returned", &self.returned.len())
            .finish()
    }
}

impl fmt::Display for PostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for PostError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<PostError> for Error {
    fn from(e: PostError) -> Error {
        e.error
    }
}
