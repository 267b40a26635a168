//! The in-flight ring of one work queue: what each outstanding work request owns, indexed by
//! its sequence number on the queue. Allocated once with the QP; posting and completing only
//! move values in and out of it.
//!
//! The `wr_id` the device sees is not the sequence number but a *nonce* unique in the whole
//! process: the ring reserves nonces in blocks from one global counter (one atomic add per
//! block, not per post) and maps a completion's nonce back to its sequence number only if it is
//! in one of its own two latest blocks. So a completion of another queue, of a QP on another
//! device with the same QP number, or of a destroyed QP, never matches a live request here.

use crate::mr::MemoryRegion;
use std::sync::atomic::{AtomicU64, Ordering};

/// The next unreserved nonce. Nonces use the low 62 bits of a `wr_id` (the top two are the
/// crate's receive/SRQ marks); 0 is never handed out.
static NEXT_NONCE: AtomicU64 = AtomicU64::new(1);
const NONCE_LIMIT: u64 = 1 << 62;

#[derive(Debug, Clone, Copy)]
struct Block {
    nonce: u64,
    seq: u64,
}

/// Reserves `len` fresh nonces.
pub(crate) fn reserve(len: u64) -> u64 {
    let base = NEXT_NONCE.fetch_add(len, Ordering::Relaxed);
    // 2^62 nonces: at a billion posts a second, 146 years of one process.
    assert!(
        base + len <= NONCE_LIMIT,
        "work request nonce space exhausted"
    );
    base
}

/// The local memory a work request uses, as the queue keeps it until completion.
#[derive(Debug)]
pub(crate) enum Held {
    /// Nothing (inline data, zero-length, or a slot not in use).
    Nothing,
    /// A piece the queue owns until completion.
    Owned(MemoryRegion),
    /// A read-only source pinned to the QP (index into its pinned table).
    Pinned(u32),
}

#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) user_wr_id: u64,
    pub(crate) held: Held,
}

/// Sequence numbers start at 1, so a zeroed `wr_id` never matches.
const FIRST_SEQ: u64 = 1;

/// A ring with room for `cap` outstanding entries (`tail..head`, in post order). Its slot
/// array is `cap` rounded up to a power of two, so a sequence number finds its slot with a mask
/// rather than a division.
#[derive(Debug)]
pub(crate) struct Ring {
    slots: Box<[Entry]>,
    mask: u64,
    cap: u32,
    head: u64,
    tail: u64,
    /// Nonces per block: at least `cap`, so the outstanding window spans at most two blocks.
    block_len: u64,
    cur: Block,
    prev: Block,
}

impl Ring {
    pub(crate) fn new(cap: u32) -> Self {
        let cap = cap.max(1);
        let len = (cap as usize).next_power_of_two();
        let block_len = (len as u64).max(64) * 16;
        Ring {
            mask: len as u64 - 1,
            cap,
            block_len,
            cur: Block {
                nonce: reserve(block_len),
                seq: FIRST_SEQ,
            },
            prev: Block {
                nonce: NONCE_LIMIT,
                seq: 0,
            },
            slots: (0..len)
                .map(|_| Entry {
                    user_wr_id: 0,
                    held: Held::Nothing,
                })
                .collect(),
            head: FIRST_SEQ,
            tail: FIRST_SEQ,
        }
    }

    #[inline(always)]
    pub(crate) fn cap(&self) -> u32 {
        self.cap
    }

    #[inline(always)]
    pub(crate) fn outstanding(&self) -> u64 {
        self.head - self.tail
    }

    /// Room for `n` more after `reserved` already staged ones.
    #[inline(always)]
    pub(crate) fn has_room(&self, reserved: usize, n: usize) -> bool {
        self.outstanding() as usize + reserved + n <= self.cap as usize
    }

    #[inline(always)]
    fn idx(&self, seq: u64) -> usize {
        (seq & self.mask) as usize
    }

    /// Stages an entry `offset` places after the head (not yet outstanding); returns the
    /// nonce to put in its `wr_id`. The caller checked [`has_room`](Self::has_room).
    #[inline(always)]
    pub(crate) fn stage(&mut self, offset: usize, entry: Entry) -> u64 {
        let seq = self.head + offset as u64;
        let i = self.idx(seq);
        self.slots[i] = entry;
        if seq >= self.cur.seq + self.block_len {
            self.prev = self.cur;
            self.cur = Block {
                nonce: reserve(self.block_len),
                seq: self.cur.seq + self.block_len,
            };
        }
        self.cur.nonce + (seq - self.cur.seq)
    }

    /// The outstanding sequence number a completion's nonce stands for, if it is one of this
    /// ring's outstanding requests.
    #[inline(always)]
    pub(crate) fn seq_of(&self, nonce: u64) -> Option<u64> {
        let seq = [self.cur, self.prev].iter().find_map(|b| {
            let d = nonce.wrapping_sub(b.nonce);
            (d < self.block_len).then(|| b.seq + d)
        })?;
        self.contains(seq).then_some(seq)
    }

    /// Takes back a staged entry that was not posted.
    #[inline(always)]
    pub(crate) fn unstage(&mut self, offset: usize) -> Entry {
        let i = self.idx(self.head + offset as u64);
        std::mem::replace(
            &mut self.slots[i],
            Entry {
                user_wr_id: 0,
                held: Held::Nothing,
            },
        )
    }

    /// Makes the first `n` staged entries outstanding.
    #[inline(always)]
    pub(crate) fn commit(&mut self, n: usize) {
        self.head += n as u64;
    }

    /// True when `seq` is outstanding.
    #[inline(always)]
    pub(crate) fn contains(&self, seq: u64) -> bool {
        seq >= self.tail && seq < self.head
    }

    /// Retires every entry up to and including `seq` (work queues complete in order, so a
    /// completion for `seq` means all earlier ones are done too). Earlier entries are passed to
    /// `earlier`; the entry for `seq` is returned. The caller checked [`contains`](Self::contains).
    #[inline(always)]
    pub(crate) fn retire_through(&mut self, seq: u64, mut earlier: impl FnMut(Entry)) -> Entry {
        while self.tail < seq {
            let e = self.take(self.tail);
            self.tail += 1;
            earlier(e);
        }
        let e = self.take(seq);
        self.tail = seq + 1;
        e
    }

    #[inline(always)]
    fn take(&mut self, seq: u64) -> Entry {
        let i = self.idx(seq);
        std::mem::replace(
            &mut self.slots[i],
            Entry {
                user_wr_id: 0,
                held: Held::Nothing,
            },
        )
    }

    /// Removes every outstanding entry (after the QP is destroyed).
    pub(crate) fn drain(&mut self, mut f: impl FnMut(Entry)) {
        while self.tail < self.head {
            let e = self.take(self.tail);
            self.tail += 1;
            f(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(id: u64) -> Entry {
        Entry {
            user_wr_id: id,
            held: Held::Nothing,
        }
    }

    #[test]
    fn stage_commit_retire_in_order() {
        let mut r = Ring::new(4);
        assert!(r.has_room(0, 4) && !r.has_room(0, 5));
        let n1 = r.stage(0, e(10));
        let n2 = r.stage(1, e(11));
        let n3 = r.stage(2, e(12));
        r.commit(3);
        assert_eq!((n2 - n1, n3 - n1), (1, 2));
        let (s1, s2, s3) = (
            r.seq_of(n1).unwrap(),
            r.seq_of(n2).unwrap(),
            r.seq_of(n3).unwrap(),
        );
        assert_eq!((s1, s2, s3), (1, 2, 3));
        assert_eq!(r.outstanding(), 3);
        assert!(!r.contains(0) && r.contains(1) && r.contains(3) && !r.contains(4));
        let mut skipped = vec![];
        let got = r.retire_through(2, |x| skipped.push(x.user_wr_id));
        assert_eq!(got.user_wr_id, 11);
        assert_eq!(skipped, vec![10]);
        assert!(!r.contains(2), "a retired seq is not accepted again");
        assert_eq!(r.outstanding(), 1);
    }

    #[test]
    fn wraps_and_unstages() {
        let mut r = Ring::new(2);
        for round in 0..5u64 {
            let n = r.stage(0, e(round));
            r.stage(1, e(100 + round));
            assert_eq!(r.unstage(1).user_wr_id, 100 + round);
            r.commit(1);
            let s = r.seq_of(n).unwrap();
            assert_eq!(r.retire_through(s, |_| unreachable!()).user_wr_id, round);
            assert_eq!(r.seq_of(n), None, "retired");
        }
        assert_eq!(r.outstanding(), 0);
        let mut n = 0;
        r.stage(0, e(1));
        r.stage(1, e(2));
        r.commit(2);
        r.drain(|_| n += 1);
        assert_eq!((n, r.outstanding()), (2, 0));
    }

    #[test]
    fn nonces_cross_blocks_and_never_match_another_ring() {
        let mut a = Ring::new(4);
        let mut b = Ring::new(4);
        // Same sequence numbers, different nonces: b never accepts a's completions.
        let na = a.stage(0, e(1));
        let nb = b.stage(0, e(2));
        a.commit(1);
        b.commit(1);
        assert_ne!(na, nb);
        assert_eq!(b.seq_of(na), None);
        assert_eq!(a.seq_of(nb), None);
        assert_eq!(a.seq_of(0), None);
        // Run a far past its first blocks; outstanding requests stay resolvable at every
        // block boundary, retired ones never are.
        let mut last = na;
        a.retire_through(a.seq_of(na).unwrap(), |_| {});
        for i in 0..(a.block_len * 3) {
            let n1 = a.stage(0, e(i));
            let n2 = a.stage(1, e(i));
            a.commit(2);
            let s1 = a.seq_of(n1).expect("outstanding");
            let s2 = a.seq_of(n2).expect("outstanding, maybe in the next block");
            assert_eq!(s2, s1 + 1);
            assert_eq!(a.seq_of(last), None);
            a.retire_through(s2, |_| {});
            last = n2;
        }
    }
}
