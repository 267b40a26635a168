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
pub mod lock;
mod names;
pub mod state;
mod undo;

use crate::config::{NetConf, FALLBACK_VERSION};
use crate::spec::{Code, Command, Env, Error, Version, SUPPORTED_VERSIONS};
use crate::sysfs::SysRoot;
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

/// The `cniVersion` an error should carry: the config's if it has a readable one.
pub fn error_version(stdin: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(stdin)
        .ok()
        .and_then(|v| v.get("cniVersion")?.as_str().map(str::to_owned))
        .filter(|v| Version::supported(v).is_ok())
        .unwrap_or_else(|| FALLBACK_VERSION.to_owned())
}

/// Runs one command. `Ok(text)` is printed on stdout (possibly empty); `Err` is printed as the
/// CNI error object and the process exits 1.
pub fn run(ctx: &Context, env: &Env, stdin: &[u8]) -> Result<String, Error> {
    if env.command == Command::Version {
        return Ok(version_json(stdin));
    }
    let conf = NetConf::parse(stdin)?;
    let version = conf.version()?;
    match env.command {
        Command::Add => add::add(ctx, env, &conf, stdin),
        Command::Del => del::del(ctx, env, &conf).map(|()| String::new()),
        Command::Check => {
            if version < Version::V0_4_0 {
                return Err(Error::new(
                    Code::IncompatibleVersion,
                    format!("CHECK needs cniVersion 0.4.0 or later, the config says {version}"),
                ));
            }
            check::check(ctx, env, &conf).map(|()| String::new())
        }
        Command::Status | Command::Gc if version < Version::V1_1_0 => Err(Error::new(
            Code::IncompatibleVersion,
            format!(
                "{} needs cniVersion 1.1.0, the config says {version}",
                env.command
            ),
        )),
        Command::Status => gc::status(ctx, &conf).map(|()| String::new()),
        Command::Gc => gc::gc(ctx, env, &conf, stdin).map(|()| String::new()),
        Command::Version => Ok(version_json(stdin)),
    }
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
