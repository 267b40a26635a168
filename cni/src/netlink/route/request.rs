//! The rtnetlink requests, built with netlink-packet-route's message types and serialized to
//! the bytes the kernel reads (checked byte by byte against `linux/rtnetlink.h` and
//! `linux/if_link.h` layouts in the tests below).

use super::vf::{GuidKind, VfLinkState};
use crate::netlink::frame::{NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST};
use crate::Guid;
use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    LinkAttribute, LinkExtentMask, LinkFlags, LinkMessage, LinkVfInfo, VfInfo, VfInfoGuid,
    VfInfoLinkState,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::RawFd;

fn encode(msg: RouteNetlinkMessage, flags: u16, seq: u32) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = flags;
    header.sequence_number = seq;
    let mut m = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
    m.finalize();
    let mut buf = vec![0; m.buffer_len()];
    m.serialize(&mut buf);
    buf
}

fn link_message(index: u32, attributes: Vec<LinkAttribute>) -> LinkMessage {
    let mut m = LinkMessage::default();
    m.header.index = index;
    m.attributes = attributes;
    m
}

fn set_link(seq: u32, m: LinkMessage) -> Vec<u8> {
    encode(
        RouteNetlinkMessage::SetLink(m),
        NLM_F_REQUEST | NLM_F_ACK,
        seq,
    )
}

/// `RTM_GETLINK` of the link named `name`, VF information included (`IFLA_EXT_MASK` =
/// `RTEXT_FILTER_VF`).
pub(super) fn get_link_by_name(seq: u32, name: &str) -> Vec<u8> {
    let m = link_message(
        0,
        vec![
            LinkAttribute::IfName(name.to_owned()),
            LinkAttribute::ExtMask(vec![LinkExtentMask::Vf]),
        ],
    );
    encode(
        RouteNetlinkMessage::GetLink(m),
        NLM_F_REQUEST | NLM_F_ACK,
        seq,
    )
}

/// `RTM_GETLINK` of link `index`, VF information included if `with_vfs`.
pub(super) fn get_link_by_index(seq: u32, index: u32, with_vfs: bool) -> Vec<u8> {
    let attrs = if with_vfs {
        vec![LinkAttribute::ExtMask(vec![LinkExtentMask::Vf])]
    } else {
        Vec::new()
    };
    let m = link_message(index, attrs);
    encode(
        RouteNetlinkMessage::GetLink(m),
        NLM_F_REQUEST | NLM_F_ACK,
        seq,
    )
}

/// `RTM_SETLINK`: `IFF_UP` set or cleared (`ifi_change` = `IFF_UP`).
pub(super) fn set_up(seq: u32, index: u32, up: bool) -> Vec<u8> {
    let mut m = link_message(index, Vec::new());
    m.header.flags = if up {
        LinkFlags::Up
    } else {
        LinkFlags::empty()
    };
    m.header.change_mask = LinkFlags::Up;
    set_link(seq, m)
}

/// `RTM_SETLINK` with `IFLA_IFNAME`.
pub(super) fn rename(seq: u32, index: u32, name: &str) -> Vec<u8> {
    set_link(
        seq,
        link_message(index, vec![LinkAttribute::IfName(name.to_owned())]),
    )
}

/// `RTM_SETLINK` with `IFLA_NET_NS_FD`.
pub(super) fn move_to_netns(seq: u32, index: u32, netns_fd: RawFd) -> Vec<u8> {
    set_link(
        seq,
        link_message(index, vec![LinkAttribute::NetNsFd(netns_fd)]),
    )
}

fn set_vf(seq: u32, pf_index: u32, info: VfInfo) -> Vec<u8> {
    set_link(
        seq,
        link_message(
            pf_index,
            vec![LinkAttribute::VfInfoList(vec![LinkVfInfo(vec![info])])],
        ),
    )
}

/// `RTM_SETLINK` on the PF: `IFLA_VFINFO_LIST { IFLA_VF_INFO { IFLA_VF_IB_NODE_GUID or
/// IFLA_VF_IB_PORT_GUID: struct ifla_vf_guid } }`.
pub(super) fn set_vf_guid(seq: u32, pf_index: u32, vf: u32, kind: GuidKind, guid: Guid) -> Vec<u8> {
    let g = VfInfoGuid::new(vf, guid.as_u64());
    let info = match kind {
        GuidKind::Node => VfInfo::IbNodeGuid(g),
        GuidKind::Port => VfInfo::IbPortGuid(g),
    };
    set_vf(seq, pf_index, info)
}

/// `RTM_SETLINK` on the PF: `IFLA_VFINFO_LIST { IFLA_VF_INFO { IFLA_VF_LINK_STATE } }`.
pub(super) fn set_vf_link_state(seq: u32, pf_index: u32, vf: u32, state: VfLinkState) -> Vec<u8> {
    let s = VfInfoLinkState::new(vf, state.as_u32().into());
    set_vf(seq, pf_index, VfInfo::LinkState(s))
}

/// `RTM_GETADDR` dump of every address (all links, both families: filtered by the caller).
pub(super) fn get_addresses(seq: u32) -> Vec<u8> {
    encode(
        RouteNetlinkMessage::GetAddress(AddressMessage::default()),
        NLM_F_REQUEST | NLM_F_DUMP,
        seq,
    )
}

fn family(addr: IpAddr) -> AddressFamily {
    match addr {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

/// `RTM_NEWADDR` (create, exclusive): `IFA_LOCAL` and `IFA_ADDRESS` = `addr`, and for IPv4
/// prefixes up to /30 the broadcast address (as the Go plugin's netlink library adds).
pub(super) fn add_address(seq: u32, index: u32, addr: IpAddr, prefix_len: u8) -> Vec<u8> {
    let mut m = AddressMessage::default();
    m.header.family = family(addr);
    m.header.prefix_len = prefix_len;
    m.header.index = index;
    m.attributes = vec![
        AddressAttribute::Local(addr),
        AddressAttribute::Address(addr),
    ];
    if let IpAddr::V4(v4) = addr {
        if prefix_len < 31 {
            let host_mask = u32::MAX.checked_shr(u32::from(prefix_len)).unwrap_or(0);
            let brd = Ipv4Addr::from(u32::from(v4) | host_mask);
            m.attributes.push(AddressAttribute::Broadcast(brd));
        }
    }
    encode(
        RouteNetlinkMessage::NewAddress(m),
        NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        seq,
    )
}

/// `dst` with the bits past `prefix_len` cleared (the kernel refuses a route whose
/// destination has host bits set).
pub(super) fn network(dst: IpAddr, prefix_len: u8) -> IpAddr {
    match dst {
        IpAddr::V4(a) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(prefix_len.min(32)))
                .unwrap_or(0);
            IpAddr::V4((u32::from(a) & mask).into())
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(prefix_len.min(128)))
                .unwrap_or(0);
            IpAddr::V6((u128::from(a) & mask).into())
        }
    }
}

/// `RTM_NEWROUTE` (create, exclusive) in the main table, protocol boot, unicast: scope
/// universe with a gateway, link without. No `RTA_DST` for a default route (prefix 0), as
/// iproute2 sends it.
pub(super) fn add_route(
    seq: u32,
    dst: IpAddr,
    prefix_len: u8,
    gateway: Option<IpAddr>,
    oif: u32,
) -> Vec<u8> {
    let mut m = RouteMessage::default();
    m.header.address_family = family(dst);
    m.header.destination_prefix_length = prefix_len;
    m.header.table = RouteHeader::RT_TABLE_MAIN;
    m.header.protocol = RouteProtocol::Boot;
    m.header.scope = if gateway.is_some() {
        RouteScope::Universe
    } else {
        RouteScope::Link
    };
    m.header.kind = RouteType::Unicast;
    if prefix_len > 0 {
        m.attributes
            .push(RouteAttribute::Destination(RouteAddress::from(network(
                dst, prefix_len,
            ))));
    }
    if let Some(gw) = gateway {
        m.attributes
            .push(RouteAttribute::Gateway(RouteAddress::from(gw)));
    }
    m.attributes.push(RouteAttribute::Oif(oif));
    encode(
        RouteNetlinkMessage::NewRoute(m),
        NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        seq,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::netlink::expected::nlmsghdr;

    /// `struct ifinfomsg` (16 bytes): family, pad, type, index, flags, change.
    fn ifinfomsg(index: u32, flags: u32, change: u32) -> Vec<u8> {
        let mut b = vec![0u8, 0, 0, 0];
        b.extend_from_slice(&index.to_ne_bytes());
        b.extend_from_slice(&flags.to_ne_bytes());
        b.extend_from_slice(&change.to_ne_bytes());
        b
    }

    /// `struct nlattr` header (4 bytes).
    fn nla(len: u16, ty: u16) -> Vec<u8> {
        let mut b = len.to_ne_bytes().to_vec();
        b.extend_from_slice(&ty.to_ne_bytes());
        b
    }

    const RTM_GETLINK: u16 = 18;
    const RTM_SETLINK: u16 = 19;
    const RTM_NEWADDR: u16 = 20;
    const RTM_NEWROUTE: u16 = 24;
    const REQ_ACK: u16 = 0x1 | 0x4;
    const NEW_EXCL: u16 = 0x1 | 0x4 | 0x400 | 0x200;

    #[test]
    fn set_vf_node_guid_is_the_if_link_h_layout() {
        let guid: Guid = "02:00:00:00:00:00:ab:05".parse().unwrap();
        let got = set_vf_guid(7, 4, 3, GuidKind::Node, guid);
        // 16 nlmsghdr + 16 ifinfomsg + IFLA_VFINFO_LIST(4 + IFLA_VF_INFO(4 + 4 + 16)) = 60.
        let mut want = nlmsghdr(60, RTM_SETLINK, REQ_ACK, 7);
        want.extend(ifinfomsg(4, 0, 0));
        want.extend(nla(28, 22)); // IFLA_VFINFO_LIST, nested (no NLA_F_NESTED, as iproute2)
        want.extend(nla(24, 1)); // IFLA_VF_INFO
        want.extend(nla(20, 10)); // IFLA_VF_IB_NODE_GUID: struct ifla_vf_guid
        want.extend(3u32.to_ne_bytes()); // vf
        want.extend([0; 4]); // padding: __u64 guid is 8-aligned
        want.extend(0x0200_0000_0000_ab05u64.to_ne_bytes()); // guid, native endian
        assert_eq!(got, want);
        let port = set_vf_guid(7, 4, 3, GuidKind::Port, guid);
        want[16 + 16 + 8 + 2] = 11; // IFLA_VF_IB_PORT_GUID
        assert_eq!(port, want);
    }

    #[test]
    fn set_vf_link_state_is_the_if_link_h_layout() {
        let got = set_vf_link_state(2, 4, 1, VfLinkState::Disable);
        // 16 + 16 + IFLA_VFINFO_LIST(4 + IFLA_VF_INFO(4 + 4 + 8)) = 52.
        let mut want = nlmsghdr(52, RTM_SETLINK, REQ_ACK, 2);
        want.extend(ifinfomsg(4, 0, 0));
        want.extend(nla(20, 22));
        want.extend(nla(16, 1));
        want.extend(nla(12, 5)); // IFLA_VF_LINK_STATE: struct ifla_vf_link_state
        want.extend(1u32.to_ne_bytes());
        want.extend(2u32.to_ne_bytes()); // IFLA_VF_LINK_STATE_DISABLE
        assert_eq!(got, want);
    }

    #[test]
    fn get_link_by_name_asks_for_vf_info() {
        let got = get_link_by_name(9, "ib0");
        let mut want = nlmsghdr(48, RTM_GETLINK, REQ_ACK, 9);
        want.extend(ifinfomsg(0, 0, 0));
        want.extend(nla(8, 3)); // IFLA_IFNAME "ib0\0"
        want.extend(b"ib0\0");
        want.extend(nla(8, 29)); // IFLA_EXT_MASK
        want.extend(1u32.to_ne_bytes()); // RTEXT_FILTER_VF
        assert_eq!(got, want);
        let by_index = get_link_by_index(9, 5, false);
        let mut want = nlmsghdr(32, RTM_GETLINK, REQ_ACK, 9);
        want.extend(ifinfomsg(5, 0, 0));
        assert_eq!(by_index, want);
        assert_eq!(get_link_by_index(9, 5, true).len(), 40);
    }

    #[test]
    fn up_down_rename_and_netns() {
        let mut want = nlmsghdr(32, RTM_SETLINK, REQ_ACK, 1);
        want.extend(ifinfomsg(6, 1, 1)); // IFF_UP in flags and change
        assert_eq!(set_up(1, 6, true), want);
        let mut want = nlmsghdr(32, RTM_SETLINK, REQ_ACK, 1);
        want.extend(ifinfomsg(6, 0, 1));
        assert_eq!(set_up(1, 6, false), want);

        let mut want = nlmsghdr(44, RTM_SETLINK, REQ_ACK, 2);
        want.extend(ifinfomsg(6, 0, 0));
        want.extend(nla(9, 3)); // IFLA_IFNAME "net1\0" (4 + 5), then 3 bytes of padding
        want.extend(b"net1\0\0\0\0");
        assert_eq!(rename(2, 6, "net1"), want);

        let mut want = nlmsghdr(40, RTM_SETLINK, REQ_ACK, 3);
        want.extend(ifinfomsg(6, 0, 0));
        want.extend(nla(8, 28)); // IFLA_NET_NS_FD
        want.extend(11i32.to_ne_bytes());
        assert_eq!(move_to_netns(3, 6, 11), want);
    }

    #[test]
    fn add_ipv4_address_with_broadcast() {
        let got = add_address(4, 6, "192.0.2.5".parse().unwrap(), 24);
        let mut want = nlmsghdr(48, RTM_NEWADDR, NEW_EXCL, 4);
        // struct ifaddrmsg: family AF_INET, prefixlen, flags, scope, index.
        want.extend([2, 24, 0, 0]);
        want.extend(6u32.to_ne_bytes());
        want.extend(nla(8, 2)); // IFA_LOCAL
        want.extend([192, 0, 2, 5]);
        want.extend(nla(8, 1)); // IFA_ADDRESS
        want.extend([192, 0, 2, 5]);
        want.extend(nla(8, 4)); // IFA_BROADCAST
        want.extend([192, 0, 2, 255]);
        assert_eq!(got, want);
        // /31 and /32 have no broadcast address.
        assert_eq!(
            add_address(4, 6, "192.0.2.5".parse().unwrap(), 32).len(),
            40
        );
    }

    #[test]
    fn get_addresses_is_a_dump_of_an_empty_ifaddrmsg() {
        let mut want = nlmsghdr(24, 22, 0x301, 8); // RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP
        want.extend([0; 8]);
        assert_eq!(get_addresses(8), want);
    }

    #[test]
    fn add_ipv6_address() {
        let a: IpAddr = "2001:db8::5".parse().unwrap();
        let got = add_address(4, 6, a, 64);
        let mut want = nlmsghdr(64, RTM_NEWADDR, NEW_EXCL, 4);
        want.extend([10, 64, 0, 0]); // AF_INET6
        want.extend(6u32.to_ne_bytes());
        let IpAddr::V6(v6) = a else { unreachable!() };
        want.extend(nla(20, 2));
        want.extend(v6.octets());
        want.extend(nla(20, 1));
        want.extend(v6.octets());
        assert_eq!(got, want);
    }

    #[test]
    fn add_route_via_gateway_and_on_link() {
        let got = add_route(
            5,
            "198.51.100.7".parse().unwrap(),
            24,
            Some("192.0.2.1".parse().unwrap()),
            6,
        );
        let mut want = nlmsghdr(52, RTM_NEWROUTE, NEW_EXCL, 5);
        // struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags.
        want.extend([2, 24, 0, 0, 254, 3, 0, 1]);
        want.extend(0u32.to_ne_bytes());
        want.extend(nla(8, 1)); // RTA_DST, host bits cleared
        want.extend([198, 51, 100, 0]);
        want.extend(nla(8, 5)); // RTA_GATEWAY
        want.extend([192, 0, 2, 1]);
        want.extend(nla(8, 4)); // RTA_OIF
        want.extend(6u32.to_ne_bytes());
        assert_eq!(got, want);

        // Default route: no RTA_DST.
        let got = add_route(
            5,
            "0.0.0.0".parse().unwrap(),
            0,
            Some("192.0.2.1".parse().unwrap()),
            6,
        );
        assert_eq!(got.len(), 16 + 12 + 8 + 8);
        // On-link: scope link (253), no gateway.
        let got = add_route(5, "2001:db8:1::".parse().unwrap(), 48, None, 6);
        assert_eq!(&got[16..24], &[10, 48, 0, 0, 254, 3, 253, 1]);
        assert_eq!(got.len(), 16 + 12 + 20 + 8);
    }

    #[test]
    fn network_clears_host_bits() {
        let n = |a: &str, p| network(a.parse().unwrap(), p).to_string();
        assert_eq!(n("10.1.2.3", 8), "10.0.0.0");
        assert_eq!(n("10.1.2.3", 0), "0.0.0.0");
        assert_eq!(n("10.1.2.3", 32), "10.1.2.3");
        assert_eq!(n("2001:db8::1", 64), "2001:db8::");
        assert_eq!(n("2001:db8::1", 128), "2001:db8::1");
    }
}
