//! `rdma_write`: a one-sided RDMA WRITE demo between two hosts.
//!
//! Run it without a host to be the **server**, with the server's host name or address to be
//! the **client**:
//!
//! ```text
//! server$ rdma_write -d rxe0
//! client$ rdma_write -d rxe0 198.18.0.1
//! ```
//!
//! The server registers a target buffer of `--size` bytes that peers may write
//! (`LOCAL_WRITE | REMOTE_WRITE`), posts one receive, and waits for a client on TCP port
//! `--port`. The two sides exchange their queue-pair addresses as `RDMA-EP/1` lines
//! ([`rdma_verbs::exchange`]): the client sends its [`Endpoint`] first; the server connects its QP
//! (so it is ready to receive before the client can write) and answers with its own endpoint,
//! which also carries the target buffer's address, rkey and length; the client ends the
//! exchange with `done`.
//!
//! The client fills a source buffer with a pattern derived from `--seed` and the byte offset,
//! shares it to its QP, and writes it into the server's buffer in `--chunk`-sized unsignaled
//! RDMA WRITEs (up to 16 per doorbell), followed by one zero-length signaled
//! RDMA WRITE_WITH_IMM whose immediate data is the number of bytes written. Its completion
//! retires all the writes before it. The immediate consumes the server's receive, which tells
//! the server that the data has landed; the server then checks every byte against the same
//! pattern.
//!
//! Output on success: the server prints `received N bytes by RDMA WRITE, verified`, the client
//! `wrote N bytes in K RDMA WRITEs + WRITE_WITH_IMM, X.XX MB/s`. On any error the program prints
//! `rdma_write: <what went wrong>` to stderr and exits with status 1 (2 for a bad command
//! line). Every wait is bounded by `--timeout`: connecting or accepting, each exchange
//! message, on the client each completion (a stalled transfer), on the server the whole
//! transfer (it cannot see one-sided writes until the WRITE_WITH_IMM arrives, so raise the
//! timeout for very large buffers on slow links).
//!
//! The program uses the rdma-verbs crate's ownership model as intended: the source buffer is shared
//! to the client's QP for the many unsignaled writes, the server's receive buffer moves into
//! the QP at post and comes back from `QueuePair::complete`, and the remote-writable target is
//! read only through `MemoryRegion::read_at`. There is no `unsafe` code.
//!
//! [`Endpoint`]: rdma_exchange::Endpoint

#![forbid(unsafe_code)]

mod args;
mod client;
mod completion;
use rdma_examples::output;
mod pattern;
mod server;
mod setup;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

use crate::args::Args;
use crate::client::client;
use crate::server::server;

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match &args.host {
        None => server(&args),
        Some(host) => client(&args, host),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(io::stderr().lock(), "rdma_write: {e}");
            ExitCode::FAILURE
        }
    }
}
