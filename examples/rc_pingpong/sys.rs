//! What the C tool gets from libc: a random PSN and the page size.

use std::io::Read;

/// A random 24-bit PSN (the C tool's `lrand48() & 0xffffff`).
pub(crate) fn random_psn() -> u32 {
    let mut b = [0u8; 4];
    let ok = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_ok();
    if !ok {
        use std::hash::{BuildHasher, RandomState};
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        b = (RandomState::new().hash_one((std::process::id(), t)) as u32).to_ne_bytes();
    }
    u32::from_ne_bytes(b) & 0x00ff_ffff
}

/// The page size (`sysconf(_SC_PAGESIZE)`), from the auxiliary vector (AT_PAGESZ).
pub(crate) fn page_size() -> usize {
    const AT_PAGESZ: usize = 6;
    const W: usize = std::mem::size_of::<usize>();
    let Ok(auxv) = std::fs::read("/proc/self/auxv") else {
        return 4096;
    };
    let word = |c: &[u8]| usize::from_ne_bytes(c.try_into().expect("one word"));
    auxv.chunks_exact(2 * W)
        .find(|kv| word(&kv[..W]) == AT_PAGESZ)
        .map(|kv| word(&kv[W..]))
        .filter(|&p| p > 0)
        .unwrap_or(4096)
}
