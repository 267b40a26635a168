//! Output helpers: the error and output lines, printed as the C tool prints them.

use std::io;
use std::time::Duration;

use rdma_exchange::PingpongDest;
use rdma_verbs::Gid;

/// A failure whose message has been printed: exit status 1.
pub(crate) struct Failed;

/// Prints lines to stderr and fails.
macro_rules! fail {
    ($($line:expr),+ $(,)?) => {{
        use ::std::io::Write as _;
        let mut err = ::std::io::stderr().lock();
        $( let _ = writeln!(err, "{}", $line); )+
        $crate::output::Failed
    }};
}
pub(crate) use fail;

/// Prints one line to stdout, ignoring a closed stdout (as C's printf does).
macro_rules! out {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _ = writeln!(::std::io::stdout().lock(), $($arg)*);
    }};
}
pub(crate) use out;

/// `strerror`-like text of an I/O error (without Rust's " (os error N)" suffix).
pub(crate) fn strerror(e: &io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(at) => s[..at].to_string(),
        None => s,
    }
}

/// `%.2f` as glibc prints it (Rust already rounds exact ties to even; x86's 0/0 is `-nan`).
pub(crate) fn f2(x: f64) -> String {
    if x.is_nan() {
        "-nan".to_string()
    } else {
        format!("{x:.2}")
    }
}

/// `inet_ntop(AF_INET6)` as glibc writes it: like Rust's `Ipv6Addr` display, except that
/// glibc also writes IPv4-compatible addresses (`::a.b.c.d`) in dotted form.
pub(crate) fn ntop(gid: &Gid) -> String {
    let b = gid.0;
    if b[..12] == [0; 12] && b[12..14] != [0, 0] {
        return format!("::{}.{}.{}.{}", b[12], b[13], b[14], b[15]);
    }
    gid.to_string()
}

/// Prints an address line (`  local address:  LID 0x..., QPN ..., PSN ..., GID ...`).
pub(crate) fn address_line(which: &str, d: &PingpongDest) {
    out!(
        "  {which} LID 0x{:04x}, QPN 0x{:06x}, PSN 0x{:06x}, GID {}",
        d.lid,
        d.qpn,
        d.psn,
        ntop(&d.gid)
    );
}

/// Prints the two statistics lines of `iters` exchanges of `size` bytes that took `elapsed`,
/// computed and rounded as the C tools do (integer microseconds held in a float).
pub(crate) fn stats_lines(size: u32, iters: u32, elapsed: Duration) {
    let usec = elapsed.as_micros() as i64 as f32;
    let bytes = i64::from(size) * i64::from(iters) * 2;
    let secs = f2(f64::from(usec) / 1_000_000.0);
    out!(
        "{bytes} bytes in {secs} seconds = {} Mbit/sec",
        f2(bytes as f64 * 8.0 / f64::from(usec))
    );
    out!(
        "{} iters in {secs} seconds = {} usec/iter",
        iters as i32,
        f2(f64::from(usec / iters as f32))
    );
}
