//! Names the plugin makes up.

/// The temporary name a VF netdev carries while it moves between namespaces, unique per
/// attachment and deterministic (DEL finds a half-moved netdev by it): `ibtmp` + 8 hex digits
/// of an FNV-1a hash of container ID and interface name (13 bytes, under IFNAMSIZ).
pub fn temp_ifname(container_id: &str, ifname: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in container_id.bytes().chain([0]).chain(ifname.bytes()) {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("ibtmp{h:08x}")
}

/// A hardware address as colon-separated hex (20 bytes for IPoIB, 6 for Ethernet).
pub fn hwaddr_text(bytes: &[u8]) -> String {
    let parts: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    parts.join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_are_short_stable_and_distinct() {
        let a = temp_ifname("c1", "net1");
        assert_eq!(a, temp_ifname("c1", "net1"));
        assert_ne!(a, temp_ifname("c1", "net2"));
        assert_ne!(temp_ifname("c1n", "et1"), temp_ifname("c1", "net1"));
        assert!(a.len() < 16 && crate::spec::env::is_valid_ifname(&a), "{a}");
    }

    #[test]
    fn hwaddr() {
        assert_eq!(hwaddr_text(&[0x02, 0, 0xab]), "02:00:ab");
        assert_eq!(hwaddr_text(&[]), "");
    }
}
