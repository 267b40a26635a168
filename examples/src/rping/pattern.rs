//! The ping data the C client writes, byte for byte: `"rdma-ping-%d: "` followed by letters
//! `A`..`z` cycling from a start letter that moves on by one per ping, NUL-terminated.

/// The smallest `-S` the C tool accepts: `sizeof("INT_MAX") + sizeof("rdma-ping-%d: ")`, as
/// its `stringify(INT_MAX)` expands.
pub const MIN_SIZE: u32 = 23;
/// The largest `-S` the C tool accepts (`RPING_BUFSIZE - 1`).
pub const MAX_SIZE: u32 = 64 * 1024 - 1;
/// The start letter of the first ping.
pub const FIRST_START: u8 = b'A';
const LAST_LETTER: u8 = b'z';

/// The start letter of the ping after one that started at `start`.
pub fn next_start(start: u8) -> u8 {
    if start >= LAST_LETTER {
        FIRST_START
    } else {
        start + 1
    }
}

/// Fills `buf` as the C client does for ping number `ping` with start letter `start`
/// (`snprintf` of the prefix, then the letters, then a NUL in the last byte).
pub fn fill_ping(buf: &mut [u8], ping: i32, start: u8) {
    let Some(last) = buf.len().checked_sub(1) else {
        return;
    };
    let prefix = format!("rdma-ping-{ping}: ");
    // snprintf writes at most len-1 characters and a NUL, and returns the full length.
    let copied = prefix.len().min(last);
    buf[..copied].copy_from_slice(&prefix.as_bytes()[..copied]);
    buf[copied] = 0;
    let mut c = start;
    for b in buf.iter_mut().skip(prefix.len()) {
        *b = c;
        c = if c >= LAST_LETTER { FIRST_START } else { c + 1 };
    }
    buf[last] = 0;
}

/// The text of a ping buffer as the C tool prints it with `%s`: up to the first NUL.
pub fn text_of(buf: &[u8]) -> String {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_text_as_the_c_client() {
        // What `rping -c -v -S 40` printed in the VM for its first two pings.
        let mut buf = [0xffu8; 40];
        fill_ping(&mut buf, 0, FIRST_START);
        assert_eq!(text_of(&buf), "rdma-ping-0: ABCDEFGHIJKLMNOPQRSTUVWXYZ");
        assert_eq!(buf[39], 0);
        fill_ping(&mut buf, 1, next_start(FIRST_START));
        assert_eq!(text_of(&buf), "rdma-ping-1: BCDEFGHIJKLMNOPQRSTUVWXYZ[");
    }

    #[test]
    fn letters_wrap_from_z_to_a() {
        let mut buf = [0u8; 80];
        fill_ping(&mut buf, 7, b'y');
        assert_eq!(&buf[13..17], b"yzAB");
        assert_eq!(next_start(b'z'), b'A');
        assert_eq!(next_start(b'A'), b'B');
    }

    #[test]
    fn short_buffers_hold_a_truncated_prefix() {
        let mut buf = [0xffu8; 8];
        fill_ping(&mut buf, 123, FIRST_START);
        assert_eq!(&buf, b"rdma-pi\0");
        fill_ping(&mut [], 0, FIRST_START);
        let mut one = [0xffu8; 1];
        fill_ping(&mut one, 0, FIRST_START);
        assert_eq!(one, [0]);
    }

    #[test]
    fn the_whole_smallest_buffer_is_text() {
        let mut buf = vec![0u8; MIN_SIZE as usize];
        fill_ping(&mut buf, i32::MAX, FIRST_START);
        assert_eq!(text_of(&buf), "rdma-ping-2147483647: ");
    }
}
