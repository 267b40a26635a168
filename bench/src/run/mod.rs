//! The measured loops of the benchmarks, over the rdma-verbs crate's safe API.
//!
//! Each loop takes connected QPs, their CQs and buffers, and the timestamp arrays sized before
//! it starts; inside the loop it makes no allocation, takes no lock and makes no system call of
//! its own (the clock is the vDSO's `clock_gettime`). The loops follow perftest 6.06's
//! `run_iter_bw`, `run_iter_bw_server`, `run_iter_lat_write`, `run_iter_lat_send` and
//! `run_iter_lat` step for step (the UD SEND tests' loops over `UdQueuePair`s in `ud_bw` and
//! `ud_lat`), so the statistics computed from the timestamps mean the same
//! thing.

mod bw;
mod clock;
mod error;
mod read_lat;
mod recv;
mod send_lat;
mod span;
mod stall;
mod ud_bw;
mod ud_lat;
mod write_lat;

pub use bw::{atomic_wr, bw_requester, BwConfig, BwOp, BwSamples, Receiving, MAX_INLINE};
pub use clock::Clock;
pub use error::RunError;
pub use read_lat::{read_lat, ReadLatConfig};
pub use recv::{bw_receiver, post_receives, RecvConfig, RecvSamples};
pub use send_lat::{send_lat, SendLatConfig};
pub use span::{LatRun, Span};
pub use ud_bw::{ud_bw_receiver, ud_bw_requester, ud_post_receives, UdSend};
pub use ud_lat::ud_send_lat;
pub use write_lat::{write_lat, LatConfig, LatRole, LatSource};
