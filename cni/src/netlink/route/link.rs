//! A network interface as `RTM_NEWLINK` describes it, decoded by hand: only the attributes
//! read here are looked at, so an attribute some kernel formats unexpectedly (or that no
//! crate knows yet) never makes a link unreadable.

use super::vf::VfLinkState;
use crate::netlink::attr::attrs;
use crate::Guid;

/// A network interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Its index (`ifi_index`), stable while it stays in its network namespace.
    pub index: u32,
    /// Its name (`IFLA_IFNAME`).
    pub name: String,
    /// Administratively up (`IFF_UP`).
    pub up: bool,
    /// Its hardware address (`IFLA_ADDRESS`): 6 bytes for Ethernet, 20 for IPoIB (whose last
    /// 8 are the port GUID); empty when it has none.
    pub hwaddr: Vec<u8>,
    /// What the PF reports of its VFs (`IFLA_VFINFO_LIST`); empty for anything but an SR-IOV
    /// PF with VFs.
    pub vfs: Vec<VfStatus>,
}

/// One VF as its PF reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VfStatus {
    /// The VF number (the N of the PF's `virtfnN`).
    pub vf: u32,
    /// Its administrative link state, if reported with a known value.
    pub link_state: Option<VfLinkState>,
    /// Its InfiniBand node GUID, if the driver reports GUIDs.
    pub node_guid: Option<Guid>,
    /// Its InfiniBand port GUID, if the driver reports GUIDs.
    pub port_guid: Option<Guid>,
}

/// `sizeof(struct ifinfomsg)`.
pub(crate) const IFINFOMSG_LEN: usize = 16;
const IFF_UP: u32 = 0x1;
const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_VFINFO_LIST: u16 = 22;
const IFLA_VF_INFO: u16 = 1;
const IFLA_VF_MAC: u16 = 1;
const IFLA_VF_LINK_STATE: u16 = 5;

/// Decodes the payload of an `RTM_NEWLINK` message.
pub(crate) fn parse_link(payload: &[u8]) -> Result<Link, String> {
    let Some(header) = payload.get(..IFINFOMSG_LEN) else {
        return Err(format!(
            "RTM_NEWLINK payload of {} bytes is shorter than struct ifinfomsg (16)",
            payload.len()
        ));
    };
    let u32_at =
        |i: usize| u32::from_ne_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
    let mut link = Link {
        index: u32_at(4),
        name: String::new(),
        up: u32_at(8) & IFF_UP != 0,
        hwaddr: Vec::new(),
        vfs: Vec::new(),
    };
    let mut named = false;
    for a in attrs(&payload[IFINFOMSG_LEN..]) {
        let a = a.map_err(|e| format!("link attributes: {e}"))?;
        match a.kind {
            IFLA_IFNAME => {
                link.name = a.string();
                named = true;
            }
            IFLA_ADDRESS => link.hwaddr = a.value.to_vec(),
            IFLA_VFINFO_LIST => link.vfs = parse_vf_list(a.value)?,
            _ => {}
        }
    }
    if !named {
        return Err(format!("link {} has no IFLA_IFNAME", link.index));
    }
    Ok(link)
}

fn parse_vf_list(list: &[u8]) -> Result<Vec<VfStatus>, String> {
    let mut vfs = Vec::new();
    for info in attrs(list) {
        let info = info.map_err(|e| format!("IFLA_VFINFO_LIST: {e}"))?;
        if info.kind == IFLA_VF_INFO {
            vfs.push(parse_vf_info(info.value)?);
        }
    }
    Ok(vfs)
}

/// One `IFLA_VF_INFO`: every member struct starts with `__u32 vf`.
fn parse_vf_info(info: &[u8]) -> Result<VfStatus, String> {
    let mut vf = None;
    let mut status = VfStatus {
        vf: 0,
        link_state: None,
        node_guid: None,
        port_guid: None,
    };
    let mut note_vf = |n: u32| -> Result<(), String> {
        match vf {
            Some(v) if v != n => Err(format!("IFLA_VF_INFO mixes VF numbers {v} and {n}")),
            _ => {
                vf = Some(n);
                Ok(())
            }
        }
    };
    for a in attrs(info) {
        let a = a.map_err(|e| format!("IFLA_VF_INFO: {e}"))?;
        match a.kind {
            IFLA_VF_MAC => {
                // struct ifla_vf_mac { __u32 vf; __u8 mac[32]; }
                note_vf(leading_u32(a.value, "IFLA_VF_MAC")?)?;
            }
            IFLA_VF_LINK_STATE => {
                // struct ifla_vf_link_state { __u32 vf; __u32 link_state; }
                let b: [u8; 8] = a.fixed("IFLA_VF_LINK_STATE")?;
                note_vf(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))?;
                status.link_state =
                    VfLinkState::from_u32(u32::from_ne_bytes([b[4], b[5], b[6], b[7]]));
            }
            10 | 11 => {
                // struct ifla_vf_guid { __u32 vf; __u64 guid; }: guid at offset 8.
                let name = if a.kind == 10 {
                    "IFLA_VF_IB_NODE_GUID"
                } else {
                    "IFLA_VF_IB_PORT_GUID"
                };
                let b: [u8; 16] = a.fixed(name)?;
                note_vf(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))?;
                let mut g = [0u8; 8];
                g.copy_from_slice(&b[8..]);
                let guid = Some(Guid::from_u64(u64::from_ne_bytes(g)));
                if a.kind == 10 {
                    status.node_guid = guid;
                } else {
                    status.port_guid = guid;
                }
            }
            _ => {}
        }
    }
    status.vf = vf.ok_or("IFLA_VF_INFO carries no VF number (no IFLA_VF_MAC)")?;
    Ok(status)
}

fn leading_u32(value: &[u8], name: &str) -> Result<u32, String> {
    match value.get(..4) {
        Some(b) => Ok(u32::from_ne_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(format!(
            "{name} has {} bytes, expected at least 4",
            value.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::attr::{put, NLA_F_NESTED};

    fn ifinfomsg(index: u32, flags: u32) -> Vec<u8> {
        let mut b = vec![0, 0, 0x20, 0]; // AF_UNSPEC, pad, ARPHRD_INFINIBAND (32)
        b.extend_from_slice(&index.to_ne_bytes());
        b.extend_from_slice(&flags.to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes());
        b
    }

    fn vf_info(vf: u32, state: u32, guids: Option<(u64, u64)>) -> Vec<u8> {
        let mut info = Vec::new();
        let mut mac = vf.to_ne_bytes().to_vec();
        mac.extend_from_slice(&[0; 32]);
        put(&mut info, IFLA_VF_MAC, &mac);
        let mut ls = vf.to_ne_bytes().to_vec();
        ls.extend_from_slice(&state.to_ne_bytes());
        put(&mut info, IFLA_VF_LINK_STATE, &ls);
        if let Some((node, port)) = guids {
            for (kind, g) in [(10, node), (11, port)] {
                let mut v = vf.to_ne_bytes().to_vec();
                v.extend_from_slice(&[0; 4]);
                v.extend_from_slice(&g.to_ne_bytes());
                put(&mut info, kind, &v);
            }
        }
        info
    }

    /// An IPoIB PF with two VFs, as the kernel answers `RTM_GETLINK` with `RTEXT_FILTER_VF`.
    fn pf_reply() -> Vec<u8> {
        let mut p = ifinfomsg(4, 0x1043); // UP | BROADCAST | RUNNING | MULTICAST
        put(&mut p, IFLA_IFNAME, b"ib0\0");
        let mut hw = vec![0, 0, 0x10, 0x29, 0xfe, 0x80, 0, 0, 0, 0, 0, 0];
        hw.extend_from_slice(&[0, 2, 0xc9, 3, 0, 0x21, 0x6e, 0x71]);
        put(&mut p, IFLA_ADDRESS, &hw);
        put(&mut p, 13, &1500u32.to_ne_bytes()); // IFLA_TXQLEN: ignored
        let mut list = Vec::new();
        put(
            &mut list,
            IFLA_VF_INFO | NLA_F_NESTED,
            &vf_info(0, 1, Some((0x0200_0000_0000_0005, 0x0200_0000_0000_0006))),
        );
        put(&mut list, IFLA_VF_INFO, &vf_info(1, 7, None));
        put(&mut p, IFLA_VFINFO_LIST, &list);
        p
    }

    #[test]
    fn decodes_name_flags_address_and_vfs() {
        let l = parse_link(&pf_reply()).unwrap();
        assert_eq!((l.index, l.name.as_str(), l.up), (4, "ib0", true));
        assert_eq!(l.hwaddr.len(), 20);
        assert_eq!(
            Guid::from_ipoib_hwaddr(&l.hwaddr).unwrap().to_string(),
            "00:02:c9:03:00:21:6e:71"
        );
        assert_eq!(
            l.vfs,
            vec![
                VfStatus {
                    vf: 0,
                    link_state: Some(VfLinkState::Enable),
                    node_guid: Some("02:00:00:00:00:00:00:05".parse().unwrap()),
                    port_guid: Some("02:00:00:00:00:00:00:06".parse().unwrap()),
                },
                VfStatus {
                    vf: 1,
                    link_state: None,
                    node_guid: None,
                    port_guid: None,
                },
            ]
        );
    }

    #[test]
    fn a_down_link_without_address_or_vfs() {
        let mut p = ifinfomsg(9, 0);
        put(&mut p, IFLA_IFNAME, b"d0\0");
        let l = parse_link(&p).unwrap();
        assert_eq!(
            (l.index, l.up, l.hwaddr.len(), l.vfs.len()),
            (9, false, 0, 0)
        );
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let full = pf_reply();
        for n in 0..full.len() {
            // Cutting inside the header or any attribute must fail; cutting exactly between
            // top-level attributes may succeed (with fewer attributes).
            let _ = parse_link(&full[..n]);
        }
        assert!(parse_link(&full[..15]).unwrap_err().contains("ifinfomsg"));
        assert!(parse_link(&full[..16])
            .unwrap_err()
            .contains("no IFLA_IFNAME"));
        let e = parse_link(&full[..full.len() - 1]).unwrap_err();
        assert!(e.contains("attribute 22 at offset"), "{e}");
    }

    #[test]
    fn bad_vf_member_sizes_and_mixed_numbers_are_named() {
        let mut p = ifinfomsg(4, 0);
        put(&mut p, IFLA_IFNAME, b"ib0\0");
        let mut info = Vec::new();
        put(&mut info, IFLA_VF_LINK_STATE, &[0; 6]);
        let mut list = Vec::new();
        put(&mut list, IFLA_VF_INFO, &info);
        let mut bad = p.clone();
        put(&mut bad, IFLA_VFINFO_LIST, &list);
        let e = parse_link(&bad).unwrap_err();
        assert!(
            e.contains("IFLA_VF_LINK_STATE has 6 bytes, expected 8"),
            "{e}"
        );

        let mut info = vf_info(0, 0, None);
        let mut other = 1u32.to_ne_bytes().to_vec();
        other.extend_from_slice(&[0; 4]);
        put(&mut info, IFLA_VF_LINK_STATE, &other);
        let mut list = Vec::new();
        put(&mut list, IFLA_VF_INFO, &info);
        let mut bad = p.clone();
        put(&mut bad, IFLA_VFINFO_LIST, &list);
        let e = parse_link(&bad).unwrap_err();
        assert!(e.contains("mixes VF numbers 0 and 1"), "{e}");

        let mut list = Vec::new();
        put(&mut list, IFLA_VF_INFO, &[]);
        let mut bad = p;
        put(&mut bad, IFLA_VFINFO_LIST, &list);
        let e = parse_link(&bad).unwrap_err();
        assert!(e.contains("no VF number"), "{e}");
    }
}
