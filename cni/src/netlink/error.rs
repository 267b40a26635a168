//! The one error type of rtnetlink and RDMA netlink requests.

use std::io;

/// Why a netlink request failed.
///
/// `op` fields say what was asked, in words ("set VF 0 node GUID on ib0"); `extack` is the
/// kernel's extended-ACK message (`NLMSGERR_ATTR_MSG`) when it sent one.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    /// Opening, sending on or receiving from the netlink socket failed.
    #[error("{op}: netlink socket: {source}")]
    Socket {
        /// What was being done.
        op: String,
        /// The system call's error.
        source: io::Error,
    },
    /// The kernel refused the request with an errno not covered by a more specific variant.
    #[error("{op}: {source}{}", kernel_says(.extack))]
    Kernel {
        /// What was asked.
        op: String,
        /// The errno the kernel answered (`raw_os_error()` gives the number).
        source: io::Error,
        /// The kernel's extended-ACK text.
        extack: Option<String>,
    },
    /// `EOPNOTSUPP`: the device cannot do this at all (e.g. VF GUIDs on a netdev that is not
    /// an SR-IOV InfiniBand PF).
    #[error("{link} cannot {op} (EOPNOTSUPP): {reason}{}", kernel_says(.extack))]
    Unsupported {
        /// What was asked, as a verb phrase ("set VF GUIDs").
        op: String,
        /// The network interface or RDMA device asked.
        link: String,
        /// Why, in the terms of this request.
        reason: String,
        /// The kernel's extended-ACK text.
        extack: Option<String>,
    },
    /// `EEXIST` on a create request: the address or route is already there.
    #[error("{op}: it already exists (EEXIST){}", kernel_says(.extack))]
    Exists {
        /// What was asked.
        op: String,
        /// The kernel's extended-ACK text.
        extack: Option<String>,
    },
    /// No network interface has this name in the socket's network namespace.
    #[error("no network interface named {0:?} in this network namespace")]
    NoSuchLink(String),
    /// No network interface has this index in the socket's network namespace.
    #[error("no network interface with index {0} in this network namespace")]
    NoSuchIndex(u32),
    /// No RDMA device has this name (in exclusive netns mode: in this network namespace).
    #[error("no RDMA device named {0:?} in this network namespace")]
    NoSuchRdmaDevice(String),
    /// No RDMA device has this index.
    #[error("no RDMA device with index {0} in this network namespace")]
    NoSuchRdmaIndex(u32),
    /// A network interface name the kernel would refuse; nothing was sent.
    #[error("invalid network interface name {name:?}: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An argument the request cannot carry (prefix too long, mixed address families);
    /// nothing was sent.
    #[error("{op}: {reason}")]
    InvalidArgument {
        /// What was asked.
        op: String,
        /// What is wrong.
        reason: String,
    },
    /// The kernel's reply could not be decoded (truncated, bad lengths, missing attributes).
    #[error("{op}: malformed reply from the kernel: {what}")]
    Malformed {
        /// What was asked.
        op: String,
        /// What was wrong with the reply.
        what: String,
    },
}

fn kernel_says(extack: &Option<String>) -> String {
    match extack {
        Some(m) => format!(" (kernel: {m})"),
        None => String::new(),
    }
}

impl NetlinkError {
    /// The errno the kernel (or the socket) answered, when the failure carries one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NetlinkError::Socket { source, .. } | NetlinkError::Kernel { source, .. } => {
                source.raw_os_error()
            }
            NetlinkError::Unsupported { .. } => Some(libc::EOPNOTSUPP),
            NetlinkError::Exists { .. } => Some(libc::EEXIST),
            NetlinkError::NoSuchLink(_) | NetlinkError::NoSuchIndex(_) => Some(libc::ENODEV),
            NetlinkError::NoSuchRdmaDevice(_) | NetlinkError::NoSuchRdmaIndex(_) => None,
            NetlinkError::InvalidName { .. }
            | NetlinkError::InvalidArgument { .. }
            | NetlinkError::Malformed { .. } => None,
        }
    }

    /// The kernel's extended-ACK text, when it sent one.
    pub fn extack(&self) -> Option<&str> {
        match self {
            NetlinkError::Kernel { extack, .. }
            | NetlinkError::Unsupported { extack, .. }
            | NetlinkError::Exists { extack, .. } => extack.as_deref(),
            _ => None,
        }
    }
}

/// The result of a netlink request.
pub type Result<T, E = NetlinkError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_names_the_link_the_errno_and_why() {
        let e = NetlinkError::Unsupported {
            op: "set VF GUIDs".into(),
            link: "rdma0".into(),
            reason: "it is not an SR-IOV InfiniBand PF".into(),
            extack: None,
        };
        assert_eq!(
            e.to_string(),
            "rdma0 cannot set VF GUIDs (EOPNOTSUPP): it is not an SR-IOV InfiniBand PF"
        );
        assert_eq!(e.errno(), Some(libc::EOPNOTSUPP));
    }

    #[test]
    fn kernel_error_appends_the_extack_text() {
        let e = NetlinkError::Kernel {
            op: "rename link #3 to x".into(),
            source: io::Error::from_raw_os_error(libc::EBUSY),
            extack: Some("Cannot rename a running device".into()),
        };
        let text = e.to_string();
        assert!(text.starts_with("rename link #3 to x: "), "{text}");
        assert!(
            text.ends_with(" (kernel: Cannot rename a running device)"),
            "{text}"
        );
        assert_eq!(e.errno(), Some(libc::EBUSY));
        assert_eq!(e.extack(), Some("Cannot rename a running device"));
    }
}
