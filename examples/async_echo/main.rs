//! `async_echo`: one tokio runtime serving many RC queue pairs at once.
//!
//! Run it without a host to be the **server**, with the server's address to be the **client**:
//!
//! ```text
//! server$ async_echo -d rxe0
//! client$ async_echo -d rxe0 198.18.0.1 --qps 64 --iters 100 --size 4096
//! ```
//!
//! Both sides create `--qps` RC queue pairs, each with its own CQ and completion channel, and
//! exchange their addresses as `RDMA-EP/1` lines over one TCP connection
//! ([`rdma_verbs::exchange`]): the client sends all of its endpoints, the server connects every QP,
//! posts two receives on each, and answers with its own. Then every QP gets a task on one
//! tokio runtime (`--threads 1`, the default, is a current-thread runtime: one thread serves
//! them all). The client's task on QP *i* sends `--iters` messages of `--size` bytes whose
//! contents depend on *i* and the round, the server's task sends each message back as it came,
//! and the client compares every echoed byte with what it sent; a zero-length message ends the
//! connection.
//!
//! Completions are awaited with [`rdma_verbs::AsyncCq`] in the `--mode` chosen: `event` (sleep on
//! the completion channel, idle-friendly), `busy` (poll and yield, lowest latency, burns a
//! core) or `adaptive`. Posting stays synchronous.
//!
//! Output on success: the server prints `echoed M messages, B bytes, on N QPs`, the client
//! `verified M echoes (B bytes) byte for byte on N QPs in S s: R round trips/s`. With
//! `--json` a JSON line follows: CPU seconds of the process and of the whole machine over the
//! run, and (client) round-trip latencies (mean, median, 99th percentile, maximum), for
//! scripts/scale-curves. On any
//! error the program prints `async_echo: <what went wrong>` to stderr, naming the QP, and exits
//! with status 1 (2 for a bad command line); the other connections' tasks are aborted, which
//! is safe: a QP destroys itself before it frees the buffers it holds. Every wait is bounded
//! by `--timeout`; a peer that dies makes the waits end with an error completion (sends that
//! exhaust their retries, then flushed requests) or, for a server with nothing in flight, with
//! the timeout (RC has no keep-alive).
//!
//! There is no `unsafe` code.

#![forbid(unsafe_code)]

mod args;
mod echo;
mod measure;
use rdma_examples::output;
mod setup;

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use rdma_verbs::{Access, AsyncCq, MemoryRegion, RecvWr};
use tokio::task::JoinSet;

use crate::args::Args;
use crate::echo::{Done, Stats, Task};
use crate::measure::{rtt_stats, Cpu, Line};
use crate::output::{say, Doing, Failure};
use crate::setup::{open, Conn};

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(io::stderr().lock(), "async_echo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), Failure> {
    let dev = open(args)?;
    let conns = dev.conns(args.qps)?;
    let conns = match &args.host {
        None => setup::accept(&dev, conns, args, |conns| {
            for (i, c) in conns.iter_mut().enumerate() {
                for _ in 0..2 {
                    let buf = MemoryRegion::new(&dev.pd, args.size as usize, Access::LOCAL_WRITE)?;
                    c.qp.post_recv(RecvWr::recv(buf))
                        .doing(&format!("QP {i}: posting a receive"))?;
                }
            }
            Ok(())
        })?,
        Some(host) => setup::connect(&dev, conns, args, host)?,
    };
    let runtime = match args.threads {
        1 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n as usize)
            .enable_all()
            .build(),
    }
    .doing("starting the tokio runtime")?;
    let cpu = Cpu::now();
    let started = Instant::now();
    let Done {
        stats: total,
        mut rtt_ns,
    } = runtime.block_on(serve_all(args, &dev.pd, conns))?;
    let secs = started.elapsed().as_secs_f64();
    let cpu = Cpu::now().since(cpu);
    match &args.host {
        None => say!(
            "echoed {} messages, {} bytes, on {} QPs",
            total.messages,
            total.bytes,
            args.qps
        ),
        Some(_) => say!(
            "verified {} echoes ({} bytes) byte for byte on {} QPs in {secs:.3} s: {:.0} round \
             trips/s, {:?} mode",
            total.messages,
            total.bytes,
            args.qps,
            total.messages as f64 / secs,
            args.mode
        ),
    }
    if args.json {
        let line = Line {
            role: if args.host.is_some() {
                "client"
            } else {
                "server"
            },
            qps: args.qps,
            threads: args.threads,
            size: args.size,
            mode: args.mode.name(),
            messages: total.messages,
            wall_s: secs,
            cpu,
            rtt: rtt_stats(&mut rtt_ns),
        };
        say!("{line}");
    }
    Ok(())
}

/// Spawns one task per connection, sums what they moved and gathers the round-trip times;
/// the first failure aborts the others and is returned.
async fn serve_all(
    args: &Args,
    pd: &rdma_verbs::ProtectionDomain,
    conns: Vec<Conn>,
) -> Result<Done, Failure> {
    let mut tasks = JoinSet::new();
    for (index, c) in conns.into_iter().enumerate() {
        let task = Task {
            index,
            acq: AsyncCq::new(c.cq, args.mode.wait_mode()).doing(&format!("QP {index}"))?,
            qp: c.qp,
            timeout: Duration::from_secs(args.timeout),
        };
        match &args.host {
            None => tasks.spawn(task.serve(args.corrupt_echo)),
            Some(_) => tasks.spawn(task.client(pd.clone(), args.size as usize, args.iters)),
        };
    }
    let mut total = Stats::default();
    let mut rtt_ns = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(d)) => {
                total.messages += d.stats.messages;
                total.bytes += d.stats.bytes;
                rtt_ns.extend(d.rtt_ns);
            }
            Ok(Err(e)) => {
                tasks.abort_all();
                return Err(e);
            }
            Err(e) => {
                tasks.abort_all();
                return Err(Failure(format!("a connection's task failed: {e}")));
            }
        }
    }
    Ok(Done {
        stats: total,
        rtt_ns,
    })
}
