//! Typed RDMA CM failures ([`crate::Error::Cm`]) and the rule that turns an event into one.

use super::event::CmEvent;
use super::event_kind::EventKind;
use crate::error::Error;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// A connection-management step that did not succeed: what happened, and with whom.
#[derive(Debug)]
pub struct CmError {
    /// What went wrong.
    pub kind: CmErrorKind,
    /// The remote address involved, when there is one (the destination of a resolve or a
    /// connect, the peer of an accepted connection).
    pub peer: Option<SocketAddr>,
    /// The local address involved, when it is the cause (a source or listening address that
    /// no RDMA device has).
    pub local: Option<SocketAddr>,
}

/// What went wrong in a [`CmError`]. Errno values are positive (`libc::ETIMEDOUT`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CmErrorKind {
    /// The address could not be resolved to a local RDMA device (no route, no device with
    /// that source address, ARP/ND timed out).
    AddrError {
        /// The errno.
        errno: i32,
    },
    /// The route to the destination could not be resolved.
    RouteError {
        /// The errno.
        errno: i32,
    },
    /// The peer did not answer the connection request.
    Unreachable {
        /// The errno (usually `ETIMEDOUT`).
        errno: i32,
    },
    /// The peer rejected the connection; on InfiniBand/RoCE a `status` of 8 means nobody
    /// listens on that port and 28 that the peer's application rejected.
    Rejected {
        /// The transport's reject reason.
        status: i32,
        /// The private data that came with the reject (IB pads it with zeroes).
        private_data: Vec<u8>,
    },
    /// The connection could not be established after the handshake started.
    ConnectError {
        /// The errno.
        errno: i32,
    },
    /// The awaited event did not come in time.
    Timeout {
        /// The event that was awaited.
        waiting_for: EventKind,
        /// How long it was awaited.
        after: Duration,
    },
    /// The connection was closed (by the peer, or because it died) while waiting.
    Disconnected,
    /// A connect request is no longer pending when it is accepted: the peer gave up (its
    /// connect timed out, its id was destroyed) before the accept. The kernel does not report
    /// events of a request's id before it is accepted, so this is known from the CM refusing
    /// the accept's steps (`EINVAL`).
    RequestAbandoned,
    /// The RDMA device was removed.
    DeviceRemoval,
    /// An event that makes no sense at this step.
    UnexpectedEvent {
        /// The event that was awaited.
        expected: EventKind,
        /// The event that came.
        got: EventKind,
    },
}

impl CmErrorKind {
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let os = |errno: &i32| io::Error::from_raw_os_error(*errno);
        match self {
            CmErrorKind::AddrError { errno } => {
                write!(f, "address resolution failed: {}", os(errno))
            }
            CmErrorKind::RouteError { errno } => {
                write!(f, "route resolution failed: {}", os(errno))
            }
            CmErrorKind::Unreachable { errno } => {
                write!(
                    f,
                    "peer unreachable (no answer to the connection request): {}",
                    os(errno)
                )
            }
            CmErrorKind::Rejected { status, .. } => {
                write!(f, "connection rejected (reason {status}")?;
                match reject_reason(*status) {
                    Some(text) => write!(f, ": {text})"),
                    None => f.write_str(")"),
                }
            }
            CmErrorKind::ConnectError { errno } => {
                write!(f, "connection establishment failed: {}", os(errno))
            }
            CmErrorKind::Timeout { waiting_for, after } => {
                write!(f, "timed out after {after:?} waiting for {waiting_for}")
            }
            CmErrorKind::Disconnected => f.write_str("the connection was closed"),
            CmErrorKind::RequestAbandoned => {
                f.write_str("the connect request was abandoned by the peer before the accept")
            }
            CmErrorKind::DeviceRemoval => f.write_str("the RDMA device was removed"),
            CmErrorKind::UnexpectedEvent { expected, got } => {
                write!(f, "waiting for {expected}, got {got}")
            }
        }
    }
}

impl fmt::Display for CmErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.describe(f)
    }
}

impl fmt::Display for CmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.local, self.peer) {
            (Some(local), Some(peer)) => write!(f, "RDMA CM, {local} -> {peer}: {}", self.kind),
            (None, Some(peer)) => write!(f, "RDMA CM, peer {peer}: {}", self.kind),
            (Some(local), None) => write!(f, "RDMA CM, local address {local}: {}", self.kind),
            (None, None) => write!(f, "RDMA CM: {}", self.kind),
        }
    }
}

impl std::error::Error for CmError {}

/// The error of a wait for `expected` that saw nothing within `after`; it names `peer`.
pub(crate) fn timeout_error(
    expected: EventKind,
    after: Duration,
    peer: Option<SocketAddr>,
) -> Error {
    CmError {
        kind: CmErrorKind::Timeout {
            waiting_for: expected,
            after,
        },
        peer,
        local: None,
    }
    .into()
}

/// Turns a failed bind or resolve call into [`CmErrorKind::AddrError`] naming the addresses
/// (its errno says why: `EADDRNOTAVAIL` for a local address no device has, `ENODEV`, …).
pub(crate) fn addr_error(err: Error, local: Option<SocketAddr>, peer: Option<SocketAddr>) -> Error {
    match err.errno() {
        Some(errno) => CmError {
            kind: CmErrorKind::AddrError { errno },
            peer,
            local,
        }
        .into(),
        None => err,
    }
}

/// The common InfiniBand CM reject reasons (IBTA table "REJ reason codes").
pub(crate) fn reject_reason(status: i32) -> Option<&'static str> {
    Some(match status {
        1 => "no QP available",
        2 => "no EE context available",
        3 => "no resources",
        4 => "timeout",
        5 => "unsupported request",
        6 => "invalid communication ID",
        7 => "invalid communication instance",
        8 => "invalid service ID: nobody listens on that port",
        9 => "invalid transport type",
        10 => "stale connection",
        26 => "invalid RNR retry count",
        28 => "rejected by the peer's application",
        _ => return None,
    })
}

/// How a wait treats the event that came while it awaited `expected`.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// It is the awaited event.
    Done(CmEvent),
    /// Irrelevant here (address change, time-wait exit, unknown events): keep waiting.
    Skip,
    /// The step failed.
    Fail(CmErrorKind),
}

/// Decides what `event` means for a wait for `expected`: error events become their error
/// kind, harmless ones are skipped, anything else is [`CmErrorKind::UnexpectedEvent`].
pub(crate) fn judge(expected: EventKind, event: CmEvent) -> Verdict {
    let errno = |status: i32| status.abs();
    let kind = event.kind();
    if kind == expected {
        return Verdict::Done(event);
    }
    Verdict::Fail(match event {
        CmEvent::AddrError { status } => CmErrorKind::AddrError {
            errno: errno(status),
        },
        CmEvent::RouteError { status } => CmErrorKind::RouteError {
            errno: errno(status),
        },
        CmEvent::Unreachable { status } => CmErrorKind::Unreachable {
            errno: errno(status),
        },
        CmEvent::Rejected {
            status,
            private_data,
        } => CmErrorKind::Rejected {
            status,
            private_data,
        },
        CmEvent::ConnectError { status } => CmErrorKind::ConnectError {
            errno: errno(status),
        },
        CmEvent::Disconnected => CmErrorKind::Disconnected,
        CmEvent::DeviceRemoval => CmErrorKind::DeviceRemoval,
        CmEvent::AddrChange | CmEvent::TimewaitExit | CmEvent::Other { .. } => {
            return Verdict::Skip
        }
        _ => CmErrorKind::UnexpectedEvent {
            expected,
            got: kind,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cm::ConnParam;

    fn judged(expected: EventKind, kind: EventKind, status: i32) -> Verdict {
        judge(
            expected,
            CmEvent::from_parts(kind, status, ConnParam::with_private_data(b"no")),
        )
    }

    #[test]
    fn the_awaited_event_is_done() {
        assert!(matches!(
            judged(EventKind::AddrResolved, EventKind::AddrResolved, 0),
            Verdict::Done(CmEvent::AddrResolved)
        ));
    }

    #[test]
    fn error_events_become_typed_errors_with_positive_errno() {
        let v = judged(
            EventKind::AddrResolved,
            EventKind::AddrError,
            -libc::ENETUNREACH,
        );
        assert!(
            matches!(v, Verdict::Fail(CmErrorKind::AddrError { errno }) if errno == libc::ENETUNREACH)
        );
        let v = judged(EventKind::ConnectResponse, EventKind::Rejected, 8);
        let Verdict::Fail(CmErrorKind::Rejected {
            status: 8,
            private_data,
        }) = v
        else {
            panic!("{v:?}");
        };
        assert_eq!(private_data, b"no");
        let v = judged(EventKind::Established, EventKind::Disconnected, 0);
        assert!(matches!(v, Verdict::Fail(CmErrorKind::Disconnected)));
        let v = judged(
            EventKind::ConnectResponse,
            EventKind::Unreachable,
            -libc::ETIMEDOUT,
        );
        assert!(
            matches!(v, Verdict::Fail(CmErrorKind::Unreachable { errno }) if errno == libc::ETIMEDOUT)
        );
    }

    #[test]
    fn harmless_events_are_skipped_and_others_are_unexpected() {
        assert!(matches!(
            judged(EventKind::Established, EventKind::AddrChange, 0),
            Verdict::Skip
        ));
        assert!(matches!(
            judged(EventKind::Established, EventKind::Other(77), 0),
            Verdict::Skip
        ));
        let v = judged(EventKind::RouteResolved, EventKind::Established, 0);
        assert!(matches!(
            v,
            Verdict::Fail(CmErrorKind::UnexpectedEvent {
                expected: EventKind::RouteResolved,
                got: EventKind::Established
            })
        ));
    }

    #[test]
    fn messages_name_peer_reason_and_wait() {
        let e = CmError {
            kind: CmErrorKind::Rejected {
                status: 8,
                private_data: vec![],
            },
            peer: Some("198.18.0.1:7471".parse().unwrap()),
            local: None,
        };
        let msg = e.to_string();
        assert!(
            msg.contains("198.18.0.1:7471") && msg.contains("nobody listens"),
            "{msg}"
        );
        let e = CmError {
            kind: CmErrorKind::Timeout {
                waiting_for: EventKind::Established,
                after: Duration::from_secs(2),
            },
            peer: None,
            local: None,
        };
        assert_eq!(
            e.to_string(),
            "RDMA CM: timed out after 2s waiting for RDMA_CM_EVENT_ESTABLISHED"
        );
    }
}
