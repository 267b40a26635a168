//! The ring's invariants as a check, run after every change in debug builds (and so in
//! every test): what the module docs and the fields' comments say, stated once in code.

use super::{Held, Ring, FIRST_SEQ, NONCE_LIMIT};

impl Ring {
    /// Every invariant of the ring, or the first one that does not hold.
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        let len = self.mask + 1;
        let fail = |what: &str| Err(format!("ring invariant: {what} ({self:?})"));
        if !len.is_power_of_two() || self.slots.len() as u64 != len {
            return fail("the slot array is mask + 1 long, a power of two");
        }
        if self.bufs.len() as u64 != len {
            return fail("the buffer array is as long as the slot array");
        }
        if self.cap == 0 || u64::from(self.cap) > len {
            return fail("the capacity is 1 to the slot count");
        }
        if !(FIRST_SEQ <= self.tail && self.tail <= self.head) {
            return fail("FIRST_SEQ <= tail <= head");
        }
        if self.head - self.tail > u64::from(self.cap) {
            return fail("at most cap requests are outstanding");
        }
        if self.open_cap != 0 && self.open_cap != u64::from(self.cap) {
            return fail("open_cap is 0 (closed) or cap (open)");
        }
        if self.block_len < 16 * u64::from(self.cap) {
            return fail("a block has at least 16 * cap nonces");
        }
        if self.cur_limit != self.cur.seq + self.block_len - u64::from(self.cap) {
            return fail("cur_limit is cap before the current block's end");
        }
        // Closed, nothing may be staged (a new ring's `end` is 0, a closed one's the tail).
        let end_ok = if self.open_cap == 0 {
            self.end <= self.tail
        } else {
            self.end == (self.tail + self.open_cap).min(self.cur_limit)
        };
        if !end_ok {
            return fail("end is min(tail + open_cap, cur_limit), or at most the tail when closed");
        }
        if self.to_nonce != self.cur.nonce.wrapping_sub(self.cur.seq) {
            return fail("to_nonce maps the current block's sequence numbers to its nonces");
        }
        if !(self.prev.seq <= self.tail && self.cur.seq <= self.head) {
            return fail("the previous block starts by the tail, the current one by the head");
        }
        if self.head > self.cur_end() {
            return fail("the head is within the current block");
        }
        let marks = !(NONCE_LIMIT - 1);
        if self.cur.nonce & marks != self.tag || self.prev.nonce & marks != self.tag {
            return fail("both blocks' nonces carry the queue's marks and nothing above 2^61");
        }
        for seq in self.tail..self.head {
            let i = (seq & self.mask) as usize;
            let owned = self.slots[i].held == Held::Owned;
            // Not the converse: a request that owns nothing may be staged over one given up
            // with a buffer, which stays until an owning request is staged there.
            if owned && self.bufs[i].is_none() {
                return fail("a live Owned entry holds its buffer");
            }
            if owned && seq > self.last_owned {
                return fail("no live owned entry is later than last_owned");
            }
            if self.seq_of(self.nonce_for_check(seq)) != Some(seq) {
                return fail("every outstanding request's nonce maps back to it");
            }
        }
        Ok(())
    }

    /// The nonce an outstanding `seq` was given: in the current block or the previous one.
    fn nonce_for_check(&self, seq: u64) -> u64 {
        if seq >= self.cur.seq {
            seq.wrapping_add(self.to_nonce)
        } else {
            seq.wrapping_sub(self.prev.seq)
                .wrapping_add(self.prev.nonce)
        }
    }
}
