//! `ib-sriov`: the InfiniBand SR-IOV CNI plugin. The container runtime (or Multus) runs it with
//! `CNI_*` variables and the network config on stdin; see the crate's README for the config.

#[path = "shared/out.rs"]
mod out;

use ib_sriov_cni::config::{FALLBACK_VERSION, MAX_CONFIG_BYTES};
use ib_sriov_cni::plugin::{self, Context};
use ib_sriov_cni::spec::{Code, Command, Env, EnvError, Error, SUPPORTED_VERSIONS};
use std::io::{IsTerminal, Read};
use std::process::ExitCode;

const ABOUT: &str = "\
ib-sriov: InfiniBand SR-IOV CNI plugin (CNI 0.1.0-1.1.0) that validates the RDMA data path.

It is run by a container runtime with CNI_COMMAND (ADD, DEL, CHECK, STATUS, GC, VERSION),
CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS and CNI_PATH set and the network config on
stdin (at most 1 MiB); it prints a result or an error object as JSON on stdout and one line
about a failure on stderr, exiting 1.

Without CNI_COMMAND (run by hand) it reads no stdin: it prints the CNI error object for the
missing variable (code 4) on stdout and on stderr what it is, and exits 1.

DEL needs only CNI_COMMAND, CNI_CONTAINERID and CNI_IFNAME: it undoes what ADD saved and
ignores the network config (noted on stderr when it does not parse).

Options: -h, --help (this text); -V, -v, --version. Other arguments are ignored.

Environment for testing: IB_SRIOV_SYSFS_ROOT (default /sys), IB_SRIOV_STATE_DIR (default
/var/lib/cni/ib-sriov), IB_SRIOV_LOCK_FILE (default /var/run/cni/ib-sriov/cni.lock).";

fn main() -> ExitCode {
    // Flags as the Go plugin's: an unknown one is a usage error, other arguments are ignored.
    if let Some(arg) = std::env::args_os().nth(1) {
        let text = match arg.to_str() {
            Some("--help" | "-help" | "-h") => ABOUT.to_owned(),
            Some("--version" | "-version" | "-V" | "-v") => {
                format!("ib-sriov {}", env!("CARGO_PKG_VERSION"))
            }
            _ if !arg.as_encoded_bytes().starts_with(b"-") => String::new(),
            _ => {
                out::note(format_args!(
                    "ib-sriov: unknown option {arg:?}: a CNI plugin takes none (see ib-sriov --help)"
                ));
                return ExitCode::from(2);
            }
        };
        if !text.is_empty() {
            return match out::line(text) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => out::failed("ib-sriov", &e),
            };
        }
    }
    let (outcome, stdin) = match Env::from_process() {
        // The environment first, and no stdin read without a command: run by hand, stdin is
        // the terminal.
        Err(e) => {
            let error = Error::new(Code::InvalidEnv, e.to_string());
            if matches!(
                e,
                EnvError::Missing {
                    name: "CNI_COMMAND",
                    ..
                }
            ) {
                // Run by hand: say what this program is, in one line.
                let printed = out::line(error.to_json(FALLBACK_VERSION));
                out::note(format_args!(
                    "ib-sriov: {e}: this is a CNI plugin that a container runtime runs (CNI versions {}); see ib-sriov --help",
                    SUPPORTED_VERSIONS.join(", ")
                ));
                if let Err(w) = printed {
                    out::failed("ib-sriov", &w);
                }
                return ExitCode::FAILURE;
            }
            (Err(error), Vec::new())
        }
        Ok(env) => match read_stdin(env.command) {
            Err(e) if env.command != Command::Del => (Err(e), Vec::new()),
            read => {
                let stdin = read.unwrap_or_else(|e| {
                    out::note(format_args!("ib-sriov: DEL: {}", e.msg));
                    Vec::new()
                });
                (plugin::run(&Context::from_process(), &env, &stdin), stdin)
            }
        },
    };
    match outcome {
        Ok(text) if text.is_empty() => ExitCode::SUCCESS,
        Ok(text) => match out::line(text) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => out::failed("ib-sriov", &e),
        },
        Err(e) => {
            let printed = out::line(e.to_json(&plugin::error_version(&stdin)));
            out::note(format_args!("ib-sriov: {e}"));
            if let Err(w) = printed {
                out::failed("ib-sriov", &w);
            }
            ExitCode::FAILURE
        }
    }
}

/// The network config: at most one byte more than [`MAX_CONFIG_BYTES`] (so that the decoder
/// can refuse a larger one without holding it). VERSION reads nothing from a terminal.
fn read_stdin(command: Command) -> Result<Vec<u8>, Error> {
    let stdin = std::io::stdin();
    if command == Command::Version && stdin.is_terminal() {
        return Ok(Vec::new());
    }
    let mut buf = Vec::new();
    stdin
        .lock()
        .take(MAX_CONFIG_BYTES as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| {
            Error::new(
                Code::Io,
                format!("cannot read the network config from stdin: {e}"),
            )
        })?;
    Ok(buf)
}
