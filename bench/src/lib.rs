//! `rdma-bench`: the pure (no verbs) library behind `rdma-perf`, a benchmark that is
//! wire- and output-compatible with the perftest tools Debian ships (`ib_write_bw`,
//! `ib_write_lat`, `ib_send_bw`, `ib_send_lat`; package perftest 4.5+0.17, which
//! reports `Version: 6.06`).
//!
//! * [`perftest::wire`]: every message of the perftest TCP out-of-band exchange, with
//!   `encode`/`parse` (parsers never panic);
//! * [`perftest::transport`]: the out-of-band [`Link`](perftest::transport::Link) to the
//!   peer (TCP, or rdma_cm with `-R`), whose every exchange has a deadline;
//! * [`perftest::handshake`]: a perftest [`Channel`](perftest::handshake::Channel) over
//!   that link, and the per-test handshake sequences;
//! * [`perftest::report`]: the banner and result tables, byte-identical to perftest;
//! * [`run`]: the measured loops over the rdma-verbs crate's safe API (no allocation inside);
//! * [`perftest::stats`]: latency and bandwidth statistics computed exactly as
//!   perftest computes them;
//! * [`output`]: `--out_json` (valid JSON), `--plot` (SVG) and the progress line on
//!   stderr;
//! * [`scale`]: the report of `scripts/scale-curves` (tables and figures of cost against scale).
#![deny(missing_docs)]

pub mod output;
pub mod perftest;
pub mod run;
pub mod scale;

/// Checks for the fuzz targets and their corpus replay (`fuzz/`): built only with `--cfg
/// fuzzing`, which cargo-fuzz and `fuzz/.cargo/config.toml` set.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
