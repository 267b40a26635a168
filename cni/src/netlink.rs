//! Netlink requests, synchronous (no async runtime): rtnetlink ([`route`]: links, addresses,
//! routes, VF link state and GUIDs) and RDMA netlink ([`rdma`]: netns mode, RDMA devices and
//! their namespace).
//!
//! Each handle ([`Route`], [`RdmaNetlink`]) owns a netlink socket, which belongs to the network
//! namespace of the thread that opened it: to act inside a pod, open the handle on a thread
//! that entered the pod's namespace. Requests ask for an ACK and read the kernel's
//! extended-ACK text into the error; replies are checked, never trusted: a truncated or
//! garbled reply is [`NetlinkError::Malformed`], never a panic.

mod attr;
mod error;
#[cfg(test)]
mod expected;
mod frame;
pub mod rdma;
pub mod route;
mod socket;

pub use error::{NetlinkError, Result};
pub use rdma::{NetnsMode, RdmaNetlink};
pub use route::{GuidKind, Link, Route, VfLinkState, VfStatus};
