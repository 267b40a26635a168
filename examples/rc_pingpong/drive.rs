//! The completion loop every ping-pong drop-in runs once its first send is posted: wait (CQ
//! events with `-e`, else busy polling), hand each completion to the tool, and at the end
//! print the statistics lines and the pages `-c` found bad, as the C tools do.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rdma_verbs::{CompletionQueue, WorkCompletion};

use crate::args::Opts;
use crate::output::{fail, out, stats_lines, Failed};
use crate::variant::Variant;
use crate::watchdog::WATCHDOG_DONE;

/// What the loop needs of a tool's ping-pong state.
pub(crate) trait Exchanges {
    /// Receives and sends completed so far.
    fn counts(&self) -> (u32, u32);
    /// Handles one completion; false (its message printed) when the run must stop.
    fn handle(&mut self, wc: &WorkCompletion) -> bool;
    /// Tells the watchdog, if any, that the run moved.
    fn note_progress(&self);
    /// The watchdog's progress counter, if `--timeout` started one.
    fn progress(&self) -> Option<&AtomicU64>;
    /// The pages of the last message `-c` found bad (none without `-c`).
    fn bad_pages(&self) -> Vec<usize>;
}

/// Runs the loop until `o.iters` receives and sends have completed, polling `cq` into `wcs`.
pub(crate) fn drive(
    v: &Variant,
    o: &Opts,
    cq: &CompletionQueue,
    pp: &mut impl Exchanges,
    wcs: &mut [WorkCompletion],
) -> Result<(), Failed> {
    let start = Instant::now();
    loop {
        let (rcnt, scnt) = pp.counts();
        if rcnt >= o.iters && scnt >= o.iters {
            break;
        }
        if o.events {
            if cq.get_event().is_err() {
                return Err(fail!("Failed to get cq_event"));
            }
            if cq.req_notify(false).is_err() {
                return Err(fail!("Couldn't request CQ notification"));
            }
        }
        let ne = loop {
            match cq.poll(wcs) {
                Ok(got) if o.events || !got.is_empty() => break got.len(),
                Ok(_) => {}
                Err(e) => {
                    let code = e.errno().map_or(-1, |n| -n);
                    return Err(fail!(format!("poll CQ failed {code}")));
                }
            }
        };
        for wc in &wcs[..ne] {
            if !pp.handle(wc) {
                // Only ibv_rc_pingpong prints a `parse WC failed` line (its variant says so).
                if v.parse_wc_failed_line {
                    return Err(fail!(format!("parse WC failed {ne}")));
                }
                return Err(Failed);
            }
        }
        pp.note_progress();
    }
    let elapsed = start.elapsed();
    if let Some(p) = pp.progress() {
        p.store(WATCHDOG_DONE, Ordering::Relaxed);
    }
    stats_lines(o.size, o.iters, elapsed);
    for p in pp.bad_pages() {
        out!("invalid data in page {p}");
    }
    cq.ack_events();
    Ok(())
}
