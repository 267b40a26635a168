//! `rc_pingpong`: a wire- and output-compatible clone of rdma-core's `ibv_rc_pingpong`
//! (libibverbs/examples/rc_pingpong.c, rdma-core 44), written with the `rdma-verbs` crate's safe API.
//!
//! Two processes exchange `--iters` messages of `--size` bytes over a reliable-connected QP,
//! strictly alternating (ping, pong), and print the throughput and the time per iteration.
//! Either side may be the C tool: the TCP exchange (the 52-byte `LLLL:QQQQQQ:PPPPPP:<gid>`
//! address message both ways, then `done` from the client), the QP attributes, the message
//! sizes and the order of sends and receives are the C tool's, and so are the output lines, the
//! error messages and the exit status (0 on success, 1 on any error).
//!
//! ```text
//! server$ rc_pingpong -d rxe0 -g 1
//! client$ rc_pingpong -d rxe0 -g 1 198.18.0.1
//!
//! # against the C tool, in either role (here in the Soft-RoCE VM of scripts/rxe-vm):
//! scripts/rxe-vm -- sh -c 'ibv_rc_pingpong -d rxe0 -g 1 & sleep 1;
//!                          target/debug/rc_pingpong -d rxe0 -g 1 198.18.0.1; wait'
//! ```
//!
//! On RoCE (Soft-RoCE included) both sides need `-g` with a valid GID index, exactly as with the
//! C tool; on InfiniBand the LID is enough.
//!
//! # Memory
//!
//! The C tool posts all `--rx-depth` receives into one buffer of `--size` bytes and sends from
//! that same buffer, so a pong echoes the ping it answers. With the safe API a posted receive
//! owns its buffer until its completion is handed back, so each outstanding receive needs its
//! own piece: the program registers **one region of `(rx_depth + 1) * size` bytes** (2 MiB for
//! the defaults, against the C tool's `size`; lower `-r` for very large `-s`) and cuts it into
//! `rx_depth + 1` pieces. `rx_depth` of them are posted as receives. The C tool's buffer is
//! modelled by the "current" piece: the spare one at first (filled with `0x7b`, and with the
//! `-c` pattern on the client), then the piece of the last message received. Each send sends
//! the current piece (owning it until its completion returns it, or inline when the C tool's
//! rule says so), so pongs echo pings without a copy, exactly as on the wire of the C tool. A
//! piece whose receive or send completed goes back to the pool that reposts receives.
//!
//! # Work request ids and the main loop
//!
//! As in the C tool, receives use wr_id 1 and sends wr_id 2 (`PINGPONG_RECV_WRID` and
//! `PINGPONG_SEND_WRID`), which is what `Failed status ... for wr_id N` reports. The client
//! sends first; each side sends its next message only once its previous send has completed and
//! the peer's next message has arrived. Receives are topped up to `rx_depth` when only one is
//! left posted (`routs <= 1`), as in the C tool. Only when a top-up finds the piece being sent
//! and the one just received both still held does it post one receive fewer, and it posts that
//! one as soon as the send completion returns its piece. With `-e` the loop blocks on the CQ's
//! completion channel, re-arms it, then polls once; it acknowledges all events at the end.
//!
//! # Differences from the C tool
//!
//! - `--timeout SECONDS` (an extension, default 0 = wait forever like the C tool) bounds the TCP
//!   exchange (accept, connect, each message) and the wait for each completion.
//! - `-h`/`--help` prints the usage and exits 0 (the C tool rejects it, then prints the usage).
//! - Bad numbers are rejected with a message (the C tool's `strtoul` reads `abc` as 0), and so are
//!   `-s 0` (the C tool then fails with `Couldn't register MR`), `-r 0`, an SL above 15 and an
//!   IB port above 255. Numbers may be decimal, `0x` hex or `0` octal, as with `strtoul`.
//! - `-N` builds the QP with the extended post API (`PostApi::Extended`: `ibv_create_qp_ex`,
//!   sends through `ibv_wr_start`, `ibv_wr_send`, `ibv_wr_complete`), as the C tool does. It
//!   asks for every RC send operation (the C tool asks for SEND only), and an inline message
//!   goes through `ibv_wr_set_inline_data` (the C tool sets `IBV_SEND_INLINE` and calls
//!   `ibv_wr_set_sge`). `-o`, `-O`, `-P`, `-t` and `-j` (ODP, prefetch, timestamps, device
//!   memory) are rejected.
//! - Where the C tool prints a fixed error message (`Failed to modify QP to RTR`, `Couldn't
//!   register MR`, ...), the same line is printed, followed by a line `rc_pingpong: <cause>`.
//! - A malformed address message from the peer is an error (the C tool's `sscanf` takes anything).
//! - Elapsed time comes from the monotonic clock (the C tool uses `gettimeofday`); the
//!   statistics are then computed and rounded exactly as the C tool does (f32 microseconds).
//! - stdout is line-buffered (C buffers it fully when it is not a terminal).
//! - Teardown errors are not reported (the crate releases resources on drop).
//!
//! # Shared with `uc_pingpong`, `srq_pingpong` and `ud_pingpong`
//!
//! `examples/uc_pingpong/` (the drop-in for `ibv_uc_pingpong`) compiles these modules as its
//! own. What differs between the two tools (QP type, names, `ibv_rc_pingpong`'s extra options,
//! its `parse WC failed` line) is a [`Variant`]: `RC` here, `UC` there, handed to
//! [`run::main`]. `examples/srq_pingpong/` (for `ibv_srq_pingpong`) compiles the command line,
//! output, device, sys, variant and watchdog modules with its `SRQ` variant, and has its own
//! exchange, setup and loop. `examples/ud_pingpong/` (for `ibv_ud_pingpong`) compiles them and
//! the TCP exchange (`exchange.rs`, which the three tools share) with its `UD` variant, and has
//! its own setup (a UD QP, an address handle) and loop.

mod args;
mod connect;
mod device;
mod drive;
mod exchange;
mod output;
mod pingpong;
mod run;
mod sys;
mod variant;
mod watchdog;

use std::process::ExitCode;

use rdma_verbs::QpType;

use crate::variant::{Tool, Variant};

/// `ibv_rc_pingpong`: an RC QP, and its options beyond `ibv_uc_pingpong`'s.
const RC: Variant = Variant {
    name: "rc_pingpong",
    c_tool: "ibv_rc_pingpong",
    tool: Tool::Rc,
    qp_type: QpType::Rc,
    usage_qp_options: "",
    usage_options: "  -N, --new_send         use new post send WR API\n",
    usage_notes: "Not supported (rejected): -o/--odp, -O/--iodp, -P/--prefetch, -t/--ts, \
                  -j/--dm.\n",
    usage_memory: "(rx-depth + 1) * size bytes (one piece per posted receive, one to send)",
    parse_wc_failed_line: true,
};

fn main() -> ExitCode {
    run::main(&RC)
}

#[cfg(test)]
mod tests {
    use crate::args::{parse_args, usage, Cmd};
    use crate::RC;

    fn parse(args: &[&str]) -> Result<Cmd, crate::args::ArgError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse_args(&RC, "rc_pingpong", &args)
    }

    /// `-N` selects the extended post API; the ODP, timestamp and device-memory options are refused with a
    /// message naming `ibv_rc_pingpong` and no usage, as before `uc_pingpong` shared the code.
    #[test]
    fn rc_options_are_still_rc_options() {
        assert!(matches!(
            parse(&["-N", "--new_send", "host"]),
            Ok(Cmd::Run(o)) if o.new_send
        ));
        assert!(matches!(parse(&["host"]), Ok(Cmd::Run(o)) if !o.new_send));
        for opt in ["-o", "-O", "-P", "-t", "-j", "--odp", "--ts"] {
            match parse(&[opt]) {
                Err(e) => {
                    let msg = e.msg.unwrap_or_default();
                    assert!(
                        !e.usage && msg.ends_with("by this clone of ibv_rc_pingpong"),
                        "{msg}"
                    );
                }
                Ok(_) => panic!("{opt} accepted"),
            }
        }
        let u = usage(&RC, "rc_pingpong");
        assert!(
            u.contains("  -N, --new_send         use new post send WR API"),
            "{u}"
        );
        assert!(u.contains("Not supported (rejected): -o/--odp"), "{u}");
    }
}
