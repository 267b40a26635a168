//! What every step of the flow shares: its result type and the writer of perftest's text.

use std::error::Error;
use std::io::Write;

/// The error type of the flow: any error, with its causes.
pub type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// Writes `s` to stdout and flushes (perftest's output order matters to scripts).
pub fn out(s: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(s.as_bytes());
    let _ = o.flush();
}
