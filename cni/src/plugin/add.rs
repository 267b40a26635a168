//! ADD, in the Go plugin's order, then the validation: every failure undoes what was done.

use super::journal::Journal;
use super::names::{hwaddr_text, temp_ifname};
use super::state::{State, Step, STATE_VERSION};
use super::undo::{undo_all, Scope};
use super::{fail, ipam, lock::Lock, Context};
use crate::args::CniArgs;
use crate::config::NetConf;
use crate::netlink::{GuidKind, NetlinkError, NetnsMode, RdmaNetlink, Route, VfLinkState};
use crate::netns::{self, NetNs};
use crate::spec::{self, Code, Env, Error, Interface};
use crate::sysfs::VfInfo;
use crate::validate::{self, Expect, Mode};
use crate::Guid;
use std::os::fd::AsFd;

/// Runs ADD; on success returns the result JSON.
pub fn add(ctx: &Context, env: &Env, conf: &NetConf, raw: &[u8]) -> Result<String, Error> {
    let version = conf.version()?;
    let pci = conf.check_for_add()?.clone();
    CniArgs::parse(&env.args).map_err(|e| Error::new(Code::InvalidEnv, e.to_string()))?;
    let netns_path = env
        .netns
        .as_ref()
        .ok_or_else(|| Error::new(Code::InvalidEnv, "CNI_NETNS is not set (needed for ADD)"))?;
    let pod = NetNs::open(netns_path).map_err(fail::netns)?;
    let host = NetNs::current().map_err(fail::netns)?;
    if conf.rdma_isolation {
        require_exclusive_rdma_netns()?;
    }
    let vf = ctx.sys.vf(&pci).map_err(fail::sysfs)?;
    // The VF's one RDMA device, found once: the validation and rdmaIsolation need it.
    let rdma_device = if conf.validation.mode != Mode::Off || conf.rdma_isolation {
        Some(single_rdma_device(&vf)?)
    } else {
        None
    };
    let scope = Scope {
        ctx,
        env,
        config: raw,
        host: &host,
        pod: Some(&pod),
        pci: &pci,
    };
    // Under the node lock: claim the VF in the journal before anything changes.
    let lock = Lock::acquire(&ctx.lock_file)?;
    let mut journal = Journal::begin(
        &ctx.state_dir,
        State {
            version: STATE_VERSION,
            network: conf.name.clone(),
            container_id: env.container_id.clone(),
            ifname: env.ifname.clone(),
            netns: netns_path.clone(),
            pci: pci.clone(),
            rdma_device: rdma_device.clone(),
            config: String::from_utf8_lossy(raw).into_owned(),
            steps: Vec::new(),
            complete: false,
            result: spec::Result::default(),
        },
    )?;
    let outcome = attach(
        ctx,
        lock,
        env,
        conf,
        raw,
        &vf,
        rdma_device.as_deref(),
        &pod,
        &mut journal,
    )
    .and_then(|result| {
        match &rdma_device {
            Some(dev) if conf.validation.mode != Mode::Off => validate_in_pod(conf, &pod, dev)?,
            _ => {}
        }
        Ok(result)
    });
    let e = match outcome.and_then(|result| journal.complete(&result).map(|()| result)) {
        Ok(result) => return Ok(result.to_json(version)),
        Err(e) => e,
    };
    let failed = {
        let _lock = Lock::acquire(&ctx.lock_file);
        undo_all(journal.steps(), &scope)
    };
    let mut e = with_rollback_note(e, &failed);
    if let Some(j) = journal.rolled_back(&failed) {
        let details = format!("{}; {}", e.details, j.msg);
        e = e.with_details(details);
    }
    Err(e)
}

/// The message of `e`, plus what could not be rolled back.
fn with_rollback_note(e: Error, failed: &[(Step, Error)]) -> Error {
    if failed.is_empty() {
        return e;
    }
    let notes: Vec<String> = failed.iter().map(|(_, err)| err.msg.clone()).collect();
    let details = if e.details.is_empty() {
        format!("rollback incomplete: {}", notes.join("; "))
    } else {
        format!("{}; rollback incomplete: {}", e.details, notes.join("; "))
    };
    e.with_details(details)
}

fn require_exclusive_rdma_netns() -> Result<(), Error> {
    let mut rdma = RdmaNetlink::open().map_err(|e| fail::netlink("open RDMA netlink", e))?;
    let mode = rdma
        .netns_mode()
        .map_err(|e| fail::netlink("read the RDMA netns mode", e))?;
    if mode != NetnsMode::Exclusive {
        return Err(Error::new(
            Code::InvalidConfig,
            "rdmaIsolation is true but the RDMA subsystem is in shared netns mode: run `rdma system set netns exclusive` on the node (or set rdmaIsolation false)",
        ));
    }
    Ok(())
}

fn single_rdma_device(vf: &VfInfo) -> Result<String, Error> {
    match vf.rdma_devices.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Error::new(
            Code::Device,
            format!("VF {} has no RDMA device (nothing in its infiniband/ directory): is its driver (mlx5_ib) loaded?", vf.pci),
        )),
        many => Err(Error::new(
            Code::Device,
            format!("VF {} has {} RDMA devices ({}): expected one", vf.pci, many.len(), many.join(", ")),
        )),
    }
}

/// The steps that change the system. Each is written to the journal before it starts, so a
/// failure here, or a kill anywhere, leaves a list that undoes all that may have been done.
/// `lock` is the node lock, held until the netdev is in the pod. `rdma_device` is the VF's
/// RDMA device, present whenever `rdmaIsolation` is set.
#[allow(clippy::too_many_arguments)]
fn attach(
    ctx: &Context,
    lock: Lock,
    env: &Env,
    conf: &NetConf,
    raw: &[u8],
    vf: &VfInfo,
    rdma_device: Option<&str>,
    pod: &NetNs,
    journal: &mut Journal<'_>,
) -> Result<spec::Result, Error> {
    let mut route = Route::open().map_err(|e| fail::netlink("open rtnetlink", e))?;
    let pf = route
        .link_by_name(&vf.pf_netdev)
        .map_err(|e| fail::netlink(&format!("find PF netdev {}", vf.pf_netdev), e))?;
    let vf_status = pf.vfs.iter().find(|s| s.vf == vf.vf_index);

    if let Some(state) = conf.link_state {
        let before = vf_status
            .and_then(|s| s.link_state)
            .unwrap_or(VfLinkState::Auto);
        journal.record(Step::LinkState {
            pf: pf.name.clone(),
            vf: vf.vf_index,
            before,
        })?;
        route
            .set_vf_link_state(pf.index, vf.vf_index, state)
            .map_err(|e| {
                fail::netlink(
                    &format!(
                        "set link state {state} of VF {} on {}",
                        vf.vf_index, pf.name
                    ),
                    e,
                )
            })?;
    }

    let mut vf_netdev = vf.netdev.clone().ok_or_else(|| {
        Error::new(
            Code::Device,
            format!(
                "VF {} has no network interface: is its driver bound?",
                vf.pci
            ),
        )
    })?;
    let current_guid = current_guid(&mut route, &vf_netdev, vf_status.and_then(|s| s.node_guid));
    match conf.guid() {
        Some(guid) => {
            journal.record(Step::Guid {
                pf: pf.name.clone(),
                vf: vf.vf_index,
                pci: vf.pci.clone(),
                before: current_guid,
            })?;
            for kind in [GuidKind::Node, GuidKind::Port] {
                route
                    .set_vf_guid(pf.index, vf.vf_index, kind, guid)
                    .map_err(|e| {
                        fail::netlink(
                            &format!(
                                "set {kind} GUID {guid} of VF {} on {}",
                                vf.vf_index, pf.name
                            ),
                            e,
                        )
                    })?;
            }
            if let Some(n) = ctx
                .sys
                .rebind(&vf.pci, ctx.rebind_wait)
                .map_err(fail::sysfs)?
            {
                vf_netdev = n;
            }
        }
        None => {
            if let Some(g) = current_guid.filter(|g| !g.is_assigned()) {
                return Err(Error::new(
                    Code::InvalidConfig,
                    format!("VF {} has GUID {g}, which is not valid, and the config gives none: set runtimeConfig.infinibandGUID (or args.cni.guid)", vf.pci),
                ));
            }
        }
    }

    if let Some(device) = rdma_device.filter(|_| conf.rdma_isolation) {
        let device = device.to_owned();
        let mut rdma = RdmaNetlink::open().map_err(|e| fail::netlink("open RDMA netlink", e))?;
        let index = rdma
            .device_index(&device)
            .map_err(|e| fail::netlink(&format!("find RDMA device {device}"), e))?;
        journal.record(Step::RdmaMoved {
            device: device.clone(),
            index,
        })?;
        rdma.move_device_to_netns(index, pod.as_fd()).map_err(|e| {
            fail::netlink(
                &format!("move RDMA device {device} into the pod's namespace"),
                e,
            )
        })?;
    }

    let hwaddr = move_netdev(env, &mut route, &vf_netdev, pod, journal)?;
    drop(lock);

    let mut result = spec::Result {
        cni_version: conf.cni_version.clone(),
        interfaces: vec![Interface {
            name: env.ifname.clone(),
            mac: Some(hwaddr_text(&hwaddr)),
            sandbox: env.netns.as_ref().map(|p| p.display().to_string()),
            pci_id: Some(vf.pci.to_string()),
        }],
        ..Default::default()
    };
    if let Some(plugin) = conf.ipam_type() {
        let exe = ipam::find(plugin, &env.path)?;
        let ipam_conf = ipam::negotiate(&exe, env, raw)?;
        journal.record(Step::Ipam {
            plugin: plugin.to_owned(),
        })?;
        let got = ipam::add(&exe, env, &ipam_conf)?;
        configure_ips(env, pod, &got)?;
        result.ips = got.ips;
        for ip in &mut result.ips {
            ip.interface = Some(0);
        }
        result.routes = got.routes;
        result.dns = got.dns;
    }
    Ok(result)
}

/// The VF's GUID now: what the PF reports for the VF, else the last 8 bytes of an IPoIB
/// hardware address; `None` for a RoCE VF (Ethernet address) when the PF reports nothing.
fn current_guid(route: &mut Route, vf_netdev: &str, reported: Option<Guid>) -> Option<Guid> {
    if reported.is_some() {
        return reported;
    }
    let link = route.link_by_name(vf_netdev).ok()?;
    Guid::from_ipoib_hwaddr(&link.hwaddr).ok()
}

/// Down, temporary name, into the pod; there: `CNI_IFNAME`, up. Returns its hardware address.
fn move_netdev(
    env: &Env,
    route: &mut Route,
    name: &str,
    pod: &NetNs,
    journal: &mut Journal<'_>,
) -> Result<Vec<u8>, Error> {
    let tmp = temp_ifname(&env.container_id, &env.ifname);
    let link = route
        .link_by_name(name)
        .map_err(|e| fail::netlink(&format!("find VF netdev {name}"), e))?;
    journal.record(Step::NetdevMoved {
        original: name.to_owned(),
        ifname: env.ifname.clone(),
        was_up: link.up,
    })?;
    let doing = |what: &str| format!("{what} VF netdev {name}");
    route
        .set_up(link.index, false)
        .map_err(|e| fail::netlink(&doing("set down"), e))?;
    route
        .rename(link.index, &tmp)
        .map_err(|e| fail::netlink(&doing(&format!("rename to {tmp}:")), e))?;
    route
        .move_to_netns(link.index, pod.as_fd())
        .map_err(|e| fail::netlink(&doing("move into the pod's namespace:"), e))?;
    let ifname = env.ifname.clone();
    netns::run_in(pod, move || -> Result<Vec<u8>, Error> {
        let mut r = Route::open().map_err(|e| fail::netlink("open rtnetlink in the pod", e))?;
        let l = r
            .link_by_name(&tmp)
            .map_err(|e| fail::netlink(&format!("find {tmp} in the pod"), e))?;
        r.rename(l.index, &ifname)
            .map_err(|e| fail::netlink(&format!("rename {tmp} to {ifname} in the pod"), e))?;
        r.set_up(l.index, true)
            .map_err(|e| fail::netlink(&format!("set {ifname} up in the pod"), e))?;
        Ok(l.hwaddr)
    })
    .map_err(fail::netns)?
}

/// Adds IPAM's addresses and routes to `CNI_IFNAME` inside the pod.
fn configure_ips(env: &Env, pod: &NetNs, got: &spec::Result) -> Result<(), Error> {
    let ifname = env.ifname.clone();
    netns::run_in(pod, move || -> Result<(), Error> {
        let mut r = Route::open().map_err(|e| fail::netlink("open rtnetlink in the pod", e))?;
        let link = r
            .link_by_name(&ifname)
            .map_err(|e| fail::netlink(&format!("find {ifname} in the pod"), e))?;
        for ip in &got.ips {
            r.add_address(link.index, ip.address.addr, ip.address.prefix)
                .map_err(|e| fail::netlink(&format!("add {} to {ifname}", ip.address), e))?;
        }
        for rt in &got.routes {
            let gw = rt.gw.or_else(|| {
                got.ips
                    .iter()
                    .filter(|ip| ip.address.addr.is_ipv4() == rt.dst.addr.is_ipv4())
                    .find_map(|ip| ip.gateway)
            });
            match r.add_route(rt.dst.addr, rt.dst.prefix, gw, link.index) {
                // The kernel already has it (e.g. the connected route of an address).
                Ok(()) | Err(NetlinkError::Exists { .. }) => {}
                Err(e) => {
                    return Err(fail::netlink(
                        &format!("add route {} via {gw:?}", rt.dst),
                        e,
                    ))
                }
            }
        }
        Ok(())
    })
    .map_err(fail::netns)?
}

/// Runs the validation on a thread inside the pod's namespace; a failed check is code 104 with
/// the cause and fix as the message and the whole report (JSON) as details.
pub(super) fn validate_in_pod(conf: &NetConf, pod: &NetNs, device: &str) -> Result<(), Error> {
    let expect = Expect {
        link_layer: conf.validation.link_layer,
        pkey: conf.pkey,
        guid: conf.guid(),
    };
    let (port, mode, budget) = (
        conf.validation.port,
        conf.validation.mode,
        conf.validation.budget(),
    );
    let device = device.to_owned();
    let report = netns::run_in_with_sysfs(pod, move || {
        validate::validate(&device, port, &expect, mode, budget)
    })
    .map_err(fail::netns)?;
    if report.passed() {
        return Ok(());
    }
    let msg = report
        .failure_message()
        .unwrap_or_else(|| "RDMA validation failed".to_owned());
    let details = serde_json::to_string(&report).unwrap_or_default();
    Err(
        Error::new(Code::Validation, format!("RDMA validation failed: {msg}"))
            .with_details(details),
    )
}
