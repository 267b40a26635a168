//! A progress line on stderr for long runs, when stderr is a terminal.
//!
//! The measured loop must not allocate, lock or make system calls, so it only
//! stores its count in an [`AtomicU64`] (relaxed): [`Progress::counter`], or an
//! `Arc` clone from [`Progress::counter_arc`] taken before the loop. A background
//! thread wakes every 200 ms and, once the run has lasted more than 1 s, rewrites
//! one line:
//!
//! ```text
//! write_bw 65536 B: 12345/100000 iterations (12%), 3.1 s
//! write_bw 65536 B: 3.1/10.0 s (31%), 12345 iterations
//! ```
//!
//! (the first for a count of iterations, the second for a duration). Dropping the
//! [`Progress`] (or [`finish`](Progress::finish)) wakes the thread at once through
//! a condition variable, joins it and erases the line. When stderr is not a
//! terminal no thread is started at all. Finish the display before printing the
//! results, so that they do not land on the progress line.
//!
//! ```no_run
//! use rdma_bench::output::progress::{Progress, Total};
//! use std::sync::atomic::Ordering;
//!
//! let progress = Progress::start("write_bw 65536 B".into(), Total::Iterations(100_000));
//! let done = progress.counter();
//! for i in 1..=100_000u64 {
//!     // ... one iteration ...
//!     done.store(i, Ordering::Relaxed);
//! }
//! progress.finish();
//! ```

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the run goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Total {
    /// This many iterations (what the counter counts).
    Iterations(u64),
    /// This long (`-D`); the counter still counts iterations.
    Duration(Duration),
}

/// When the line is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Between two updates of the line.
    pub interval: Duration,
    /// Nothing is drawn before the run has lasted this long.
    pub show_after: Duration,
}

impl Default for Timing {
    /// Every 200 ms, after 1 s.
    fn default() -> Self {
        Timing {
            interval: Duration::from_millis(200),
            show_after: Duration::from_secs(1),
        }
    }
}

/// What the thread and the handle share.
struct Stop {
    stopped: Mutex<bool>,
    wake: Condvar,
}

struct Worker {
    stop: Arc<Stop>,
    thread: JoinHandle<()>,
}

/// A running progress display; dropping it stops the display and erases the line.
pub struct Progress {
    counter: Arc<AtomicU64>,
    worker: Option<Worker>,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("counter", &self.counter.load(Ordering::Relaxed))
            .field("active", &self.is_active())
            .finish()
    }
}

impl Progress {
    /// Starts a display on stderr if it is a terminal (otherwise the returned
    /// handle only holds the counter).
    pub fn start(label: String, total: Total) -> Progress {
        let tty = std::io::stderr().is_terminal();
        Progress::start_with(label, total, std::io::stderr(), tty, Timing::default())
    }

    /// Starts a display on `out` if `enabled`, with the given timing. With
    /// `enabled` false (or if the thread cannot be created) no thread runs and
    /// nothing is written.
    pub fn start_with<W: Write + Send + 'static>(
        label: String,
        total: Total,
        out: W,
        enabled: bool,
        timing: Timing,
    ) -> Progress {
        let counter = Arc::new(AtomicU64::new(0));
        let worker = if enabled {
            let stop = Arc::new(Stop {
                stopped: Mutex::new(false),
                wake: Condvar::new(),
            });
            let state = Display {
                label,
                total,
                counter: Arc::clone(&counter),
                started: Instant::now(),
                timing,
                out,
                drawn: 0,
            };
            let thread_stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("rdma-perf-progress".into())
                .spawn(move || state.run(&thread_stop))
                .ok()
                .map(|thread| Worker { stop, thread })
        } else {
            None
        };
        Progress { counter, worker }
    }

    /// The count the measured loop updates (relaxed stores of the iterations
    /// done so far).
    pub fn counter(&self) -> &AtomicU64 {
        &self.counter
    }

    /// A shared handle on [`counter`](Self::counter), for a loop on another
    /// thread; take it before the loop.
    pub fn counter_arc(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.counter)
    }

    /// Whether a display thread runs.
    pub fn is_active(&self) -> bool {
        self.worker.is_some()
    }

    /// Stops the display and erases its line (what dropping does).
    pub fn finish(self) {}
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(w) = self.worker.take() {
            *w.stop
                .stopped
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = true;
            w.stop.wake.notify_all();
            // A panic in the display thread is not the run's problem.
            let _ = w.thread.join();
        }
    }
}

/// The display thread's state.
struct Display<W> {
    label: String,
    total: Total,
    counter: Arc<AtomicU64>,
    started: Instant,
    timing: Timing,
    out: W,
    /// Characters of the line on screen (0: none).
    drawn: usize,
}

impl<W: Write> Display<W> {
    fn run(mut self, stop: &Stop) {
        let mut stopped = stop.stopped.lock().unwrap_or_else(PoisonError::into_inner);
        while !*stopped {
            stopped = stop
                .wake
                .wait_timeout(stopped, self.timing.interval)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            if *stopped {
                break;
            }
            let elapsed = self.started.elapsed();
            if elapsed > self.timing.show_after {
                self.draw(elapsed);
            }
        }
        drop(stopped);
        self.clear();
    }

    fn draw(&mut self, elapsed: Duration) {
        let line = line(
            &self.label,
            self.total,
            self.counter.load(Ordering::Relaxed),
            elapsed,
        );
        let len = line.chars().count();
        // Pad with spaces over the rest of a longer previous line.
        let pad = self.drawn.saturating_sub(len);
        // Progress is best effort: a failed write is not an error of the run.
        let _ = write!(self.out, "\r{line}{:pad$}", "");
        let _ = self.out.flush();
        self.drawn = len;
    }

    fn clear(&mut self) {
        if self.drawn > 0 {
            let _ = write!(self.out, "\r{:w$}\r", "", w = self.drawn);
            let _ = self.out.flush();
            self.drawn = 0;
        }
    }
}

/// `done` as a percentage of `total`, at most 100 (`None` when `total` is 0).
fn percent(done: f64, total: f64) -> Option<u32> {
    if total > 0.0 && done.is_finite() {
        Some((done / total * 100.0).clamp(0.0, 100.0) as u32)
    } else {
        None
    }
}

/// The text of the line (without `\r`).
fn line(label: &str, total: Total, done: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    match total {
        Total::Iterations(n) => match percent(done as f64, n as f64) {
            Some(p) => format!("{label}: {done}/{n} iterations ({p}%), {secs:.1} s"),
            None => format!("{label}: {done} iterations, {secs:.1} s"),
        },
        Total::Duration(d) => {
            let t = d.as_secs_f64();
            match percent(secs, t) {
                Some(p) => format!("{label}: {secs:.1}/{t:.1} s ({p}%), {done} iterations"),
                None => format!("{label}: {secs:.1} s, {done} iterations"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose bytes the test can read.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn fast() -> Timing {
        Timing {
            interval: Duration::from_millis(5),
            show_after: Duration::from_millis(20),
        }
    }

    #[test]
    fn lines_appear_when_enabled_and_are_erased() {
        let out = Shared::default();
        let p = Progress::start_with(
            "write_bw 65536 B".into(),
            Total::Iterations(100_000),
            out.clone(),
            true,
            fast(),
        );
        assert!(p.is_active());
        let c = p.counter_arc();
        c.store(12_345, Ordering::Relaxed);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !out.text().contains("12345/100000") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        p.counter().store(100_000, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(50));
        p.finish();
        let text = out.text();
        assert!(
            text.contains("\rwrite_bw 65536 B: 12345/100000 iterations (12%), "),
            "{text:?}"
        );
        assert!(text.contains("100000/100000 iterations (100%)"), "{text:?}");
        // Ends by blanking the line and returning to its start.
        assert!(text.ends_with(" \r"), "{text:?}");
        let last = text.rsplit('\r').nth(1).unwrap();
        assert!(last.chars().all(|c| c == ' ') && !last.is_empty());
    }

    #[test]
    fn nothing_before_show_after() {
        let out = Shared::default();
        let p = Progress::start_with(
            "x".into(),
            Total::Iterations(10),
            out.clone(),
            true,
            Timing {
                interval: Duration::from_millis(5),
                show_after: Duration::from_secs(3600),
            },
        );
        std::thread::sleep(Duration::from_millis(50));
        drop(p);
        assert_eq!(out.text(), "");
    }

    #[test]
    fn disabled_starts_no_thread_and_writes_nothing() {
        let out = Shared::default();
        let p = Progress::start_with(
            "x".into(),
            Total::Duration(Duration::from_secs(5)),
            out.clone(),
            false,
            fast(),
        );
        assert!(!p.is_active());
        p.counter().store(7, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(p.counter().load(Ordering::Relaxed), 7);
        drop(p);
        assert_eq!(out.text(), "");
        // Only this test's handle and the clone hold the buffer: no thread kept one.
        assert_eq!(Arc::strong_count(&out.0), 1);
    }

    #[test]
    fn drop_is_prompt() {
        let out = Shared::default();
        let p = Progress::start_with(
            "x".into(),
            Total::Iterations(10),
            out,
            true,
            Timing {
                interval: Duration::from_secs(60),
                show_after: Duration::ZERO,
            },
        );
        std::thread::sleep(Duration::from_millis(20));
        let t = Instant::now();
        drop(p);
        assert!(
            t.elapsed() < Duration::from_millis(500),
            "{:?}",
            t.elapsed()
        );
    }

    #[test]
    fn line_text() {
        let s = Duration::from_millis(3140);
        assert_eq!(
            line("w", Total::Iterations(100_000), 12_345, s),
            "w: 12345/100000 iterations (12%), 3.1 s"
        );
        assert_eq!(
            line("w", Total::Iterations(10), 50, s),
            "w: 50/10 iterations (100%), 3.1 s"
        );
        assert_eq!(
            line("w", Total::Iterations(0), 5, s),
            "w: 5 iterations, 3.1 s"
        );
        assert_eq!(
            line("w", Total::Duration(Duration::from_secs(10)), 99, s),
            "w: 3.1/10.0 s (31%), 99 iterations"
        );
        assert_eq!(
            line("w", Total::Duration(Duration::ZERO), 99, s),
            "w: 3.1 s, 99 iterations"
        );
        assert_eq!(percent(u64::MAX as f64, 1.0), Some(100));
    }

    #[test]
    fn shorter_line_is_padded() {
        let out = Shared::default();
        let mut d = Display {
            label: "x".into(),
            total: Total::Iterations(1000),
            counter: Arc::new(AtomicU64::new(999)),
            started: Instant::now(),
            timing: fast(),
            out: out.clone(),
            drawn: 0,
        };
        d.draw(Duration::from_secs(12));
        d.counter.store(1, Ordering::Relaxed);
        d.draw(Duration::from_secs(2));
        d.clear();
        assert_eq!(
            out.text(),
            "\rx: 999/1000 iterations (99%), 12.0 s\rx: 1/1000 iterations (0%), 2.0 s    \r                                \r"
        );
    }
}
