//! `rdma-validate`: the CNI plugin's validation step as an operator tool. It checks one port of
//! one RDMA device (state, link layer, GID/LID, pkey, GUID, memlock) and runs a loopback RC
//! self-test on it, printing one line per check or a JSON report. Exit status: 0 when every
//! check passed, 1 when one failed (or no device could be chosen), 2 for usage errors.

#[path = "shared/args.rs"]
mod args;
#[path = "shared/out.rs"]
mod out;

use clap::{ArgGroup, Parser, ValueEnum};
use ib_sriov_cni::netns::{self, NetNs};
use ib_sriov_cni::sysfs::SysRoot;
use ib_sriov_cni::validate::{self, Expect, ExpectedLinkLayer, Mode, Report};
use ib_sriov_cni::{Guid, Pkey};
use std::process::ExitCode;
use std::time::Duration;

const CHECKS_HELP: &str = "\
Checks, in order (a check whose prerequisite failed is SKIPped, naming why):
  device      the RDMA device opens from this network namespace (in exclusive RDMA netns
              mode only the devices moved into it are visible; in a pod only the mounted
              /dev/infiniband/uverbsN can be opened)
  port        the port exists and is ACTIVE (DOWN: link_state / cable; INIT/ARMED: no SM)
  link_layer  InfiniBand or Ethernet (RoCE) as --expect-link-layer says (default any)
  address     RoCE: a usable GID (chosen as perftest does); InfiniBand: a LID and an SM LID
  pkey        with --pkey: its partition (low 15 bits) is in the port's pkey table
  guid        the node GUID is assigned (not all-zero/all-ones); with --guid: equals it
  memlock     RLIMIT_MEMLOCK allows the self-test's registrations (208 KiB), or
              CAP_IPC_LOCK makes the limit irrelevant (reported as such)
  loopback    two RC QPs on the device connect to each other (--mode loopback)
  send        SEND of 64 KiB into a posted receive, compared byte for byte
  send_imm    SEND with immediate: bytes and immediate value verified
  rdma_write  RDMA WRITE of 64 KiB into the peer's region, verified
  rdma_read   RDMA READ of 64 KiB from the peer's region, verified
  latency     up to 1000 send/recv round trips of 64 bytes: min/median/p99/max in µs

Device selection: --device NAME, or --pci ADDR / --netdev IF resolved through sysfs
($IB_SRIOV_SYSFS_ROOT or /sys). With none of them, the one device that can be opened is
used (in a pod, the VF's); several openable devices are an error listing them.

Exit status: 0 every check passed; 1 a check failed or no device could be chosen;
2 usage error.";

/// Validates an RDMA device the way the ib-sriov CNI plugin does after attaching it: device
/// checks, then a loopback RC self-test with every byte verified.
#[derive(Parser, Debug)]
#[command(name = "rdma-validate", version, after_long_help = CHECKS_HELP)]
#[command(group(ArgGroup::new("select").args(["device", "pci", "netdev"])))]
struct Args {
    /// The RDMA device, e.g. mlx5_3 or rxe0.
    #[arg(long, value_name = "NAME")]
    device: Option<String>,
    /// The PCI address of the VF (e.g. 0000:03:02.0): its RDMA device, from sysfs.
    #[arg(long, value_name = "ADDR")]
    pci: Option<String>,
    /// A network interface (e.g. ib0, or the netdev of a Soft-RoCE device): its RDMA device,
    /// from sysfs.
    #[arg(long, value_name = "IF")]
    netdev: Option<String>,
    /// The port to check.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u8).range(1..))]
    port: u8,
    /// Print the report as JSON instead of one line per check.
    #[arg(long)]
    json: bool,
    /// loopback: the checks and the self-test; port: the checks only.
    #[arg(long, value_enum, default_value_t = CliMode::Loopback)]
    mode: CliMode,
    /// The time the whole validation may take, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    budget_ms: u64,
    /// The link layer the port must have: infiniband, ethernet or any.
    #[arg(long, value_name = "LAYER", default_value = "any")]
    expect_link_layer: ExpectedLinkLayer,
    /// A pkey (0x8005, 32773) whose partition must be in the port's pkey table.
    #[arg(long, value_name = "PKEY")]
    pkey: Option<Pkey>,
    /// The GUID the device must carry (02:00:00:00:00:00:00:05).
    #[arg(long, value_name = "GUID")]
    guid: Option<Guid>,
    /// Run inside this network namespace (e.g. /var/run/netns/NAME or /proc/PID/ns/net),
    /// with a sysfs of that namespace, as the plugin does. Needs CAP_SYS_ADMIN.
    #[arg(long, value_name = "PATH")]
    netns: Option<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum CliMode {
    /// Checks and the loopback self-test.
    Loopback,
    /// Checks only.
    Port,
}

/// Why no device could be chosen.
struct NoChoice {
    cause: &'static str,
    message: String,
}

fn main() -> ExitCode {
    let args: Args = match args::parse() {
        Ok(a) => a,
        Err(code) => return code,
    };
    let outcome = match &args.netns {
        None => run(&args),
        Some(path) => match NetNs::open(path) {
            Ok(ns) => netns::run_in_with_sysfs(&ns, || run(&args)).unwrap_or_else(|e| {
                Err(NoChoice {
                    cause: "netns",
                    message: e.to_string(),
                })
            }),
            Err(e) => Err(NoChoice {
                cause: "netns",
                message: e.to_string(),
            }),
        },
    };
    match outcome {
        Ok(report) => {
            let printed = if args.json {
                match serde_json::to_string_pretty(&report) {
                    Ok(j) => out::line(j),
                    Err(e) => {
                        out::note(format_args!("rdma-validate: cannot encode the report: {e}"));
                        return ExitCode::from(1);
                    }
                }
            } else {
                out::line(&report)
            };
            if let Err(e) = printed {
                return out::failed("rdma-validate", &e);
            }
            if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            if args.json {
                let j = serde_json::json!({"passed": false, "cause": e.cause, "error": e.message});
                if let Err(w) = out::line(format_args!("{j:#}")) {
                    out::failed("rdma-validate", &w);
                }
            }
            out::note(format_args!("rdma-validate: {}", e.message));
            ExitCode::from(1)
        }
    }
}

/// Chooses the device and validates it (in the calling thread's namespace).
fn run(args: &Args) -> Result<Report, NoChoice> {
    let device = choose(args)?;
    let expect = Expect {
        link_layer: args.expect_link_layer,
        pkey: args.pkey,
        guid: args.guid,
    };
    let mode = match args.mode {
        CliMode::Loopback => Mode::Loopback,
        CliMode::Port => Mode::Port,
    };
    Ok(validate::validate(
        &device,
        args.port,
        &expect,
        mode,
        Duration::from_millis(args.budget_ms),
    ))
}

fn choose(args: &Args) -> Result<String, NoChoice> {
    if let Some(d) = &args.device {
        return Ok(d.clone());
    }
    let sys = SysRoot::system();
    let (what, found) = if let Some(pci) = &args.pci {
        (format!("PCI device {pci}"), sys.rdma_devices_of_pci(pci))
    } else if let Some(ifname) = &args.netdev {
        (
            format!("network interface {ifname}"),
            sys.rdma_devices_of_netdev(ifname),
        )
    } else {
        return only_openable();
    };
    let sysfs = |message: String| NoChoice {
        cause: "selection",
        message,
    };
    match found {
        Err(e) => Err(sysfs(e.to_string())),
        Ok(list) => match list.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(sysfs(format!(
                "{what} has no RDMA device in {}: load its RDMA driver (e.g. mlx5_ib), or name \
                 the device with --device",
                sys.path().display()
            ))),
            many => Err(sysfs(format!(
                "{what} has several RDMA devices ({}): choose one with --device",
                many.join(", ")
            ))),
        },
    }
}

/// The one device that can be opened (in a pod: the VF whose uverbs node is mounted).
fn only_openable() -> Result<String, NoChoice> {
    let no_device = |message: String| NoChoice {
        cause: "no_device",
        message,
    };
    let list = match rdma_verbs::DeviceList::new() {
        Ok(l) => l,
        Err(e @ rdma_verbs::Error::NoDevice) => return Err(no_device(e.to_string())),
        Err(e) => return Err(no_device(format!("no RDMA device: listing failed: {e}"))),
    };
    if list.is_empty() {
        return Err(no_device(rdma_verbs::Error::NoDevice.to_string()));
    }
    let mut openable = Vec::new();
    let mut refused = Vec::new();
    for dev in list.iter() {
        match dev.open() {
            Ok(_) => openable.push(dev.name().to_owned()),
            Err(e) => {
                out::note(format_args!("note: skipping {}: {e}", dev.name()));
                refused.push(dev.name().to_owned());
            }
        }
    }
    match openable.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(no_device(format!(
            "no RDMA device can be opened (listed: {}): mount the VF's /dev/infiniband/uverbs* \
             node, or name a device with --device",
            refused.join(", ")
        ))),
        many => Err(NoChoice {
            cause: "selection",
            message: format!(
                "several RDMA devices can be opened ({}): choose one with --device, --pci or \
                 --netdev",
                many.join(", ")
            ),
        }),
    }
}
