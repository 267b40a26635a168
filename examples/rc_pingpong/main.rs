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
//! - `-N` is accepted and changes nothing (the classic post-send API gives the same traffic);
//!   `-o`, `-O`, `-P`, `-t` and `-j` (ODP, prefetch, timestamps, device memory) are rejected.
//! - Where the C tool prints a fixed error message (`Failed to modify QP to RTR`, `Couldn't
//!   register MR`, ...), the same line is printed, followed by a line `rc_pingpong: <cause>`.
//! - A malformed address message from the peer is an error (the C tool's `sscanf` takes anything).
//! - Elapsed time comes from the monotonic clock (the C tool uses `gettimeofday`); the
//!   statistics are then computed and rounded exactly as the C tool does (f32 microseconds).
//! - stdout is line-buffered (C buffers it fully when it is not a terminal).
//! - Teardown errors are not reported (the crate releases resources on drop).

mod args;
mod connect;
mod output;
mod pingpong;
mod sys;
mod watchdog;

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Instant;

use rdma_exchange::PingpongDest;
use rdma_verbs::{
    Access, CompletionQueue, DeviceList, Error, Gid, LinkLayer, MemoryRegion, ProtectionDomain,
    QpCaps, QueuePair, WorkCompletion,
};

use crate::args::{parse_args, usage, Cmd, Opts};
use crate::connect::{client_exchange, connect_qp, server_exchange};
use crate::output::{address_line, detail, f2, fail, out, strerror, Failed};
use crate::pingpong::{post_recv, Pingpong, RECV_WRID, SEND_WRID};
use crate::sys::{page_size, random_psn};
use crate::watchdog::{watchdog, WATCHDOG_DONE};

/// The byte the C tool fills its buffer with (`memset(buf, 0x7b, size)`).
const FILL: u8 = 0x7b;

fn run(o: &Opts) -> Result<(), Failed> {
    let page = page_size();
    let size = o.size as usize;

    let list = DeviceList::new().map_err(|e| match e {
        Error::Verb { source, .. } => fail!(format!(
            "Failed to get IB devices list: {}",
            strerror(&source)
        )),
        e => fail!("Failed to get IB devices list", detail(&e)),
    })?;
    let dev = list
        .find(o.ib_dev.as_deref())
        .map_err(|e| match &o.ib_dev {
            Some(name) => fail!(format!("IB device {name} not found"), detail(&e)),
            None => fail!("No IB devices found", detail(&e)),
        })?;
    let ctx = dev.open().map_err(|e| {
        fail!(
            format!("Couldn't get context for {}", dev.name()),
            detail(&e)
        )
    })?;

    let mut cq = CompletionQueue::builder(&ctx, o.rx_depth + 1);
    if o.events {
        cq = cq.with_channel();
    }
    let cq = cq.build().map_err(|e| {
        if e.verb() == Some("ibv_create_comp_channel") {
            fail!("Couldn't create completion channel", detail(&e))
        } else {
            fail!("Couldn't create CQ", detail(&e))
        }
    })?;
    let pd = ProtectionDomain::new(&ctx).map_err(|e| fail!("Couldn't allocate PD", detail(&e)))?;
    let register = |len: usize| {
        let mut mr = MemoryRegion::new(&pd, len, Access::LOCAL_WRITE)
            .map_err(|e| fail!("Couldn't register MR", detail(&e)))?;
        if let Some(bytes) = mr.as_mut_slice() {
            bytes.fill(FILL);
        }
        Ok::<_, Failed>(mr)
    };
    // One piece per posted receive, plus the spare that the client's first message is sent
    // from (see the module documentation).
    let mr = register((o.rx_depth as usize + 1) * size)?;

    let mut qp = QueuePair::builder(&pd, &cq, &cq)
        .caps(QpCaps {
            max_send_wr: 1,
            max_recv_wr: o.rx_depth,
            max_send_sge: 1,
            max_recv_sge: 1,
            max_inline_data: 0,
        })
        .build()
        .map_err(|e| fail!("Couldn't create QP", detail(&e)))?;
    // The C rule: inline when the QP's actual max_inline_data covers the message.
    let inline = qp.caps().max_inline_data >= o.size;
    qp.init(o.ib_port, 0, Access::NONE)
        .map_err(|e| fail!("Failed to modify QP to INIT", detail(&e)))?;

    let mut free = mr.chunks(size);
    let mut current = free.pop().expect("rx_depth + 1 pieces");
    free.reverse(); // post the pieces in address order (pop takes from the end)
    let (routs, _) = post_recv(&mut qp, &mut free, o.rx_depth);
    if routs < o.rx_depth {
        return Err(fail!(format!("Couldn't post receive ({routs})")));
    }
    if o.events {
        cq.req_notify(false)
            .map_err(|e| fail!("Couldn't request CQ notification", detail(&e)))?;
    }

    let port = ctx
        .query_port(o.ib_port)
        .map_err(|e| fail!("Couldn't get port info", detail(&e)))?;
    if port.link_layer() != LinkLayer::Ethernet && port.lid() == 0 {
        return Err(fail!("Couldn't get local LID"));
    }
    let gid = match u32::try_from(o.gidx) {
        Ok(idx) => ctx
            .query_gid(o.ib_port, idx)
            .map_err(|e| fail!(format!("can't read sgid of index {}", o.gidx), detail(&e)))?,
        Err(_) => Gid::ZERO,
    };
    let my = PingpongDest {
        lid: port.lid(),
        qpn: qp.qpn(),
        psn: random_psn(),
        gid,
    };
    address_line("local address: ", &my);

    let qp = match &o.servername {
        Some(host) => {
            let rem = client_exchange(o, host, &my)?;
            address_line("remote address:", &rem);
            connect_qp(qp, o, my.psn, &rem)?
        }
        None => {
            let (qp, rem) = server_exchange(o, qp, &my)?;
            address_line("remote address:", &rem);
            qp
        }
    };

    let mut check = None;
    if o.servername.is_some() && o.chk {
        if let Some(bytes) = current.as_mut_slice() {
            for i in (0..size).step_by(page) {
                bytes[i] = 0; // i / page_size % sizeof(char)
            }
        }
    } else if o.chk {
        // Before any message arrives the buffer holds the 0x7b fill: every page is "invalid".
        check = Some((page, (0..size).step_by(page).map(|i| i / page).collect()));
    }
    let mut pp = Pingpong {
        qp,
        free,
        current: Some(current),
        inline,
        rx_depth: o.rx_depth,
        iters: o.iters,
        routs: i64::from(routs),
        deficit: 0,
        rcnt: 0,
        scnt: 0,
        pending: RECV_WRID,
        check,
        progress: None,
    };
    if o.servername.is_some() {
        if !pp.post_send() {
            return Err(fail!("Couldn't post send"));
        }
        pp.pending |= SEND_WRID;
    }
    if let Some(t) = o.timeout {
        pp.progress = Some(watchdog(t, o.iters));
    }

    let start = Instant::now();
    let mut wcs = [WorkCompletion::default(); 2];
    while pp.rcnt < o.iters || pp.scnt < o.iters {
        if o.events {
            if cq.get_event().is_err() {
                return Err(fail!("Failed to get cq_event"));
            }
            if cq.req_notify(false).is_err() {
                return Err(fail!("Couldn't request CQ notification"));
            }
        }
        let ne = loop {
            match cq.poll(&mut wcs) {
                Ok(got) if o.events || !got.is_empty() => break got.len(),
                Ok(_) => {}
                Err(e) => {
                    let code = e.errno().map_or(-1, |n| -n);
                    return Err(fail!(format!("poll CQ failed {code}")));
                }
            }
        };
        for wc in &wcs[..ne] {
            if !pp.parse_single_wc(wc) {
                return Err(fail!(format!("parse WC failed {ne}")));
            }
        }
        pp.note_progress();
    }
    let elapsed = start.elapsed();
    if let Some(p) = &pp.progress {
        p.store(WATCHDOG_DONE, Ordering::Relaxed);
    }

    // As the C tool: integer microseconds held in a float.
    let usec = elapsed.as_micros() as i64 as f32;
    let bytes = i64::from(o.size) * i64::from(o.iters) * 2;
    let secs = f2(f64::from(usec) / 1_000_000.0);
    out!(
        "{bytes} bytes in {secs} seconds = {} Mbit/sec",
        f2(bytes as f64 * 8.0 / f64::from(usec))
    );
    out!(
        "{} iters in {secs} seconds = {} usec/iter",
        o.iters as i32,
        f2(f64::from(usec / o.iters as f32))
    );
    if let Some((_, bad)) = &pp.check {
        for p in bad {
            out!("invalid data in page {p}");
        }
    }
    cq.ack_events();
    Ok(())
}

fn main() -> ExitCode {
    let mut raw = std::env::args_os();
    let argv0 = raw.next().map_or_else(
        || "rc_pingpong".into(),
        |a| a.to_string_lossy().into_owned(),
    );
    let mut args = Vec::new();
    for a in raw {
        match a.into_string() {
            Ok(s) => args.push(s),
            Err(a) => {
                let _ = fail!(format!("{argv0}: argument {a:?} is not valid UTF-8"));
                return ExitCode::from(1);
            }
        }
    }
    let opts = match parse_args(&argv0, &args) {
        Ok(Cmd::Run(o)) => o,
        Ok(Cmd::Help) => {
            let _ = io::stdout().lock().write_all(usage(&argv0).as_bytes());
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            if let Some(msg) = e.msg {
                let _ = fail!(msg);
            }
            if e.usage {
                let _ = io::stdout().lock().write_all(usage(&argv0).as_bytes());
            }
            return ExitCode::from(1);
        }
    };
    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failed) => ExitCode::from(1),
    }
}
