//! The pieces of the examples that are worth testing and fuzzing on their own: wire formats
//! and data patterns, with no device behind them. The example programs themselves are the
//! binaries of this package.

pub mod rping;
