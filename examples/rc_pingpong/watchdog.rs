//! The `--timeout` watchdog of the main loop.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::output::fail;

/// Marks the end of the loop for the watchdog.
pub(crate) const WATCHDOG_DONE: u64 = u64::MAX;

/// With `--timeout`: a thread that ends the process (status 1) when neither count moved for
/// `timeout`. A thread, because `ibv_get_cq_event` blocks with no timeout of its own. `name`
/// (the program's) prefixes its message.
pub(crate) fn watchdog(name: &'static str, timeout: Duration, iters: u32) -> Arc<AtomicU64> {
    let progress = Arc::new(AtomicU64::new(0));
    let p = progress.clone();
    thread::spawn(move || {
        let mut last = p.load(Ordering::Relaxed);
        let mut since = Instant::now();
        loop {
            thread::sleep(timeout.min(Duration::from_millis(50)));
            let now = p.load(Ordering::Relaxed);
            if now == WATCHDOG_DONE {
                return;
            }
            if now != last {
                last = now;
                since = Instant::now();
            } else if since.elapsed() >= timeout {
                let _ = fail!(format!(
                    "{name}: timed out: no completion for {:?} (received {} and sent {} of \
                     {iters} messages); the peer stopped, or its options (-s, -n) differ",
                    timeout,
                    now >> 32,
                    now & 0xffff_ffff
                ));
                std::process::exit(1);
            }
        }
    });
    progress
}
