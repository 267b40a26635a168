//! `ib-sriov`: the InfiniBand SR-IOV CNI plugin. The container runtime (or Multus) runs it with
//! `CNI_*` variables and the network config on stdin; see the crate's README for the config.

use ib_sriov_cni::plugin::{self, Context};
use ib_sriov_cni::spec::{Code, Env, Error};
use std::io::{Read, Write};
use std::process::ExitCode;

const ABOUT: &str = "\
ib-sriov: InfiniBand SR-IOV CNI plugin (CNI 0.3.0-1.1.0) that validates the RDMA data path.

It is run by a container runtime with CNI_COMMAND (ADD, DEL, CHECK, STATUS, GC, VERSION),
CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS and CNI_PATH set and the network config on
stdin; it prints a result or an error object as JSON on stdout.

Environment for testing: IB_SRIOV_SYSFS_ROOT (default /sys), IB_SRIOV_STATE_DIR (default
/var/lib/cni/ib-sriov), IB_SRIOV_LOCK_FILE (default /var/run/cni/ib-sriov/cni.lock).";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{ABOUT}");
        return ExitCode::SUCCESS;
    }
    if args.iter().any(|a| a == "--version" || a == "-V") {
        println!("ib-sriov {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let mut stdin = Vec::new();
    let outcome = match std::io::stdin().read_to_end(&mut stdin) {
        Err(e) => Err(Error::new(
            Code::Io,
            format!("cannot read the network config from stdin: {e}"),
        )),
        Ok(_) => Env::from_process()
            .map_err(|e| Error::new(Code::InvalidEnv, e.to_string()))
            .and_then(|env| plugin::run(&Context::from_process(), &env, &stdin)),
    };
    let mut out = std::io::stdout().lock();
    match outcome {
        Ok(text) => {
            if !text.is_empty() {
                let _ = writeln!(out, "{text}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = writeln!(out, "{}", e.to_json(&plugin::error_version(&stdin)));
            eprintln!("ib-sriov: {e}");
            ExitCode::FAILURE
        }
    }
}
