//! RDMA netlink (`NETLINK_RDMA`, the nldev client): the RDMA subsystem's network namespace
//! mode, the RDMA devices and their move between network namespaces. No crate encodes these:
//! requests and replies are hand-encoded after `include/uapi/rdma/rdma_netlink.h`.
//!
//! An [`RdmaNetlink`] acts in the network namespace its thread was in when it was opened: in
//! exclusive mode it sees only the RDMA devices of that namespace.

mod reply;
mod request;

pub use reply::{check_reply, parse_nldev, parse_reply, NldevMessage, RdmaReply, ReplyError};

use super::error::{NetlinkError, Result};
use super::socket::{Failure, NlSocket, Reply};
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::str::FromStr;

/// The RDMA subsystem's network namespace mode (`rdma system set netns ...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NetnsMode {
    /// Every RDMA device is visible in every network namespace (the kernel's default);
    /// `RDMA_NLDEV_SYS_ATTR_NETNS_MODE` = 1.
    Shared,
    /// Each RDMA device belongs to one network namespace and can be moved;
    /// `RDMA_NLDEV_SYS_ATTR_NETNS_MODE` = 0.
    Exclusive,
}

impl NetnsMode {
    /// The attribute's value: 1 shared, 0 exclusive.
    pub const fn as_u8(self) -> u8 {
        match self {
            NetnsMode::Shared => 1,
            NetnsMode::Exclusive => 0,
        }
    }

    /// The mode of an attribute value; `None` for anything but 0 and 1.
    pub const fn from_u8(value: u8) -> Option<Self> {
        match value {
            1 => Some(NetnsMode::Shared),
            0 => Some(NetnsMode::Exclusive),
            _ => None,
        }
    }
}

impl fmt::Display for NetnsMode {
    /// `shared` or `exclusive`, as `rdma system show` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NetnsMode::Shared => "shared",
            NetnsMode::Exclusive => "exclusive",
        })
    }
}

impl FromStr for NetnsMode {
    type Err = String;

    /// `shared` or `exclusive`.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "shared" => Ok(NetnsMode::Shared),
            "exclusive" => Ok(NetnsMode::Exclusive),
            _ => Err(format!(
                "invalid RDMA netns mode {s:?}: expected \"shared\" or \"exclusive\""
            )),
        }
    }
}

/// An RDMA netlink socket of the network namespace it was opened in.
#[derive(Debug)]
pub struct RdmaNetlink {
    socket: NlSocket,
}

fn failed(op: String, f: Failure) -> NetlinkError {
    match f {
        Failure::Io(source) => NetlinkError::Socket { op, source },
        Failure::Malformed(what) => NetlinkError::Malformed { op, what },
        Failure::Kernel(s) => NetlinkError::Kernel {
            op,
            source: io::Error::from_raw_os_error(s.errno),
            extack: s.extack,
        },
    }
}

impl RdmaNetlink {
    /// Opens an RDMA netlink socket in the calling thread's network namespace. Without the
    /// `ib_core` module the kernel has no NETLINK_RDMA (`EPROTONOSUPPORT`).
    pub fn open() -> Result<RdmaNetlink> {
        NlSocket::open(netlink_sys::constants::NETLINK_RDMA)
            .map(|socket| RdmaNetlink { socket })
            .map_err(|source| {
                let op = if source.raw_os_error() == Some(libc::EPROTONOSUPPORT) {
                    "open an RDMA netlink socket (the kernel has no NETLINK_RDMA: is ib_core loaded?)"
                } else {
                    "open an RDMA netlink socket"
                };
                NetlinkError::Socket {
                    op: op.into(),
                    source,
                }
            })
    }

    fn transact(
        &mut self,
        build: impl FnOnce(u32) -> Vec<u8>,
        dump: bool,
    ) -> Result<Vec<Reply>, Failure> {
        let seq = self.socket.next_seq();
        let msg = build(seq);
        self.socket.transact(&msg, dump)
    }

    /// The RDMA subsystem's network namespace mode (`RDMA_NLDEV_CMD_SYS_GET`).
    pub fn netns_mode(&mut self) -> Result<NetnsMode> {
        let op = || "read the RDMA netns mode".to_owned();
        let replies = self
            .transact(request::sys_get, false)
            .map_err(|f| failed(op(), f))?;
        for r in &replies {
            let m = parse_nldev(r.ty, &r.payload)
                .map_err(|what| NetlinkError::Malformed { op: op(), what })?;
            if let Some(mode) = m.netns_mode {
                return Ok(mode);
            }
        }
        Err(NetlinkError::Malformed {
            op: op(),
            what: "no RDMA_NLDEV_SYS_ATTR_NETNS_MODE in the answer".into(),
        })
    }

    /// Sets the RDMA subsystem's network namespace mode (`RDMA_NLDEV_CMD_SYS_SET`; needs
    /// `CAP_NET_ADMIN`). The kernel refuses a change (`EBUSY`) while any network namespace
    /// besides the initial one exists.
    pub fn set_netns_mode(&mut self, mode: NetnsMode) -> Result<()> {
        self.transact(|seq| request::sys_set_netns_mode(seq, mode), false)
            .map(drop)
            .map_err(|f| {
                let busy = matches!(&f, Failure::Kernel(s) if s.errno == libc::EBUSY);
                let op = if busy {
                    format!("set the RDMA netns mode to {mode} (the kernel refuses while network namespaces other than the initial one exist)")
                } else {
                    format!("set the RDMA netns mode to {mode}")
                };
                failed(op, f)
            })
    }

    /// The RDMA devices visible in this socket's network namespace: (index, name) pairs
    /// (`RDMA_NLDEV_CMD_GET` dump).
    pub fn devices(&mut self) -> Result<Vec<(u32, String)>> {
        let op = || "list RDMA devices".to_owned();
        let replies = self
            .transact(request::get_dump, true)
            .map_err(|f| failed(op(), f))?;
        let mut out = Vec::with_capacity(replies.len());
        for r in &replies {
            let m = parse_nldev(r.ty, &r.payload)
                .map_err(|what| NetlinkError::Malformed { op: op(), what })?;
            match (m.dev_index, m.dev_name) {
                (Some(i), Some(n)) => out.push((i, n)),
                _ => {
                    return Err(NetlinkError::Malformed {
                        op: op(),
                        what: "a device message lacks RDMA_NLDEV_ATTR_DEV_INDEX or RDMA_NLDEV_ATTR_DEV_NAME".into(),
                    })
                }
            }
        }
        Ok(out)
    }

    /// The index of the RDMA device named `name` (stable across namespaces), if this socket's
    /// namespace sees it; else [`NetlinkError::NoSuchRdmaDevice`].
    pub fn device_index(&mut self, name: &str) -> Result<u32> {
        self.devices()?
            .into_iter()
            .find(|(_, n)| n == name)
            .map(|(i, _)| i)
            .ok_or_else(|| NetlinkError::NoSuchRdmaDevice(name.to_owned()))
    }

    /// Moves RDMA device `dev_index` into the network namespace `netns_fd`
    /// (`RDMA_NLDEV_CMD_SET` with `RDMA_NLDEV_NET_NS_FD`; needs exclusive mode and
    /// `CAP_NET_ADMIN`). `EOPNOTSUPP` is [`NetlinkError::Unsupported`] saying why: shared
    /// mode, or a driver that cannot be moved; an index this namespace does not see is
    /// [`NetlinkError::NoSuchRdmaIndex`].
    pub fn move_device_to_netns(&mut self, dev_index: u32, netns_fd: BorrowedFd<'_>) -> Result<()> {
        // A file descriptor is never negative: the kernel reads the attribute as a u32.
        let fd = netns_fd.as_raw_fd() as u32;
        let f = match self.transact(|seq| request::set_netns(seq, dev_index, fd), false) {
            Ok(_) => return Ok(()),
            Err(f) => f,
        };
        // The error path only: name the device and say why, from what the kernel tells now.
        let devices = self.devices().unwrap_or_default();
        let name = devices
            .iter()
            .find(|(i, _)| *i == dev_index)
            .map(|(_, n)| n.clone());
        let errno = match &f {
            Failure::Kernel(s) => s.errno,
            _ => 0,
        };
        if name.is_none() && !devices.is_empty() && errno == libc::EINVAL {
            return Err(NetlinkError::NoSuchRdmaIndex(dev_index));
        }
        let link = format!(
            "RDMA device {}",
            name.unwrap_or_else(|| format!("#{dev_index}"))
        );
        if let Failure::Kernel(s) = &f {
            if s.errno == libc::EOPNOTSUPP {
                let reason = match self.netns_mode() {
                    Ok(NetnsMode::Shared) => "the RDMA subsystem is in shared netns mode (`rdma system set netns exclusive` first)",
                    Ok(NetnsMode::Exclusive) => "its driver cannot move between network namespaces (no user-context disassociation)",
                    Err(_) => "shared netns mode, or a driver that cannot move between network namespaces",
                };
                return Err(NetlinkError::Unsupported {
                    op: "move to another network namespace".into(),
                    link,
                    reason: reason.into(),
                    extack: s.extack.clone(),
                });
            }
        }
        Err(failed(
            format!("move {link} to network namespace fd {fd}"),
            f,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netns_mode_values_follow_the_kernel() {
        // ib_devices_shared_netns is put as the u8: true (1) = shared.
        assert_eq!(NetnsMode::Shared.as_u8(), 1);
        assert_eq!(NetnsMode::Exclusive.as_u8(), 0);
        assert_eq!(NetnsMode::from_u8(1), Some(NetnsMode::Shared));
        assert_eq!(NetnsMode::from_u8(0), Some(NetnsMode::Exclusive));
        assert_eq!(NetnsMode::from_u8(2), None);
        for m in [NetnsMode::Shared, NetnsMode::Exclusive] {
            assert_eq!(m.to_string().parse::<NetnsMode>(), Ok(m));
        }
        assert!("Shared"
            .parse::<NetnsMode>()
            .unwrap_err()
            .contains("\"Shared\""));
    }
}
