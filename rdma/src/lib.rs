//! Safe RDMA verbs over the system's libibverbs, with a data path that allocates nothing.
//!
//! ```no_run
//! use rdma_verbs::{Access, CompletionQueue, ConnectOptions, Context, MemoryRegion, ProtectionDomain,
//!            QueuePair, RemoteQp, SendWr, WorkCompletion};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let ctx = Context::open(None)?;                        // first device
//! let pd = ProtectionDomain::new(&ctx)?;
//! let cq = CompletionQueue::new(&ctx, 256)?;
//! let qp = QueuePair::builder(&pd, &cq, &cq).build()?;
//! # let remote = RemoteQp { qpn: 1, psn: 0, lid: 0, gid: None };
//! // ... exchange qp.qpn(), a PSN and the port's LID/GID with the peer out of band ...
//! let mut qp = qp.connect(&remote, &ConnectOptions::default())?;
//! let mut buf = MemoryRegion::new(&pd, 4096, Access::LOCAL_WRITE)?;
//! buf.as_mut_slice().unwrap().fill(7);
//! qp.post_send(SendWr::send(buf).wr_id(1))?;             // the QP owns `buf` now
//! let mut wcs = [WorkCompletion::default(); 16];
//! loop {
//!     for wc in cq.poll(&mut wcs)? {
//!         let done = qp.complete(wc)?;                    // ... and hands it back here
//!         done.result()?;
//!         let _buf: MemoryRegion = done.buf.unwrap();
//!     }
//! #   break;
//! }
//! # Ok(()) }
//! ```
//!
//! # The core
//!
//! One RDMA write needs: a [`Context`] (the device), a [`ProtectionDomain`], a
//! [`CompletionQueue`], a [`QueuePair`] connected to its peer ([`RemoteQp`],
//! [`ConnectOptions`]), a [`MemoryRegion`] (with [`Access`] rights) and the peer's
//! [`RemoteBuf`]. [`QueuePair::post_send`] takes a [`SendWr`]; [`CompletionQueue::poll`] fills
//! [`WorkCompletion`]s; [`QueuePair::complete`] turns each into a [`Completion`], with the
//! buffer back. Receives: [`QueuePair::post_recv`] takes a [`RecvWr`]. Several requests behind
//! one doorbell: [`SendBatch`], [`RecvBatch`]. Everything else is optional.
//!
//! The local side of a request ([`Local`] for sends; [`RecvWr`]'s constructors for receives)
//! is one of four kinds of buffer, or none (`Local::Empty`, [`RecvWr::empty`]):
//!
//! | kind | made with | the QP holds it | taken by |
//! |---|---|---|---|
//! | owned | a [`MemoryRegion`] (or a piece of one) | until its request completes, then hands it back | signaled SEND, WRITE, READ ([`SendWr::read`]), atomics ([`SendWr::fetch_add`], [`SendWr::compare_swap`]); receives ([`RecvWr::recv`]) |
//! | shared, read-only | [`QueuePair::share`] → [`Shared`] | until [`QueuePair::unshare`] finds no request using it | SEND, WRITE, signaled or not; never READ or atomics |
//! | sink, write-only | [`QueuePair::sink`] → [`Sink`] | until [`QueuePair::unsink`] finds no request using it; never readable | READ ([`SendWr::read_to_sink`]), atomics ([`SendWr::fetch_add_to_sink`], [`SendWr::compare_swap_to_sink`]); receives ([`RecvWr::recv_to_sink`]) |
//! | inline | `&[u8]`, at most the QP's `max_inline_data` | not at all: the provider copies it | SEND, WRITE |
//!
//! Optional layers: requests checked once and posted many times (module [`prepared`],
//! [`QueuePair::run`]: [`Run`],
//! [`SendTemplate`], [`SendChain`], [`RecvTemplate`]); raw posts for experts
//! ([`QueuePair::post_send_raw`]); the extended post API ([`PostApi::Extended`]:
//! `ibv_create_qp_ex`, sends through `ibv_wr_*`, chosen with [`QpBuilder::post_api`], same
//! requests and rules); objects made by other code (`from_raw_parts`, [`QpOps`]);
//! async completions (feature `tokio`) and RDMA CM (feature `cm`).
//!
//! ## Glossary
//!
//! - *Work request* (WR): one operation posted to a queue; *`wr_id`*: the caller's number for
//!   it, given back in its completion.
//! - *Signaled*: the request produces a completion; unsignaled ones complete silently, with
//!   the next signaled one.
//! - *SGE*: a scatter/gather entry, one (address, length, key) range of a memory region.
//! - *lkey*, *rkey*: a region's keys for local use and for a peer's RDMA access.
//! - *PSN*, *QPN*, *LID*, *GID*: packet sequence number, queue pair number, InfiniBand local
//!   ID, global ID (RoCE's address): what a peer needs to connect ([`RemoteQp`]).
//! - *Doorbell*: one post call to the provider, for one request or a chain.
//!
//! # The soundness model: buffers are owned by the queue while the device may touch them
//!
//! A post that merely borrows a buffer for the duration of the call is unsound: the call
//! returns while the device still reads or writes the memory, and safe code could then free
//! or read it. This crate makes the queue own the memory instead:
//!
//! - A [`MemoryRegion`] owns its memory (page-aligned `mmap`, optionally huge pages) and its
//!   registration. It can be cut into pieces ([`MemoryRegion::split_at`],
//!   [`MemoryRegion::chunks`]) that share the registration and each own a byte range.
//! - Posting a receive, an RDMA READ, or a signaled send/write of an owned piece **moves** the
//!   piece into the queue's in-flight ring ([`QueuePair::post_recv`], [`QueuePair::post_send`]).
//!   The ring is allocated once when the QP is created; posting moves a value into a slot,
//!   completing moves it out. No allocation, no lock, no reference count per operation.
//! - The piece comes back only through [`QueuePair::complete`] (or
//!   [`SharedReceiveQueue::complete`]), given a [`WorkCompletion`] polled from the CQ. Each
//!   `wr_id` the crate posts is a nonce unique in the whole process (reserved in blocks from
//!   one global counter: one atomic add per block, none per post), which the queue maps back
//!   to its own outstanding request. A completion of another queue, of a QP with the same
//!   number on another device, of a destroyed QP, or one handed in twice, is rejected with
//!   [`Error::ForeignCompletion`]: it can never return a buffer the device still uses. Work
//!   queues complete in order, so a completion also retires the requests posted before it on
//!   the same queue.
//! - Sources that many requests read at once (the same buffer written to a peer a hundred
//!   times, unsignaled) are **shared** to the QP ([`QueuePair::share`]): the QP keeps them
//!   read-only, the ring entry of each request using one names it, and
//!   [`QueuePair::unshare`] returns a source only when no outstanding request names it.
//!   Unsignaled requests cannot own a buffer (nothing would hand it back): use a shared
//!   source or inline data.
//! - Targets that many requests write at once (receives and RDMA READs whose data is not looked
//!   at, as in a benchmark) are **sinks** ([`QueuePair::sink`]): the QP tracks their users the
//!   same way and offers no way to read them; [`QueuePair::unsink`] returns the buffer once
//!   none is in flight. Shared and sink handles share one table and every use checks the
//!   slot's kind, so even a stale handle never turns a sink into something readable.
//! - A data path that posts the same few requests again and again can check them once: a
//!   [`Run`] ([`QueuePair::run`]) holds the QP, and its [`SendTemplate`]s, [`SendChain`]s and
//!   [`RecvTemplate`]s (shared sources, sinks, inline data; never owned buffers) are checked
//!   when they are made. A post of one checks only for room. A template borrows its run, so
//!   the compiler sees that it is posted on the QP it was checked against and that its buffer
//!   cannot be taken back meanwhile; its slot stays marked until the run's requests have
//!   completed (forever, if the run is leaked).
//! - Dropping a QP destroys it first (after `ibv_destroy_qp` the device no longer accesses
//!   memory for it), then frees the buffers it held. If destruction fails the buffers are
//!   leaked, never freed. The same holds for an SRQ and, at the bottom, for every
//!   registration: `ibv_dereg_mr` runs before `munmap`, and a failed deregistration leaks.
//! - Memory that peers may write at any time (registered with [`Access::REMOTE_WRITE`] or
//!   [`Access::REMOTE_ATOMIC`]) is never exposed as `&[u8]`/`&mut [u8]`:
//!   [`MemoryRegion::as_slice`] returns `None` for it, and [`MemoryRegion::read_at`],
//!   [`MemoryRegion::load`] and [`MemoryRegion::write_at`] use volatile accesses.
//!
//! What this rules out at compile time (see `tests/compile_fail/`): freeing or reading a
//! buffer after posting it (it was moved), two open post batches on one QP (a batch holds
//! `&mut QueuePair`), taking back a buffer a template names, posting a template after its
//! run, and sharing a run with another thread. What the type system cannot see is checked at run time on the
//! slow path only: QP state, queue room, ranges.
//!
//! For experts, [`QueuePair::post_send_raw`] and [`QueuePair::post_recv_raw`] post raw
//! `ibv_send_wr`/`ibv_recv_wr` chains with a written contract, and [`sys`] is the raw FFI.
//!
//! # Resource lifetimes
//!
//! [`Context`], [`ProtectionDomain`] and [`CompletionQueue`] are cheap `Arc` handles; every
//! resource holds what it was created from, so dropping in any order is safe (a CQ outlives
//! the QPs using it, a PD its MRs and QPs, the context everything).
//!
//! # Linking
//!
//! The crate links the system libibverbs (found with pkg-config) and generates its bindings
//! with bindgen at build time from the installed `<infiniband/verbs.h>`, so struct layouts
//! always match the library in use. Build needs `libibverbs-dev` and `libclang-dev` (Debian).
//! The data-path verbs that verbs.h defines `static inline` (`ibv_post_send`, `ibv_post_recv`,
//! `ibv_poll_cq`, `ibv_req_notify_cq`, `ibv_post_srq_recv`) are re-implemented in Rust as the
//! header does them, one indirect call through the provider's ops table, so they inline into
//! the caller.
//!
//! [`Run`]: prepared::Run
//! [`SendTemplate`]: prepared::SendTemplate
//! [`SendChain`]: prepared::SendChain
//! [`RecvTemplate`]: prepared::RecvTemplate
#![deny(missing_docs)]
#![warn(unsafe_op_in_unsafe_fn)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod sys;

mod access;
mod ah;
#[cfg(feature = "tokio")]
pub mod async_cq;
#[cfg(feature = "cm")]
pub mod cm;
mod completion;
mod context;
mod cq;
mod cq_ex;
mod device;
mod error;
pub mod gid;
mod mr;
mod pd;
mod port;
pub mod prepared;
mod qp;
mod srq;
pub mod ud;

pub use access::Access;
pub use ah::{AddressHandle, AhAttr, GlobalRoute};
#[cfg(feature = "tokio")]
pub use async_cq::{AsyncCq, WaitMode};
pub use completion::{CompletionError, WcOpcode, WcStatus, WorkCompletion};
pub use context::Context;
pub use cq::{CompletionChannel, CompletionQueue, CqBuilder};
pub use cq_ex::TimedCompletion;
pub use device::{Device, DeviceList, NodeType, Transport};
pub use error::{Error, Result};
pub use gid::{best_gid_index, Gid, GidEntry, GidType};
pub use mr::{MemoryRegion, MrBuilder, RemoteBuf};
pub use pd::ProtectionDomain;
pub use port::{DeviceAttr, LinkLayer, Mtu, PortAttr, PortState};
pub use qp::gather::{self, Piece};
pub use qp::{
    Completion, ConnectError, ConnectOptions, Local, PostApi, PostError, QpAttr, QpBuilder, QpCaps,
    QpOps, QpState, QpType, QueuePair, RecvBatch, RecvWr, RemoteQp, SendBatch, SendWr, Shared,
    Sink,
};
pub use srq::SharedReceiveQueue;
