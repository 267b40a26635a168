//! The `rdma-perf` command: argument parsing ([`args`]), perftest's parameter defaults
//! ([`params`]) and the test flow ([`flow`]).

pub mod args;
pub mod extras;
pub mod flow;
pub mod params;
pub mod refused;
