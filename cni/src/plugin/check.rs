//! CHECK: the interface is still in the pod, named and up as ADD left it, with its addresses,
//! and the RDMA validation passes again (the Go plugin's CHECK does nothing).

use super::add::validate_in_pod;
use super::del::no_state;
use super::state::State;
use super::{fail, Context};
use crate::config::NetConf;
use crate::netlink::Route;
use crate::netns::{self, NetNs};
use crate::spec::{Code, Env, Error};
use crate::validate::Mode;

/// Runs CHECK.
pub fn check(ctx: &Context, env: &Env, conf: &NetConf) -> Result<(), Error> {
    let state = State::load(&ctx.state_dir, &env.container_id, &env.ifname)?
        .ok_or_else(|| no_state(env))?;
    if !state.complete {
        return Err(Error::new(
            Code::UnknownContainer,
            format!(
                "attachment {}/{} was never completed (its ADD failed or was killed): DEL it",
                env.container_id, env.ifname
            ),
        ));
    }
    let netns_path = env
        .netns
        .as_ref()
        .ok_or_else(|| Error::new(Code::InvalidEnv, "CNI_NETNS is not set (needed for CHECK)"))?;
    let pod = NetNs::open(netns_path).map_err(fail::netns)?;
    let ifname = env.ifname.clone();
    let want: Vec<_> = state.result.ips.iter().map(|ip| ip.address).collect();
    netns::run_in(&pod, move || -> Result<(), Error> {
        let mut r = Route::open().map_err(|e| fail::netlink("open rtnetlink in the pod", e))?;
        let link = r.link_by_name(&ifname).map_err(|e| {
            Error::new(
                Code::Netlink,
                format!("CHECK: {ifname} is not in the pod: {e}"),
            )
        })?;
        if !link.up {
            return Err(Error::new(
                Code::Netlink,
                format!("CHECK: {ifname} is down in the pod"),
            ));
        }
        let have = r
            .addresses(link.index)
            .map_err(|e| fail::netlink(&format!("list the addresses of {ifname}"), e))?;
        for a in &want {
            if !have
                .iter()
                .any(|(addr, prefix)| *addr == a.addr && *prefix == a.prefix)
            {
                return Err(Error::new(
                    Code::Netlink,
                    format!("CHECK: {ifname} lost its address {a}"),
                ));
            }
        }
        Ok(())
    })
    .map_err(fail::netns)??;
    match (&state.rdma_device, conf.validation.mode) {
        (_, Mode::Off) | (None, _) => Ok(()),
        (Some(dev), _) => validate_in_pod(conf, &pod, dev),
    }
}
