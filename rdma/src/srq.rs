//! Shared receive queues: one pool of receives for many QPs.
//!
//! Receives of an SRQ are consumed by whichever QP gets a message first, so their completions
//! arrive out of post order. The SRQ keeps its outstanding buffers in a slot table allocated
//! once, twice the SRQ depth (rounded to a power of two). Each post takes a fresh process-wide
//! nonce (see the QP ring) as its `wr_id` and stores it in slot `nonce % table size`, skipping
//! nonces whose slot is busy (at most half the slots are, so a post probes about twice). A
//! completion is accepted only when its slot holds exactly its nonce: a completion of another
//! SRQ, of a QP's own queue, or one handed back twice never matches.

use crate::completion::WorkCompletion;
use crate::error::{Error, Result};
use crate::mr::MemoryRegion;
use crate::pd::{PdInner, ProtectionDomain};
use crate::qp::ring::reserve;
use crate::qp::{range_error, scatter_here, Completion, PostError, RecvWr, RECV_BIT, SRQ_BIT};
use crate::sys;
use std::fmt;
use std::ptr::{self, NonNull};
use std::sync::{Arc, Mutex};

pub(crate) struct SrqInner {
    raw: NonNull<sys::ibv_srq>,
    /// Buffers still posted when the handle was dropped while QPs used the SRQ: freed only
    /// after the SRQ itself is destroyed.
    orphans: Mutex<Vec<MemoryRegion>>,
    _pd: Arc<PdInner>,
}

// SAFETY: SRQ verbs are thread safe; the pointer is destroyed only in Drop.
unsafe impl Send for SrqInner {}
// SAFETY: as above.
unsafe impl Sync for SrqInner {}

impl Drop for SrqInner {
    fn drop(&mut self) {
        // SAFETY: no QP uses the SRQ any more (each holds an Arc); destroyed once.
        let ret = unsafe { sys::ibv_destroy_srq(self.raw.as_ptr()) };
        if ret != 0 {
            // The device may still write the orphaned buffers: leak them.
            let orphans = std::mem::take(self.orphans.get_mut().unwrap_or_else(|e| e.into_inner()));
            std::mem::forget(orphans);
        }
    }
}

struct Slot {
    nonce: u64,
    entry: Option<(u64, MemoryRegion)>,
}

const NONCE_MASK: u64 = !(RECV_BIT | SRQ_BIT);
/// Nonces reserved from the global counter at a time.
const NONCE_BLOCK: u64 = 1 << 20;

/// A shared receive queue (`struct ibv_srq`).
pub struct SharedReceiveQueue {
    pub(crate) inner: Arc<SrqInner>,
    slots: Box<[Slot]>,
    depth: usize,
    outstanding: usize,
    next_nonce: u64,
    nonce_end: u64,
}

// SAFETY: posting needs `&mut self`; the raw SRQ may be used from any thread.
unsafe impl Send for SharedReceiveQueue {}
// SAFETY: `&SharedReceiveQueue` exposes nothing mutable.
unsafe impl Sync for SharedReceiveQueue {}

impl SharedReceiveQueue {
    /// Creates an SRQ with room for `max_wr` receives of up to `max_sge` entries.
    pub fn new(pd: &ProtectionDomain, max_wr: u32, max_sge: u32) -> Result<Self> {
        if max_wr == 0 || max_wr > 1 << 24 {
            return Err(Error::InvalidArgument(format!(
                "SRQ depth {max_wr} (must be 1..={})",
                1 << 24
            )));
        }
        let mut init = sys::ibv_srq_init_attr {
            srq_context: ptr::null_mut(),
            attr: sys::ibv_srq_attr {
                max_wr,
                max_sge,
                srq_limit: 0,
            },
        };
        // SAFETY: the PD is live (kept alive by the SRQ); `init` is valid and updated in place.
        let raw = unsafe { sys::ibv_create_srq(pd.as_raw(), &mut init) };
        let raw = NonNull::new(raw).ok_or_else(|| Error::last_os("ibv_create_srq"))?;
        let depth = init.attr.max_wr.max(max_wr) as usize;
        let table = (depth.next_power_of_two() * 2) as u64;
        let next_nonce = reserve(NONCE_BLOCK);
        Ok(SharedReceiveQueue {
            inner: Arc::new(SrqInner {
                raw,
                orphans: Mutex::new(Vec::new()),
                _pd: pd.inner.clone(),
            }),
            slots: (0..table)
                .map(|_| Slot {
                    nonce: 0,
                    entry: None,
                })
                .collect(),
            depth,
            outstanding: 0,
            next_nonce,
            nonce_end: next_nonce + NONCE_BLOCK,
        })
    }

    /// The raw SRQ pointer.
    pub fn as_raw(&self) -> *mut sys::ibv_srq {
        self.inner.raw.as_ptr()
    }

    /// Receives posted and not yet handed back.
    pub fn outstanding(&self) -> usize {
        self.outstanding
    }

    /// A fresh nonce whose slot is free, and that slot.
    #[inline]
    fn next_free(&mut self) -> (u64, usize) {
        let mask = self.slots.len() as u64 - 1;
        loop {
            if self.next_nonce == self.nonce_end {
                self.next_nonce = reserve(NONCE_BLOCK);
                self.nonce_end = self.next_nonce + NONCE_BLOCK;
            }
            let nonce = self.next_nonce;
            self.next_nonce += 1;
            let slot = (nonce & mask) as usize;
            if self.slots[slot].entry.is_none() {
                return (nonce, slot);
            }
        }
    }

    /// Posts a receive (`ibv_post_srq_recv`) into the buffer `wr` owns, which the SRQ keeps
    /// until [`complete`](Self::complete) hands it back. An SRQ has no sinks, so a receive
    /// into a sink, or without a buffer, is refused.
    #[inline]
    pub fn post_recv(&mut self, wr: RecvWr<'_>) -> Result<(), PostError> {
        if wr.scatters() {
            return Err(scatter_here(wr.into_owned()));
        }
        let (buf, _, offset, len, wr_id) = wr.split();
        let Some(buf) = buf else {
            return Err(PostError {
                error: Error::InvalidArgument(
                    "a shared receive queue takes receives that own their buffer \
                     (RecvWr::recv), not sinks or empty receives"
                        .into(),
                ),
                posted: 0,
                returned: Vec::new(),
            });
        };
        let have = buf.len();
        let len = len.unwrap_or(have.saturating_sub(offset));
        let Some(mut sge) = buf.sge(offset, len) else {
            return Err(PostError {
                error: range_error(offset, len, have),
                posted: 0,
                returned: vec![buf],
            });
        };
        if self.outstanding == self.depth {
            let e = Error::QueueFull {
                queue: "shared receive queue",
                qpn: 0,
                depth: self.depth as u32,
            };
            return Err(PostError {
                error: e,
                posted: 0,
                returned: vec![buf],
            });
        }
        let (nonce, slot) = self.next_free();
        self.slots[slot] = Slot {
            nonce,
            entry: Some((wr_id, buf)),
        };
        let mut raw = sys::ibv_recv_wr {
            wr_id: RECV_BIT | SRQ_BIT | nonce,
            next: ptr::null_mut(),
            sg_list: &mut sge,
            num_sge: 1,
        };
        let mut bad = ptr::null_mut();
        // SAFETY: the SRQ is live; the SGE describes memory now owned by the slot, which keeps
        // it until the completion is handed back or the SRQ is destroyed.
        let ret = unsafe { sys::ibv_post_srq_recv(self.as_raw(), &mut raw, &mut bad) };
        if ret != 0 {
            let (_, buf) = self.slots[slot].entry.take().expect("just stored");
            return Err(PostError {
                error: Error::from_ret("ibv_post_srq_recv", ret),
                posted: 0,
                returned: vec![buf],
            });
        }
        self.outstanding += 1;
        Ok(())
    }

    /// Hands back the completion of a receive posted to this SRQ (polled from the receive CQ
    /// of any QP using it) and returns its buffer. Anything else is
    /// [`Error::ForeignCompletion`].
    #[inline]
    pub fn complete(&mut self, wc: &WorkCompletion) -> Result<Completion> {
        let id = wc.raw_wr_id();
        let nonce = id & NONCE_MASK;
        let slot = (nonce & (self.slots.len() as u64 - 1)) as usize;
        let valid = id & (RECV_BIT | SRQ_BIT) == (RECV_BIT | SRQ_BIT)
            && self.slots[slot].nonce == nonce
            && self.slots[slot].entry.is_some();
        if !valid {
            return Err(Error::ForeignCompletion {
                wr_id: id,
                qp_num: wc.qp_num(),
                owner: "this SRQ".into(),
            });
        }
        let (user, buf) = self.slots[slot].entry.take().expect("checked");
        self.outstanding -= 1;
        Ok(Completion::new(wc, user, Some(buf)))
    }
}

impl Drop for SharedReceiveQueue {
    fn drop(&mut self) {
        let posted = self
            .slots
            .iter_mut()
            .filter_map(|s| s.entry.take().map(|(_, b)| b));
        // Whether or not QPs still use the SRQ, its posted buffers go to the inner, which
        // frees them only after ibv_destroy_srq succeeded (fields drop after Drop::drop).
        let mut orphans = self.inner.orphans.lock().unwrap_or_else(|e| e.into_inner());
        orphans.extend(posted);
    }
}

impl fmt::Debug for SharedReceiveQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedReceiveQueue")
            .field("depth", &self.depth)
            .field("outstanding", &self.outstanding())
            .finish()
    }
}
