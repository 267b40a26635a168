//! `uc_pingpong`: a wire- and output-compatible clone of rdma-core's `ibv_uc_pingpong`
//! (libibverbs/examples/uc_pingpong.c), written with the `rdma-verbs` crate's safe API.
//!
//! It is `rc_pingpong` (examples/rc_pingpong/, whose modules it compiles as its own) over an
//! unreliable-connected QP: two processes exchange `--iters` messages of `--size` bytes,
//! strictly alternating, and print the throughput and the time per iteration. Either side may
//! be the C tool: the TCP exchange of addresses is `ibv_rc_pingpong`'s (the 52-byte
//! `LLLL:QQQQQQ:PPPPPP:<gid>` message both ways, then `done` from the client), and so are the
//! message sizes, the order of sends and receives, the output lines, the error messages and the
//! exit status (0 on success, 1 on any error).
//!
//! ```text
//! server$ uc_pingpong -d rxe0 -g 1
//! client$ uc_pingpong -d rxe0 -g 1 198.18.0.1
//! ```
//!
//! # What differs from `rc_pingpong`, as between the C tools
//!
//! - The QP is `IBV_QPT_UC`, moved to RTR with only the path, the MTU, the remote QPN and PSN,
//!   and to RTS with only the send PSN: no timeout, retries, RNR timer or reads, which UC has
//!   not. A message lost on the wire is not retried (the tool then waits, as the C tool does;
//!   `--timeout` bounds that wait).
//! - The options are `ibv_uc_pingpong`'s: `-p -d -i -s -m -r -n -l -e -g -c` and their long
//!   forms. `ibv_rc_pingpong`'s others (`-o -O -P -t -j -N`, `--odp`, ...) are unknown to its
//!   getopt, so here too: `invalid option -- 'o'` (or `unrecognized option '--odp'`), the usage,
//!   exit status 1.
//! - A failed completion prints only `Failed status ... for wr_id N`: `ibv_uc_pingpong` has no
//!   `parse WC failed` line.
//!
//! # Differences from the C tool
//!
//! Those of `rc_pingpong` (see its documentation): the memory layout (one region of
//! `(rx_depth + 1) * size` bytes, one piece per posted receive), `--timeout SECONDS` and
//! `-h`/`--help` (extensions), strict number parsing, an explanatory `uc_pingpong: <cause>` line
//! after the C tool's fixed error messages, a malformed peer address being an error, the
//! monotonic clock, line-buffered stdout, and unreported teardown errors.

#[path = "../rc_pingpong/args.rs"]
mod args;
#[path = "../rc_pingpong/connect.rs"]
mod connect;
#[path = "../rc_pingpong/device.rs"]
mod device;
#[path = "../rc_pingpong/drive.rs"]
mod drive;
#[path = "../rc_pingpong/exchange.rs"]
mod exchange;
#[path = "../rc_pingpong/output.rs"]
mod output;
#[path = "../rc_pingpong/pingpong.rs"]
mod pingpong;
#[path = "../rc_pingpong/run.rs"]
mod run;
#[path = "../rc_pingpong/sys.rs"]
mod sys;
#[path = "../rc_pingpong/variant.rs"]
mod variant;
#[path = "../rc_pingpong/watchdog.rs"]
mod watchdog;

#[cfg(test)]
mod tests;

use std::process::ExitCode;

use rdma_verbs::QpType;

use crate::variant::{Tool, Variant};

/// `ibv_uc_pingpong`: a UC QP, no options of its own beyond the shared ones.
const UC: Variant = Variant {
    name: "uc_pingpong",
    c_tool: "ibv_uc_pingpong",
    tool: Tool::Uc,
    qp_type: QpType::Uc,
    usage_qp_options: "",
    usage_options: "",
    usage_notes: "",
    usage_memory: "(rx-depth + 1) * size bytes (one piece per posted receive, one to send)",
    parse_wc_failed_line: false,
};

fn main() -> ExitCode {
    run::main(&UC)
}
