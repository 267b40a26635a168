//! Command-line parsing with clap whose `--help` and `--version` output cannot panic: clap's
//! own `exit` ignores a failed write and exits 0, this exits 1 then (see `out.rs`).

use clap::Parser;
use std::process::ExitCode;

/// The parsed arguments, or the status to exit with: 0 after `--help`/`--version` was
/// written, 1 when writing it failed, 2 for a usage error (printed on stderr by clap).
pub fn parse<P: Parser>() -> Result<P, ExitCode> {
    P::try_parse().map_err(|e| {
        let printed = e.print();
        if e.use_stderr() {
            ExitCode::from(2)
        } else if printed.is_err() {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    })
}
