//! `ud_pingpong`: a wire- and output-compatible clone of rdma-core's `ibv_ud_pingpong`
//! (libibverbs/examples/ud_pingpong.c), written with the `rdma-verbs` crate's safe UD API
//! ([`rdma_verbs::ud::UdQueuePair`], [`rdma_verbs::AddressHandle`]).
//!
//! Two processes exchange `--iters` datagrams of `--size` bytes (default 1024, at most the
//! port's active MTU) over unreliable-datagram QPs, strictly alternating (ping, pong), and
//! print the throughput and the time per iteration. Either side may be the C tool: the TCP
//! exchange (the 52-byte `LLLL:QQQQQQ:PPPPPP:<gid>` address message both ways, then `done` from
//! the client), the QP and address handle attributes, the Q_Key, the message sizes, the order
//! of sends and receives, the output lines, the error messages and the exit status (0 on
//! success, 1 on any error) are the C tool's.
//!
//! ```text
//! server$ ud_pingpong -d rxe0 -g 1
//! client$ ud_pingpong -d rxe0 -g 1 198.18.0.1
//! ```
//!
//! # What the C tool does, and this one too
//!
//! - Options `p:d:i:s:r:n:l:eg:c` and their long forms: no `-m` (a UD message is at most one
//!   MTU, so there is no path MTU to choose); `-m` is `invalid option -- 'm'`, the usage, exit
//!   status 1. The default `--size` is 1024 (the C tool's usage text says 2048; its code uses
//!   1024). `-s 0` works (zero-byte datagrams).
//! - A `--size` above the port's active MTU fails before anything is printed on stdout, with
//!   `Requested size larger than port MTU (N)`, exit status 1.
//! - The QP is `IBV_QPT_UD` with Q_Key 0x11111111 and P_Key index 0, one send and `--rx-depth`
//!   receives; sends carry that Q_Key. Sends are inline when the QP's actual
//!   `max_inline_data` covers `--size`, as in the C tool.
//! - The peer is reached by an address handle: its LID, `-l` as the SL, and a global route
//!   (hop limit 64, the local GID index `-g`) only when the peer's GID has a non-zero interface
//!   id. On RoCE both sides therefore need `-g` (without it: `Failed to create AH`).
//! - The local address line reads `PSN 0x...: GID` (a colon), the remote one `PSN 0x..., GID`,
//!   as the C tool prints them.
//! - `-c`: the client zeroes the first byte of each page of its first message; the server
//!   reports, after the statistics, `invalid data in page N` for each page whose first byte is
//!   not zero in the last message it received (all of them when the client had no `-c`: the
//!   `0x7b` fill came back).
//!
//! # Memory
//!
//! The C tool receives every datagram into one buffer of `size + 40` bytes (the 40-byte GRH
//! area first, then the payload) and sends from its last `size` bytes, so a pong echoes the
//! ping it answers. With the safe API the UD QP posts each receive with a 40-byte header slot
//! of its own first, so a receive buffer holds the payload only, and a posted receive owns its
//! buffer until its completion hands it back. The program registers **one region of
//! `(rx_depth + 1) * size` bytes** (one byte a piece for `-s 0`), cut into pieces, filled with
//! `0x7b`; `rx_depth` of them are posted as receives. The "current" piece (the spare one, then
//! that of the last message received) is what the next send sends, so pongs echo pings without
//! a copy, as on the wire of the C tool. Receives are topped up to `rx_depth` when only one is
//! left posted (`routs <= 1`), as in the C tool; wr_id 1 is a receive, 2 a send.
//!
//! # Differences from the C tool
//!
//! - The crate's UD QP goes to INIT, RTR and RTS when it is built, before the exchange (the C
//!   tool moves it to RTR and RTS after reading the peer's address). Nothing on the wire
//!   differs: a UD QP's RTR and RTS take no attribute of the peer. A failure of one of these
//!   moves prints `Failed to modify QP to INIT` (the build does not tell which move failed).
//! - `--timeout SECONDS` (an extension, default 0 = wait forever like the C tool) bounds the
//!   TCP exchange (accept, connect, each message) and the wait for each completion. A datagram
//!   lost on the wire is not retried: the C tool then waits forever, this one too without
//!   `--timeout`.
//! - `-h`/`--help` prints the usage and exits 0 (the C tool rejects it, then prints the usage).
//!   The usage is `rc_pingpong`'s without `-m`, with the true default size (1024).
//! - Bad numbers are rejected with a message (the C tool's `strtoul` reads `abc` as 0), and so
//!   are `-r 0` (the C tool posts no receive, then waits forever), an SL above 15 and an IB port
//!   above 255. Numbers may be decimal, `0x` hex or `0` octal, as with `strtoul`.
//! - Where the C tool prints a fixed error message (`Failed to create AH`, `Couldn't register
//!   MR`, ...), the same line is printed, followed by a line `ud_pingpong: <cause>`.
//! - A malformed address message from the peer is an error (the C tool's `sscanf` takes
//!   anything).
//! - Elapsed time comes from the monotonic clock (the C tool uses `gettimeofday`); the
//!   statistics are then computed and rounded exactly as the C tool does (f32 microseconds).
//! - stdout is line-buffered (C buffers it fully when it is not a terminal).
//! - Teardown errors are not reported (the crate releases resources on drop).
//!
//! # Shared with `rc_pingpong`
//!
//! The command line, the TCP exchange, the output helpers, the device opening, the PSN and
//! page size and the `--timeout` watchdog are `examples/rc_pingpong/`'s modules, compiled here
//! with the [`Variant`] `UD`. The resources (a UD QP, an address handle) and the loop over UD
//! completions are this directory's.

#[path = "../rc_pingpong/args.rs"]
mod args;
#[path = "../rc_pingpong/device.rs"]
mod device;
#[path = "../rc_pingpong/drive.rs"]
mod drive;
#[path = "../rc_pingpong/exchange.rs"]
mod exchange;
#[path = "../rc_pingpong/output.rs"]
mod output;
mod pingpong;
mod run;
mod setup;
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

/// `ibv_ud_pingpong`: a UD QP, the shared options without `-m`.
const UD: Variant = Variant {
    name: "ud_pingpong",
    c_tool: "ibv_ud_pingpong",
    tool: Tool::Ud,
    qp_type: QpType::Ud,
    usage_qp_options: "",
    usage_options: "",
    usage_notes: "-s is at most the port's active MTU (one datagram a message).\n",
    usage_memory: "(rx-depth + 1) * size bytes (one piece per posted receive, one to send)",
    parse_wc_failed_line: false,
};

fn main() -> ExitCode {
    run::main(&UD)
}
