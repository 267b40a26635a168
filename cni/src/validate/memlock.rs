//! The locked-memory check: does RLIMIT_MEMLOCK let this process register what the self-test
//! (or an application) registers? Root usually holds CAP_IPC_LOCK, which makes the limit
//! irrelevant; the check says so rather than pretending the limit was tested.

use super::report::{bytes_text, Cause, Check};
use std::io;

/// Check name.
pub(crate) const NAME: &str = "memlock";

/// The fix for every memlock failure.
pub(crate) const FIX: &str = "raise the pod's memlock limit (the container runtime's memlock \
    ulimit, e.g. `--ulimit memlock=-1` or default_ulimits in containerd/CRI-O; `ulimit -l \
    unlimited` in a shell), or grant the container CAP_IPC_LOCK";

/// What governs memory pinning for the calling thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Memlock {
    /// The soft RLIMIT_MEMLOCK in bytes, `None` when unlimited.
    pub soft: Option<u64>,
    /// The thread's effective capabilities include CAP_IPC_LOCK.
    pub cap_ipc_lock: bool,
    /// Bytes this process has pinned already (`VmPin`), which count against the limit.
    pub pinned: u64,
}

const CAP_IPC_LOCK: u32 = 14;

impl Memlock {
    /// Reads the limit (`getrlimit`), the calling thread's capabilities and `VmPin`.
    pub(crate) fn current() -> io::Result<Memlock> {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit only writes the struct it is given, which lives on this frame.
        if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // Capabilities are per thread (the validation may run on a thread of its own).
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap_or_default();
        Ok(Memlock {
            soft: (lim.rlim_cur != libc::RLIM_INFINITY).then_some(lim.rlim_cur),
            cap_ipc_lock: cap_eff(&status).is_some_and(|c| c & (1 << CAP_IPC_LOCK) != 0),
            pinned: vm_pin(&status).unwrap_or(0),
        })
    }

    /// True when the limit can make a registration fail (finite, and no CAP_IPC_LOCK).
    pub(crate) fn applies(&self) -> bool {
        self.soft.is_some() && !self.cap_ipc_lock
    }

    /// The limit as text: `64 KiB`, `unlimited`.
    pub(crate) fn limit_text(&self) -> String {
        match self.soft {
            Some(n) => bytes_text(n),
            None => "unlimited".to_owned(),
        }
    }

    /// The check for registering `needed` more bytes.
    pub(crate) fn check(&self, needed: u64) -> Check {
        let need = bytes_text(needed);
        match self.soft {
            None => Check::pass(
                NAME,
                format!("RLIMIT_MEMLOCK is unlimited (the self-test registers {need})"),
            ),
            Some(limit) if self.cap_ipc_lock => Check::pass(
                NAME,
                format!(
                    "CAP_IPC_LOCK is held, so RLIMIT_MEMLOCK ({}) does not limit registrations \
                     (the self-test registers {need}; a pod without the capability is limited)",
                    bytes_text(limit)
                ),
            ),
            Some(limit) if limit.saturating_sub(self.pinned) >= needed => Check::pass(
                NAME,
                format!(
                    "RLIMIT_MEMLOCK is {} ({} pinned already), enough for the self-test's {need}",
                    bytes_text(limit),
                    bytes_text(self.pinned)
                ),
            ),
            Some(limit) => Check::fail(
                NAME,
                Cause::Memlock,
                format!(
                    "RLIMIT_MEMLOCK is {}{} without CAP_IPC_LOCK: registering the self-test's \
                     {need} needs more (and RDMA applications need far more)",
                    bytes_text(limit),
                    if self.pinned > 0 {
                        format!(" ({} pinned already)", bytes_text(self.pinned))
                    } else {
                        String::new()
                    }
                ),
                FIX,
            ),
        }
    }
}

/// `CapEff` of a `/proc/*/status` text.
pub(crate) fn cap_eff(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
}

/// `VmPin` of a `/proc/*/status` text, in bytes.
fn vm_pin(status: &str) -> Option<u64> {
    let v = status.lines().find_map(|l| l.strip_prefix("VmPin:"))?;
    let kib: u64 = v.trim().strip_suffix("kB")?.trim().parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::Outcome;

    #[test]
    fn status_fields_are_parsed() {
        let status = "Name:\tx\nVmPin:\t     128 kB\nCapEff:\t000001ffffffffff\n";
        assert_eq!(vm_pin(status), Some(128 * 1024));
        assert_eq!(cap_eff(status), Some(0x1ff_ffff_ffff));
        assert_eq!(cap_eff("CapEff:\t0000000000000000\n"), Some(0));
        assert_eq!(vm_pin("VmPin: x kB"), None);
        assert_eq!(cap_eff(""), None);
    }

    #[test]
    fn a_low_limit_without_the_capability_fails_with_the_fix() {
        let m = Memlock {
            soft: Some(64 * 1024),
            cap_ipc_lock: false,
            pinned: 0,
        };
        assert!(m.applies());
        let c = m.check(208 * 1024);
        assert_eq!(c.outcome, Outcome::Fail);
        assert_eq!(c.cause, Some(Cause::Memlock));
        let msg = c.message();
        assert!(
            msg.starts_with("RLIMIT_MEMLOCK is 64 KiB without CAP_IPC_LOCK: registering the self-test's 208 KiB needs more"),
            "{msg}"
        );
        assert!(msg.contains("raise the pod's memlock limit"), "{msg}");
    }

    #[test]
    fn pinned_memory_counts_against_the_limit() {
        let m = Memlock {
            soft: Some(256 * 1024),
            cap_ipc_lock: false,
            pinned: 128 * 1024,
        };
        assert_eq!(m.check(208 * 1024).outcome, Outcome::Fail);
        assert!(m
            .check(208 * 1024)
            .detail
            .contains("128 KiB pinned already"));
        assert_eq!(m.check(64 * 1024).outcome, Outcome::Pass);
    }

    #[test]
    fn unlimited_or_the_capability_pass_and_say_why() {
        let unlimited = Memlock {
            soft: None,
            cap_ipc_lock: false,
            pinned: 0,
        };
        assert!(!unlimited.applies());
        let c = unlimited.check(1 << 20);
        assert_eq!(c.outcome, Outcome::Pass);
        assert!(c.detail.contains("unlimited"), "{}", c.detail);
        let cap = Memlock {
            soft: Some(64 * 1024),
            cap_ipc_lock: true,
            pinned: 0,
        };
        assert!(!cap.applies());
        let c = cap.check(1 << 20);
        assert_eq!(c.outcome, Outcome::Pass);
        assert!(c.detail.contains("CAP_IPC_LOCK"), "{}", c.detail);
    }

    #[test]
    fn the_current_state_is_readable() {
        let m = Memlock::current().unwrap();
        assert_eq!(m.applies(), m.soft.is_some() && !m.cap_ipc_lock);
    }
}
