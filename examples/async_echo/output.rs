//! What the program prints: result lines on stdout, and the [`Failure`] that `main` prints
//! to stderr.

use std::fmt;

/// A fatal error: the message printed after `async_echo: `.
///
/// Any error type converts into it (so `?` works on the rdma crate's and the exchange's
/// errors, whose messages already say what to do); it deliberately does not implement
/// `std::error::Error` itself, which would make that blanket conversion overlap.
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

/// Prints one line to stdout, ignoring a closed stdout (the result is in the exit status).
macro_rules! say {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _ = writeln!(::std::io::stdout().lock(), $($arg)*);
    }};
}
pub(crate) use say;
