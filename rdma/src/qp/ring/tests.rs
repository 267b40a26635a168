//! The ring on its own: staging, committing, retiring, nonces and blocks.

use super::*;

/// An open ring of `cap`.
fn open(cap: u32) -> Ring {
    let mut r = Ring::new(cap, 0);
    r.set_open(true);
    r
}

/// Stages as the QP does: room checked (and made) first.
fn stage_held(r: &mut Ring, offset: usize, id: u64, held: Held) -> u64 {
    if !r.has_room(offset, 1) {
        r.make_room(offset, 1).expect("room");
    }
    r.stage(offset, id, held)
}

fn stage(r: &mut Ring, offset: usize, id: u64) -> u64 {
    stage_held(r, offset, id, Held::Nothing)
}

#[test]
fn entries_are_small() {
    assert_eq!(std::mem::size_of::<Entry>(), 16);
    assert_eq!(
        std::mem::size_of::<Option<MemoryRegion>>(),
        std::mem::size_of::<MemoryRegion>()
    );
}

#[test]
fn stage_commit_retire_in_order() {
    let mut r = Ring::new(4, 0);
    assert!(!r.has_room(0, 1), "a new ring is closed");
    assert_eq!(r.make_room(0, 1), Err(NoRoom::Closed));
    r.set_open(true);
    assert!(r.has_room(0, 4) && !r.has_room(0, 5));
    assert_eq!(r.make_room(0, 5), Err(NoRoom::Full));
    let n1 = stage(&mut r, 0, 10);
    let n2 = stage(&mut r, 1, 11);
    let n3 = stage(&mut r, 2, 12);
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
    let (id, buf) = r.retire_through(2);
    assert_eq!(id, 11);
    assert!(buf.is_none());
    assert!(
        !r.contains(1) && !r.contains(2),
        "retired seqs are not accepted again"
    );
    assert_eq!(r.seq_of(n1), None);
    assert_eq!(r.outstanding(), 1);
    assert_eq!(r.tail, 3);
}

#[test]
fn wraps_and_unstages() {
    let mut r = open(2);
    for round in 0..5u64 {
        let n = stage(&mut r, 0, round);
        r.commit(1);
        stage(&mut r, 0, 100 + round);
        r.unstage_all(1, |_| unreachable!("owns no buffer"));
        let s = r.seq_of(n).unwrap();
        assert_eq!(r.retire_through(s).0, round);
        assert_eq!(r.seq_of(n), None, "retired");
    }
    assert_eq!(r.outstanding(), 0);
}

#[test]
fn slot_uses_count_the_live_window_only() {
    let mut r = open(8);
    stage_held(&mut r, 0, 1, Held::Slot(3));
    stage_held(&mut r, 1, 2, Held::Slot(4));
    stage_held(&mut r, 2, 3, Held::Slot(3));
    stage_held(&mut r, 3, 4, Held::Slot(3));
    r.commit(3);
    assert_eq!(r.slot_uses(3), 2, "the staged fourth is not outstanding");
    assert_eq!(r.slot_uses(4), 1);
    r.retire_through(2);
    assert_eq!(r.slot_uses(3), 1);
    assert_eq!(r.slot_uses(4), 0);
    assert_eq!(r.slot_uses(9), 0);
}

#[test]
fn nonces_cross_blocks_and_never_match_another_ring() {
    let mut a = open(4);
    let mut b = open(4);
    // Same sequence numbers, different nonces: b never accepts a's completions.
    let na = stage(&mut a, 0, 1);
    let nb = stage(&mut b, 0, 2);
    a.commit(1);
    b.commit(1);
    assert_ne!(na, nb);
    assert_eq!(b.seq_of(na), None);
    assert_eq!(a.seq_of(nb), None);
    assert_eq!(a.seq_of(0), None);
    // Run a far past its first blocks; outstanding requests stay resolvable at every
    // block boundary, retired ones never are.
    let mut last = na;
    a.retire_through(a.seq_of(na).unwrap());
    for i in 0..(a.block_len * 3) {
        let n1 = stage(&mut a, 0, i);
        let n2 = stage(&mut a, 1, i);
        a.commit(2);
        let s1 = a.seq_of(n1).expect("outstanding");
        let s2 = a.seq_of(n2).expect("outstanding, maybe in the next block");
        assert_eq!(s2, s1 + 1);
        assert_eq!(a.seq_of(last), None);
        a.retire_through(s2);
        last = n2;
    }
}

#[test]
fn a_tagged_ring_hands_out_and_takes_only_its_marks() {
    const RECV: u64 = 1 << 63;
    const SRQ: u64 = 1 << 62;
    let mut rq = Ring::new(4, RECV);
    rq.set_open(true);
    let mut sq = open(4);
    let n = stage(&mut rq, 0, 5);
    rq.commit(1);
    let m = stage(&mut sq, 0, 6);
    sq.commit(1);
    assert_eq!(
        n & (RECV | SRQ),
        RECV,
        "a receive nonce carries the receive mark"
    );
    assert_eq!(m & (RECV | SRQ), 0, "a send nonce carries none");
    // The same nonce with its mark taken off, another added, or the other queue's: none
    // is this receive.
    for bad in [n & !RECV, n | SRQ, m, m | RECV, m | RECV | SRQ] {
        assert_eq!(rq.seq_of(bad), None, "{bad:#x}");
    }
    for bad in [n, n & !RECV, m | SRQ] {
        assert_eq!(sq.seq_of(bad), None, "{bad:#x}");
    }
    // Across blocks too: the new block's nonces carry the mark.
    for i in 0..rq.block_len * 2 {
        let n = stage(&mut rq, 0, i);
        rq.commit(1);
        assert_eq!(n & (RECV | SRQ), RECV);
        assert_eq!(rq.retire_through(rq.seq_of(n).expect("outstanding")).0, i);
    }
}

/// Posts and retires single entries until the head is at `seq`.
fn advance_to(r: &mut Ring, seq: u64) {
    while r.seq_at(0) < seq {
        stage(r, 0, 0);
        r.commit(1);
        r.retire_through(r.seq_at(0) - 1);
    }
}

#[test]
fn a_batch_near_the_end_of_a_block_stays_in_it() {
    let mut r = open(4);
    let (first, end) = (r.cur, r.cur_end());
    // The last head from which a whole queue's worth still fits the block.
    advance_to(&mut r, end - 5);
    let nonces: Vec<u64> = (0..4).map(|k| stage(&mut r, k, k as u64)).collect();
    assert_eq!(
        r.cur.nonce, first.nonce,
        "no new block for a post's later requests"
    );
    assert_eq!(nonces[0], first.nonce + (end - 5 - first.seq));
    assert!(nonces.windows(2).all(|w| w[1] == w[0] + 1));
    r.commit(4);
    for (k, &n) in nonces.iter().enumerate() {
        assert_eq!(r.seq_of(n), Some(end - 5 + k as u64));
    }
    // Three complete; the next post's first request starts a new block, at the head.
    r.retire_through(end - 3);
    let n = stage(&mut r, 0, 9);
    assert_ne!(r.cur.nonce, first.nonce);
    assert_eq!((r.cur.seq, n), (end - 1, r.cur.nonce));
    r.commit(1);
    assert_eq!(r.seq_of(n), Some(end - 1));
    assert_eq!(
        r.seq_of(nonces[3]),
        Some(end - 2),
        "the previous block still resolves"
    );
    assert_eq!(r.seq_of(nonces[2]), None, "retired");
    r.retire_through(end - 1);
    assert!(nonces.iter().all(|&n| r.seq_of(n).is_none()));
}

#[test]
fn a_run_of_n_stages_what_n_single_stages_would_across_the_wrap() {
    let mut r = open(8);
    // Head at slot 6 of 8: five requests take slots 6, 7, 0, 1, 2.
    advance_to(&mut r, 14);
    assert!(r.has_room(0, 5));
    let mut got = Vec::new();
    r.stage_run_n(5, 100, |k, nonce| got.push((k, nonce)));
    assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
    assert!(got.windows(2).all(|w| w[1].1 == w[0].1 + 1));
    r.commit(5);
    for (k, nonce) in got {
        let seq = r.seq_of(nonce).expect("outstanding");
        assert_eq!(seq, 14 + k as u64);
        let (id, buf) = r.retire_through(seq);
        assert_eq!(id, 100 + k as u64);
        assert!(buf.is_none());
    }
    assert_eq!(r.outstanding(), 0);
    // And one run request stages as `stage` would.
    assert!(r.has_room_for_one());
    let nonce = r.stage_run(7);
    r.commit(1);
    assert_eq!(r.retire_through(r.seq_of(nonce).unwrap()).0, 7);
}

#[test]
fn staged_entries_given_up_need_no_undoing() {
    let mut r = open(4);
    let end = r.cur_end();
    advance_to(&mut r, end - 4);
    // A post that starts a new block and is then given up (a failed post, a batch
    // dropped): the block stays, and the next post stages over its entries with the same
    // nonces.
    let given_up: Vec<u64> = (0..3).map(|k| stage(&mut r, k, k as u64)).collect();
    let block = r.cur;
    assert_eq!(block.seq, end - 4, "the new block starts at the head");
    let again: Vec<u64> = (0..2).map(|k| stage(&mut r, k, 10 + k as u64)).collect();
    assert_eq!(r.cur.nonce, block.nonce);
    assert_eq!(again[..], given_up[..2]);
    r.commit(2);
    assert_eq!(r.seq_of(given_up[2]), None, "never posted");
    assert_eq!(r.retire_through(r.seq_of(again[1]).unwrap()).0, 11);
    // An owned buffer left by a request given up is dropped when its slot is staged again
    // (there is none here: the ring's own test has no memory regions); the entry is
    // overwritten like any other.
    assert_eq!(r.outstanding(), 0);
}

#[test]
fn the_invariant_check_sees_a_broken_ring() {
    let mut r = open(4);
    stage(&mut r, 0, 1);
    r.commit(1);
    assert_eq!(r.check_invariants(), Ok(()));
    let mut bad = open(4);
    bad.end += 1;
    assert!(bad.check_invariants().unwrap_err().contains("end is min"));
    let mut bad = open(4);
    bad.tail = bad.head + 1;
    assert!(bad.check_invariants().unwrap_err().contains("tail <= head"));
    let mut bad = open(4);
    stage(&mut bad, 0, 1);
    bad.commit(1);
    bad.slots[(bad.tail & bad.mask) as usize].held = Held::Owned;
    assert!(bad
        .check_invariants()
        .unwrap_err()
        .contains("Owned entry holds its buffer"));
}
