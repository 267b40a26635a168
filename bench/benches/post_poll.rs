//! What the safe API costs on the data path, against raw FFI calls doing the same work, on the
//! host: both run over the in-process stub provider (the `rdma-stub` crate), whose ops table is a set
//! of `extern "C"` stubs. Both sides make the same one indirect call into the same stub, so the
//! difference is the wrapper's own work (checks, the in-flight ring, nonces, `complete`).
//!
//! Groups, each `safe_*` against `raw_*` on the same stub QP and CQ:
//! - `post_send`: one SEND from a shared source (SGE) and one inline SEND; one in 64 is
//!   signaled, then polled (and, safe side, handed to `complete`, retiring the 64).
//! - `recv_cycle`: post a receive, poll its completion, and (safe side) `complete` it, which
//!   hands the buffer back for the next round.
//! - `poll_empty`: polling an empty CQ (16 entries asked).
//! - `send_batch16`: 16 SENDs chained and posted with one doorbell, the last signaled, polled
//!   and completed; the time is per batch (per WR: divide by 16).
//! - `run`: posts from a run (`QueuePair::run`): a SEND template from a shared source (one in
//!   64 signaled, polled, completed) and a 16-SEND chain, against raw requests built once and
//!   posted again with only their `wr_id` and flags set; per block of 1024 sends.
//!
//! Before the groups, `main` runs 10 000 rounds of each safe operation under a counting global
//! allocator and fails when any allocated (or freed) memory.
//!
//! After them, it measures every pair again interleaved (alternating blocks of about a
//! thousand operations, 2001 blocks per side, 101 with `--quick`) and prints the median ns
//! of each side and the median and quartiles of the per-block difference: criterion runs one
//! benchmark after the other, and on a shared host that alone moves them apart by more than
//! what is measured here. The receive pairs there split posting and completing (256 receives
//! posted, then all polled and completed), each timed alone.
//!
//! Full run: `cargo bench -p rdma-bench --bench post_poll`. Short mode (CI): `-- --quick`.
//! `-- --interleaved [BLOCKS]` prints only the interleaved table. `-- --count OP ROUNDS` runs
//! one operation's loop, for `scripts/count-instructions` (instructions per operation under
//! valgrind, which do not depend on the load).
//!
//! The parts, in `post_poll/`: `setup.rs` the fixture over the stub ([`Bench`]);
//! `rounds.rs` one round of each operation, safe and raw; `extended.rs` the raw `ibv_wr_*`
//! twins of the sends on an extended QP (`--count` rows `ex_*`); `blocks.rs` the blocks of receives
//! and runs; `groups.rs` the criterion groups; `interleaved.rs` the interleaved table;
//! `zero_alloc.rs` the counting allocator and the zero-allocation check; `count.rs` the
//! `count_*` loops of `--count`.

#[path = "post_poll/blocks.rs"]
mod blocks;
#[path = "post_poll/count.rs"]
mod count;
#[path = "post_poll/extended.rs"]
mod extended;
#[path = "post_poll/groups.rs"]
mod groups;
#[path = "post_poll/interleaved.rs"]
mod interleaved;
#[path = "common/median.rs"]
mod median;
#[path = "post_poll/rounds.rs"]
mod rounds;
#[path = "post_poll/setup.rs"]
mod setup;
#[path = "post_poll/zero_alloc.rs"]
mod zero_alloc;

use criterion::Criterion;
use setup::Bench;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--count") {
        return count::count_mode(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("--interleaved") {
        // Only the interleaved table: `--interleaved [BLOCKS]`.
        let blocks = args.get(1).map_or(Ok(2001), |n| n.parse());
        let Ok(blocks @ 1..) = blocks else {
            eprintln!("usage: post_poll --interleaved [BLOCKS]   (BLOCKS: a positive number)");
            std::process::exit(2);
        };
        return interleaved::interleaved(blocks);
    }
    zero_alloc::zero_alloc_check();
    // `--quick` (CI) and `--test` (cargo test --benches) shorten the interleaved run too.
    let short = args.iter().any(|a| a == "--quick" || a == "--test");
    let blocks = if short { 101 } else { 2001 };
    let mut c = Criterion::default().configure_from_args();
    let mut b = Bench::new();
    groups::all(&mut c, &mut b);
    c.final_summary();
    interleaved::interleaved(blocks);
}
