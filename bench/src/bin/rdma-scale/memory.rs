//! What the process holds: its resident set from /proc/self/smaps_rollup (counted from the
//! page tables when read; /proc/self/status' VmRSS lags by up to 64 pages per thread on
//! kernels before 6.2, which batch the counters), VmHWM from /proc/self/status, open
//! descriptors from /proc/self/fd.

use std::fs;

use crate::Failure;

/// The resident set (`Rss` of smaps_rollup) and `VmHWM`, in KiB.
pub(crate) struct Rss {
    pub(crate) rss_kib: u64,
    pub(crate) hwm_kib: u64,
}

/// The value in KiB of the line `key:   1234 kB` of a /proc status file.
fn field(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    let rest = line[key.len()..].strip_prefix(':')?;
    rest.trim().strip_suffix("kB")?.trim().parse().ok()
}

/// The line `key: N kB` of the /proc file `path`.
fn read_field(path: &str, key: &str) -> Result<u64, Failure> {
    let text = fs::read_to_string(path).map_err(|e| Failure(format!("cannot read {path}: {e}")))?;
    field(&text, key).ok_or_else(|| Failure(format!("{path} has no {key} line")))
}

/// The process's resident set now and at its highest.
pub(crate) fn rss() -> Result<Rss, Failure> {
    Ok(Rss {
        rss_kib: read_field("/proc/self/smaps_rollup", "Rss")?,
        hwm_kib: read_field("/proc/self/status", "VmHWM")?,
    })
}

/// The number of open file descriptors.
pub(crate) fn fds() -> Result<u32, Failure> {
    let dir = fs::read_dir("/proc/self/fd")
        .map_err(|e| Failure(format!("cannot read /proc/self/fd: {e}")))?;
    // The directory's own descriptor is among the entries while it is read.
    Ok((dir.count() as u32).saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_status_fields() {
        let s = "Name:\tx\nVmHWM:\t    5120 kB\nVmRSS:\t    4096 kB\nVmRSSx: 1 kB\n";
        assert_eq!(field(s, "VmRSS"), Some(4096));
        assert_eq!(field(s, "VmHWM"), Some(5120));
        assert_eq!(field(s, "VmSwap"), None);
        assert_eq!(field("VmRSS:\tlots kB\n", "VmRSS"), None);
        let r = rss().unwrap();
        assert!(r.rss_kib > 0 && r.hwm_kib > 0);
        let big = vec![1u8; 8 << 20];
        assert!(rss().unwrap().rss_kib >= r.rss_kib + 8000, "8 MiB touched");
        drop(big);
        let before = fds().unwrap();
        let f = fs::File::open("/proc/self/status").unwrap();
        assert_eq!(fds().unwrap(), before + 1);
        drop(f);
    }
}
