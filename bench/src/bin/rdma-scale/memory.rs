//! What the process holds: VmRSS and VmHWM from /proc/self/status, open descriptors from
//! /proc/self/fd.

use std::fs;

use crate::Failure;

/// `VmRSS` and `VmHWM`, in KiB.
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

/// The process's resident set now and at its highest.
pub(crate) fn rss() -> Result<Rss, Failure> {
    let status = fs::read_to_string("/proc/self/status")
        .map_err(|e| Failure(format!("cannot read /proc/self/status: {e}")))?;
    let get = |key| {
        field(&status, key).ok_or_else(|| Failure(format!("/proc/self/status has no {key} line")))
    };
    Ok(Rss {
        rss_kib: get("VmRSS")?,
        hwm_kib: get("VmHWM")?,
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
        assert!(r.rss_kib > 0 && r.hwm_kib >= r.rss_kib);
        let before = fds().unwrap();
        let f = fs::File::open("/proc/self/status").unwrap();
        assert_eq!(fds().unwrap(), before + 1);
        drop(f);
    }
}
