//! An address as `RTM_NEWADDR` describes it (`struct ifaddrmsg` then attributes), decoded by
//! hand like links.

use crate::netlink::attr::attrs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `sizeof(struct ifaddrmsg)`.
const IFADDRMSG_LEN: usize = 8;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;

/// One address of a link: (link index, address, prefix length); `None` for families other
/// than IPv4 and IPv6.
pub(crate) fn parse_address(payload: &[u8]) -> Result<Option<(u32, IpAddr, u8)>, String> {
    let Some(h) = payload.get(..IFADDRMSG_LEN) else {
        return Err(format!(
            "RTM_NEWADDR payload of {} bytes is shorter than struct ifaddrmsg (8)",
            payload.len()
        ));
    };
    let (family, prefix) = (h[0], h[1]);
    let index = u32::from_ne_bytes([h[4], h[5], h[6], h[7]]);
    let (mut address, mut local) = (None, None);
    for a in attrs(&payload[IFADDRMSG_LEN..]) {
        let a = a.map_err(|e| format!("address attributes: {e}"))?;
        let slot = match a.kind {
            IFA_ADDRESS => &mut address,
            IFA_LOCAL => &mut local,
            _ => continue,
        };
        *slot = Some(match family {
            AF_INET => IpAddr::V4(Ipv4Addr::from(a.fixed::<4>("IPv4 IFA_ADDRESS/IFA_LOCAL")?)),
            AF_INET6 => IpAddr::V6(Ipv6Addr::from(a.fixed::<16>("IPv6 IFA_ADDRESS/IFA_LOCAL")?)),
            _ => return Ok(None),
        });
    }
    if family != AF_INET && family != AF_INET6 {
        return Ok(None);
    }
    // IFA_LOCAL is the link's own address (IFA_ADDRESS is the peer's on point-to-point links).
    match local.or(address) {
        Some(addr) => Ok(Some((index, addr, prefix))),
        None => Err(format!(
            "address of link {index} has no IFA_LOCAL or IFA_ADDRESS"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::attr::put;

    fn ifaddrmsg(family: u8, prefix: u8, index: u32) -> Vec<u8> {
        let mut b = vec![family, prefix, 0x80, 0];
        b.extend_from_slice(&index.to_ne_bytes());
        b
    }

    #[test]
    fn ipv4_prefers_the_local_address() {
        let mut p = ifaddrmsg(AF_INET, 24, 6);
        put(&mut p, IFA_ADDRESS, &[192, 0, 2, 9]);
        put(&mut p, IFA_LOCAL, &[192, 0, 2, 5]);
        put(&mut p, 3, b"net1\0"); // IFA_LABEL: skipped
        assert_eq!(
            parse_address(&p).unwrap(),
            Some((6, "192.0.2.5".parse().unwrap(), 24))
        );
    }

    #[test]
    fn ipv6_address_only() {
        let mut p = ifaddrmsg(AF_INET6, 64, 2);
        let a: Ipv6Addr = "2001:db8::5".parse().unwrap();
        put(&mut p, IFA_ADDRESS, &a.octets());
        assert_eq!(parse_address(&p).unwrap(), Some((2, IpAddr::V6(a), 64)));
    }

    #[test]
    fn malformed_addresses_are_errors() {
        assert!(parse_address(&[2, 24, 0])
            .unwrap_err()
            .contains("ifaddrmsg"));
        let mut p = ifaddrmsg(AF_INET, 24, 6);
        put(&mut p, IFA_LOCAL, &[192, 0, 2]);
        let e = parse_address(&p).unwrap_err();
        assert!(e.contains("has 3 bytes, expected 4"), "{e}");
        let e = parse_address(&ifaddrmsg(AF_INET, 24, 6)).unwrap_err();
        assert!(e.contains("no IFA_LOCAL"), "{e}");
        assert_eq!(parse_address(&ifaddrmsg(17, 0, 6)).unwrap(), None);
    }
}
