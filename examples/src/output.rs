//! What the example programs print: result lines on stdout ([`say!`](crate::say)), and the
//! [`Failure`] that `main` prints to stderr after the program's name.

use std::fmt;

/// A fatal error: the message a program prints after `<name>: ` before it exits with status 1.
///
/// Any error type converts into it (so `?` works on the rdma-verbs crate's and the exchange's
/// errors, whose messages already say what to do); it deliberately does not implement
/// `std::error::Error` itself, which would make that blanket conversion overlap.
pub struct Failure(pub String);

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
pub trait Doing<T> {
    /// `what: <error>` on failure.
    fn doing(self, what: &str) -> Result<T, Failure>;
}

impl<T, E: fmt::Display> Doing<T> for Result<T, E> {
    fn doing(self, what: &str) -> Result<T, Failure> {
        self.map_err(|e| Failure(format!("{what}: {e}")))
    }
}

/// Prints one line to stdout and flushes it (tests read it while the program runs), ignoring
/// a closed stdout (the result is in the exit status).
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let mut out = ::std::io::stdout().lock();
        let _ = writeln!(out, $($arg)*);
        let _ = out.flush();
    }};
}
pub use crate::say;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doing_names_the_step_before_the_error() {
        let r: Result<(), std::io::Error> = Err(std::io::Error::other("it broke"));
        assert_eq!(
            r.doing("connecting").unwrap_err().to_string(),
            "connecting: it broke"
        );
        let f: Failure = std::io::Error::other("plain").into();
        assert_eq!(f.to_string(), "plain");
    }
}
