//! The plugin's commands: ADD, DEL, CHECK, STATUS, GC and VERSION.
//!
//! [`run`] is the whole plugin behind the binary: it takes the environment and stdin and returns
//! what to print on success, or the [`Error`] to print as JSON.

mod add;
mod check;
mod del;
mod fail;
mod gc;
pub mod ipam;
pub mod journal;
pub mod lock;
mod names;
pub mod state;
mod undo;

use crate::config::{NetConf, FALLBACK_VERSION};
use crate::spec::{Code, Command, Env, Error, Version, SUPPORTED_VERSIONS};
use crate::sysfs::SysRoot;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// `$IB_SRIOV_STATE_DIR`: where attachment state lives (default `/var/lib/cni/ib-sriov`).
pub const STATE_DIR_ENV: &str = "IB_SRIOV_STATE_DIR";
/// `$IB_SRIOV_LOCK_FILE`: the node-wide lock (default `/var/run/cni/ib-sriov/cni.lock`).
pub const LOCK_FILE_ENV: &str = "IB_SRIOV_LOCK_FILE";

/// Where the plugin keeps things and reads sysfs.
#[derive(Debug, Clone)]
pub struct Context {
    /// The sysfs tree.
    pub sys: SysRoot,
    /// The state directory.
    pub state_dir: PathBuf,
    /// The lock file.
    pub lock_file: PathBuf,
    /// How long to wait for a VF's netdev after a driver rebind.
    pub rebind_wait: Duration,
}

impl Context {
    /// The defaults, each overridable by its environment variable (`$IB_SRIOV_SYSFS_ROOT`,
    /// `$IB_SRIOV_STATE_DIR`, `$IB_SRIOV_LOCK_FILE`).
    pub fn from_process() -> Self {
        let var = |n: &str, d: &str| {
            std::env::var_os(n)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(d))
        };
        Context {
            sys: SysRoot::system(),
            state_dir: var(STATE_DIR_ENV, "/var/lib/cni/ib-sriov"),
            lock_file: var(LOCK_FILE_ENV, "/var/run/cni/ib-sriov/cni.lock"),
            rebind_wait: Duration::from_secs(10),
        }
    }
}

/// The `cniVersion` an error should carry: the config's if it has a supported one, `0.1.0` for
/// a JSON object without one (what libcni reads it as), else [`FALLBACK_VERSION`].
pub fn error_version(stdin: &[u8]) -> String {
    let Ok(serde_json::Value::Object(conf)) = serde_json::from_slice(stdin) else {
        return FALLBACK_VERSION.to_owned();
    };
    match conf.get("cniVersion") {
        None | Some(serde_json::Value::Null) => Version::V0_1_0.to_string(),
        Some(serde_json::Value::String(v)) if v.is_empty() => Version::V0_1_0.to_string(),
        Some(serde_json::Value::String(v)) if Version::supported(v).is_ok() => v.clone(),
        Some(_) => FALLBACK_VERSION.to_owned(),
    }
}

/// Runs one command. `Ok(text)` is printed on stdout (possibly empty); `Err` is printed as the
/// CNI error object and the process exits 1. Notes for the log go to stderr.
pub fn run(ctx: &Context, env: &Env, stdin: &[u8]) -> Result<String, Error> {
    run_with_log(ctx, env, stdin, &mut |line| {
        // The log is best effort: a closed stderr must not change the command's outcome.
        let _ = writeln!(std::io::stderr(), "{line}");
    })
}

/// [`run`], handing each note for the log (one line, e.g. the config DEL ignored) to `log`.
///
/// DEL never needs the config: it undoes what the saved state of (`CNI_CONTAINERID`,
/// `CNI_IFNAME`) records, and without one there is nothing to do. A config that does not parse
/// (one ADD refused, so that nothing was attached) is only noted, so the runtime's DEL after
/// the failed ADD succeeds.
pub fn run_with_log(
    ctx: &Context,
    env: &Env,
    stdin: &[u8],
    log: &mut dyn FnMut(&str),
) -> Result<String, Error> {
    match env.command {
        Command::Version => Ok(version_json(stdin)),
        Command::Del => {
            if let Err(e) = NetConf::parse(stdin) {
                let why = e.msg.strip_prefix("network config: ").unwrap_or(&e.msg);
                log(&format!(
                    "ib-sriov: DEL: ignoring the network config: {why}"
                ));
            }
            del::del(ctx, env).map(|()| String::new())
        }
        Command::Add => {
            let (conf, version) = parsed(stdin)?;
            if version < Version::V0_3_0 && conf.ipam_type().is_none() {
                return Err(Error::new(
                    Code::InvalidConfig,
                    format!(
                        "cniVersion {version} results carry only IP addresses and the config has no ipam: add an ipam section or use cniVersion 0.3.0 or later"
                    ),
                ));
            }
            add::add(ctx, env, &conf, stdin)
        }
        Command::Check => {
            let (conf, version) = parsed(stdin)?;
            if version < Version::V0_4_0 {
                return Err(Error::new(
                    Code::IncompatibleVersion,
                    format!("CHECK needs cniVersion 0.4.0 or later, the config says {version}"),
                ));
            }
            check::check(ctx, env, &conf).map(|()| String::new())
        }
        Command::Status | Command::Gc => {
            let (conf, version) = parsed(stdin)?;
            if version < Version::V1_1_0 {
                return Err(Error::new(
                    Code::IncompatibleVersion,
                    format!(
                        "{} needs cniVersion 1.1.0, the config says {version}",
                        env.command
                    ),
                ));
            }
            if env.command == Command::Status {
                gc::status(ctx, &conf)
            } else {
                gc::gc(ctx, env, &conf, stdin)
            }
            .map(|()| String::new())
        }
    }
}

/// The config and its checked version.
fn parsed(stdin: &[u8]) -> Result<(NetConf, Version), Error> {
    let conf = NetConf::parse(stdin)?;
    let version = conf.version()?;
    Ok((conf, version))
}

/// VERSION's answer: the versions this plugin speaks.
fn version_json(stdin: &[u8]) -> String {
    serde_json::json!({
        "cniVersion": error_version(stdin),
        "supportedVersions": SUPPORTED_VERSIONS,
    })
    .to_string()
}

#[cfg(test)]
mod tests;
