//! Typed errors: every verb failure names the verb and its errno; environment problems that a
//! user can fix (no device, no provider, memlock limit, port down, missing GID) get their own
//! variant whose message says what to do.

use std::io;

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong outside a work completion.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A verb returned an error.
    #[error("{verb} failed: {source}")]
    Verb {
        /// The libibverbs function, e.g. `ibv_create_qp`.
        verb: &'static str,
        /// The errno it reported.
        #[source]
        source: io::Error,
    },
    /// The system has no RDMA device at all.
    #[error(
        "no RDMA device found: load a driver (e.g. `modprobe mlx5_ib`), create a Soft-RoCE \
         device (`rdma link add rxe0 type rxe netdev eth0`), or in a pod mount /dev/infiniband"
    )]
    NoDevice,
    /// No device with the requested name.
    #[error("RDMA device {name:?} not found; present: {present}")]
    DeviceNotFound {
        /// The name asked for.
        name: String,
        /// The names that exist, comma separated.
        present: String,
    },
    /// The kernel has the device but libibverbs has no user-space provider for it.
    #[error(
        "cannot open RDMA device {device}: no user-space provider library for it (install \
         rdma-core's providers, e.g. `apt-get install ibverbs-providers`) or no access to \
         /dev/infiniband/uverbs*"
    )]
    NoProvider {
        /// The device name.
        device: String,
    },
    /// Memory registration failed because the locked-memory limit is too low.
    #[error(
        "cannot register {len} bytes: RLIMIT_MEMLOCK is {limit} (raise it with `ulimit -l \
         unlimited`, LimitMEMLOCK=infinity for systemd, or the container's memlock ulimit)"
    )]
    MemlockTooLow {
        /// Bytes asked for.
        len: usize,
        /// The soft limit in force, as text ("65536 bytes" or "unlimited").
        limit: String,
    },
    /// The port is not ACTIVE.
    #[error("port {port} of {device} is {state}, not ACTIVE: bring the link up (cable, subnet manager, `ip link set <netdev> up`)")]
    PortNotActive {
        /// The device name.
        device: String,
        /// The port number.
        port: u8,
        /// Its state as text.
        state: crate::PortState,
    },
    /// The requested GID table entry does not exist or is empty.
    #[error("GID index {index} of {device} port {port} is absent (the table has {table_len} entries{hint}): pick one from `ibv_devinfo -v` or let the tool choose")]
    GidIndexAbsent {
        /// The device name.
        device: String,
        /// The port number.
        port: u8,
        /// The index asked for.
        index: u32,
        /// The size of the GID table.
        table_len: u32,
        /// Extra advice.
        hint: &'static str,
    },
    /// A RoCE port has no usable GID (no IP address on its netdev).
    #[error("port {port} of {device} has no usable GID: give its network device an IP address")]
    NoUsableGid {
        /// The device name.
        device: String,
        /// The port number.
        port: u8,
    },
    /// The device does not offer what was asked for.
    #[error("{device} does not support {what}")]
    Unsupported {
        /// What was asked for.
        what: &'static str,
        /// The device name.
        device: String,
    },
    /// An argument was out of range or inconsistent.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A work request was posted to a queue pair that is not in a state that accepts it.
    #[error("cannot post {what} to QP {qpn:#x}: it is in state {state}, needs {needs}")]
    QpState {
        /// "a send" or "a receive".
        what: &'static str,
        /// The QP number.
        qpn: u32,
        /// The current state.
        state: crate::QpState,
        /// The states that accept it.
        needs: &'static str,
    },
    /// A queue has no room for more work requests.
    #[error(
        "{queue} of QP {qpn:#x} is full ({depth} work requests in flight): poll completions first"
    )]
    QueueFull {
        /// "send queue", "receive queue" or "shared receive queue".
        queue: &'static str,
        /// The QP (or SRQ) number.
        qpn: u32,
        /// Its depth.
        depth: u32,
    },
    /// A UD send longer than the path MTU: a datagram is one packet.
    #[error(
        "a {len}-byte message does not fit the {max}-byte path MTU of UD QP {qpn:#x}: a \
         datagram is one packet (split it, or use an RC QP)"
    )]
    MessageTooLong {
        /// The message's length.
        len: usize,
        /// The largest message the QP may send.
        max: u32,
        /// The QP number.
        qpn: u32,
    },
    /// A completion was handed to a queue it does not belong to, or twice.
    #[error("completion (wr_id {wr_id:#x}, qp {qp_num:#x}) does not belong to an outstanding work request of {owner}")]
    ForeignCompletion {
        /// The raw wr_id of the completion.
        wr_id: u64,
        /// Its QP number.
        qp_num: u32,
        /// Who was asked.
        owner: String,
    },
    /// An RDMA connection-management step failed: resolving, connecting, accepting, or the
    /// connection closing under a wait (feature `cm`). Match on its
    /// [`kind`](crate::cm::CmError::kind), e.g. through [`Error::cm_kind`]. Boxed: it names
    /// two addresses, and `Error` stays small on the data path.
    #[cfg(feature = "cm")]
    #[error(transparent)]
    Cm(Box<crate::cm::CmError>),
}

#[cfg(feature = "cm")]
impl From<crate::cm::CmError> for Error {
    fn from(e: crate::cm::CmError) -> Self {
        Error::Cm(Box::new(e))
    }
}

impl Error {
    /// Builds [`Error::Verb`] from the current `errno`.
    pub(crate) fn last_os(verb: &'static str) -> Self {
        Error::Verb {
            verb,
            source: io::Error::last_os_error(),
        }
    }

    /// Builds [`Error::Verb`] from a verb's positive (or negated) errno return value.
    pub(crate) fn from_ret(verb: &'static str, ret: i32) -> Self {
        Error::Verb {
            verb,
            source: io::Error::from_raw_os_error(ret.abs()),
        }
    }

    /// The errno of a verb failure, if this is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Verb { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    /// What went wrong, if this is an RDMA CM failure.
    #[cfg(feature = "cm")]
    pub fn cm_kind(&self) -> Option<&crate::cm::CmErrorKind> {
        match self {
            Error::Cm(e) => Some(&e.kind),
            _ => None,
        }
    }

    /// The verb that failed, if this is a verb failure.
    pub fn verb(&self) -> Option<&'static str> {
        match self {
            Error::Verb { verb, .. } => Some(verb),
            _ => None,
        }
    }
}

/// Checks a verb's integer return: 0 is success, anything else is its errno.
#[inline]
pub(crate) fn check(verb: &'static str, ret: i32) -> Result<()> {
    if ret == 0 {
        Ok(())
    } else {
        Err(Error::from_ret(verb, ret))
    }
}
