//! STATUS and GC (spec 1.1.0).

use super::del::delete_attachment;
use super::state::State;
use super::{fail, Context};
use crate::config::NetConf;
use crate::netlink::{NetnsMode, RdmaNetlink};
use crate::spec::{Code, Command, Env, Error};
use serde::Deserialize;
use std::io::Write;

/// STATUS: ready when the state directory is usable and, with `rdmaIsolation`, the RDMA
/// subsystem is in exclusive netns mode. Otherwise code 50 (not available) naming the fix.
pub fn status(ctx: &Context, conf: &NetConf) -> Result<(), Error> {
    std::fs::create_dir_all(&ctx.state_dir).map_err(|e| {
        Error::new(
            Code::NotAvailable,
            format!(
                "state directory {} is not usable: {e}",
                ctx.state_dir.display()
            ),
        )
    })?;
    if conf.rdma_isolation {
        let mode = RdmaNetlink::open()
            .and_then(|mut r| r.netns_mode())
            .map_err(|e| fail::netlink("read the RDMA netns mode", e))
            .map_err(|e| Error::new(Code::NotAvailable, e.msg))?;
        if mode != NetnsMode::Exclusive {
            return Err(Error::new(
                Code::NotAvailable,
                "rdmaIsolation is true but the RDMA subsystem is in shared netns mode: run `rdma system set netns exclusive`",
            ));
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct GcInput {
    #[serde(rename = "cni.dev/valid-attachments", default)]
    valid: Vec<Attachment>,
}

#[derive(Deserialize)]
struct Attachment {
    #[serde(rename = "containerID")]
    container_id: String,
    ifname: String,
}

/// GC: deletes every attachment of this network (by `name`) that is not in
/// `cni.dev/valid-attachments`. Every stale one is tried; the first failure is returned.
pub fn gc(ctx: &Context, env: &Env, conf: &NetConf, stdin: &[u8]) -> Result<(), Error> {
    let input: GcInput = serde_json::from_slice(stdin).map_err(|e| {
        Error::new(
            Code::InvalidConfig,
            format!("cni.dev/valid-attachments: {e}"),
        )
    })?;
    let mut first_error = None;
    for (path, state) in State::all(&ctx.state_dir) {
        let mut state = match state {
            Ok(s) => s,
            Err(e) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "ib-sriov: GC skips {}: {}",
                    path.display(),
                    e.msg
                );
                continue;
            }
        };
        let valid = input
            .valid
            .iter()
            .any(|a| a.container_id == state.container_id && a.ifname == state.ifname);
        if state.network != conf.name || valid {
            continue;
        }
        let del_env = Env {
            command: Command::Del,
            container_id: state.container_id.clone(),
            netns: None,
            ifname: state.ifname.clone(),
            args: String::new(),
            path: env.path.clone(),
        };
        if let Err(e) = delete_attachment(ctx, &del_env, &mut state) {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}
