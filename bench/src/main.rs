//! `rdma-perf`: perftest-compatible RDMA benchmarks (`write_bw`, `write_lat`, `send_bw`,
//! `send_lat`, `read_bw`, `read_lat`), wire- and output-compatible with Debian's perftest 6.06
//! (`ib_write_bw`, …). Invoked through a symlink with a perftest name, it acts as that tool.

mod cli;

use clap::Parser;
use cli::args::{effective_args, Cli, TestCmd};
use cli::params::{Kind, Params};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse_from(effective_args(std::env::args_os().collect()));
    let (kind, args) = match &cli.test {
        TestCmd::WriteBw(a) => (Kind::WriteBw, a),
        TestCmd::WriteLat(a) => (Kind::WriteLat, a),
        TestCmd::SendBw(a) => (Kind::SendBw, a),
        TestCmd::SendLat(a) => (Kind::SendLat, a),
        TestCmd::ReadBw(a) => (Kind::ReadBw, a),
        TestCmd::ReadLat(a) => (Kind::ReadLat, a),
    };
    let params = match Params::resolve(kind, args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("rdma-perf: {e}");
            return ExitCode::from(2);
        }
    };
    match cli::flow::run(&params) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut msg = e.to_string();
            let mut src = e.source();
            while let Some(s) = src {
                msg.push_str(&format!(": {s}"));
                src = s.source();
            }
            eprintln!("{msg}");
            ExitCode::FAILURE
        }
    }
}
