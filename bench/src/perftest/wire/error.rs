//! Why a message could not be parsed or encoded: [`WireError`].

use thiserror::Error;

/// Why a message could not be parsed (or encoded).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WireError {
    /// The message does not have the size of its kind.
    #[error("{msg}: expected {expected} bytes, got {got}")]
    Length {
        /// Which message.
        msg: &'static str,
        /// The size(s) it must have.
        expected: &'static str,
        /// The size it has.
        got: usize,
    },
    /// One field of the message is malformed or out of range.
    #[error("{msg}: field `{field}`: {problem}")]
    Field {
        /// Which message.
        msg: &'static str,
        /// Which field.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
}

pub(super) fn field_err(
    msg: &'static str,
    field: &'static str,
    problem: impl Into<String>,
) -> WireError {
    WireError::Field {
        msg,
        field,
        problem: problem.into(),
    }
}
