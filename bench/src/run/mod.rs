//! The measured loops of the benchmarks, over the rdma crate's safe API.
//!
//! Each loop takes a connected QP, its CQ and buffers, and the timestamp arrays sized before it
//! starts; inside the loop it makes no allocation, takes no lock and makes no system call of its
//! own (the clock is the vDSO's `clock_gettime`). The loops follow perftest 6.06's
//! `run_iter_bw` and `run_iter_lat_write` step for step, so the statistics computed from the
//! timestamps mean the same thing.

mod clock;
mod error;
mod write_bw;
mod write_lat;

pub use clock::Clock;
pub use error::RunError;
pub use write_bw::{write_bw, BwConfig, BwSamples};
pub use write_lat::{write_lat, LatConfig, LatRole, LatSource};
