//! What the program prints: ping data and debug lines on stdout (as the C tool's `printf`s),
//! the [`Failure`] that ends it on stderr.

use std::fmt;

/// A fatal error: the message printed after `rping: `.
///
/// Any error type converts into it (so `?` works on the rdma crate's errors, whose messages
/// already say what went wrong); it deliberately does not implement `std::error::Error`
/// itself, which would make that blanket conversion overlap.
pub(crate) struct Failure(pub(crate) String);

impl<E: std::error::Error> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Adds what was being done in front of an error's message.
pub(crate) trait Doing<T> {
    /// `what: <error>` on failure.
    fn doing(self, what: &str) -> Result<T, Failure>;
}

impl<T, E: fmt::Display> Doing<T> for Result<T, E> {
    fn doing(self, what: &str) -> Result<T, Failure> {
        self.map_err(|e| Failure(format!("{what}: {e}")))
    }
}

/// Prints one line to stdout and flushes it (a test reads it while the program runs),
/// ignoring a closed stdout.
macro_rules! say {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let mut out = ::std::io::stdout().lock();
        let _ = writeln!(out, $($arg)*);
        let _ = out.flush();
    }};
}
pub(crate) use say;
