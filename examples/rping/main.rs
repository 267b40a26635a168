//! `rping`: an RDMA CM ping-pong that speaks rdmacm-utils' `rping` protocol, so either side
//! may be the C tool.
//!
//! ```text
//! server$ rping -s -a 198.18.0.1 -v
//! client$ rping -c -a 198.18.0.1 -C 3 -V -v
//! ```
//!
//! The client resolves the server's address and route with the RDMA CM, creates its QP on
//! the device the CM resolved to, and connects. Each ping (see [`rdma_examples::rping`]): the
//! client advertises a start buffer filled with `rdma-ping-N: ABC…`; the server RDMA READs it
//! and says go ahead; the client advertises a sink buffer; the server RDMA WRITEs the string
//! back into it and says go ahead; with `-V` the client checks the echo byte for byte, with
//! `-v` both print it. The client disconnects after `-C` pings; the server ends when its
//! client disconnects (or, with `-P`, serves clients concurrently until stopped).
//!
//! One tokio thread drives everything: completions are awaited on the CQ's channel
//! ([`rdma_verbs::async_cq::AsyncCq`]), connection events on the CM's
//! ([`rdma_verbs::cm`]), so a peer that disconnects or dies ends every wait at once. Unlike the C
//! tool, every step is bounded (`--timeout`), an unreachable server fails within the
//! resolution timeout, and a wrong-sized message or a short echo is reported, not skipped.
//!
//! Output: what the C tool prints with `-v` (`ping data: …`, `server ping data: …`), and its
//! `client DISCONNECT EVENT...` / `server DISCONNECT EVENT...` on stderr. Errors:
//! `rping: <what went wrong>` on stderr and exit status 1 (2 for a bad command line).
//! There is no `unsafe` code.

#![forbid(unsafe_code)]

mod args;
mod client;
use rdma_examples::output;
mod server;
mod session;
mod setup;

use std::process::ExitCode;

use clap::Parser;

use crate::args::Args;

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rping: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let local = tokio::task::LocalSet::new();
    let outcome = local.block_on(&runtime, async {
        if args.server {
            server::server(&args).await
        } else {
            client::client(&args).await
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rping: {e}");
            ExitCode::FAILURE
        }
    }
}
