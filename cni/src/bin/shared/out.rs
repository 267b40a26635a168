//! Output of the binaries that never panics: `println!` panics when stdout is a closed pipe
//! (`ib-sriov --help | head -0`), these return the error, and a failed write ends the program
//! with a non-zero status instead.

use std::fmt::Display;
use std::io::{self, ErrorKind, Write};
use std::process::ExitCode;

/// Writes `text` and a newline to stdout, flushed.
pub fn line(text: impl Display) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()
}

/// Writes `text` and a newline to stderr; a failure is ignored (there is nowhere left to
/// report it).
pub fn note(text: impl Display) {
    let _ = writeln!(io::stderr().lock(), "{text}");
}

/// The exit status after stdout could not be written: 1, quietly when the reader went away
/// (a closed pipe), else with one line on stderr.
pub fn failed(program: &str, e: &io::Error) -> ExitCode {
    if e.kind() != ErrorKind::BrokenPipe {
        note(format_args!("{program}: cannot write to stdout: {e}"));
    }
    ExitCode::FAILURE
}
