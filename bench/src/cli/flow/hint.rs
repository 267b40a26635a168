//! What a failed run most likely means. perftest 6.06 compares no options with its peer, so a
//! C peer started with another test, `-s` or `-q` shows up later as a completion error, a
//! stalled run or a report of other messages. Each error gets a hint naming the likely cause;
//! between two rdma-perf peers the options were compared before the run
//! ([`peer_check`](super::peer_check)), and only a vanished peer is hinted at.

use super::out::Res;
use rdma_bench::perftest::stats::BwResult;
use rdma_bench::run::RunError;
use rdma_verbs::{CompletionError, WcStatus};
use std::error::Error;

/// The error and its causes on one line, `: `-separated.
pub fn chain(e: &(dyn Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    msg
}

/// `e` with the hint that fits it, if one does (`c_peer`: the peer is C perftest).
pub fn explain(e: Box<dyn Error + Send + Sync>, c_peer: bool) -> Box<dyn Error + Send + Sync> {
    match hint(&*e, c_peer) {
        Some(h) => format!("{}\n hint: {h}", chain(&*e)).into(),
        None => e,
    }
}

/// The completion status of `e`, if it is a failed work request.
fn status(e: &(dyn Error + 'static)) -> Option<WcStatus> {
    if let Some(RunError::Completion(c)) = e.downcast_ref::<RunError>() {
        return Some(c.status);
    }
    e.downcast_ref::<CompletionError>().map(|c| c.status)
}

/// The hint for `e`.
fn hint(e: &(dyn Error + 'static), c_peer: bool) -> Option<&'static str> {
    const SAME: &str = "perftest compares no options with its peer: run both sides with the same test, -s (or -a), -q, -c and -n or -D";
    if let Some(s) = status(e) {
        return match s {
            WcStatus::RetryExceeded => Some(if c_peer {
                "the peer's QP stopped answering: it ended, or it runs with fewer QPs (-q) or another connection type (-c)"
            } else {
                "the peer's QP stopped answering: the peer ended or its device went away"
            }),
            _ if !c_peer => None,
            // rxe completes a receive too small for the message with a QP operation error.
            WcStatus::LocalLength | WcStatus::LocalQpOperation => Some(
                "the peer may send messages larger than this side's receive buffer: run both sides with the same -s (or both with -a)",
            ),
            WcStatus::RemoteAccess | WcStatus::RemoteInvalidRequest => Some(
                "the peer refused the access: its buffer is smaller than this side's messages, or it runs another test; run both sides with the same test and -s",
            ),
            WcStatus::RnrRetryExceeded => Some(
                "the peer posted no receive: it runs another test than a SEND test, or with a smaller -r",
            ),
            _ => None,
        };
    }
    match e.downcast_ref::<RunError>() {
        Some(RunError::Timeout { .. }) if c_peer => Some(SAME),
        _ => None,
    }
}

/// `-b`: this side's row plus the peer's report, which must be of the same message size (a
/// C peer started with another `-s` sends its own).
pub fn sum_reports(mine: BwResult, theirs: BwResult) -> Res<BwResult> {
    if theirs.size != mine.size {
        return Err(format!(
            "the peer's report is of {}-byte messages, this side's of {}: run both sides with the same -s (or both with -a)",
            theirs.size, mine.size
        )
        .into());
    }
    Ok(mine.plus(&theirs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn completion(status: WcStatus) -> Box<dyn Error + Send + Sync> {
        Box::new(RunError::Completion(CompletionError {
            status,
            wr_id: 3,
            qp_num: 17,
            vendor_err: 0,
        }))
    }

    fn row(size: u64) -> BwResult {
        BwResult {
            size,
            iters: 1000,
            bw_peak: 0.0,
            bw_avg: 10.0,
            msg_rate: 0.5,
        }
    }

    #[test]
    fn a_c_peers_length_error_names_the_size_option() {
        let m = explain(completion(WcStatus::LocalLength), true).to_string();
        assert!(m.contains("local length error"), "{m}");
        let qp_op = explain(completion(WcStatus::LocalQpOperation), true).to_string();
        assert!(
            qp_op.contains("\n hint: the peer may send messages larger"),
            "{qp_op}"
        );
        assert!(
            m.ends_with("run both sides with the same -s (or both with -a)"),
            "{m}"
        );
        // Between rdma-perf peers the sizes were compared: no hint.
        let m = explain(completion(WcStatus::LocalLength), false).to_string();
        assert!(!m.contains("hint"), "{m}");
    }

    #[test]
    fn retries_and_timeouts_get_their_causes() {
        let m = explain(completion(WcStatus::RetryExceeded), false).to_string();
        assert!(
            m.contains("\n hint: the peer's QP stopped answering"),
            "{m}"
        );
        let m = explain(completion(WcStatus::RemoteAccess), true).to_string();
        assert!(m.contains("its buffer is smaller"), "{m}");
        let timeout = || -> Box<dyn Error + Send + Sync> {
            Box::new(RunError::Timeout {
                what: "waiting for the peer's SENDs",
                iteration: 5,
                after: Duration::from_secs(3),
            })
        };
        let m = explain(timeout(), true).to_string();
        assert!(m.contains("perftest compares no options"), "{m}");
        assert!(!explain(timeout(), false).to_string().contains("hint"));
        let other: Box<dyn Error + Send + Sync> = "no device".into();
        assert_eq!(explain(other, true).to_string(), "no device");
    }

    #[test]
    fn reports_of_other_sizes_are_refused() {
        let sum = sum_reports(row(4096), row(4096)).unwrap();
        assert_eq!((sum.size, sum.bw_avg, sum.msg_rate), (4096, 20.0, 1.0));
        let e = sum_reports(row(4096), row(65536)).unwrap_err().to_string();
        assert_eq!(
            e,
            "the peer's report is of 65536-byte messages, this side's of 4096: run both sides with the same -s (or both with -a)"
        );
    }
}
