//! `srq_pingpong`: a wire- and output-compatible clone of rdma-core's `ibv_srq_pingpong`
//! (libibverbs/examples/srq_pingpong.c, rdma-core 44), written with the `rdma-verbs` crate's
//! safe API.
//!
//! Two processes connect `--num-qp` (default 16) pairs of reliable-connected QPs whose
//! receives all come from one shared receive queue (SRQ) per side, and ping-pong `--size`-byte
//! messages on every pair, each pair strictly alternating (ping, pong). `--iters` counts the
//! exchanges of all QPs together (the C tool's usage says "per QP", its code counts them all).
//! Both print the throughput and the time per iteration. Either side may be the C tool: the
//! TCP exchange, the QP attributes, the message sizes, the order of sends and receives, the
//! output lines, the error messages and the exit status (0 on success, 1 on any error) are the
//! C tool's.
//!
//! ```text
//! server$ srq_pingpong -d rxe0 -g 1
//! client$ srq_pingpong -d rxe0 -g 1 198.18.0.1
//! ```
//!
//! # The exchange
//!
//! Each side prints one `  local address:  LID ..., QPN ..., PSN ..., GID ...` line per QP,
//! then sends 256 (`MAX_QP`) 52-byte `LLLL:QQQQQQ:PPPPPP:<gid>` messages whatever `-q` is: one
//! per QP, then all-zero ones. It reads the peer's 256, prints one `  remote address: ...` line
//! per QP of its own, and connects QP `i` to the peer's QP `i`. The client then writes `done`.
//! As in the C tool the server connects its QPs before answering, and the GRH (and its GID)
//! of every QP comes from the peer's first address.
//!
//! # Work requests and the main loop
//!
//! As in the C tool, receives are posted to the SRQ with wr_id 1 and sends with wr_id 2
//! (`PINGPONG_RECV_WRID`, `PINGPONG_SEND_WRID`): a completion's QP is found from its QP
//! number (`find_qp`), not from its wr_id. The client sends first on every QP. Each QP sends
//! its next message once its previous send has completed and the peer's next message has
//! arrived on it (`pending[qp]`), while fewer than `--iters` sends have completed in all. The
//! loop runs until `--iters` receives and sends have completed. The SRQ is topped up to
//! `--rx-depth` when at most `--num-qp` receives are left posted. One CQ of
//! `rx_depth + num_qp` entries takes every completion; with `-e` the loop blocks on its
//! completion channel, re-arms it, then polls once.
//!
//! # Memory
//!
//! The C tool posts every receive into one zeroed buffer of `--size` bytes and sends from that
//! same buffer, so every message on the wire is zeros. With the safe API a posted receive owns
//! its buffer until its completion is handed back, so the program registers **one region of
//! `(rx_depth + 2 * num_qp) * size` bytes** (2.1 MiB for the defaults, against the C tool's
//! `size`) and cuts it into pieces, all zeroed. `rx_depth` pieces are posted to the SRQ. Each
//! QP sends the last piece it received (the client's first send: a zeroed piece), so a pong
//! echoes its ping; a QP holds at most two pieces (the one its send owns, the one it last
//! received), so a top-up always finds its pieces. Sends are inline when the C tool's rule says
//! so (a QP's `max_inline_data` covers `--size`). A piece whose send completed, or that a newer
//! message replaced, goes back to the pool.
//!
//! # Differences from the C tool
//!
//! - `-c` checks every byte of every received message on both sides (the C server checks the
//!   first byte of each page of its one buffer at the end; the C client checks nothing). A page
//!   that held anything but zeros in some message is reported once, after the statistics, as
//!   the C tool's `invalid data in page N`. Against the C tool, whose messages are all zeros,
//!   nothing is printed, as with two C tools.
//! - `-o`/`--odp` (on-demand paging) is rejected with a message.
//! - `-q 0` is rejected (the C tool then creates no QP and waits forever). Bad numbers are
//!   rejected with a message (the C tool's `strtoul` reads `abc` as 0), and so are `-s 0`,
//!   `-r 0` (the C tool: `rx_depth 0 is too small for 16 QPs ...`), an SL above 15 and an IB port
//!   above 255. Numbers may be decimal, `0x` hex or `0` octal, as with `strtoul`. The C tool's
//!   own checks of `-q` (`rx_depth R is too small for Q QPs ...`, `num_qp Q must be less than
//!   255`) print its messages.
//! - `--timeout SECONDS` (an extension, default 0 = wait forever like the C tool) bounds the TCP
//!   exchange (accept, connect, each message) and the wait for each completion.
//! - `-h`/`--help` prints the usage and exits 0 (the C tool rejects it, then prints the usage).
//!   The usage is `rc_pingpong`'s with the `-q` line and notes: defaults shown for `-l` and
//!   `-g`, and `-n` described as the total it is (the C tool's says "per QP").
//! - Where the C tool prints a fixed error message (`Failed to modify QP[3] to RTR`, `Couldn't
//!   create SRQ`, ...), the same line is printed, followed by a line `srq_pingpong: <cause>`.
//! - A malformed address message is an error, and so is a failed read of the peer's addresses
//!   (the C tool's `sscanf` takes anything; after a failed read it goes on with what it has, and
//!   a peer that closes early makes its read loop spin), and a failed write of `done` (the C
//!   client goes on).
//! - Elapsed time comes from the monotonic clock (the C tool uses `gettimeofday`); the
//!   statistics are then computed and rounded exactly as the C tool does (f32 microseconds).
//! - stdout is line-buffered (C buffers it fully when it is not a terminal).
//! - Teardown errors are not reported (the crate releases resources on drop).
//!
//! # Shared with `rc_pingpong`
//!
//! The command line, the output helpers, the device opening, the PSN and page size and the
//! `--timeout` watchdog are `examples/rc_pingpong/`'s modules, compiled here with the
//! [`Variant`] `SRQ`. The exchange, the resources and the loop, which differ, are this
//! directory's.

#[path = "../rc_pingpong/args.rs"]
mod args;
#[path = "../rc_pingpong/device.rs"]
mod device;
#[path = "../rc_pingpong/drive.rs"]
mod drive;
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

/// `ibv_srq_pingpong`: RC QPs on one SRQ, `-q` for their number, `-o` refused.
const SRQ: Variant = Variant {
    name: "srq_pingpong",
    c_tool: "ibv_srq_pingpong",
    tool: Tool::Srq,
    qp_type: QpType::Rc,
    usage_qp_options: "  -q, --num-qp=<num>     number of QPs to use (default 16)\n",
    usage_options: "",
    usage_notes: "-n counts the exchanges of all QPs together, as ibv_srq_pingpong does.\n\
                  Not supported (rejected): -o/--odp.\n",
    usage_memory: "(rx-depth + 2 * num-qp) * size bytes (one piece per posted receive, two per \
                   QP)",
    parse_wc_failed_line: false,
};

fn main() -> ExitCode {
    run::main(&SRQ)
}
