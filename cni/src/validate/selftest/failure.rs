//! What a failed self-test stage reports: [`Failure`] (cause, detail, fix), how verbs errors
//! map to causes (refused registrations are the memlock cause), and the byte patterns and their
//! comparison.

use crate::validate::memlock::{self, Memlock};
use crate::validate::report::{bytes_text, Cause, Check};

/// A failed stage: the cause and the fix.
#[derive(Debug)]
pub(super) struct Failure {
    pub(super) cause: Cause,
    pub(super) detail: String,
    pub(super) fix: String,
}

impl Failure {
    pub(super) fn new(cause: Cause, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Failure {
            cause,
            detail: detail.into(),
            fix: fix.into(),
        }
    }

    pub(super) fn into_check(self, name: &'static str) -> Check {
        Check::fail(name, self.cause, self.detail, self.fix)
    }
}

/// The deterministic pattern of operation `seed`: every operation's bytes differ from every
/// other's, so stale data from an earlier stage cannot pass a later comparison.
pub(super) fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| {
            let x = (i as u32).wrapping_mul(2_654_435_761) ^ (u32::from(seed) << 24);
            (x >> 13) as u8 ^ seed.wrapping_mul(0x9d)
        })
        .collect()
}

/// `got == want`, or a [`Cause::DataMismatch`] naming the first wrong byte.
pub(super) fn verify(stage: &str, got: &[u8], want: &[u8]) -> Result<(), Failure> {
    if got == want {
        return Ok(());
    }
    let fix = "the device delivered wrong data: check its firmware and driver (dmesg)";
    if got.len() != want.len() {
        return Err(Failure::new(
            Cause::DataMismatch,
            format!(
                "{stage}: {} bytes arrived, {} were sent",
                got.len(),
                want.len()
            ),
            fix,
        ));
    }
    let wrong = got.iter().zip(want).filter(|(g, w)| g != w).count();
    let (i, (g, w)) = got
        .iter()
        .zip(want)
        .enumerate()
        .find(|(_, (g, w))| g != w)
        .unwrap_or((0, (&0, &0)));
    Err(Failure::new(
        Cause::DataMismatch,
        format!(
            "{stage}: byte {i} is {g:#04x}, expected {w:#04x} ({wrong} of {} bytes differ)",
            want.len()
        ),
        fix,
    ))
}

/// A verbs call of the self-test failed: registrations refused for locked memory are the
/// memlock cause, the rest are resources.
pub(super) fn resource_failure(e: rdma_verbs::Error, doing: &str, dev: &str) -> Failure {
    let state = Memlock::current().ok();
    let limit = state.map_or_else(|| "unknown".to_owned(), |m| m.limit_text());
    let pinning = matches!(
        e.errno(),
        Some(libc::ENOMEM) | Some(libc::EPERM) | Some(libc::EAGAIN)
    );
    match e {
        rdma_verbs::Error::MemlockTooLow { len, .. } => Failure::new(
            Cause::Memlock,
            format!(
                "RLIMIT_MEMLOCK is {limit} without CAP_IPC_LOCK: registering {} ({doing}) for \
                 the self-test failed",
                bytes_text(len as u64)
            ),
            memlock::FIX,
        ),
        e if pinning && (e.verb() == Some("ibv_reg_mr") || state.is_some_and(|m| m.applies())) => {
            Failure::new(
                Cause::Memlock,
                format!(
                    "the kernel refused to pin memory for the self-test ({doing}: {e}); \
                     RLIMIT_MEMLOCK is {limit}{}",
                    if state.is_some_and(|m| m.cap_ipc_lock) {
                        " and CAP_IPC_LOCK is held"
                    } else {
                        " without CAP_IPC_LOCK"
                    }
                ),
                memlock::FIX,
            )
        }
        e => Failure::new(
            Cause::Resources,
            format!("{doing} on {dev} failed: {e}"),
            "the device is out of resources or its driver refused: check `rdma resource show` \
             and dmesg",
        ),
    }
}

/// The fix of a timeout.
pub(super) const TIMEOUT_FIX: &str =
    "the device does not complete work requests: check the port's link \
    (and, on InfiniBand, the subnet manager) and the driver (dmesg); or give the validation more \
    time (validation.timeoutMs, --budget-ms)";

/// A buffer that a completion should have handed back is missing (a bug).
pub(super) fn lost(stage: &str) -> Failure {
    Failure::new(
        Cause::Resources,
        format!("{stage}: a completion did not hand its buffer back"),
        "internal error of the self-test: report it",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::selftest::MESSAGE;

    #[test]
    fn patterns_differ_per_operation_and_cover_every_byte_value() {
        let p: Vec<Vec<u8>> = (1..=4).map(|s| pattern(MESSAGE, s)).collect();
        for i in 0..p.len() {
            for j in 0..i {
                let same = p[i].iter().zip(&p[j]).filter(|(a, b)| a == b).count();
                assert!(
                    same < MESSAGE / 64,
                    "patterns {i} and {j} share {same} bytes"
                );
            }
        }
        let mut seen = [false; 256];
        p[0].iter().for_each(|&b| seen[usize::from(b)] = true);
        assert!(seen.iter().all(|&s| s));
        assert_eq!(pattern(16, 1), pattern(16, 1));
    }

    #[test]
    fn verify_names_the_first_wrong_byte() {
        let want = pattern(100, 1);
        assert!(verify("send", &want, &want).is_ok());
        let mut got = want.clone();
        got[42] ^= 0xff;
        got[77] ^= 0x01;
        let f = verify("RDMA READ", &got, &want).unwrap_err();
        assert_eq!(f.cause, Cause::DataMismatch);
        assert!(
            f.detail.starts_with(&format!(
                "RDMA READ: byte 42 is {:#04x}, expected {:#04x} (2 of 100 bytes differ)",
                got[42], want[42]
            )),
            "{}",
            f.detail
        );
        let short = verify("send", &want[..10], &want).unwrap_err();
        assert!(short.detail.contains("10 bytes arrived, 100 were sent"));
    }

    #[test]
    fn refused_registrations_are_the_memlock_cause() {
        let f = resource_failure(
            rdma_verbs::Error::MemlockTooLow {
                len: MESSAGE,
                limit: "65536 bytes".into(),
            },
            "registering the send buffer",
            "rxe0",
        );
        assert_eq!(f.cause, Cause::Memlock);
        assert!(f.detail.contains("registering 64 KiB"), "{}", f.detail);
        assert_eq!(f.fix, memlock::FIX);
        let f = resource_failure(
            rdma_verbs::Error::Verb {
                verb: "ibv_reg_mr",
                source: std::io::Error::from_raw_os_error(libc::ENOMEM),
            },
            "registering the send buffer",
            "rxe0",
        );
        assert_eq!(f.cause, Cause::Memlock);
        assert!(f.detail.contains("refused to pin memory"), "{}", f.detail);
        let f = resource_failure(
            rdma_verbs::Error::Verb {
                verb: "ibv_create_qp",
                source: std::io::Error::from_raw_os_error(libc::EINVAL),
            },
            "creating an RC queue pair",
            "rxe0",
        );
        assert_eq!(f.cause, Cause::Resources);
        assert!(
            f.detail
                .starts_with("creating an RC queue pair on rxe0 failed: ibv_create_qp failed"),
            "{}",
            f.detail
        );
    }
}
