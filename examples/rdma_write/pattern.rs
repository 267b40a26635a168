//! The data pattern the client writes and the server verifies.

/// The pattern's 64-bit word number `word` for `seed` (splitmix64 of both): every byte of the
/// buffer depends on its offset, so a chunk written to the wrong place is caught too.
fn pattern_word(seed: u64, word: u64) -> u64 {
    let mut x = seed
        .wrapping_mul(0xbf58_476d_1ce4_e5b9)
        .wrapping_add(word.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Fills `out` with the pattern bytes at offsets `start..start + out.len()`: byte `off` is byte
/// `off % 8` (little-endian) of word `off / 8`.
pub(crate) fn fill_pattern(seed: u64, start: u64, out: &mut [u8]) {
    // Bytes up to the next word boundary, then whole words, then the tail.
    let head = (start.wrapping_neg() % 8) as usize;
    let (first, rest) = out.split_at_mut(head.min(out.len()));
    for (off, byte) in (start..).zip(first.iter_mut()) {
        *byte = pattern_word(seed, off / 8).to_le_bytes()[(off % 8) as usize];
    }
    let mut word = (start + first.len() as u64) / 8;
    let mut words = rest.chunks_exact_mut(8);
    for chunk in &mut words {
        chunk.copy_from_slice(&pattern_word(seed, word).to_le_bytes());
        word += 1;
    }
    let tail = words.into_remainder();
    let bytes = pattern_word(seed, word).to_le_bytes();
    tail.copy_from_slice(&bytes[..tail.len()]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_at_any_offset_matches_the_whole_buffer() {
        let mut whole = vec![0u8; 100];
        fill_pattern(7, 0, &mut whole);
        for start in 0..20 {
            for len in 0..30 {
                let mut part = vec![0u8; len];
                fill_pattern(7, start as u64, &mut part);
                assert_eq!(part, whole[start..start + len], "start {start} len {len}");
            }
        }
        let mut other = vec![0u8; 100];
        fill_pattern(8, 0, &mut other);
        assert!(whole.iter().zip(&other).filter(|(a, b)| a == b).count() < 10);
        // Not periodic in the chunk sizes a user is likely to pick.
        assert_ne!(whole[..8], whole[8..16]);
    }
}
