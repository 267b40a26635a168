//! What every step of the flow shares: its result type and the writer of perftest's text.

use std::error::Error;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// The error type of the flow: any error, with its causes.
pub type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// `--output`: the report is replaced by one number, printed with [`number`].
static QUIET: AtomicBool = AtomicBool::new(false);

/// From now on [`out`] prints nothing (perftest's `--output`, which prints only the number).
pub fn quiet() {
    QUIET.store(true, Ordering::Relaxed);
}

/// Writes `s` to stdout and flushes (perftest's output order matters to scripts), unless
/// [`quiet`] was called.
pub fn out(s: &str) {
    if !QUIET.load(Ordering::Relaxed) {
        number(s);
    }
}

/// Writes `s` to stdout and flushes, even when quiet.
pub fn number(s: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(s.as_bytes());
    let _ = o.flush();
}
