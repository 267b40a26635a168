//! Queue pairs: creation, state changes, posting and completing work. Connected ones (RC, UC)
//! are [`QueuePair`]s; a UD QP is a [`UdQueuePair`](crate::ud::UdQueuePair) built on one.
//!
//! See the crate documentation for the ownership model that makes posting safe.

mod attr;
mod batch;
mod completion;
mod connect;
mod extended;
mod extended_post;
pub mod gather;
mod post;
mod post_error;
mod raw_parts;
mod raw_post;
mod recv_wr;
pub(crate) mod ring;
mod send_check;
mod send_wr;
mod slots;

pub use attr::{QpAttr, QpState};
pub(crate) use batch::posted_before;
pub use batch::{RecvBatch, SendBatch};
pub use completion::Completion;
pub use connect::{ConnectError, ConnectOptions, RemoteQp};
pub use extended::PostApi;
pub(crate) use post::{not_posted, range_error, refused};
pub use post_error::PostError;
pub use raw_parts::QpOps;
pub(crate) use recv_wr::scatter_here;
pub use recv_wr::RecvWr;
pub use send_wr::{Local, SendWr};
pub(crate) use slots::RUN_OPEN;
pub use slots::{Shared, Sink};

use slots::BufSlot;

use crate::completion::WorkCompletion;
use crate::cq::{CompletionQueue, CqInner};
use crate::error::{Error, Result};
use crate::mr::MemoryRegion;
use crate::pd::{PdInner, ProtectionDomain};
use crate::srq::{SharedReceiveQueue, SrqInner};
use crate::sys;
use ring::Ring;
use std::fmt;
use std::ptr::{self, NonNull};
use std::sync::Arc;

/// The bit of a `wr_id` that marks receive-side work requests.
pub(crate) const RECV_BIT: u64 = 1 << 63;
/// The bit of a `wr_id` that marks shared-receive-queue work requests.
pub(crate) const SRQ_BIT: u64 = 1 << 62;

/// The transport of a queue pair.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum QpType {
    /// Reliable connected (`IBV_QPT_RC`): acknowledged, retried, in order; every operation.
    #[default]
    Rc,
    /// Unreliable connected (`IBV_QPT_UC`): SEND and RDMA WRITE (with immediate) only, no
    /// acknowledgements: a lost message is dropped, never retried. No READ, no atomics.
    Uc,
    /// Unreliable datagram (`IBV_QPT_UD`): SENDs of at most one path MTU to any UD QP,
    /// addressed per send. Built with [`UdQueuePair::builder`](crate::ud::UdQueuePair::builder),
    /// not [`QueuePair::builder`].
    Ud,
}

impl QpType {
    fn to_raw(self) -> sys::ibv_qp_type::Type {
        match self {
            QpType::Rc => sys::ibv_qp_type::IBV_QPT_RC,
            QpType::Uc => sys::ibv_qp_type::IBV_QPT_UC,
            QpType::Ud => sys::ibv_qp_type::IBV_QPT_UD,
        }
    }

    /// The verbs name: "RC", "UC" or "UD".
    pub fn name(self) -> &'static str {
        match self {
            QpType::Rc => "RC",
            QpType::Uc => "UC",
            QpType::Ud => "UD",
        }
    }
}

/// Capacities of a queue pair (`struct ibv_qp_cap`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QpCaps {
    /// Send queue depth.
    pub max_send_wr: u32,
    /// Receive queue depth (ignored with an SRQ).
    pub max_recv_wr: u32,
    /// Gather entries per send WR.
    pub max_send_sge: u32,
    /// Scatter entries per receive WR.
    pub max_recv_sge: u32,
    /// Largest inline send.
    pub max_inline_data: u32,
}

impl Default for QpCaps {
    /// 128 sends, 128 receives, one SGE each, no inline data.
    fn default() -> Self {
        QpCaps {
            max_send_wr: 128,
            max_recv_wr: 128,
            max_send_sge: 1,
            max_recv_sge: 1,
            max_inline_data: 0,
        }
    }
}

/// A connected queue pair (`struct ibv_qp` of type `IBV_QPT_RC`, or `IBV_QPT_UC`: see
/// [`QpType`]).
///
/// Created in the RESET state by [`QueuePair::builder`]; [`connect`](Self::connect) takes it
/// to RTS. Posting needs `&mut self`: one thread posts at a time and a batch being built holds
/// the QP until it is posted.
pub struct QueuePair {
    raw: NonNull<sys::ibv_qp>,
    pub(crate) qpn: u32,
    state: QpState,
    pub(crate) caps: QpCaps,
    port: u8,
    pub(crate) sq: Ring,
    pub(crate) rq: Ring,
    pub(crate) slots: Vec<BufSlot>,
    /// `IBV_SEND_SIGNALED` when the QP signals every send (`sq_sig_all`), else 0: or-ed into
    /// every send's flags.
    sig_flag: u32,
    srq: Option<Arc<SrqInner>>,
    send_cq: Arc<CqInner>,
    recv_cq: Arc<CqInner>,
    pub(crate) pd: Arc<PdInner>,
    /// The control verbs: libibverbs', or what [`QueuePair::from_raw_parts`] was given.
    ops: &'static QpOps,
    /// Whether the device offers atomics (`atomic_cap` other than `IBV_ATOMIC_NONE`).
    pub(crate) atomics: bool,
    /// RC, UC or UD.
    pub(crate) qp_type: QpType,
    /// Memory the device may write for as long as the QP lives (a UD QP's GRH slots):
    /// dropped after the QP is destroyed, leaked if destroying it fails.
    pub(crate) lifelong: Option<MemoryRegion>,
    /// How sends are posted, and the function that posts them (see [`PostApi`]).
    post_api: PostApi,
    post_send: extended::PostSendFn,
}

// SAFETY: the QP is used only through `&mut self` (posting) or `&self` (reads of plain fields
// and thread-safe verbs); libibverbs QPs may be used from any thread.
unsafe impl Send for QueuePair {}
// SAFETY: `&QueuePair` exposes only immutable data and thread-safe queries.
unsafe impl Sync for QueuePair {}

/// Options for [`QueuePair::builder`].
pub struct QpBuilder<'a> {
    pd: &'a ProtectionDomain,
    send_cq: &'a CompletionQueue,
    recv_cq: &'a CompletionQueue,
    srq: Option<&'a SharedReceiveQueue>,
    caps: QpCaps,
    sq_sig_all: bool,
    qp_type: QpType,
    post_api: PostApi,
}

impl<'a> QpBuilder<'a> {
    /// The transport (default [`QpType::Rc`]).
    pub fn qp_type(mut self, t: QpType) -> Self {
        self.qp_type = t;
        self
    }
    /// How the QP posts its sends (default [`PostApi::Classic`]): [`PostApi::Extended`]
    /// creates it with `ibv_create_qp_ex` and posts with `ibv_wr_*`.
    pub fn post_api(mut self, api: PostApi) -> Self {
        self.post_api = api;
        self
    }
    /// Queue capacities (default [`QpCaps::default`]).
    pub fn caps(mut self, caps: QpCaps) -> Self {
        self.caps = caps;
        self
    }
    /// Send queue depth.
    pub fn max_send_wr(mut self, n: u32) -> Self {
        self.caps.max_send_wr = n;
        self
    }
    /// Receive queue depth.
    pub fn max_recv_wr(mut self, n: u32) -> Self {
        self.caps.max_recv_wr = n;
        self
    }
    /// Largest inline send.
    pub fn max_inline_data(mut self, n: u32) -> Self {
        self.caps.max_inline_data = n;
        self
    }
    /// Take receives from `srq` instead of an own receive queue.
    pub fn srq(mut self, srq: &'a SharedReceiveQueue) -> Self {
        self.srq = Some(srq);
        self
    }
    /// Generate a completion for every send, whatever its `signaled` flag says.
    pub fn sig_all(mut self, yes: bool) -> Self {
        self.sq_sig_all = yes;
        self
    }

    /// The protection domain the QP is built on.
    pub(crate) fn pd_ref(&self) -> &'a ProtectionDomain {
        self.pd
    }
    /// The capacities asked for so far.
    pub(crate) fn caps_ref(&self) -> QpCaps {
        self.caps
    }

    /// Creates the QP (`ibv_create_qp`, or `ibv_create_qp_ex` for [`PostApi::Extended`]) in
    /// the RESET state. Asks the device (`ibv_query_device`) whether it offers atomics.
    /// An extended QP on a device without the extended API, or without one of the `ibv_wr_*`
    /// operations of the QP's type, is [`Error::Unsupported`] naming what is missing.
    /// A [`QpType::Ud`] QP is refused: it is built with
    /// [`UdQueuePair::builder`](crate::ud::UdQueuePair::builder).
    pub fn build(self) -> Result<QueuePair> {
        if self.qp_type == QpType::Ud {
            return Err(Error::InvalidArgument(
                "a UD QP is a UdQueuePair: build it with UdQueuePair::builder".into(),
            ));
        }
        self.create()
    }

    /// [`build`](Self::build) for every type, UD included.
    pub(crate) fn create(self) -> Result<QueuePair> {
        let atomics =
            self.pd.context().query_device()?.atomic_cap() != sys::ibv_atomic_cap::IBV_ATOMIC_NONE;
        let mut init = sys::ibv_qp_init_attr {
            send_cq: self.send_cq.as_raw(),
            recv_cq: self.recv_cq.as_raw(),
            srq: self.srq.map_or(ptr::null_mut(), |s| s.as_raw()),
            cap: sys::ibv_qp_cap {
                max_send_wr: self.caps.max_send_wr,
                max_recv_wr: if self.srq.is_some() {
                    0
                } else {
                    self.caps.max_recv_wr
                },
                max_send_sge: self.caps.max_send_sge,
                max_recv_sge: if self.srq.is_some() {
                    0
                } else {
                    self.caps.max_recv_sge
                },
                max_inline_data: self.caps.max_inline_data,
            },
            qp_type: self.qp_type.to_raw(),
            sq_sig_all: self.sq_sig_all as i32,
            ..Default::default()
        };
        let raw = match self.post_api {
            PostApi::Extended => extended::create(self.pd, &mut init, self.qp_type, atomics)?,
            PostApi::Classic => {
                // SAFETY: the PD and CQs (and SRQ) are live and kept alive by the QueuePair;
                // `init` is a valid attribute struct that the provider updates with the actual
                // capacities.
                let raw = unsafe { sys::ibv_create_qp(self.pd.as_raw(), &mut init) };
                NonNull::new(raw).ok_or_else(|| Error::last_os("ibv_create_qp"))?
            }
        };
        let c = init.cap;
        let caps = QpCaps {
            max_send_wr: c.max_send_wr,
            max_recv_wr: c.max_recv_wr,
            max_send_sge: c.max_send_sge,
            max_recv_sge: c.max_recv_sge,
            max_inline_data: c.max_inline_data,
        };
        let parts = QpParts {
            pd: self.pd,
            send_cq: self.send_cq,
            recv_cq: self.recv_cq,
            srq: self.srq,
            caps,
            sig_all: self.sq_sig_all,
            ops: &QpOps::VERBS,
            atomics,
            qp_type: self.qp_type,
            post_api: self.post_api,
        };
        // SAFETY: a freshly created QP over these parts, with the capacities it got.
        Ok(unsafe { QueuePair::assemble(raw, parts, QpState::Reset) })
    }
}

/// What a [`QueuePair`] handle is made of besides its `ibv_qp`.
pub(super) struct QpParts<'a> {
    pub(super) pd: &'a ProtectionDomain,
    pub(super) send_cq: &'a CompletionQueue,
    pub(super) recv_cq: &'a CompletionQueue,
    pub(super) srq: Option<&'a SharedReceiveQueue>,
    pub(super) caps: QpCaps,
    pub(super) sig_all: bool,
    pub(super) ops: &'static QpOps,
    pub(super) atomics: bool,
    pub(super) qp_type: QpType,
    pub(super) post_api: PostApi,
}

impl QueuePair {
    /// The handle of `raw`, made of `parts`, in `state`: its rings (a receive ring of one
    /// with an SRQ) and the resources it keeps alive.
    ///
    /// # Safety
    /// `raw` is a live QP made over `parts` (its PD, CQs, SRQ and at least its capacities);
    /// for [`PostApi::Extended`], its `ibv_qp_ex` starts at it and has every operation
    /// `extended::missing_op` asks for.
    pub(super) unsafe fn assemble(
        raw: NonNull<sys::ibv_qp>,
        parts: QpParts<'_>,
        state: QpState,
    ) -> Self {
        let QpParts {
            pd,
            send_cq,
            recv_cq,
            srq,
            caps,
            sig_all,
            ops,
            atomics,
            qp_type,
            post_api,
        } = parts;
        // SAFETY: per the caller, a live QP; qp_num is a plain field.
        let qpn = unsafe { (*raw.as_ptr()).qp_num };
        let recv_slots = if srq.is_some() { 1 } else { caps.max_recv_wr };
        let post_send: extended::PostSendFn = match post_api {
            // SAFETY: a live QP's context and ops table; rdma-core sets every op (dummies
            // first), so post_send is never NULL, as `sys::ibv_post_send` relies on too.
            PostApi::Classic => unsafe {
                (*(*raw.as_ptr()).context).ops.post_send.unwrap_unchecked()
            },
            PostApi::Extended => extended::post_send_extended,
        };
        let mut qp = QueuePair {
            raw,
            qpn,
            state: QpState::Reset,
            caps,
            port: 1,
            sq: Ring::new(caps.max_send_wr, 0),
            rq: Ring::new(recv_slots, RECV_BIT),
            slots: Vec::new(),
            sig_flag: sig_flag(sig_all),
            srq: srq.map(|s| s.inner.clone()),
            send_cq: send_cq.inner.clone(),
            recv_cq: recv_cq.inner.clone(),
            pd: pd.inner.clone(),
            ops,
            atomics,
            qp_type,
            lifelong: None,
            post_api,
            post_send,
        };
        qp.set_state(state);
        qp
    }
}

/// The send flag `sq_sig_all` adds to every send.
fn sig_flag(sig_all: bool) -> u32 {
    if sig_all {
        sys::ibv_send_flags::IBV_SEND_SIGNALED
    } else {
        0
    }
}

impl QueuePair {
    /// A builder for an RC QP on `pd` whose sends complete on `send_cq` and receives on
    /// `recv_cq` (the same CQ is fine).
    pub fn builder<'a>(
        pd: &'a ProtectionDomain,
        send_cq: &'a CompletionQueue,
        recv_cq: &'a CompletionQueue,
    ) -> QpBuilder<'a> {
        QpBuilder {
            pd,
            send_cq,
            recv_cq,
            srq: None,
            caps: QpCaps::default(),
            sq_sig_all: false,
            qp_type: QpType::Rc,
            post_api: PostApi::Classic,
        }
    }

    /// True when the QP takes its receives from a shared receive queue.
    #[cfg(feature = "cm")]
    pub(crate) fn uses_srq(&self) -> bool {
        self.srq.is_some()
    }

    /// Records the state this handle last set or saw, and opens or closes the work queues by
    /// what it allows to post: sends in RTS and SQD, receives from INIT on (never with an
    /// SRQ). A closed queue has no room, so posting checks the state for free.
    pub(crate) fn set_state(&mut self, state: QpState) {
        self.state = state;
        self.sq
            .set_open(matches!(state, QpState::Rts | QpState::Sqd));
        self.rq.set_open(
            self.srq.is_none()
                && matches!(
                    state,
                    QpState::Init | QpState::Rtr | QpState::Rts | QpState::Sqd
                ),
        );
    }

    /// The transport: RC or UC.
    pub fn qp_type(&self) -> QpType {
        self.qp_type
    }
    /// The QP number.
    #[inline]
    pub fn qpn(&self) -> u32 {
        self.qpn
    }
    /// The state as last set through this handle (the device moves a QP to ERR by itself on
    /// errors; [`query_state`](Self::query_state) asks the device).
    pub fn state(&self) -> QpState {
        self.state
    }
    /// The actual capacities the provider gave.
    pub fn caps(&self) -> QpCaps {
        self.caps
    }
    /// The port the QP was bound to at INIT.
    pub fn port(&self) -> u8 {
        self.port
    }
    /// The raw QP pointer (valid while this QP lives).
    #[inline]
    pub fn as_raw(&self) -> *mut sys::ibv_qp {
        self.raw.as_ptr()
    }
    /// The protection domain.
    pub fn pd(&self) -> ProtectionDomain {
        ProtectionDomain {
            inner: self.pd.clone(),
        }
    }
    /// Outstanding send work requests (posted, completion not yet handed to [`complete`](Self::complete)).
    #[inline]
    pub fn send_outstanding(&self) -> u64 {
        self.sq.outstanding()
    }
    /// Outstanding receive work requests.
    #[inline]
    pub fn recv_outstanding(&self) -> u64 {
        self.rq.outstanding()
    }

    /// The send CQ.
    pub fn send_cq(&self) -> CompletionQueue {
        CompletionQueue {
            inner: self.send_cq.clone(),
        }
    }
    /// The receive CQ.
    pub fn recv_cq(&self) -> CompletionQueue {
        CompletionQueue {
            inner: self.recv_cq.clone(),
        }
    }

    /// Hands a completion polled from one of this QP's CQs back to the QP, which returns the
    /// buffer the work request owned. Completions of one queue are in post order; handing in a
    /// later one retires the earlier ones too (their buffers are dropped, which is safe: that
    /// work is done). A completion that is not an outstanding request of this QP (another QP's,
    /// one already handed in, an SRQ's) is [`Error::ForeignCompletion`].
    #[inline(always)]
    pub fn complete(&mut self, wc: &WorkCompletion) -> Result<Completion> {
        self.complete_seq(wc).map(|(c, _)| c)
    }

    /// [`complete`](Self::complete), with the completed request's sequence number on its
    /// queue.
    #[inline(always)]
    pub(crate) fn complete_seq(&mut self, wc: &WorkCompletion) -> Result<(Completion, u64)> {
        let raw_id = wc.raw_wr_id();
        let ring = if raw_id & RECV_BIT != 0 {
            &mut self.rq
        } else {
            &mut self.sq
        };
        // The ring's nonces carry its marks, so the `wr_id` is looked up whole: an SRQ's
        // completion (SRQ_BIT set) matches nothing here.
        let seq = match ring.seq_of(raw_id) {
            Some(seq) if wc.qp_num() == self.qpn => seq,
            _ => return Err(self.foreign(wc)),
        };
        // Requests that use a shared source or a sink need no release: the buffer table
        // records the last sequence number using each slot, which is done once the tail has
        // passed it.
        let (user_wr_id, buf) = ring.retire_through(seq);
        Ok((Completion::new(wc, user_wr_id, buf), seq))
    }

    #[cold]
    #[inline(never)]
    fn foreign(&self, wc: &WorkCompletion) -> Error {
        Error::ForeignCompletion {
            wr_id: wc.raw_wr_id(),
            qp_num: wc.qp_num(),
            owner: format!("QP {:#x}", self.qpn),
        }
    }
}

impl Drop for QueuePair {
    fn drop(&mut self) {
        // SAFETY: the QP is live and destroyed once. After ibv_destroy_qp returns the device no
        // longer touches memory on behalf of this QP, so the buffers it held may be freed.
        let ret = unsafe { (self.ops.destroy)(self.raw.as_ptr()) };
        if ret != 0 {
            // The device may still use the outstanding buffers: leak them rather than free them.
            self.sq.leak_buffers();
            self.rq.leak_buffers();
            // Shared buffers may be sources of outstanding sends.
            std::mem::forget(std::mem::take(&mut self.slots));
            std::mem::forget(self.lifelong.take());
        }
    }
}

impl fmt::Debug for QueuePair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueuePair")
            .field("qpn", &format_args!("{:#x}", self.qpn))
            .field("state", &self.state)
            .field("caps", &self.caps)
            .field("send_outstanding", &self.sq.outstanding())
            .field("recv_outstanding", &self.rq.outstanding())
            .finish()
    }
}
