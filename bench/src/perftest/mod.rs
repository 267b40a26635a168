//! perftest 6.06 compatibility: wire format, handshake sequences, statistics and
//! report text.
//!
//! The facts below were read from the perftest sources (linux-rdma/perftest:
//! `src/perftest_communication.[ch]`, `src/perftest_parameters.[ch]`,
//! `src/write_bw.c`, `src/write_lat.c`, `src/send_bw.c`, `src/send_lat.c`,
//! `src/read_bw.c`, `src/read_lat.c`, `src/atomic_bw.c`, `src/atomic_lat.c`) and checked against Debian's binaries (perftest
//! 4.5+0.17, `Version: 6.06`) run over Soft-RoCE, including captures of the raw TCP
//! bytes of the write and send tests; samples of the captured output are under
//! `bench/tests/data/`. The read tests follow the write tests' sequences (checked by
//! interop tests in both roles), and so do the atomic tests ([`atomic`]).
//!
//! [`peer`] is not perftest's: it is rdma-perf's options check between two rdma-perf
//! peers, which a C peer never sees.
//!
//! # Out-of-band exchange
//!
//! perftest exchanges everything over one TCP connection (port 18515 by default).
//! Every exchange of `n` bytes is symmetric: the client writes `n` bytes then reads
//! `n` bytes; the server reads `n` bytes then writes `n` bytes. Messages are fixed
//! size and carry no framing. See [`wire`] for the messages, [`transport`] for the link
//! that carries them and [`handshake`] for the sequences of each test.
//!
//! With `-R` perftest 6.06 also moves that exchange onto rdma_cm (`use_rdma_cm`): the
//! same messages, each one SEND on an RC QP connected with rdma_cm on the same port
//! ([`transport::cm`]), except the keys, which travel as the raw `struct pingpong_dest`
//! ([`wire::KeyMsg::encode_raw`]), and no `"done"` at the end.

pub mod atomic;
pub(crate) mod cfmt;
pub mod connection;
pub mod handshake;
pub mod peer;
pub mod report;
pub mod stats;
mod test;
pub mod transport;
pub mod wire;

pub use connection::Connection;
pub use test::{Measure, PerfTest, Verb};
