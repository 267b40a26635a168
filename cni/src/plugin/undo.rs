//! Undoing ADD's steps: ADD's rollback when a later step fails, and DEL.
//!
//! Every undo is idempotent: what is already undone (a link that is back, a namespace that is
//! gone, which returns its devices to the host by itself) counts as done. Every undo also holds
//! for a step that had not started or stopped half-way: ADD writes each step to its journal
//! before it starts.

use super::names::temp_ifname;
use super::state::Step;
use super::{fail, ipam, Context};
use crate::netlink::{GuidKind, NetlinkError, RdmaNetlink, Route};
use crate::netns::{self, NetNs};
use crate::spec::{Command, Env, Error};
use crate::sysfs::PciAddr;
use std::io::Write;
use std::os::fd::AsFd;

/// What the undos need besides the step itself.
pub struct Scope<'a> {
    /// Paths and sysfs.
    pub ctx: &'a Context,
    /// The invocation (IPAM DEL gets the same environment).
    pub env: &'a Env,
    /// The network config ADD got.
    pub config: &'a [u8],
    /// The host's network namespace (where this process runs).
    pub host: &'a NetNs,
    /// The pod's, unless it is gone.
    pub pod: Option<&'a NetNs>,
    /// The VF (to find its netdev through sysfs when the pod namespace is gone).
    pub pci: &'a PciAddr,
}

/// Undoes `steps` last first; returns the steps that could not be undone, with why.
pub fn undo_all(steps: &[Step], s: &Scope<'_>) -> Vec<(Step, Error)> {
    let mut failed = Vec::new();
    for step in steps.iter().rev() {
        if let Err(e) = undo(step, s) {
            // Best effort: a closed stderr must not stop the undo.
            let _ = writeln!(std::io::stderr(), "ib-sriov: cannot undo {step:?}: {e}");
            failed.push((step.clone(), e));
        }
    }
    failed.reverse();
    failed
}

fn route() -> Result<Route, Error> {
    Route::open().map_err(|e| fail::netlink("open rtnetlink", e))
}

fn in_pod<T: Send>(
    s: &Scope<'_>,
    f: impl FnOnce() -> Result<T, Error> + Send,
) -> Option<Result<T, Error>> {
    let pod = s.pod?;
    Some(netns::run_in(pod, f).map_err(fail::netns).and_then(|r| r))
}

/// Undoes one step.
pub fn undo(step: &Step, s: &Scope<'_>) -> Result<(), Error> {
    match step {
        Step::Ipam { plugin } => {
            let exe = ipam::find(plugin, &s.env.path)?;
            let conf = ipam::negotiate(&exe, s.env, s.config)?;
            ipam::invoke(&exe, Command::Del, s.env, &conf).map(drop)
        }
        Step::NetdevMoved {
            original,
            ifname,
            was_up,
        } => undo_netdev(s, original, ifname, *was_up),
        Step::RdmaMoved { device, index } => {
            let host = s.host.as_fd();
            match in_pod(s, || {
                let mut rdma =
                    RdmaNetlink::open().map_err(|e| fail::netlink("open RDMA netlink", e))?;
                match rdma.devices() {
                    // Not in the pod: never moved (or already back).
                    Ok(d) if !d.iter().any(|(i, _)| i == index) => return Ok(()),
                    Ok(_) => {}
                    Err(e) => return Err(fail::netlink("list RDMA devices in the pod", e)),
                }
                rdma.move_device_to_netns(*index, host).map_err(|e| {
                    fail::netlink(&format!("move RDMA device {device} back to the host"), e)
                })
            }) {
                // The pod's namespace is gone: the kernel returned the device to the host.
                None => Ok(()),
                Some(r) => r,
            }
        }
        Step::Guid {
            pf,
            vf,
            pci,
            before,
        } => {
            let Some(g) = before.filter(|g| g.is_assigned()) else {
                // Nothing known to restore (the Go plugin cannot either).
                return Ok(());
            };
            let mut r = route()?;
            let link = r
                .link_by_name(pf)
                .map_err(|e| fail::netlink(&format!("find PF {pf}"), e))?;
            let now = link.vfs.iter().find(|v| v.vf == *vf);
            // ADD sets the node GUID first: if it is still the saved one, nothing was changed
            // (ADD was stopped before it); a PF that reports no such VF never had it changed.
            let unchanged = match now {
                None => true,
                Some(v) => v.node_guid == Some(g) && v.port_guid.unwrap_or(g) == g,
            };
            if unchanged {
                return Ok(());
            }
            for kind in [GuidKind::Node, GuidKind::Port] {
                r.set_vf_guid(link.index, *vf, kind, g).map_err(|e| {
                    fail::netlink(&format!("restore {kind} GUID {g} of VF {vf} on {pf}"), e)
                })?;
            }
            s.ctx
                .sys
                .rebind(pci, s.ctx.rebind_wait)
                .map(drop)
                .map_err(fail::sysfs)
        }
        Step::LinkState { pf, vf, before } => {
            let mut r = route()?;
            let link = r
                .link_by_name(pf)
                .map_err(|e| fail::netlink(&format!("find PF {pf}"), e))?;
            // Already as before (ADD was stopped before it set it), or a PF that reports no
            // such VF, whose link state was never changed.
            match link.vfs.iter().find(|v| v.vf == *vf) {
                None => return Ok(()),
                Some(v) if v.link_state == Some(*before) => return Ok(()),
                Some(_) => {}
            }
            r.set_vf_link_state(link.index, *vf, *before).map_err(|e| {
                fail::netlink(
                    &format!("restore link state {before} of VF {vf} on {pf}"),
                    e,
                )
            })
        }
    }
}

/// Moves the VF netdev back: in the pod, down + temporary name + into the host; on the host,
/// the original name, and up if it was. A netdev already back (or a pod namespace that is gone,
/// which returns physical netdevs to the host), or one that never left, only needs its name and
/// state restored.
fn undo_netdev(s: &Scope<'_>, original: &str, ifname: &str, was_up: bool) -> Result<(), Error> {
    let tmp = temp_ifname(&s.env.container_id, ifname);
    let host = s.host.as_fd();
    let moved_back = in_pod(s, || {
        let mut r = route()?;
        let link = match r.link_by_name(ifname) {
            Ok(l) => l,
            Err(NetlinkError::NoSuchLink(_)) => match r.link_by_name(&tmp) {
                Ok(l) => l,
                // Neither name in the pod: it is not there any more.
                Err(NetlinkError::NoSuchLink(_)) => return Ok(()),
                Err(e) => return Err(fail::netlink(&format!("find {tmp} in the pod"), e)),
            },
            Err(e) => return Err(fail::netlink(&format!("find {ifname} in the pod"), e)),
        };
        let doing = |what: &str| format!("{what} {} in the pod", link.name);
        r.set_up(link.index, false)
            .map_err(|e| fail::netlink(&doing("set down"), e))?;
        if link.name != tmp {
            r.rename(link.index, &tmp)
                .map_err(|e| fail::netlink(&doing("rename"), e))?;
        }
        r.move_to_netns(link.index, host)
            .map_err(|e| fail::netlink(&doing("move to the host"), e))
    });
    if let Some(r) = moved_back {
        r?;
    }
    let mut r = route()?;
    let find = |r: &mut Route, name: &str| match r.link_by_name(name) {
        Ok(l) => Ok(Some(l)),
        Err(NetlinkError::NoSuchLink(_)) => Ok(None),
        Err(e) => Err(fail::netlink(&format!("find {name}"), e)),
    };
    let mut link = find(&mut r, &tmp)?;
    if link.is_none() {
        // Returned by the kernel when the pod's namespace went away: it kept its pod name
        // (or got a dev%d name); sysfs knows it by the VF's PCI address.
        let found = s.ctx.sys.netdevs_of_pci(s.pci).map_err(fail::sysfs)?;
        if let Some(name) = found.into_iter().next() {
            link = find(&mut r, &name)?;
        }
    }
    if link.is_none() {
        link = find(&mut r, original)?;
    }
    let Some(link) = link else {
        // Not on the host under any name it can have: nothing here to restore.
        return Ok(());
    };
    if link.name != original {
        let doing = format!("rename {} back to {original}", link.name);
        r.set_up(link.index, false)
            .map_err(|e| fail::netlink(&doing, e))?;
        r.rename(link.index, original)
            .map_err(|e| fail::netlink(&doing, e))?;
    }
    if was_up && !(link.up && link.name == original) {
        r.set_up(link.index, true)
            .map_err(|e| fail::netlink(&format!("set {original} up again"), e))?;
    }
    Ok(())
}
