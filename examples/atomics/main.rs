//! `atomics`: a remote counter and a remote lock in one server's memory, shared by N clients
//! through RC atomics, and checked by the server.
//!
//! ```text
//! server$ atomics server -d rxe0 -n 4
//! client$ atomics client -d rxe0 198.18.0.1 --adds 1000 --locks 50    # four times
//! ```
//!
//! The **server** registers one region of five 64-bit words that peers may run atomics on, READ
//! and WRITE (`LOCAL_WRITE | REMOTE_ATOMIC | REMOTE_READ | REMOTE_WRITE`), all 0 at first:
//!
//! | offset | word      | what it is                                                         |
//! |--------|-----------|--------------------------------------------------------------------|
//! | 0      | `counter` | fetch-and-added 1 by every client, `--adds` times                  |
//! | 8      | `lock`    | 0 when free, else the id (1 to N) of the client that holds it       |
//! | 16     | `inside`  | +1 on entering the critical section, -1 on leaving it               |
//! | 24     | `entries` | +1 (atomically) in every critical section                          |
//! | 32     | `guarded` | +1 in every critical section by an RDMA READ and an RDMA WRITE      |
//!
//! It accepts `-n` clients on TCP port `-p`, one after the other. With each it exchanges
//! `RDMA-EP/1` lines ([`rdma_exchange`]) as `rdma_write` does: the client's endpoint; a new RC
//! QP of the server connected to it (granting READ, WRITE and atomics, with as many
//! outstanding READs and atomics answered as the device allows, up to 16); the server's
//! endpoint, carrying the region's address, rkey and length; the client's `done`. Once all
//! clients are connected, the server sends each a start message with its id, so that they
//! contend for real. The start, the clients' reports and the server's verdicts are fixed-size
//! messages, an 8-byte tag then little-endian 64-bit fields (`wire.rs`).
//!
//! A **client** does `--adds` fetch-and-adds of 1 on the counter, one at a time, each value
//! larger than the one before, and `--locks` lock rounds spread evenly among them (round r
//! after add (r + 1) K / (M + 1)), so that it contends for the lock as long as it runs. In a
//! round it takes the lock by compare-and-swap 0 → id, retrying with a jittered backoff from
//! 10 µs doubling to 1 ms while another client holds it (a lock word that holds its own id or
//! no client's id is an error); in the critical section it adds 1 to `inside` (the value before must be 0), adds 1 to `entries`, READs
//! `guarded` and WRITEs it back plus 1, adds -1 (2^64 - 1, wrapping) to `inside` (the value
//! before must be 1), and releases the lock by compare-and-swap id → 0 (which must return its
//! id). A value other than the one expected is a *violation*: counted, the first five
//! printed. At the end it sends the server its report: the adds, the first and last value and
//! the sum of all values fetched, the lock rounds, the retries and the violations.
//!
//! The server waits for every report, then reads its words and checks, printing one line each:
//!
//! * `counter` is exactly the sum of all clients' adds;
//! * every value a client fetched is below that total, and all of them sum to
//!   0 + 1 + ... + (total - 1), as they do when each value was handed out once;
//! * `lock` is 0: free;
//! * the lock was never held by two clients at once: `entries` and `guarded` both equal the
//!   sum of the clients' lock rounds (two holders at once would make the READ + WRITE of
//!   `guarded` lose increments), `inside` is 0, and no client saw a violation.
//!
//! It sends each client the verdict and the final counter; a client checks that its last
//! fetched value is below the final counter and exits 0 only if that holds and the server's
//! checks passed. The server exits 0 only when all its checks passed.
//!
//! Output: result lines on stdout; on failure `atomics: <what went wrong>` on stderr and exit
//! status 1 (2 for a bad command line). Every wait is bounded by `-t` seconds: connecting,
//! accepting each client and each exchange message, each completion, each acquisition of the
//! lock; the server's wait for all clients to connect and, from the start, for all reports;
//! a client's wait for the start and for the verdict. Long runs need a larger `-t`.
//!
//! The words are read and written in the server's byte order, which is also the client's on
//! one machine. The client's 8-byte result buffer moves into the QP with each request and
//! comes back from `QueuePair::complete`; the server reads its remote-writable words only
//! through `MemoryRegion::read_at`. There is no `unsafe` code.

#![forbid(unsafe_code)]

mod args;
mod client;
use rdma_examples::output;
mod remote;
mod server;
mod setup;
mod verify;
mod wire;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

use crate::args::{Args, Role};

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match &args.role {
        Role::Server(a) => server::server(a),
        Role::Client(a) => client::client(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(io::stderr().lock(), "atomics: {e}");
            ExitCode::FAILURE
        }
    }
}
