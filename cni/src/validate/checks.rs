//! The device checks: open the device, port state, link layer, GID or LID, pkey, GUID. Each
//! returns its [`Check`] and what later steps need from it.

use super::report::{Cause, Check};
use super::ExpectedLinkLayer;
use crate::{Guid, Pkey};
use rdma_verbs::{Context, DeviceAttr, DeviceList, Gid, LinkLayer, PortAttr, PortState};
use std::path::Path;

/// An open device and its attributes.
pub(crate) struct Opened {
    /// The context (closed when the last resource of it is dropped).
    pub ctx: Context,
    /// `ibv_query_device`.
    pub attr: DeviceAttr,
}

/// How the self-test's QPs address each other on the port.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Address {
    /// The GID index (RoCE), `None` on InfiniBand.
    pub gid_index: Option<u32>,
    /// That GID.
    pub gid: Option<Gid>,
    /// The port's LID (0 on RoCE).
    pub lid: u16,
}

/// The fix for every failed query.
const QUERY_FIX: &str = "the driver refused a query: check dmesg and `ibv_devinfo -v`";

/// Opens `name`. Missing devices name what this namespace has.
pub(crate) fn open_device(name: &str) -> (Check, Option<Opened>) {
    const NAME: &str = "device";
    let list = match DeviceList::new() {
        Ok(list) => list,
        Err(rdma_verbs::Error::NoDevice) => return (no_device(name, &[]), None),
        Err(e) => {
            return (
                Check::fail(
                    NAME,
                    Cause::Query,
                    format!("listing RDMA devices failed: {e}"),
                    QUERY_FIX,
                ),
                None,
            )
        }
    };
    let visible: Vec<String> = list.iter().map(|d| d.name().to_owned()).collect();
    let Some(dev) = list.iter().find(|d| d.name() == name) else {
        if Path::new("/sys/class/infiniband").join(name).exists() && !name.contains('/') {
            return (no_provider(name), None);
        }
        return (no_device(name, &visible), None);
    };
    let ctx = match dev.open() {
        Ok(ctx) => ctx,
        Err(rdma_verbs::Error::NoProvider { .. }) => return (no_provider(name), None),
        Err(e) if e.errno() == Some(libc::EPERM) => {
            return (
                Check::fail(
                    NAME,
                    Cause::DeviceOpen,
                    format!("opening {name} failed with EPERM"),
                    "the device belongs to another network namespace (RDMA netns mode \
                     exclusive): validate it from the namespace that owns it",
                ),
                None,
            )
        }
        Err(e) => {
            return (
                Check::fail(
                    NAME,
                    Cause::DeviceOpen,
                    format!("opening {name} failed: {e}"),
                    "check the device's driver (dmesg) and access to /dev/infiniband",
                ),
                None,
            )
        }
    };
    let attr = match ctx.query_device() {
        Ok(a) => a,
        Err(e) => {
            return (
                Check::fail(
                    NAME,
                    Cause::Query,
                    format!("querying {name} failed: {e}"),
                    QUERY_FIX,
                ),
                None,
            )
        }
    };
    let ports = attr.phys_port_cnt();
    let fw = attr.fw_ver();
    let check = Check::pass(
        NAME,
        format!(
            "{name} opened ({} node, {} transport, firmware {}, {ports} port{})",
            format!("{:?}", dev.node_type()).to_uppercase(),
            dev.transport(),
            if fw.is_empty() { "unknown" } else { &fw },
            if ports == 1 { "" } else { "s" }
        ),
    );
    (check, Some(Opened { ctx, attr }))
}

fn no_device(name: &str, visible: &[String]) -> Check {
    let (cause, found) = if visible.is_empty() {
        (Cause::NoDevice, "none".to_owned())
    } else {
        (Cause::DeviceNotFound, visible.join(", "))
    };
    Check::fail(
        "device",
        cause,
        format!("no RDMA device {name} in this network namespace (found: {found})"),
        "with rdmaIsolation the device must be moved into the pod's network namespace (RDMA \
         netns mode exclusive); otherwise check the device name and that its driver is loaded",
    )
}

fn no_provider(name: &str) -> Check {
    Check::fail(
        "device",
        Cause::DeviceOpen,
        format!(
            "cannot open {name}: no user-space provider for it, or no access to its \
             /dev/infiniband/uverbs* node"
        ),
        "mount the VF's uverbs device into the pod (the RDMA device plugin does), and install \
         rdma-core's providers (ibverbs-providers)",
    )
}

/// Port `port` exists and is ACTIVE. Gives the attributes back whenever the port exists.
pub(crate) fn port(o: &Opened, port: u8) -> (Check, Option<PortAttr>) {
    const NAME: &str = "port";
    let dev = o.ctx.name();
    let count = o.attr.phys_port_cnt();
    if port == 0 || port > count {
        return (
            Check::fail(
                NAME,
                Cause::NoPort,
                format!(
                    "{dev} has no port {port} (it has {count} port{}, numbered from 1)",
                    if count == 1 { "" } else { "s" }
                ),
                "choose an existing port (validation.port, --port)",
            ),
            None,
        );
    }
    let attr = match o.ctx.query_port(port) {
        Ok(a) => a,
        Err(e) => {
            return (
                Check::fail(
                    NAME,
                    Cause::Query,
                    format!("querying port {port} of {dev} failed: {e}"),
                    QUERY_FIX,
                ),
                None,
            )
        }
    };
    let state = attr.state();
    let check = match state {
        PortState::Active | PortState::ActiveDefer => Check::pass(
            NAME,
            format!(
                "port {port} {state} (physical state {}, MTU {} of {})",
                phys_state_text(attr.phys_state()),
                mtu_text(attr.active_mtu()),
                mtu_text(attr.max_mtu()),
            ),
        ),
        PortState::Down => Check::fail(
            NAME,
            Cause::PortNotActive,
            format!(
                "port {port} of {dev} is DOWN (physical state {})",
                phys_state_text(attr.phys_state())
            ),
            "set link_state to enable (a VF with auto follows its PF's link), and check the \
             PF's link and cable (`ip link set <netdev> up` for RoCE)",
        ),
        PortState::Init | PortState::Armed => Check::fail(
            NAME,
            Cause::PortNotActive,
            format!("port {port} of {dev} is {state}: no subnet manager has activated it"),
            "run a subnet manager (opensm, or the switch's) that sees this port",
        ),
        other => Check::fail(
            NAME,
            Cause::PortNotActive,
            format!("port {port} of {dev} is {other}, not ACTIVE"),
            "check the link, the subnet manager and the driver (dmesg)",
        ),
    };
    (check, Some(attr))
}

fn phys_state_text(s: u8) -> String {
    match s {
        1 => "Sleep".into(),
        2 => "Polling".into(),
        3 => "Disabled".into(),
        4 => "PortConfigurationTraining".into(),
        5 => "LinkUp".into(),
        6 => "LinkErrorRecovery".into(),
        7 => "PhyTest".into(),
        other => format!("{other}"),
    }
}

fn mtu_text(m: Option<rdma_verbs::Mtu>) -> String {
    m.map_or_else(|| "unknown".into(), |m| m.bytes().to_string())
}

fn link_layer_text(l: LinkLayer) -> &'static str {
    match l {
        LinkLayer::Ethernet => "Ethernet (RoCE)",
        LinkLayer::InfiniBand => "InfiniBand",
        _ => "unspecified (treated as InfiniBand)",
    }
}

/// The port's link layer is the expected one.
pub(crate) fn link_layer(dev: &str, port: u8, attr: &PortAttr, expect: ExpectedLinkLayer) -> Check {
    const NAME: &str = "link_layer";
    let actual = attr.link_layer();
    if expect.accepts(actual) {
        return Check::pass(
            NAME,
            match expect {
                ExpectedLinkLayer::Any => format!("{} (any accepted)", link_layer_text(actual)),
                _ => format!("{} as expected", link_layer_text(actual)),
            },
        );
    }
    Check::fail(
        NAME,
        Cause::LinkLayer,
        format!(
            "port {port} of {dev} is {}, not {}",
            link_layer_text(actual),
            expect.describe()
        ),
        format!(
            "this is not an {} device: use one, or set the expected link layer \
             (validation.linkLayer, --expect-link-layer) to {} or any",
            expect.describe(),
            if actual == LinkLayer::Ethernet {
                "ethernet"
            } else {
                "infiniband"
            }
        ),
    )
}

/// A usable GID (RoCE) or a LID and a subnet manager (InfiniBand).
pub(crate) fn address(o: &Opened, port: u8, attr: &PortAttr) -> (Check, Option<Address>) {
    const NAME: &str = "address";
    let dev = o.ctx.name();
    if attr.link_layer() == LinkLayer::Ethernet {
        let index = match o.ctx.default_gid_index(port) {
            Ok(Some(i)) => i,
            Ok(None) | Err(rdma_verbs::Error::NoUsableGid { .. }) => {
                return (
                    Check::fail(
                        NAME,
                        Cause::NoGid,
                        format!("port {port} of {dev} has no usable GID"),
                        "give its network interface an IP address (RoCE GIDs are the \
                         interface's addresses)",
                    ),
                    None,
                )
            }
            Err(e) => return (query_failed(NAME, dev, port, "GID table", &e), None),
        };
        return match o.ctx.gid_entry(port, index) {
            Ok(e) => (
                Check::pass(
                    NAME,
                    format!("GID index {index} {} ({})", e.gid, e.gid_type),
                ),
                Some(Address {
                    gid_index: Some(index),
                    gid: Some(e.gid),
                    lid: attr.lid(),
                }),
            ),
            Err(e) => (query_failed(NAME, dev, port, "GID table", &e), None),
        };
    }
    let (lid, sm) = (attr.lid(), attr.sm_lid());
    if lid == 0 || sm == 0 {
        return (
            Check::fail(
                NAME,
                Cause::NoLid,
                format!(
                    "port {port} of {dev} has LID {lid:#06x} and SM LID {sm:#06x}: no subnet \
                     manager has configured it"
                ),
                "run a subnet manager (opensm, or the switch's) that sees this port",
            ),
            None,
        );
    }
    (
        Check::pass(
            NAME,
            format!("LID {lid:#06x} (SM LID {sm:#06x}, LMC {})", attr.lmc()),
        ),
        Some(Address {
            gid_index: None,
            gid: None,
            lid,
        }),
    )
}

fn query_failed(
    name: &'static str,
    dev: &str,
    port: u8,
    what: &str,
    e: &rdma_verbs::Error,
) -> Check {
    Check::fail(
        name,
        Cause::Query,
        format!("reading the {what} of port {port} of {dev} failed: {e}"),
        QUERY_FIX,
    )
}

/// The configured pkey's partition is in the port's table. Gives back the index to use.
pub(crate) fn pkey(o: &Opened, port: u8, expect: Option<Pkey>) -> (Check, Option<u16>) {
    const NAME: &str = "pkey";
    let dev = o.ctx.name();
    let table = o.ctx.pkey_table(port);
    let Some(want) = expect else {
        let shown = table
            .as_deref()
            .map(|t| format!(" (table of port {port}: {})", table_text(t)))
            .unwrap_or_default();
        return (
            Check::skipped(NAME, format!("no pkey configured{shown}")),
            None,
        );
    };
    let table = match table {
        Ok(t) => t,
        Err(e) => return (query_failed(NAME, dev, port, "pkey table", &e), None),
    };
    let found = table
        .iter()
        .position(|&k| k == want.raw())
        .or_else(|| {
            table
                .iter()
                .position(|&k| k != 0 && Pkey::from_raw(k).same_partition(want))
        })
        .and_then(|i| u16::try_from(i).ok());
    match found {
        Some(i) => {
            let key = Pkey::from_raw(table[usize::from(i)]);
            (
                Check::pass(
                    NAME,
                    format!(
                        "pkey {want}: partition {:#06x} at index {i} as {key} ({} member) in [{}]",
                        want.partition(),
                        if key.is_full_member() {
                            "full"
                        } else {
                            "limited"
                        },
                        table_text(&table)
                    ),
                ),
                Some(i),
            )
        }
        None => (
            Check::fail(
                NAME,
                Cause::PkeyMissing,
                format!(
                    "pkey {want} is not in the pkey table of port {port} of {dev} ({})",
                    table_text(&table)
                ),
                format!(
                    "add the VF to partition {:#06x} in the subnet manager (or fix pkey)",
                    want.partition()
                ),
            ),
            None,
        ),
    }
}

/// The used entries of a pkey table, `0xffff, 0x8005`, at most 16 of them.
pub(crate) fn table_text(table: &[u16]) -> String {
    const SHOWN: usize = 16;
    let used: Vec<String> = table
        .iter()
        .filter(|&&k| k != 0)
        .map(|&k| Pkey::from_raw(k).to_string())
        .collect();
    match used.len() {
        0 => "empty".into(),
        n if n > SHOWN => format!("{}, … {} more", used[..SHOWN].join(", "), n - SHOWN),
        _ => used.join(", "),
    }
}

/// The node GUID is assigned and, when one is configured, equals it (on InfiniBand the port
/// GUID, the interface id of GID 0, is accepted too).
pub(crate) fn guid(o: &Opened, port: u8, ib: bool, expect: Option<Guid>) -> Check {
    const NAME: &str = "guid";
    let dev = o.ctx.name();
    // libibverbs gives node_guid as __be64: DeviceAttr::node_guid converts it to the number
    // whose most significant byte is the first byte of the text form, which Guid::from_u64
    // takes.
    let node = Guid::from_u64(o.attr.node_guid());
    if !node.is_assigned() {
        return Check::fail(
            NAME,
            Cause::GuidUnset,
            format!("node GUID of {dev} is {node} (unset)"),
            "give the VF a GUID (runtimeConfig.infinibandGUID or args.cni.guid; it is set \
             through the PF and takes effect when the VF driver is rebound)",
        );
    }
    let Some(want) = expect else {
        return Check::pass(NAME, format!("node GUID {node} (no GUID configured)"));
    };
    if node == want {
        return Check::pass(NAME, format!("node GUID {node} as configured"));
    }
    if ib {
        if let Ok(gid) = o.ctx.query_gid(port, 0) {
            let mut b = [0u8; 8];
            b.copy_from_slice(&gid.0[8..]);
            let port_guid = Guid::from_bytes(b);
            if port_guid == want {
                return Check::pass(
                    NAME,
                    format!("port GUID {port_guid} as configured (node GUID {node})"),
                );
            }
        }
    }
    Check::fail(
        NAME,
        Cause::GuidMismatch,
        format!("node GUID of {dev} is {node}, not the configured {want}"),
        "the configured GUID was not applied: it is set through the PF (`ip link set <pf> vf N \
         node_guid … port_guid …`) and takes effect only after the VF driver is rebound",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkey_tables_print_used_entries_only() {
        assert_eq!(table_text(&[0xffff, 0, 0x8005, 0]), "0xffff, 0x8005");
        assert_eq!(table_text(&[0, 0]), "empty");
        assert_eq!(table_text(&[]), "empty");
        let big: Vec<u16> = (1..=20).collect();
        let t = table_text(&big);
        assert!(t.ends_with("0x0010, … 4 more"), "{t}");
    }

    #[test]
    fn missing_device_names_what_exists_and_the_fix() {
        let c = no_device("rxe9", &["rxe0".to_owned()]);
        assert_eq!(c.cause, Some(Cause::DeviceNotFound));
        assert!(
            c.message().starts_with(
                "no RDMA device rxe9 in this network namespace (found: rxe0): with rdmaIsolation"
            ),
            "{}",
            c.message()
        );
        let none = no_device("mlx5_3", &[]);
        assert_eq!(none.cause, Some(Cause::NoDevice));
        assert!(none.detail.contains("(found: none)"), "{}", none.detail);
    }

    #[test]
    fn physical_states_are_named() {
        assert_eq!(phys_state_text(5), "LinkUp");
        assert_eq!(phys_state_text(3), "Disabled");
        assert_eq!(phys_state_text(42), "42");
    }
}
