//! The in-flight ring of one work queue: what each outstanding work request holds, indexed by
//! its sequence number on the queue. Allocated once with the QP; posting and completing only
//! write and read its slots.
//!
//! The `wr_id` the device sees is not the sequence number but a *nonce* unique in the whole
//! process: the ring reserves nonces in blocks from one global counter (one atomic add per
//! block, not per post) and maps a completion's nonce back to its sequence number only if it is
//! in one of its own two latest blocks. So a completion of another queue, of a QP on another
//! device with the same QP number, or of a destroyed QP, never matches a live request here.
//!
//! A new block always starts at the head, when nothing is staged: a block has room for far
//! more than a queue's worth of requests past its start, so the requests of one post (or one
//! batch) all have nonces of the same block, and staging never changes the block. Requests
//! staged and then given up (a failed post, a batch dropped unposted) need no undoing: the next
//! post stages over them with the same nonces.
//!
//! A slot is kept in two arrays indexed alike, so that the data path moves little: a 16-byte
//! [`Entry`] (the caller's `wr_id` and what the request holds) and the buffer an owning
//! request holds (`Option<MemoryRegion>`: `Some` for the live entries that are
//! [`Held::Owned`], and for the entries of requests staged with a buffer and given up, until
//! their slot is staged again). Entries are plain data: retiring requests that own no buffer
//! only moves the tail. Their entries stay behind, never read again (only `tail..head` and the
//! staged ones after it are live), and the next request staged there overwrites them.

use crate::mr::MemoryRegion;
use std::sync::atomic::{AtomicU64, Ordering};

/// The next unreserved nonce. Nonces are below 2^61, so they use the low 61 bits of a `wr_id`
/// (the top two are the crate's receive/SRQ marks, and bit 61 is left clear so that a `wr_id`
/// with a mark its ring does not give never comes within a block of one of its nonces: see
/// [`Ring::seq_of`]); 0 is never handed out.
static NEXT_NONCE: AtomicU64 = AtomicU64::new(1);
const NONCE_LIMIT: u64 = 1 << 61;

/// A block of nonces: the nonce of the request with sequence number `seq`, and of the
/// `block_len - 1` ones after it.
#[derive(Debug, Clone, Copy)]
struct Block {
    nonce: u64,
    seq: u64,
}

/// Reserves `len` fresh nonces; `None` once the nonce space is exhausted (2^61 nonces: at a
/// billion posts a second, 73 years of one process). It neither panics nor allocates, so it
/// may be called while a request's buffer is held in registers.
pub(crate) fn try_reserve(len: u64) -> Option<u64> {
    let base = NEXT_NONCE.fetch_add(len, Ordering::Relaxed);
    (base + len <= NONCE_LIMIT).then_some(base)
}

/// Drops the buffer that a request staged and given up (in a batch dropped unposted) left in
/// `slot`.
///
/// `extern "C"`, so that it cannot unwind (a panic in it aborts): the data path calling it
/// then needs no landing pad.
#[cold]
#[inline(never)]
extern "C" fn drop_given_up(slot: &mut Option<MemoryRegion>) {
    drop(slot.take());
}

/// Reserves `len` fresh nonces, panicking once the nonce space is exhausted (not on the data
/// path: when a queue or SRQ is made).
pub(crate) fn reserve(len: u64) -> u64 {
    try_reserve(len).expect("work request nonce space exhausted")
}

/// The local memory a work request uses, as its ring entry records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Held {
    /// Nothing (inline data, zero-length, or a slot not in use).
    Nothing,
    /// A piece the queue owns until completion, kept in the ring's buffer array.
    Owned,
    /// A buffer of the QP's buffer table (a shared source or a sink), by index.
    Slot(u32),
}

/// One request's record: 16 bytes, `Copy`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub(crate) user_wr_id: u64,
    pub(crate) held: Held,
}

const EMPTY: Entry = Entry {
    user_wr_id: 0,
    held: Held::Nothing,
};

/// Sequence numbers start at 1, so a zeroed `wr_id` never matches (and 0 can mean "never" to
/// the QP's buffer table).
const FIRST_SEQ: u64 = 1;

/// Why [`Ring::make_room`] could not make room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoRoom {
    /// The queue is closed: the QP's state does not allow posting to it.
    Closed,
    /// `cap` requests are outstanding or staged.
    Full,
    /// The process used up its 2^61 work request nonces.
    Exhausted,
}

/// A ring with room for `cap` outstanding entries (`tail..head`, in post order). Its slot
/// arrays are `cap` rounded up to a power of two, so a sequence number finds its slot with a
/// mask rather than a division.
///
/// One comparison on the data path, [`has_room`](Self::has_room) against `end`, answers three
/// questions: is the queue open (the QP's state allows posting to it), is there room, and
/// is the current block of nonces still far from its end. When it fails,
/// [`make_room`](Self::make_room), off the data path, tells which (and starts a new block at
/// the head when that is all).
#[derive(Debug)]
pub(crate) struct Ring {
    /// `mask + 1` entries (set in `new`, never resized): the slot of `seq` is `seq & mask`.
    slots: Box<[Entry]>,
    /// `mask + 1` buffers, indexed like `slots`: `Some` exactly for the live owned entries.
    bufs: Box<[Option<MemoryRegion>]>,
    mask: u64,
    cap: u32,
    head: u64,
    tail: u64,
    /// `cap` while the queue is open, 0 while it is closed.
    open_cap: u64,
    /// `min(tail + open_cap, cur_limit)`: below it, an entry may be staged without asking
    /// `make_room` (so none while the queue is closed, since `head >= tail`).
    end: u64,
    /// The sequence number of the last entry staged with a buffer (0: none yet). No live
    /// entry that owns a buffer has a later one: each is staged after every live entry.
    last_owned: u64,
    /// Nonces per block: at least `16 * cap`, so the live window spans at most two blocks.
    block_len: u64,
    /// The current block: it starts at or before the head, and every staged entry is in it.
    cur: Block,
    /// `cur.seq + block_len - cap`: past it, the current block is too near its end for a
    /// post's first request (kept, not computed, as it bounds `end` at every retire).
    cur_limit: u64,
    /// `cur.nonce - cur.seq` (wrapping): a sequence number of the current block plus this is
    /// its nonce.
    to_nonce: u64,
    prev: Block,
    /// The marks of this queue's `wr_id`s (the receive mark for a receive queue, none for a
    /// send queue), which its blocks' nonces carry: a nonce handed out is the whole `wr_id`,
    /// and a completion's `wr_id` is looked up as it is, unmasked.
    tag: u64,
}

impl Ring {
    /// A ring for `cap` requests whose `wr_id`s carry the marks `tag` (0, or the receive
    /// mark, bit 63).
    pub(crate) fn new(cap: u32, tag: u64) -> Self {
        debug_assert!(
            tag & (NONCE_LIMIT * 2 - 1) == 0,
            "a tag is marks above the nonces"
        );
        let cap = cap.max(1);
        let len = (cap as usize).next_power_of_two();
        let block_len = (len as u64).max(64) * 16;
        let nonce = reserve(block_len) | tag;
        let cur = Block {
            nonce,
            seq: FIRST_SEQ,
        };
        let ring = Ring {
            mask: len as u64 - 1,
            cap,
            block_len,
            cur,
            cur_limit: FIRST_SEQ + block_len - cap as u64,
            to_nonce: nonce.wrapping_sub(FIRST_SEQ),
            // No earlier block: the current one stands in for it, and maps as it does.
            prev: cur,
            tag,
            slots: vec![EMPTY; len].into_boxed_slice(),
            bufs: (0..len).map(|_| None).collect(),
            head: FIRST_SEQ,
            tail: FIRST_SEQ,
            open_cap: 0,
            end: 0,
            last_owned: 0,
        };
        ring.debug_check();
        ring
    }

    /// Opens the queue (the QP's state allows posting to it) or closes it.
    pub(crate) fn set_open(&mut self, open: bool) {
        self.open_cap = if open { self.cap as u64 } else { 0 };
        self.refresh_end();
        self.debug_check();
    }

    /// Checks every invariant of the ring in debug builds (tests); nothing in release.
    #[inline(always)]
    fn debug_check(&self) {
        if cfg!(debug_assertions) {
            if let Err(broken) = self.check_invariants() {
                panic!("{broken}");
            }
        }
    }

    #[inline(always)]
    fn refresh_end(&mut self) {
        // The last `cap` sequence numbers of a block go through `make_room`, which starts the
        // next block before a post's first request gets there.
        self.end = (self.tail + self.open_cap).min(self.cur_limit);
    }

    /// The first sequence number after the current block.
    fn cur_end(&self) -> u64 {
        self.cur.seq + self.block_len
    }

    /// After [`has_room`](Self::has_room)`(reserved, n)` failed: the entries may be staged
    /// (`Ok`: with nothing staged yet, a new block of nonces starts at the head if the current
    /// one is near its end), or why not.
    #[cold]
    #[inline(never)]
    pub(crate) fn make_room(&mut self, reserved: usize, n: usize) -> Result<(), NoRoom> {
        if self.open_cap == 0 {
            return Err(NoRoom::Closed);
        }
        let past = self.head + (reserved + n) as u64;
        if past > self.tail + self.open_cap {
            return Err(NoRoom::Full);
        }
        if reserved == 0 {
            // The first request of a post: the block is within `cap` of its end, so a new one
            // starts here, with room for any post.
            self.next_block()?;
        }
        // Otherwise a later request of a post whose first one found (or started) a block
        // with `cap` more sequence numbers: `past <= head + cap <= cur_end`.
        debug_assert!(past <= self.cur_end());
        self.debug_check();
        Ok(())
    }

    #[inline(always)]
    pub(crate) fn cap(&self) -> u32 {
        self.cap
    }

    /// The sequence number of the oldest outstanding request (the head when none is).
    #[inline(always)]
    pub(crate) fn tail(&self) -> u64 {
        self.tail
    }

    /// The sequence number the next request staged gets.
    #[inline(always)]
    pub(crate) fn head(&self) -> u64 {
        self.head
    }

    #[inline(always)]
    pub(crate) fn outstanding(&self) -> u64 {
        self.head - self.tail
    }

    /// Room for `n` more after `reserved` already staged ones: the queue is open, not full,
    /// and their nonces are in the current block. When false, [`make_room`](Self::make_room)
    /// tells why (and opens the next block when that was all).
    #[inline(always)]
    pub(crate) fn has_room(&self, reserved: usize, n: usize) -> bool {
        self.head + (reserved + n) as u64 <= self.end
    }

    /// [`has_room`](Self::has_room)`(0, 1)`, in one comparison fewer.
    #[inline(always)]
    pub(crate) fn has_room_for_one(&self) -> bool {
        self.head < self.end
    }

    /// The sequence number of the entry staged `offset` places after the head.
    #[inline(always)]
    pub(crate) fn seq_at(&self, offset: usize) -> u64 {
        self.head + offset as u64
    }

    /// How many slots the ring has (its capacity rounded up to a power of two): the slot of
    /// sequence number `seq` is [`slot_index`](Self::slot_index)`(seq)`, below this.
    pub(crate) fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// The slot of sequence number `seq`: requests outstanding at once never share one.
    #[inline(always)]
    pub(crate) fn slot_index(&self, seq: u64) -> usize {
        (seq & self.mask) as usize
    }

    #[inline(always)]
    fn entry(&self, seq: u64) -> &Entry {
        let i = (seq & self.mask) as usize;
        debug_assert!(i < self.slots.len());
        // SAFETY: `slots.len() == mask + 1` (made so in `new`; `slots` is never replaced or
        // resized), so `seq & mask` is in bounds.
        unsafe { self.slots.get_unchecked(i) }
    }

    #[inline(always)]
    fn entry_mut(&mut self, seq: u64) -> &mut Entry {
        let i = (seq & self.mask) as usize;
        debug_assert!(i < self.slots.len());
        // SAFETY: as in `entry`.
        unsafe { self.slots.get_unchecked_mut(i) }
    }

    #[inline(always)]
    fn buf_mut(&mut self, seq: u64) -> &mut Option<MemoryRegion> {
        let i = (seq & self.mask) as usize;
        debug_assert!(i < self.bufs.len());
        // SAFETY: `bufs.len() == mask + 1` too (made so in `new`; never replaced or resized).
        unsafe { self.bufs.get_unchecked_mut(i) }
    }

    /// Stages an entry holding no buffer of its own `offset` places after the head (not yet
    /// outstanding); returns the nonce to put in its `wr_id`. The caller checked
    /// [`has_room`](Self::has_room)`(offset, 1)` (or made room).
    #[inline(always)]
    pub(crate) fn stage(&mut self, offset: usize, user_wr_id: u64, held: Held) -> u64 {
        debug_assert!(
            held != Held::Owned,
            "owned buffers are staged with stage_owned"
        );
        let seq = self.seq_at(offset);
        *self.entry_mut(seq) = Entry { user_wr_id, held };
        self.nonce_of(seq)
    }

    /// Stages an entry that owns `buf` until it completes, as [`stage`](Self::stage) does.
    #[inline(always)]
    pub(crate) fn stage_owned(&mut self, offset: usize, user_wr_id: u64, buf: MemoryRegion) -> u64 {
        let seq = self.seq_at(offset);
        *self.entry_mut(seq) = Entry {
            user_wr_id,
            held: Held::Owned,
        };
        // The slot is not live, so its buffer is `None`, or one that a request staged there
        // and given up left behind (perhaps laps ago: a request owning nothing staged over
        // it since, which leaves buffers alone). That one is dropped off the inlined path, by
        // a call that cannot unwind, so that no landing pad keeps `buf` in memory.
        let slot = self.buf_mut(seq);
        if slot.is_some() {
            drop_given_up(slot);
        }
        // `None` now: the old value is nothing to drop.
        std::mem::forget(slot.replace(buf));
        self.last_owned = seq;
        self.nonce_of(seq)
    }

    /// Stages, at the head, a request of a run (see `qp::run`): its entry holds nothing (the
    /// shared slot it uses, if any, is kept by the slot's run mark). Returns the nonce for its
    /// `wr_id`. The caller checked [`has_room_for_one`](Self::has_room_for_one) (or made
    /// room).
    #[inline(always)]
    pub(crate) fn stage_run(&mut self, user_wr_id: u64) -> u64 {
        self.stage(0, user_wr_id, Held::Nothing)
    }

    /// Stages `n` requests of a run from the head, as [`stage_run`](Self::stage_run) does,
    /// with the caller's `wr_id`s `first_wr_id..`; hands each one's offset and nonce to `f`.
    /// The caller checked [`has_room`](Self::has_room)`(0, n)` (or made room), so `n` is at
    /// most the ring's capacity.
    #[inline(always)]
    pub(crate) fn stage_run_n(
        &mut self,
        n: usize,
        first_wr_id: u64,
        mut f: impl FnMut(usize, u64),
    ) {
        // The fields are read once: the stores below go through pointers the compiler cannot
        // tell apart from the ring's own fields, and would make it read them again each time.
        let (head, to_nonce) = (self.head, self.to_nonce);
        debug_assert!(head >= self.cur.seq && head + n as u64 <= self.cur_end());
        let first_slot = (head & self.mask) as usize;
        // In slot order: up to the end of the array, then from its start (a ring holds at
        // most `mask + 1` requests, so no slot is written twice).
        let before_wrap = n.min(self.slots.len() - first_slot);
        let (wrapped, first) = self.slots.split_at_mut(first_slot);
        let nonce = head.wrapping_add(to_nonce);
        for (k, entry) in first[..before_wrap].iter_mut().enumerate() {
            *entry = Entry {
                user_wr_id: first_wr_id.wrapping_add(k as u64),
                held: Held::Nothing,
            };
            f(k, nonce.wrapping_add(k as u64));
        }
        for (j, entry) in wrapped[..n - before_wrap].iter_mut().enumerate() {
            let k = before_wrap + j;
            *entry = Entry {
                user_wr_id: first_wr_id.wrapping_add(k as u64),
                held: Held::Nothing,
            };
            f(k, nonce.wrapping_add(k as u64));
        }
    }

    /// The nonce of sequence number `seq`, which is being staged: `has_room` held or
    /// `make_room` said yes, so it is in the current block.
    #[inline(always)]
    fn nonce_of(&self, seq: u64) -> u64 {
        // Guaranteed in release builds too (`has_room` and `make_room`): a nonce past the
        // block would be another ring's.
        debug_assert!(seq >= self.cur.seq && seq < self.cur_end());
        seq.wrapping_add(self.to_nonce)
    }

    /// Starts a new block of nonces at the head (nothing is staged); the current one becomes
    /// the previous one, which holds every outstanding request: the block before it ended at
    /// least `block_len - cap` sequence numbers before the head, further back than the tail.
    fn next_block(&mut self) -> Result<(), NoRoom> {
        let nonce = try_reserve(self.block_len).ok_or(NoRoom::Exhausted)? | self.tag;
        self.prev = self.cur;
        self.cur = Block {
            nonce,
            seq: self.head,
        };
        self.cur_limit = self.head + self.block_len - self.cap as u64;
        self.to_nonce = self.cur.nonce.wrapping_sub(self.cur.seq);
        self.refresh_end();
        Ok(())
    }

    /// The outstanding sequence number a completion's `wr_id` stands for, if it is one of
    /// this ring's outstanding requests. The `wr_id` is taken whole, marks and all: the
    /// ring's nonces carry its marks. One whose marks differ never matches: it differs from
    /// each nonce of the ring by at least `2^62 - 2^61` (nonces are below 2^61), far more
    /// than a block.
    #[inline(always)]
    pub(crate) fn seq_of(&self, nonce: u64) -> Option<u64> {
        let d = nonce.wrapping_sub(self.cur.nonce);
        let seq = if d < self.block_len {
            self.cur.seq + d
        } else {
            let d = nonce.wrapping_sub(self.prev.nonce);
            if d >= self.block_len {
                return None;
            }
            self.prev.seq + d
        };
        self.contains(seq).then_some(seq)
    }

    /// Takes back the buffers of the first `n` staged entries, which were not posted, passing
    /// them to `f`. The entries themselves need no undoing (see the module docs).
    #[inline(always)]
    pub(crate) fn unstage_all(&mut self, n: usize, mut f: impl FnMut(MemoryRegion)) {
        for seq in self.head..self.head + n as u64 {
            if self.entry(seq).held == Held::Owned {
                if let Some(buf) = self.buf_mut(seq).take() {
                    f(buf);
                }
            }
        }
    }

    /// Makes the first `n` staged entries outstanding.
    #[inline(always)]
    pub(crate) fn commit(&mut self, n: usize) {
        self.head += n as u64;
        self.debug_check();
    }

    /// True when `seq` is outstanding.
    #[inline(always)]
    pub(crate) fn contains(&self, seq: u64) -> bool {
        seq.wrapping_sub(self.tail) < self.head - self.tail
    }

    /// Retires every entry up to and including `seq` (work queues complete in order, so a
    /// completion for `seq` means all earlier ones are done too) and returns the caller's
    /// `wr_id` of `seq` with the buffer it owned. Buffers owned by earlier entries are dropped
    /// (their work is done); earlier entries that own none cost nothing. The caller checked
    /// [`contains`](Self::contains).
    #[inline(always)]
    pub(crate) fn retire_through(&mut self, seq: u64) -> (u64, Option<MemoryRegion>) {
        debug_assert!(self.contains(seq));
        // Earlier buffers first, so that no taken buffer is live across a call.
        if seq != self.tail && self.last_owned >= self.tail {
            self.drop_owned(seq);
        }
        let e = *self.entry(seq);
        let buf = if e.held == Held::Owned {
            self.buf_mut(seq).take()
        } else {
            None
        };
        self.tail = seq + 1;
        self.refresh_end();
        self.debug_check();
        (e.user_wr_id, buf)
    }

    /// Drops the buffers of the owned entries in `tail..seq`.
    #[inline(never)]
    fn drop_owned(&mut self, seq: u64) {
        for s in self.tail..seq {
            if self.entry(s).held == Held::Owned {
                drop(self.buf_mut(s).take());
            }
        }
    }

    /// How many outstanding entries (`tail..head`) use the shared-table slot `slot`.
    pub(crate) fn slot_uses(&self, slot: u32) -> u32 {
        (self.tail..self.head)
            .filter(|&s| self.entry(s).held == Held::Slot(slot))
            .count() as u32
    }

    /// Leaks every buffer the ring owns (after the QP could not be destroyed: the device may
    /// still use them).
    pub(crate) fn leak_buffers(&mut self) {
        // Each taken and forgotten (the array itself stays: its length is what makes the
        // unchecked indexing sound).
        for buf in self.bufs.iter_mut() {
            std::mem::forget(buf.take());
        }
    }
}

mod invariants;
#[cfg(test)]
mod tests;
