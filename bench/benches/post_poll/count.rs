//! Instruction counts: `--count OP N` runs one operation's loop, which
//! `scripts/count-instructions` runs under valgrind (`--toggle-collect=*::count_safe_NAME`).
//! The loops keep their names and stay `#[inline(never)]`: the script finds them by name.

use crate::setup::Bench;
use rdma_verbs::PostApi;

/// `n` rounds of one operation, in a function of its own that is never inlined, so that
/// callgrind (`--toggle-collect`) counts exactly the instructions of these rounds.
///
/// A loop marked `in API` first checks that its fixture's QP posts with `api`: the check keeps
/// the extended loops, whose rounds are the classic ones', from being merged with them (rustc
/// merges identical functions, and callgrind would then know the loop by the other name).
macro_rules! count_loops {
    ($($name:ident $(in $api:path)? => $op:expr;)*) => {
        $(
            #[inline(never)]
            fn $name(b: &mut Bench, n: u64) {
                $(assert_eq!(b.qp.post_api(), $api, "the fixture of {}", stringify!($name));)?
                let op: fn(&mut Bench) = $op;
                for _ in 0..n {
                    op(b);
                }
            }
        )*
        /// The operations `--count` knows, by name.
        const COUNTED: &[(&str, fn(&mut Bench, u64))] = &[$((stringify!($name), $name)),*];
    };
}

count_loops! {
    count_safe_shared => |b| b.safe_send(false);
    count_raw_shared => |b| b.raw_send(false);
    count_safe_inline => |b| b.safe_send(true);
    count_raw_inline => |b| b.raw_send(true);
    count_safe_recv_cycle => Bench::safe_recv_cycle;
    count_raw_recv_cycle => Bench::raw_recv_cycle;
    count_safe_recvs => |b| {
        b.safe_post_recvs();
        b.safe_complete_recvs();
    };
    count_raw_recvs => |b| {
        b.raw_post_recvs();
        b.raw_complete_recvs();
    };
    count_safe_poll_empty => Bench::safe_poll_empty;
    count_raw_poll_empty => Bench::raw_poll_empty;
    count_safe_batch16 => Bench::safe_batch16;
    count_raw_batch16 => Bench::raw_batch16;
    count_safe_poll_full => |b| b.poll_full(true);
    count_raw_poll_full => |b| b.poll_full(false);
    count_safe_run_sends => |b| {
        b.run_sends();
    };
    count_raw_run_sends => |b| {
        b.raw_prepared_sends();
    };
    count_safe_run_chains16 => |b| {
        b.run_chains16();
    };
    count_raw_run_chains16 => |b| {
        b.raw_prepared_chains16();
    };
    count_safe_run_recvs => |b| {
        b.run_post_recvs();
        b.sink_complete_recvs();
    };
    count_raw_run_recvs => |b| {
        b.raw_sink_post_recvs();
        b.raw_sink_complete_recvs();
    };
    // On an extended QP (`ex_*`: the fixture is made with `PostApi::Extended`).
    count_safe_ex_shared in PostApi::Extended => |b| b.safe_send(false);
    count_raw_ex_shared in PostApi::Extended => |b| b.raw_send_ex(false);
    count_safe_ex_inline in PostApi::Extended => |b| b.safe_send(true);
    count_raw_ex_inline in PostApi::Extended => |b| b.raw_send_ex(true);
    count_safe_ex_batch16 in PostApi::Extended => Bench::safe_batch16;
    count_raw_ex_batch16 in PostApi::Extended => Bench::raw_batch16_ex;
}

/// `--count OP N`: runs `N` rounds of `OP` (a name of [`COUNTED`]) in its own
/// function. Without valgrind this only checks that the operation runs.
pub(crate) fn count_mode(args: &[String]) {
    let usage = || {
        let names: Vec<_> = COUNTED.iter().map(|(n, _)| *n).collect();
        eprintln!(
            "usage: post_poll --count OP ROUNDS   (OP: {})",
            names.join(", ")
        );
        std::process::exit(2);
    };
    let [op, rounds] = args else { usage() };
    let Some(&(_, run)) = COUNTED.iter().find(|(n, _)| n == op) else {
        usage()
    };
    let Ok(rounds) = rounds.parse::<u64>() else {
        usage()
    };
    let api = if op.contains("_ex_") {
        PostApi::Extended
    } else {
        PostApi::Classic
    };
    let mut b = Bench::with_api(api);
    run(&mut b, rounds);
    println!("{op}: {rounds} rounds");
}
