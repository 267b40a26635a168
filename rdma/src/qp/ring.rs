//! The in-flight ring of one work queue: what each outstanding work request owns, indexed by
//! the sequence number the crate puts in its `wr_id`. Allocated once with the QP; posting and
//! completing only move values in and out of it.

use crate::mr::MemoryRegion;

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

/// A ring of `cap` entries: `tail..head` are outstanding, in post order.
#[derive(Debug)]
pub(crate) struct Ring {
    slots: Box<[Entry]>,
    head: u64,
    tail: u64,
}

impl Ring {
    pub(crate) fn new(cap: u32) -> Self {
        let cap = cap.max(1) as usize;
        Ring {
            slots: (0..cap)
                .map(|_| Entry {
                    user_wr_id: 0,
                    held: Held::Nothing,
                })
                .collect(),
            head: FIRST_SEQ,
            tail: FIRST_SEQ,
        }
    }

    #[inline]
    pub(crate) fn cap(&self) -> u32 {
        self.slots.len() as u32
    }

    #[inline]
    pub(crate) fn outstanding(&self) -> u64 {
        self.head - self.tail
    }

    /// Room for `n` more after `reserved` already staged ones.
    #[inline]
    pub(crate) fn has_room(&self, reserved: usize, n: usize) -> bool {
        self.outstanding() as usize + reserved + n <= self.slots.len()
    }

    #[inline]
    fn idx(&self, seq: u64) -> usize {
        (seq % self.slots.len() as u64) as usize
    }

    /// Stages an entry `offset` places after the head (not yet outstanding); returns its seq.
    /// The caller checked [`has_room`](Self::has_room).
    #[inline]
    pub(crate) fn stage(&mut self, offset: usize, entry: Entry) -> u64 {
        let seq = self.head + offset as u64;
        let i = self.idx(seq);
        self.slots[i] = entry;
        seq
    }

    /// Takes back a staged entry that was not posted.
    #[inline]
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
    #[inline]
    pub(crate) fn commit(&mut self, n: usize) {
        self.head += n as u64;
    }

    /// True when `seq` is outstanding.
    #[inline]
    pub(crate) fn contains(&self, seq: u64) -> bool {
        seq >= self.tail && seq < self.head
    }

    /// Retires every entry up to and including `seq` (work queues complete in order, so a
    /// completion for `seq` means all earlier ones are done too). Earlier entries are passed to
    /// `earlier`; the entry for `seq` is returned. The caller checked [`contains`](Self::contains).
    #[inline]
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

    #[inline]
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
        let s1 = r.stage(0, e(10));
        let s2 = r.stage(1, e(11));
        let s3 = r.stage(2, e(12));
        r.commit(3);
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
            let s = r.stage(0, e(round));
            r.stage(1, e(100 + round));
            assert_eq!(r.unstage(1).user_wr_id, 100 + round);
            r.commit(1);
            assert_eq!(r.retire_through(s, |_| unreachable!()).user_wr_id, round);
        }
        assert_eq!(r.outstanding(), 0);
        let mut n = 0;
        r.stage(0, e(1));
        r.stage(1, e(2));
        r.commit(2);
        r.drain(|_| n += 1);
        assert_eq!((n, r.outstanding()), (2, 0));
    }
}
