//! RDMA CM events as Rust values: each is copied out of librdmacm's `struct rdma_cm_event`
//! and acknowledged at once, so nothing here borrows librdmacm memory.

use super::event_kind::EventKind;
use super::param::ConnParam;
use super::request::ConnectRequest;

/// One RDMA CM event with its data, already acknowledged to librdmacm.
///
/// `status` is the event's raw status: a negative errno for the error events, the transport's
/// reject reason for [`CmEvent::Rejected`] (on InfiniBand and RoCE an IB CM reason, e.g. 8 =
/// invalid service ID: nobody listens on that port).
#[derive(Debug)]
#[non_exhaustive]
pub enum CmEvent {
    /// The destination address was resolved to a device and port.
    AddrResolved,
    /// Address resolution failed.
    AddrError {
        /// Negative errno.
        status: i32,
    },
    /// The route to the destination was resolved.
    RouteResolved,
    /// Route resolution failed.
    RouteError {
        /// Negative errno.
        status: i32,
    },
    /// A peer asks to connect (on a [`Listener`](super::Listener)). The request owns the new
    /// connection's id: dropping it rejects the peer.
    ConnectRequest(Box<ConnectRequest>),
    /// The passive side accepted; the active side must now finish the connection.
    ConnectResponse {
        /// The parameters and private data the peer accepted with.
        param: ConnParam,
    },
    /// An error occurred while establishing the connection.
    ConnectError {
        /// Negative errno.
        status: i32,
    },
    /// The peer did not answer (no reply to the connection request).
    Unreachable {
        /// Negative errno (usually `-ETIMEDOUT`).
        status: i32,
    },
    /// The peer rejected the connection, or no one listens at its address.
    Rejected {
        /// The reject reason (see the type's docs).
        status: i32,
        /// Private data the peer's application sent with the reject (padded by IB).
        private_data: Vec<u8>,
    },
    /// The connection is established.
    Established {
        /// Private data of the last message of the handshake, if any.
        private_data: Vec<u8>,
    },
    /// The connection was closed, by the peer or by a local disconnect.
    Disconnected,
    /// The device the id uses was removed: the id must be destroyed.
    DeviceRemoval,
    /// The id's local address changed (e.g. a bonding fail-over).
    AddrChange,
    /// The connection's time-wait state ended.
    TimewaitExit,
    /// Any other event (multicast, or an event number this crate does not know).
    Other {
        /// Its kind ([`EventKind::Other`] for an unknown number).
        kind: EventKind,
        /// Its raw status.
        status: i32,
    },
}

impl CmEvent {
    /// The event's kind.
    pub fn kind(&self) -> EventKind {
        match self {
            CmEvent::AddrResolved => EventKind::AddrResolved,
            CmEvent::AddrError { .. } => EventKind::AddrError,
            CmEvent::RouteResolved => EventKind::RouteResolved,
            CmEvent::RouteError { .. } => EventKind::RouteError,
            CmEvent::ConnectRequest(_) => EventKind::ConnectRequest,
            CmEvent::ConnectResponse { .. } => EventKind::ConnectResponse,
            CmEvent::ConnectError { .. } => EventKind::ConnectError,
            CmEvent::Unreachable { .. } => EventKind::Unreachable,
            CmEvent::Rejected { .. } => EventKind::Rejected,
            CmEvent::Established { .. } => EventKind::Established,
            CmEvent::Disconnected => EventKind::Disconnected,
            CmEvent::DeviceRemoval => EventKind::DeviceRemoval,
            CmEvent::AddrChange => EventKind::AddrChange,
            CmEvent::TimewaitExit => EventKind::TimewaitExit,
            CmEvent::Other { kind, .. } => *kind,
        }
    }

    /// Builds the event of `kind` from its copied data. A connect request is built from the
    /// new id it owns (`RawId::try_next`), so `kind` is never [`EventKind::ConnectRequest`]
    /// here.
    pub(crate) fn from_parts(kind: EventKind, status: i32, param: ConnParam) -> Self {
        match kind {
            EventKind::AddrResolved => CmEvent::AddrResolved,
            EventKind::AddrError => CmEvent::AddrError { status },
            EventKind::RouteResolved => CmEvent::RouteResolved,
            EventKind::RouteError => CmEvent::RouteError { status },
            EventKind::ConnectResponse => CmEvent::ConnectResponse { param },
            EventKind::ConnectError => CmEvent::ConnectError { status },
            EventKind::Unreachable => CmEvent::Unreachable { status },
            EventKind::Rejected => CmEvent::Rejected {
                status,
                private_data: param.private_data,
            },
            EventKind::Established => CmEvent::Established {
                private_data: param.private_data,
            },
            EventKind::Disconnected => CmEvent::Disconnected,
            EventKind::DeviceRemoval => CmEvent::DeviceRemoval,
            EventKind::AddrChange => CmEvent::AddrChange,
            EventKind::TimewaitExit => CmEvent::TimewaitExit,
            kind => CmEvent::Other { kind, status },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_parts_keeps_status_and_private_data() {
        let param = ConnParam {
            private_data: vec![1, 2, 3],
            ..ConnParam::default()
        };
        match CmEvent::from_parts(EventKind::Rejected, 8, param.clone()) {
            CmEvent::Rejected {
                status: 8,
                private_data,
            } => assert_eq!(private_data, [1, 2, 3]),
            other => panic!("{other:?}"),
        }
        let ev = CmEvent::from_parts(EventKind::Other(42), -5, param.clone());
        assert!(matches!(
            ev,
            CmEvent::Other {
                kind: EventKind::Other(42),
                status: -5
            }
        ));
        assert_eq!(ev.kind(), EventKind::Other(42));
        let ev = CmEvent::from_parts(EventKind::MulticastJoin, 0, param);
        assert_eq!(ev.kind(), EventKind::MulticastJoin);
        for raw in 0..=15 {
            let kind = EventKind::from_raw(raw);
            if kind != EventKind::ConnectRequest {
                assert_eq!(
                    CmEvent::from_parts(kind, 0, ConnParam::default()).kind(),
                    kind
                );
            }
        }
    }
}
