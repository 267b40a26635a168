//! What happened in an RDMA CM event (`enum rdma_cm_event_type`), without the event's data.
//! Plain data at the bottom of the module graph: the channel reads it, errors name it, and
//! [`CmEvent`](super::CmEvent) carries it.

use crate::sys::cm::rdma_cm_event_type as t;
use std::fmt;

/// What happened (`enum rdma_cm_event_type`), without the event's data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// `RDMA_CM_EVENT_ADDR_RESOLVED`.
    AddrResolved,
    /// `RDMA_CM_EVENT_ADDR_ERROR`.
    AddrError,
    /// `RDMA_CM_EVENT_ROUTE_RESOLVED`.
    RouteResolved,
    /// `RDMA_CM_EVENT_ROUTE_ERROR`.
    RouteError,
    /// `RDMA_CM_EVENT_CONNECT_REQUEST`.
    ConnectRequest,
    /// `RDMA_CM_EVENT_CONNECT_RESPONSE`.
    ConnectResponse,
    /// `RDMA_CM_EVENT_CONNECT_ERROR`.
    ConnectError,
    /// `RDMA_CM_EVENT_UNREACHABLE`.
    Unreachable,
    /// `RDMA_CM_EVENT_REJECTED`.
    Rejected,
    /// `RDMA_CM_EVENT_ESTABLISHED`.
    Established,
    /// `RDMA_CM_EVENT_DISCONNECTED`.
    Disconnected,
    /// `RDMA_CM_EVENT_DEVICE_REMOVAL`.
    DeviceRemoval,
    /// `RDMA_CM_EVENT_MULTICAST_JOIN`.
    MulticastJoin,
    /// `RDMA_CM_EVENT_MULTICAST_ERROR`.
    MulticastError,
    /// `RDMA_CM_EVENT_ADDR_CHANGE`.
    AddrChange,
    /// `RDMA_CM_EVENT_TIMEWAIT_EXIT`.
    TimewaitExit,
    /// An event number this crate does not know (a newer librdmacm).
    Other(u32),
}

impl EventKind {
    /// The kind of event number `raw`; unknown numbers are [`EventKind::Other`].
    pub fn from_raw(raw: u32) -> Self {
        match raw {
            t::RDMA_CM_EVENT_ADDR_RESOLVED => EventKind::AddrResolved,
            t::RDMA_CM_EVENT_ADDR_ERROR => EventKind::AddrError,
            t::RDMA_CM_EVENT_ROUTE_RESOLVED => EventKind::RouteResolved,
            t::RDMA_CM_EVENT_ROUTE_ERROR => EventKind::RouteError,
            t::RDMA_CM_EVENT_CONNECT_REQUEST => EventKind::ConnectRequest,
            t::RDMA_CM_EVENT_CONNECT_RESPONSE => EventKind::ConnectResponse,
            t::RDMA_CM_EVENT_CONNECT_ERROR => EventKind::ConnectError,
            t::RDMA_CM_EVENT_UNREACHABLE => EventKind::Unreachable,
            t::RDMA_CM_EVENT_REJECTED => EventKind::Rejected,
            t::RDMA_CM_EVENT_ESTABLISHED => EventKind::Established,
            t::RDMA_CM_EVENT_DISCONNECTED => EventKind::Disconnected,
            t::RDMA_CM_EVENT_DEVICE_REMOVAL => EventKind::DeviceRemoval,
            t::RDMA_CM_EVENT_MULTICAST_JOIN => EventKind::MulticastJoin,
            t::RDMA_CM_EVENT_MULTICAST_ERROR => EventKind::MulticastError,
            t::RDMA_CM_EVENT_ADDR_CHANGE => EventKind::AddrChange,
            t::RDMA_CM_EVENT_TIMEWAIT_EXIT => EventKind::TimewaitExit,
            other => EventKind::Other(other),
        }
    }

    /// The event number (`from_raw(k.to_raw()) == k`).
    pub fn to_raw(self) -> u32 {
        match self {
            EventKind::AddrResolved => t::RDMA_CM_EVENT_ADDR_RESOLVED,
            EventKind::AddrError => t::RDMA_CM_EVENT_ADDR_ERROR,
            EventKind::RouteResolved => t::RDMA_CM_EVENT_ROUTE_RESOLVED,
            EventKind::RouteError => t::RDMA_CM_EVENT_ROUTE_ERROR,
            EventKind::ConnectRequest => t::RDMA_CM_EVENT_CONNECT_REQUEST,
            EventKind::ConnectResponse => t::RDMA_CM_EVENT_CONNECT_RESPONSE,
            EventKind::ConnectError => t::RDMA_CM_EVENT_CONNECT_ERROR,
            EventKind::Unreachable => t::RDMA_CM_EVENT_UNREACHABLE,
            EventKind::Rejected => t::RDMA_CM_EVENT_REJECTED,
            EventKind::Established => t::RDMA_CM_EVENT_ESTABLISHED,
            EventKind::Disconnected => t::RDMA_CM_EVENT_DISCONNECTED,
            EventKind::DeviceRemoval => t::RDMA_CM_EVENT_DEVICE_REMOVAL,
            EventKind::MulticastJoin => t::RDMA_CM_EVENT_MULTICAST_JOIN,
            EventKind::MulticastError => t::RDMA_CM_EVENT_MULTICAST_ERROR,
            EventKind::AddrChange => t::RDMA_CM_EVENT_ADDR_CHANGE,
            EventKind::TimewaitExit => t::RDMA_CM_EVENT_TIMEWAIT_EXIT,
            EventKind::Other(raw) => raw,
        }
    }
}

impl fmt::Display for EventKind {
    /// The name `rdma_event_str` gives, e.g. `RDMA_CM_EVENT_ESTABLISHED`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            EventKind::AddrResolved => "ADDR_RESOLVED",
            EventKind::AddrError => "ADDR_ERROR",
            EventKind::RouteResolved => "ROUTE_RESOLVED",
            EventKind::RouteError => "ROUTE_ERROR",
            EventKind::ConnectRequest => "CONNECT_REQUEST",
            EventKind::ConnectResponse => "CONNECT_RESPONSE",
            EventKind::ConnectError => "CONNECT_ERROR",
            EventKind::Unreachable => "UNREACHABLE",
            EventKind::Rejected => "REJECTED",
            EventKind::Established => "ESTABLISHED",
            EventKind::Disconnected => "DISCONNECTED",
            EventKind::DeviceRemoval => "DEVICE_REMOVAL",
            EventKind::MulticastJoin => "MULTICAST_JOIN",
            EventKind::MulticastError => "MULTICAST_ERROR",
            EventKind::AddrChange => "ADDR_CHANGE",
            EventKind::TimewaitExit => "TIMEWAIT_EXIT",
            EventKind::Other(raw) => return write!(f, "RDMA CM event {raw}"),
        };
        write!(f, "RDMA_CM_EVENT_{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_number_round_trips_and_unknown_ones_are_other() {
        for raw in 0..=15 {
            let kind = EventKind::from_raw(raw);
            assert!(!matches!(kind, EventKind::Other(_)), "{raw} is known");
            assert_eq!(kind.to_raw(), raw);
        }
        for raw in [16, 99, u32::MAX] {
            assert_eq!(EventKind::from_raw(raw), EventKind::Other(raw));
            assert_eq!(EventKind::from_raw(raw).to_raw(), raw);
        }
        assert_eq!(EventKind::from_raw(16).to_string(), "RDMA CM event 16");
        assert_eq!(
            EventKind::Established.to_string(),
            "RDMA_CM_EVENT_ESTABLISHED"
        );
    }
}
