//! `rdma-perf`: perftest-compatible RDMA benchmarks (`write_bw`, `write_lat`, `send_bw`,
//! `send_lat`, `read_bw`, `read_lat`, `atomic_bw`, `atomic_lat`), wire- and output-compatible with Debian's perftest 6.06
//! (`ib_write_bw`, …). Invoked through a symlink with a perftest name, it acts as that tool.

mod cli;

use clap::Parser;
use cli::args::{effective_args, Cli};
use cli::params::{Params, Refusal};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse_from(effective_args(std::env::args_os().collect()));
    let params = match Params::resolve(cli.cmd.test, &cli.cmd.args) {
        Ok(p) => p,
        Err(Refusal::Usage(e)) => {
            eprintln!("rdma-perf: {e}");
            return ExitCode::from(2);
        }
        Err(Refusal::Perftest { text, stdout }) => {
            if stdout {
                print!("{text}");
            } else {
                eprint!("{text}");
            }
            return ExitCode::from(1);
        }
        Err(Refusal::Split { out, err }) => {
            print!("{out}");
            eprint!("{err}");
            return ExitCode::from(1);
        }
    };
    match cli::flow::run(&params) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", cli::flow::hint::chain(&*e));
            ExitCode::FAILURE
        }
    }
}
