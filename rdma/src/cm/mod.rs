//! RDMA connection management over librdmacm (feature `cm`): resolve an IP address to an
//! RDMA device, listen, connect and accept with private data, disconnect, and connection
//! events as Rust values; with feature `tokio` also as futures.
//!
//! The queue pair of a connection is the core's [`QueuePair`](crate::QueuePair), created on
//! a [`Context`](crate::Context) of the id's device ([`CmId::context`],
//! [`ConnectRequest::context`]) and posted to exactly as any other. The CM computes its
//! transitions (`rdma_init_qp_attr`) and they go through the core's checked
//! [`QueuePair::modify`](crate::QueuePair::modify); the QP number travels in the connection
//! request. (On the wire this is what `rping -q` does; it interoperates with rdmacm-utils'
//! `rping` and `ucmatose`.)
//!
//! ```no_run
//! use rdma_verbs::cm::{CmId, ConnParam, Listener};
//! use rdma_verbs::{CompletionQueue, ProtectionDomain, QueuePair};
//! use std::time::Duration;
//! # fn main() -> Result<(), rdma_verbs::Error> {
//! let timeout = Duration::from_secs(2);
//! // Server: listen, take a request, accept it with a QP on the request's device.
//! let mut listener = Listener::bind("198.18.0.1:7471".parse().unwrap(), 8)?;
//! # std::thread::spawn(move || -> Result<(), rdma_verbs::Error> {
//! let request = listener.get_request(Duration::from_secs(60))?;
//! let ctx = request.context()?;
//! let (pd, cq) = (ProtectionDomain::new(&ctx)?, CompletionQueue::new(&ctx, 64)?);
//! let qp = QueuePair::builder(&pd, &cq, &cq).build()?;
//! println!("client says {:?}", request.private_data());
//! let server = request.accept(qp, &ConnParam::with_private_data(b"welcome"), timeout)?;
//! # Ok(()) });
//!
//! // Client: resolve, create the QP on the resolved device, connect.
//! let mut id = CmId::new()?;
//! id.resolve_addr(None, "198.18.0.1:7471".parse().unwrap(), timeout)?;
//! id.resolve_route(timeout)?;
//! let ctx = id.context()?;
//! let (pd, cq) = (ProtectionDomain::new(&ctx)?, CompletionQueue::new(&ctx, 64)?);
//! let qp = QueuePair::builder(&pd, &cq, &cq).build()?;
//! let mut conn = id.connect(qp, &ConnParam::with_private_data(b"hello"), timeout)?;
//! assert!(conn.peer_param().private_data.starts_with(b"welcome"));
//! // ... conn.qp_mut().post_send(...), cq.poll(...), conn.qp_mut().complete(...) ...
//! conn.disconnect(timeout)?;
//! # Ok(()) }
//! ```
//!
//! # Events, channels and waits
//!
//! Every id has an event channel of its own (an accepted connection's id is moved to a new
//! one), so a wait on an id only ever sees that id's events. Each event is copied into a
//! [`CmEvent`] and acknowledged as soon as it is read: nothing holds librdmacm memory, and
//! destroying an id never waits for an acknowledgement. Every wait has a timeout and fails
//! with a typed [`CmError`] ([`crate::Error::Cm`]): a rejected or unanswered connection, the
//! peer closing the connection under a wait, a timeout naming the awaited event.
//!
//! # Async (feature `tokio`)
//!
//! The `*_async` methods wait on the channel's descriptor with tokio's `AsyncFd`. They are
//! cancel safe: an event is consumed only in the poll that returns it, ids and QPs moved into
//! a dropped future are destroyed, and a resolution whose wait was dropped is awaited (not
//! restarted) by the next resolve of the same step. An id's async calls must all run on one
//! tokio runtime.
//!
//! # Resource order
//!
//! A [`Connection`] drops its QP before its id. Ids are destroyed before their channel.
//! Dropping a [`ConnectRequest`] rejects the peer; dropping a connection's id tells the peer
//! it is disconnected.

// The modules form layers; each uses only modules of the layers below it (the test in
// `layers.rs` checks that there is no cycle):
//   data:        addr, param, event_kind
//   channel:     channel (reads events as raw parts)
//   id:          id (owns its channel; adopts a connect request's new id)
//   request:     request (a connect request: its id and what the peer asked)
//   events:      event (CmEvent, which may own a request), error (CmError; judging events)
//   waits:       wait (an id's waits for CmEvents)
//   steps:       connection, then connect and listen (which build connections)
//   async:       async_connect, async_connection, async_listen
mod addr;
#[cfg(feature = "tokio")]
mod async_connect;
#[cfg(feature = "tokio")]
mod async_connection;
#[cfg(feature = "tokio")]
mod async_listen;
mod channel;
mod connect;
mod connection;
mod error;
mod event;
mod event_kind;
mod id;
#[cfg(test)]
mod layers;
mod listen;
mod param;
mod request;
mod wait;

pub use connect::CmId;
pub use connection::{ConnectedId, Connection};
pub use error::{CmError, CmErrorKind};
pub use event::CmEvent;
pub use event_kind::EventKind;
pub use listen::Listener;
pub use param::{
    ConnParam, ACCEPT_PRIVATE_DATA_MAX, CONNECT_PRIVATE_DATA_MAX, REJECT_PRIVATE_DATA_MAX,
};
pub use request::ConnectRequest;
