//! `ib-vf`: show and set an SR-IOV VF's InfiniBand node/port GUID and link state through its
//! PF, with the kernel's standard rtnetlink API (`IFLA_VF_IB_NODE_GUID`,
//! `IFLA_VF_IB_PORT_GUID`, `IFLA_VF_LINK_STATE`) — what OpenStack's `ib_hostdev` needed the
//! proprietary `ebrctl` for. Same code as the `ib-sriov` CNI plugin.

#[path = "shared/args.rs"]
mod args;
#[path = "shared/out.rs"]
mod out;

use clap::{Parser, Subcommand, ValueEnum};
use ib_sriov_cni::netlink::{GuidKind, Route, VfLinkState};
use ib_sriov_cni::sysfs::SysRoot;
use ib_sriov_cni::Guid;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "ib-vf",
    version,
    about = "Show and set SR-IOV InfiniBand VF GUIDs and link state through the PF (rtnetlink)",
    after_help = "Examples:\n  ib-vf guid show ib0\n  ib-vf guid set ib0 3 02:00:00:00:00:00:00:05 --rebind\n  ib-vf link-state ib0 3 enable\n\nNeeds CAP_NET_ADMIN; a new GUID takes effect when the VF's driver is rebound (--rebind)."
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// VF GUIDs.
    Guid {
        #[command(subcommand)]
        action: GuidCmd,
    },
    /// Set a VF's administrative link state.
    LinkState {
        /// The PF's network interface (e.g. ib0).
        pf: String,
        /// The VF index.
        vf: u32,
        /// auto (follow the PF), enable (always up) or disable.
        state: VfLinkState,
    },
}

#[derive(Subcommand)]
enum GuidCmd {
    /// Print the node and port GUID and link state of the PF's VFs.
    Show {
        /// The PF's network interface (e.g. ib0).
        pf: String,
        /// Only this VF.
        #[arg(long)]
        vf: Option<u32>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set a VF's node and port GUID (both by default).
    Set {
        /// The PF's network interface (e.g. ib0).
        pf: String,
        /// The VF index.
        vf: u32,
        /// The GUID, 8 colon-separated hex bytes (02:00:00:00:00:00:00:05).
        guid: Guid,
        /// Set only this one.
        #[arg(long, value_enum)]
        only: Option<Which>,
        /// Unbind and bind the VF's driver afterwards so the GUID takes effect.
        #[arg(long)]
        rebind: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Which {
    Node,
    Port,
}

fn main() -> ExitCode {
    let cli: Cli = match args::parse() {
        Ok(c) => c,
        Err(code) => return code,
    };
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Write(e)) => out::failed("ib-vf", &e),
        Err(Failure::Message(e)) => {
            out::note(format_args!("ib-vf: {e}"));
            ExitCode::FAILURE
        }
    }
}

/// Why a command failed: what to tell, or stdout could not be written.
enum Failure {
    Message(String),
    Write(std::io::Error),
}

impl From<String> for Failure {
    fn from(m: String) -> Self {
        Failure::Message(m)
    }
}

/// One line on stdout.
fn say(text: impl std::fmt::Display) -> Result<(), Failure> {
    out::line(text).map_err(Failure::Write)
}

fn run(cmd: Cmd) -> Result<(), Failure> {
    let mut route = Route::open().map_err(|e| format!("cannot open rtnetlink: {e}"))?;
    match cmd {
        Cmd::LinkState { pf, vf, state } => {
            let link = route.link_by_name(&pf).map_err(|e| e.to_string())?;
            route
                .set_vf_link_state(link.index, vf, state)
                .map_err(|e| format!("set link state {state} of VF {vf} on {pf}: {e}"))?;
            say(format_args!("{pf} vf {vf}: link state {state}"))?;
            Ok(())
        }
        Cmd::Guid {
            action: GuidCmd::Show { pf, vf, json },
        } => {
            let link = route.link_by_name(&pf).map_err(|e| e.to_string())?;
            let vfs: Vec<_> = link
                .vfs
                .iter()
                .filter(|s| vf.is_none_or(|n| s.vf == n))
                .collect();
            if let Some(n) = vf.filter(|_| vfs.is_empty()) {
                return Err(
                    format!("{pf} has no VF {n} (it reports {} VFs)", link.vfs.len()).into(),
                );
            }
            if json {
                let rows: Vec<_> = vfs
                    .iter()
                    .map(|s| {
                        serde_json::json!({
                            "vf": s.vf,
                            "node_guid": s.node_guid.map(|g| g.to_string()),
                            "port_guid": s.port_guid.map(|g| g.to_string()),
                            "link_state": s.link_state.map(|l| l.to_string()),
                        })
                    })
                    .collect();
                say(serde_json::json!({ "pf": pf, "vfs": rows }))?;
            } else {
                if vfs.is_empty() {
                    say(format_args!("{pf}: no VFs"))?;
                }
                let show = |g: Option<Guid>| g.map_or("-".to_owned(), |g| g.to_string());
                for s in vfs {
                    say(format_args!(
                        "{pf} vf {}: node_guid {} port_guid {} link_state {}",
                        s.vf,
                        show(s.node_guid),
                        show(s.port_guid),
                        s.link_state.map_or("-".to_owned(), |l| l.to_string())
                    ))?;
                }
            }
            Ok(())
        }
        Cmd::Guid {
            action:
                GuidCmd::Set {
                    pf,
                    vf,
                    guid,
                    only,
                    rebind,
                },
        } => {
            if !guid.is_assigned() {
                return Err(
                    format!("GUID {guid} cannot be assigned (all-zero or all-ones)").into(),
                );
            }
            let link = route.link_by_name(&pf).map_err(|e| e.to_string())?;
            let kinds: &[GuidKind] = match only {
                None => &[GuidKind::Node, GuidKind::Port],
                Some(Which::Node) => &[GuidKind::Node],
                Some(Which::Port) => &[GuidKind::Port],
            };
            for &kind in kinds {
                route
                    .set_vf_guid(link.index, vf, kind, guid)
                    .map_err(|e| format!("set {kind} GUID of VF {vf} on {pf}: {e}"))?;
                say(format_args!(
                    "{pf} vf {vf}: {} GUID {guid}",
                    if kind == GuidKind::Node {
                        "node"
                    } else {
                        "port"
                    }
                ))?;
            }
            if rebind {
                let sys = SysRoot::system();
                let pci = sys.vf_pci(&pf, vf).map_err(|e| e.to_string())?;
                sys.rebind(&pci, Duration::from_secs(10))
                    .map_err(|e| e.to_string())?;
                say(format_args!("{pf} vf {vf}: driver of {pci} rebound"))?;
            }
            Ok(())
        }
    }
}
