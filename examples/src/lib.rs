//! What the example programs share, and the pieces of them worth testing and fuzzing on
//! their own: how they report results and failures, wire formats and data patterns, with no
//! device behind them. The example programs themselves are the binaries of this package.

pub mod device;
pub mod output;
pub mod rping;
