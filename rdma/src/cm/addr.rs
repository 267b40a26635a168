//! `SocketAddr` ↔ `struct sockaddr` for the addresses librdmacm takes and reports.
//!
//! Pure Rust over libc's socket structs: no system call, so Miri runs these tests.

use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// A socket address laid out as the kernel expects it, in storage large enough for any family.
pub(crate) struct RawSockAddr {
    storage: libc::sockaddr_storage,
}

impl RawSockAddr {
    /// `addr` as a `sockaddr_in` or `sockaddr_in6` (port and IPv4 address in network order).
    pub(crate) fn new(addr: &SocketAddr) -> Self {
        // SAFETY: sockaddr_storage is plain old data; all zeroes is a valid (AF_UNSPEC) value.
        let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
        match addr {
            SocketAddr::V4(a) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: a.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(a.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: sockaddr_storage is larger than and aligned for every sockaddr type;
                // this writes a whole sockaddr_in at its start.
                unsafe {
                    (&mut storage as *mut libc::sockaddr_storage)
                        .cast::<libc::sockaddr_in>()
                        .write(sin)
                };
            }
            SocketAddr::V6(a) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: a.port().to_be(),
                    // As std does: the flow label is passed through as given.
                    sin6_flowinfo: a.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: a.ip().octets(),
                    },
                    sin6_scope_id: a.scope_id(),
                };
                // SAFETY: as above, for a sockaddr_in6.
                unsafe {
                    (&mut storage as *mut libc::sockaddr_storage)
                        .cast::<libc::sockaddr_in6>()
                        .write(sin6)
                };
            }
        }
        RawSockAddr { storage }
    }

    /// A pointer librdmacm's `struct sockaddr *` parameters accept; valid while `self` lives.
    /// librdmacm only reads through it (its prototypes predate `const`).
    pub(crate) fn as_mut_ptr<T>(&mut self) -> *mut T {
        (&mut self.storage as *mut libc::sockaddr_storage).cast()
    }

    /// Wraps storage the kernel or librdmacm filled in.
    pub(crate) fn from_storage(storage: libc::sockaddr_storage) -> Self {
        RawSockAddr { storage }
    }

    /// The address, or `None` for a family other than IPv4/IPv6 (unset, `AF_IB`).
    pub(crate) fn to_socket_addr(&self) -> Option<SocketAddr> {
        let base = &self.storage as *const libc::sockaddr_storage;
        match i32::from(self.storage.ss_family) {
            libc::AF_INET => {
                // SAFETY: the family says the storage holds a sockaddr_in, which fits in it
                // and whose alignment it satisfies.
                let sin = unsafe { &*base.cast::<libc::sockaddr_in>() };
                Some(SocketAddr::V4(SocketAddrV4::new(
                    Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes()),
                    u16::from_be(sin.sin_port),
                )))
            }
            libc::AF_INET6 => {
                // SAFETY: as above, for a sockaddr_in6.
                let sin6 = unsafe { &*base.cast::<libc::sockaddr_in6>() };
                Some(SocketAddr::V6(SocketAddrV6::new(
                    Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                    u16::from_be(sin6.sin6_port),
                    sin6.sin6_flowinfo,
                    sin6.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(addr: SocketAddr) {
        assert_eq!(RawSockAddr::new(&addr).to_socket_addr(), Some(addr));
    }

    #[test]
    fn ipv4_round_trips_in_network_order() {
        let addr: SocketAddr = "198.18.0.1:7471".parse().unwrap();
        round_trip(addr);
        let mut raw = RawSockAddr::new(&addr);
        // SAFETY: new() wrote a sockaddr_in at the start of the storage.
        let sin = unsafe { &*raw.as_mut_ptr::<libc::sockaddr_in>() };
        assert_eq!(i32::from(sin.sin_family), libc::AF_INET);
        assert_eq!(sin.sin_port.to_ne_bytes(), 7471u16.to_be_bytes());
        assert_eq!(sin.sin_addr.s_addr.to_ne_bytes(), [198, 18, 0, 1]);
        round_trip("0.0.0.0:0".parse().unwrap());
        round_trip("255.255.255.255:65535".parse().unwrap());
    }

    #[test]
    fn ipv6_round_trips_with_flowinfo_and_scope() {
        round_trip("[::1]:1".parse().unwrap());
        round_trip(SocketAddr::V6(SocketAddrV6::new(
            "fe80::1234:5678".parse().unwrap(),
            4791,
            0x12345,
            3,
        )));
        round_trip("[::ffff:198.18.0.1]:65535".parse().unwrap());
    }

    #[test]
    fn other_families_are_none() {
        // SAFETY: all zeroes is a valid sockaddr_storage (AF_UNSPEC).
        let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
        assert_eq!(RawSockAddr::from_storage(storage).to_socket_addr(), None);
        storage.ss_family = 27; // AF_IB
        assert_eq!(RawSockAddr::from_storage(storage).to_socket_addr(), None);
    }
}
