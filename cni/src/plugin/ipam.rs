//! Delegation to the IPAM plugin named by `ipam.type`, found in `CNI_PATH`, as libcni's
//! `DelegateAdd`/`DelegateDel` do: same environment, same stdin config.

use crate::spec::{self, Code, Command, Env, Error, Version, SUPPORTED_VERSIONS};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};

/// Finds `plugin` in the `CNI_PATH` directories.
pub fn find(plugin: &str, path: &[PathBuf]) -> Result<PathBuf, Error> {
    for dir in path {
        let p = dir.join(plugin);
        if p.is_file() {
            return Ok(p);
        }
    }
    let dirs: Vec<String> = path.iter().map(|p| p.display().to_string()).collect();
    Err(Error::new(
        Code::Ipam,
        format!(
            "IPAM plugin {plugin:?} not found in CNI_PATH ({}): install it or fix ipam.type",
            if dirs.is_empty() {
                "empty".into()
            } else {
                dirs.join(":")
            }
        ),
    ))
}

/// Runs `exe` for `command` with the invocation's environment and `config` on stdin; returns
/// its stdout. A non-zero exit becomes a CNI error carrying the plugin's own message.
pub fn invoke(exe: &Path, command: Command, env: &Env, config: &[u8]) -> Result<Vec<u8>, Error> {
    let name = exe
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut cmd = Process::new(exe);
    cmd.env("CNI_COMMAND", command.as_str())
        .env("CNI_CONTAINERID", &env.container_id)
        .env("CNI_IFNAME", &env.ifname)
        .env("CNI_ARGS", &env.args)
        .env(
            "CNI_PATH",
            std::env::join_paths(&env.path).unwrap_or_default(),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match &env.netns {
        Some(ns) => cmd.env("CNI_NETNS", ns),
        None => cmd.env_remove("CNI_NETNS"),
    };
    let mut child = cmd.spawn().map_err(|e| {
        Error::new(
            Code::Ipam,
            format!("cannot run IPAM plugin {}: {e}", exe.display()),
        )
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A plugin that exits without reading its stdin gives EPIPE: its exit status tells.
        let _ = stdin.write_all(config);
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::new(Code::Ipam, format!("IPAM plugin {name} failed to run: {e}")))?;
    if out.status.success() {
        return Ok(out.stdout);
    }
    let plugin_msg = serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .ok()
        .and_then(|v| {
            let msg = v.get("msg")?.as_str()?.to_owned();
            Some(match v.get("details").and_then(|d| d.as_str()) {
                Some(d) if !d.is_empty() => format!("{msg}: {d}"),
                _ => msg,
            })
        })
        .unwrap_or_else(|| {
            let text = String::from_utf8_lossy(if out.stdout.is_empty() {
                &out.stderr
            } else {
                &out.stdout
            });
            text.trim().to_owned()
        });
    Err(Error::new(
        Code::Ipam,
        format!(
            "IPAM plugin {name} {command} failed ({}): {plugin_msg}",
            out.status
        ),
    ))
}

/// The config to give `exe`: as is when the plugin speaks its `cniVersion`, else with
/// `cniVersion` lowered to the newest version both speak (Debian's `host-local` 1.1.1 stops at
/// 1.0.0, while runtimes already send 1.1.0). The plugin's versions come from its VERSION.
pub fn negotiate(exe: &Path, env: &Env, config: &[u8]) -> Result<Vec<u8>, Error> {
    let name = exe
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut conf: serde_json::Value = serde_json::from_slice(config)
        .map_err(|e| Error::new(Code::Decode, format!("network config: {e}")))?;
    let Some(ours) = conf
        .get("cniVersion")
        .and_then(|v| v.as_str())
        .and_then(|v| v.parse::<Version>().ok())
    else {
        return Ok(config.to_vec());
    };
    let probe = serde_json::json!({ "cniVersion": ours.to_string() }).to_string();
    let out = invoke(exe, Command::Version, env, probe.as_bytes())?;
    let theirs: Vec<Version> = serde_json::from_slice::<serde_json::Value>(&out)
        .ok()
        .and_then(|v| {
            let list = v.get("supportedVersions")?.as_array()?.clone();
            Some(
                list.iter()
                    .filter_map(|x| x.as_str()?.parse().ok())
                    .collect(),
            )
        })
        .unwrap_or_default();
    if theirs.is_empty() || theirs.contains(&ours) {
        return Ok(config.to_vec());
    }
    let common = theirs
        .iter()
        .copied()
        .filter(|v| *v <= ours && SUPPORTED_VERSIONS.contains(&v.to_string().as_str()))
        .max()
        .ok_or_else(|| {
            Error::new(
                Code::IncompatibleVersion,
                format!(
                    "IPAM plugin {name} speaks no CNI version this plugin does at or below {ours}"
                ),
            )
        })?;
    conf["cniVersion"] = common.to_string().into();
    Ok(conf.to_string().into_bytes())
}

/// IPAM ADD: the plugin's result, which must hold at least one IP (as the Go plugin requires).
/// `config` is what [`negotiate`] gave.
pub fn add(exe: &Path, env: &Env, config: &[u8]) -> Result<spec::Result, Error> {
    let name = exe
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let out = invoke(exe, Command::Add, env, config)?;
    let result: spec::Result = serde_json::from_slice(&out).map_err(|e| {
        Error::new(
            Code::Ipam,
            format!("IPAM plugin {name} printed a result that cannot be decoded: {e}"),
        )
    })?;
    if result.ips.is_empty() {
        return Err(Error::new(
            Code::Ipam,
            format!("IPAM plugin {name} returned no IP address"),
        ));
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    fn env(path: Vec<PathBuf>) -> Env {
        Env {
            command: Command::Add,
            container_id: "c1".into(),
            netns: Some("/run/netns/x".into()),
            ifname: "net1".into(),
            args: "K8S_POD_NAME=p".into(),
            path,
        }
    }

    #[test]
    fn add_passes_env_and_stdin_and_decodes_the_result() {
        let d = tempfile::tempdir().unwrap();
        // The fake plugin proves it saw the environment and the config by echoing them back.
        let exe = script(
            d.path(),
            "fake-ipam",
            r#"cfg=$(cat); printf '{"cniVersion":"1.0.0","ips":[{"address":"192.0.2.9/24"}],"dns":{"domain":"%s-%s-%s-%s"}}' "$CNI_COMMAND" "$CNI_CONTAINERID" "$CNI_IFNAME" "${#cfg}""#,
        );
        assert_eq!(
            find(
                "fake-ipam",
                &[PathBuf::from("/nonexistent"), d.path().into()]
            )
            .unwrap(),
            exe
        );
        let r = add(&exe, &env(vec![d.path().into()]), b"{\"x\":1}").unwrap();
        assert_eq!(r.ips[0].address.to_string(), "192.0.2.9/24");
        assert_eq!(r.dns.domain.as_deref(), Some("ADD-c1-net1-7"));
    }

    #[test]
    fn a_0_2_0_answer_is_read_as_libcni_converts_it() {
        // host-local's answer to a config without cniVersion (0.1.0) or with 0.2.0.
        let d = tempfile::tempdir().unwrap();
        let exe = script(
            d.path(),
            "old-ipam",
            r#"cat >/dev/null; echo '{"cniVersion":"0.2.0","ip4":{"ip":"10.55.206.2/26","gateway":"10.55.206.1","routes":[{"dst":"0.0.0.0/0"}]},"dns":{}}'"#,
        );
        let r = add(
            &exe,
            &env(vec![]),
            br#"{"name":"n","ipam":{"type":"old-ipam"}}"#,
        )
        .unwrap();
        assert_eq!(r.ips[0].address.to_string(), "10.55.206.2/26");
        assert_eq!(r.ips[0].gateway, Some("10.55.206.1".parse().unwrap()));
        assert_eq!(r.routes[0].dst.to_string(), "0.0.0.0/0");
    }

    #[test]
    fn the_config_version_is_lowered_to_what_the_plugin_speaks() {
        let d = tempfile::tempdir().unwrap();
        let old = script(
            d.path(),
            "old",
            r#"[ "$CNI_COMMAND" = VERSION ] && echo '{"cniVersion":"1.0.0","supportedVersions":["0.3.1","0.4.0","1.0.0"]}'"#,
        );
        let conf = br#"{"cniVersion":"1.1.0","name":"n","ipam":{"type":"old"}}"#;
        let got: serde_json::Value =
            serde_json::from_slice(&negotiate(&old, &env(vec![]), conf).unwrap()).unwrap();
        assert_eq!(got["cniVersion"], "1.0.0");
        assert_eq!(got["ipam"]["type"], "old");
        let same = br#"{"cniVersion":"0.4.0","name":"n"}"#;
        assert_eq!(negotiate(&old, &env(vec![]), same).unwrap(), same.to_vec());
        let future = script(
            d.path(),
            "future",
            r#"echo '{"cniVersion":"9.0.0","supportedVersions":["9.0.0"]}'"#,
        );
        let e = negotiate(&future, &env(vec![]), conf).unwrap_err();
        assert_eq!(e.code, Code::IncompatibleVersion);
    }

    #[test]
    fn failures_carry_the_plugins_message() {
        let d = tempfile::tempdir().unwrap();
        let exe = script(
            d.path(),
            "bad",
            r#"echo '{"code":11,"msg":"no addresses left","details":"range full"}'; exit 1"#,
        );
        let e = add(&exe, &env(vec![]), b"{}").unwrap_err();
        assert_eq!(e.code, Code::Ipam);
        assert!(e.msg.contains("no addresses left: range full"), "{}", e.msg);
        let exe = script(d.path(), "noip", r#"echo '{"cniVersion":"1.0.0"}'"#);
        assert!(add(&exe, &env(vec![]), b"{}")
            .unwrap_err()
            .msg
            .contains("no IP"));
        let exe = script(d.path(), "garbage", "echo nope");
        assert!(add(&exe, &env(vec![]), b"{}")
            .unwrap_err()
            .msg
            .contains("cannot be decoded"));
        let e = find("absent", &[d.path().into()]).unwrap_err();
        assert!(e.msg.contains("not found in CNI_PATH"), "{}", e.msg);
    }
}
