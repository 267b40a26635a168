//! Global identifiers (GIDs): the 128-bit port addresses of InfiniBand and RoCE.

use std::fmt;
use std::net::Ipv6Addr;

/// A 128-bit GID as stored in a port's GID table (network byte order).
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Gid(pub [u8; 16]);

impl Gid {
    /// The all-zero GID (an unused table entry).
    pub const ZERO: Gid = Gid([0; 16]);

    /// True for the all-zero GID.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 16]
    }

    /// The GID as an IPv6 address (RoCE GIDs are IP addresses; IPv4 ones are IPv4-mapped).
    pub fn to_ipv6(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.0)
    }

    /// True when the GID is an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`).
    pub fn is_ipv4_mapped(&self) -> bool {
        self.to_ipv6().to_ipv4_mapped().is_some()
    }

    /// True for a link-local address (`fe80::/10`).
    pub fn is_link_local(&self) -> bool {
        self.0[0] == 0xfe && (self.0[1] & 0xc0) == 0x80
    }
}

impl fmt::Display for Gid {
    /// Formats like rdma-core's `inet_ntop` of the GID (`fe80::1`, `::ffff:198.18.0.1`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_ipv6(), f)
    }
}

impl fmt::Debug for Gid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Gid({self})")
    }
}

impl From<[u8; 16]> for Gid {
    fn from(raw: [u8; 16]) -> Self {
        Gid(raw)
    }
}

/// The type of a GID table entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GidType {
    /// An InfiniBand GID.
    Ib,
    /// RoCE v1 (Ethernet, ethertype 0x8915).
    RoceV1,
    /// RoCE v2 (UDP/IP, port 4791).
    RoceV2,
    /// Another value.
    Other(u32),
}

impl GidType {
    pub(crate) fn from_raw(raw: u32) -> Self {
        use crate::sys::ibv_gid_type::*;
        match raw {
            IBV_GID_TYPE_IB => GidType::Ib,
            IBV_GID_TYPE_ROCE_V1 => GidType::RoceV1,
            IBV_GID_TYPE_ROCE_V2 => GidType::RoceV2,
            other => GidType::Other(other),
        }
    }
}

impl fmt::Display for GidType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GidType::Ib => f.write_str("IB"),
            GidType::RoceV1 => f.write_str("RoCE v1"),
            GidType::RoceV2 => f.write_str("RoCE v2"),
            GidType::Other(v) => write!(f, "type {v}"),
        }
    }
}

/// One entry of a port's GID table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GidEntry {
    /// The GID.
    pub gid: Gid,
    /// Its index in the table.
    pub index: u32,
    /// Its type.
    pub gid_type: GidType,
    /// The ifindex of the netdev it belongs to (RoCE), 0 for IB.
    pub ndev_ifindex: u32,
}

impl GidEntry {
    /// perftest's score for automatic GID selection on RoCE (`get_best_gid_index`):
    /// +100 for an IPv4-mapped GID, +10 when not link-local, +2 for RoCE v2, +1 for RoCE v1.
    pub fn perftest_score(&self) -> u32 {
        let mut score = 0;
        if self.gid.is_ipv4_mapped() {
            score += 100;
        }
        if !self.gid.is_link_local() {
            score += 10;
        }
        score
            + match self.gid_type {
                GidType::RoceV2 => 2,
                GidType::RoceV1 => 1,
                _ => 0,
            }
    }
}

/// Picks the GID index perftest would pick among `entries`: the highest
/// [`GidEntry::perftest_score`], the lowest index on ties; zero GIDs are skipped.
pub fn best_gid_index(entries: &[GidEntry]) -> Option<u32> {
    entries
        .iter()
        .filter(|e| !e.gid.is_zero())
        .max_by(|a, b| {
            a.perftest_score()
                .cmp(&b.perftest_score())
                .then(b.index.cmp(&a.index))
        })
        .map(|e| e.index)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u32, gid: &str, gid_type: GidType) -> GidEntry {
        let ip: Ipv6Addr = gid.parse().unwrap();
        GidEntry {
            gid: Gid(ip.octets()),
            index,
            gid_type,
            ndev_ifindex: 2,
        }
    }

    #[test]
    fn roce_table_picks_ipv4_mapped_v2() {
        // A dual-type RoCE table: link-local v1/v2, then IPv4-mapped v1/v2.
        let t = [
            entry(0, "fe80::dc86:b9ff:fe6e:3a7e", GidType::RoceV1),
            entry(1, "fe80::dc86:b9ff:fe6e:3a7e", GidType::RoceV2),
            entry(2, "::ffff:198.18.0.1", GidType::RoceV1),
            entry(3, "::ffff:198.18.0.1", GidType::RoceV2),
        ];
        assert_eq!(best_gid_index(&t), Some(3));
        assert_eq!(t[3].perftest_score(), 112);
        assert_eq!(t[0].perftest_score(), 1);
    }

    #[test]
    fn ties_pick_lowest_index_and_zero_is_skipped() {
        let t = [
            entry(0, "::", GidType::RoceV2),
            entry(1, "2001:db8::1", GidType::RoceV2),
            entry(2, "2001:db8::2", GidType::RoceV2),
        ];
        assert_eq!(best_gid_index(&t), Some(1));
        assert_eq!(best_gid_index(&t[..1]), None);
    }

    #[test]
    fn display_and_classification() {
        let g = entry(0, "::ffff:198.18.0.1", GidType::RoceV2).gid;
        assert_eq!(g.to_string(), "::ffff:198.18.0.1");
        assert!(g.is_ipv4_mapped() && !g.is_link_local());
        let ll = entry(0, "fe80::1", GidType::RoceV2).gid;
        assert!(ll.is_link_local() && !ll.is_ipv4_mapped());
        assert!(Gid::ZERO.is_zero());
    }
}
