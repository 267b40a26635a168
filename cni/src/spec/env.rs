//! The `CNI_*` environment of one invocation.

use super::Command;
use std::path::PathBuf;

/// What the runtime passed in the environment, checked for the command's needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Env {
    /// `CNI_COMMAND`.
    pub command: Command,
    /// `CNI_CONTAINERID` (ADD, DEL, CHECK).
    pub container_id: String,
    /// `CNI_NETNS`: a path to the container's network namespace. Required for ADD and CHECK;
    /// DEL may get none (the container is gone).
    pub netns: Option<PathBuf>,
    /// `CNI_IFNAME`: the interface name inside the container (ADD, DEL, CHECK).
    pub ifname: String,
    /// `CNI_ARGS`, unparsed (see [`crate::args`]).
    pub args: String,
    /// `CNI_PATH`: where to look for delegated plugins (IPAM).
    pub path: Vec<PathBuf>,
}

/// A missing or malformed variable (CNI error code 4).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    /// A variable the command needs is unset or empty.
    #[error("{name} is not set (needed for {command})")]
    Missing {
        /// The variable.
        name: &'static str,
        /// The command that needs it.
        command: &'static str,
    },
    /// `CNI_COMMAND` holds something else than a CNI command.
    #[error("CNI_COMMAND {0:?} is not one of ADD, DEL, CHECK, VERSION, STATUS, GC")]
    UnknownCommand(String),
    /// `CNI_IFNAME` is not a valid Linux interface name.
    #[error(
        "CNI_IFNAME {0:?} is not a valid interface name (1-15 bytes, no '/', ':' or whitespace)"
    )]
    BadIfname(String),
    /// `CNI_CONTAINERID` has characters a file name cannot safely carry.
    #[error("CNI_CONTAINERID {0:?} must be letters, digits, '_', '.', '-' (and not start with '.' or '-')")]
    BadContainerId(String),
}

/// Whether `name` is a valid Linux interface name (`dev_valid_name`).
pub fn is_valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() < 16
        && name != "."
        && name != ".."
        && !name
            .bytes()
            .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || b == 0)
}

impl Env {
    /// Reads the variables through `get` (`std::env::var` in the plugin; a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Env, EnvError> {
        let val = |n: &str| get(n).filter(|v| !v.is_empty());
        let raw = val("CNI_COMMAND").ok_or(EnvError::Missing {
            name: "CNI_COMMAND",
            command: "any command",
        })?;
        let command = Command::parse(&raw).ok_or(EnvError::UnknownCommand(raw))?;
        let needs_target = matches!(command, Command::Add | Command::Del | Command::Check);
        let required = |name: &'static str| -> Result<String, EnvError> {
            val(name).ok_or(EnvError::Missing {
                name,
                command: command.as_str(),
            })
        };
        let (container_id, ifname) = if needs_target {
            (required("CNI_CONTAINERID")?, required("CNI_IFNAME")?)
        } else {
            (
                val("CNI_CONTAINERID").unwrap_or_default(),
                val("CNI_IFNAME").unwrap_or_default(),
            )
        };
        if needs_target && !is_valid_ifname(&ifname) {
            return Err(EnvError::BadIfname(ifname));
        }
        if needs_target && !is_safe_id(&container_id) {
            return Err(EnvError::BadContainerId(container_id));
        }
        let netns = match command {
            Command::Add | Command::Check => Some(required("CNI_NETNS")?.into()),
            _ => val("CNI_NETNS").map(PathBuf::from),
        };
        let path = match command {
            Command::Add | Command::Check => required("CNI_PATH")?,
            _ => val("CNI_PATH").unwrap_or_default(),
        };
        Ok(Env {
            command,
            container_id,
            netns,
            ifname,
            args: val("CNI_ARGS").unwrap_or_default(),
            path: std::env::split_paths(&path)
                .filter(|p| !p.as_os_str().is_empty())
                .collect(),
        })
    }

    /// Reads the process environment.
    pub fn from_process() -> Result<Env, EnvError> {
        Env::from_lookup(|n| std::env::var(n).ok())
    }
}

/// The spec allows any container ID; this plugin uses it in a state file name, so it accepts
/// what runtimes actually generate (hex, UUIDs, names) and nothing path-like.
fn is_safe_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 200
        && !id.starts_with(['.', '-'])
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Result<Env, EnvError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Env::from_lookup(|n| m.get(n).cloned())
    }

    const ADD: &[(&str, &str)] = &[
        ("CNI_COMMAND", "ADD"),
        ("CNI_CONTAINERID", "c0ffee"),
        ("CNI_NETNS", "/var/run/netns/pod"),
        ("CNI_IFNAME", "net1"),
        ("CNI_PATH", "/opt/cni/bin:/usr/lib/cni"),
        ("CNI_ARGS", "K8S_POD_NAME=p"),
    ];

    #[test]
    fn add_reads_every_variable() {
        let e = env(ADD).unwrap();
        assert_eq!(e.command, Command::Add);
        assert_eq!(e.container_id, "c0ffee");
        assert_eq!(
            e.netns.as_deref(),
            Some(std::path::Path::new("/var/run/netns/pod"))
        );
        assert_eq!(e.ifname, "net1");
        assert_eq!(
            e.path,
            [PathBuf::from("/opt/cni/bin"), PathBuf::from("/usr/lib/cni")]
        );
        assert_eq!(e.args, "K8S_POD_NAME=p");
    }

    #[test]
    fn missing_variables_are_named() {
        for (drop, name) in [
            ("CNI_CONTAINERID", "CNI_CONTAINERID"),
            ("CNI_NETNS", "CNI_NETNS"),
            ("CNI_IFNAME", "CNI_IFNAME"),
            ("CNI_PATH", "CNI_PATH"),
            ("CNI_COMMAND", "CNI_COMMAND"),
        ] {
            let pairs: Vec<_> = ADD.iter().copied().filter(|(k, _)| *k != drop).collect();
            match env(&pairs) {
                Err(EnvError::Missing { name: n, .. }) => assert_eq!(n, name),
                other => panic!("without {drop}: {other:?}"),
            }
        }
    }

    #[test]
    fn del_tolerates_a_missing_netns_and_version_needs_nothing_else() {
        let del: Vec<_> = ADD
            .iter()
            .map(|&(k, v)| {
                if k == "CNI_COMMAND" {
                    (k, "DEL")
                } else {
                    (k, v)
                }
            })
            .filter(|(k, _)| *k != "CNI_NETNS" && *k != "CNI_PATH")
            .collect();
        let e = env(&del).unwrap();
        assert_eq!((e.command, e.netns), (Command::Del, None));
        assert_eq!(
            env(&[("CNI_COMMAND", "VERSION")]).unwrap().command,
            Command::Version
        );
        assert_eq!(env(&[("CNI_COMMAND", "GC")]).unwrap().command, Command::Gc);
    }

    #[test]
    fn bad_values_are_refused_naming_them() {
        let with = |k: &str, v: &'static str| {
            let pairs: Vec<_> = ADD
                .iter()
                .map(|&(a, b)| if a == k { (a, v) } else { (a, b) })
                .collect();
            env(&pairs)
        };
        assert_eq!(
            with("CNI_COMMAND", "add"),
            Err(EnvError::UnknownCommand("add".into()))
        );
        for bad in ["a/b", "sixteen-chars-xx", "a b", "x:1", ".."] {
            let pairs: Vec<_> = ADD
                .iter()
                .map(|&(a, b)| if a == "CNI_IFNAME" { (a, bad) } else { (a, b) })
                .collect();
            assert_eq!(env(&pairs), Err(EnvError::BadIfname(bad.into())));
        }
        for bad in ["../etc", "-x", "a/b", "a b"] {
            let pairs: Vec<_> = ADD
                .iter()
                .map(|&(a, b)| {
                    if a == "CNI_CONTAINERID" {
                        (a, bad)
                    } else {
                        (a, b)
                    }
                })
                .collect();
            assert_eq!(env(&pairs), Err(EnvError::BadContainerId(bad.into())));
        }
    }
}
