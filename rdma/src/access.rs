//! Memory access rights (`enum ibv_access_flags`).

use crate::sys::ibv_access_flags as raw;
use std::fmt;
use std::ops::{BitOr, BitOrAssign};

/// Access rights of a memory region, or the remote rights a QP grants.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Access(u32);

impl Access {
    /// No right beyond local reads by the device.
    pub const NONE: Access = Access(0);
    /// The device may write the memory (receives, RDMA READ responses). Needed by every
    /// remote-write or atomic right.
    pub const LOCAL_WRITE: Access = Access(raw::IBV_ACCESS_LOCAL_WRITE);
    /// Peers may RDMA WRITE into the memory.
    pub const REMOTE_WRITE: Access = Access(raw::IBV_ACCESS_REMOTE_WRITE);
    /// Peers may RDMA READ the memory.
    pub const REMOTE_READ: Access = Access(raw::IBV_ACCESS_REMOTE_READ);
    /// Peers may run atomics on the memory.
    pub const REMOTE_ATOMIC: Access = Access(raw::IBV_ACCESS_REMOTE_ATOMIC);
    /// Relaxed PCIe ordering (an optional flag: ignored where unsupported).
    pub const RELAXED_ORDERING: Access = Access(raw::IBV_ACCESS_RELAXED_ORDERING);

    /// From raw `ibv_access_flags` bits.
    pub const fn from_bits(bits: u32) -> Self {
        Access(bits)
    }
    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }
    /// True when every right in `other` is in `self`.
    pub const fn contains(self, other: Access) -> bool {
        self.0 & other.0 == other.0
    }
    /// True when peers can change the memory behind the CPU's back (remote write or atomic).
    pub const fn remote_writable(self) -> bool {
        self.0 & (raw::IBV_ACCESS_REMOTE_WRITE | raw::IBV_ACCESS_REMOTE_ATOMIC) != 0
    }
}

impl BitOr for Access {
    type Output = Access;
    fn bitor(self, rhs: Access) -> Access {
        Access(self.0 | rhs.0)
    }
}

impl BitOrAssign for Access {
    fn bitor_assign(&mut self, rhs: Access) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Access::LOCAL_WRITE, "LOCAL_WRITE"),
            (Access::REMOTE_WRITE, "REMOTE_WRITE"),
            (Access::REMOTE_READ, "REMOTE_READ"),
            (Access::REMOTE_ATOMIC, "REMOTE_ATOMIC"),
            (Access::RELAXED_ORDERING, "RELAXED_ORDERING"),
        ];
        let mut first = true;
        for (flag, name) in names {
            if self.contains(flag) && flag.0 != 0 {
                if !first {
                    f.write_str(" | ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        if first {
            f.write_str("NONE")?;
        }
        Ok(())
    }
}
