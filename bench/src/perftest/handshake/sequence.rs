//! The handshake sequences of each test: the keys exchanges up to the run, with the
//! caller's QP work where perftest does it, and the exchanges between and after the runs.

use std::time::Duration;

use super::error::{ChannelError, QpCountMismatch, SeqError};
use super::messages::Channel;
use crate::perftest::wire::{BwReportMsg, KeyMsg, WireError};
use crate::perftest::{PerfTest, Verb};

/// The keys exchanges from after the [preamble](Channel::preamble) up to the run,
/// for `test` (the read and atomic tests follow the write tests' sequences), with `mine` = one
/// [`KeyMsg`] per QP. `connect` is called once with the peer's keys (one per QP) at the
/// point where perftest connects its QPs (to RTR and, for a sender, RTS); the exchange
/// that follows it is perftest's "after RTR" handshake. Returns the peer's keys.
///
/// For the send tests, also call [`send_pre_run`] before each run (after the server
/// has posted its receives).
pub fn setup<E>(
    chan: &mut Channel,
    test: PerfTest,
    mine: &[KeyMsg],
    connect: impl FnOnce(&[KeyMsg]) -> Result<(), E>,
) -> Result<Vec<KeyMsg>, SeqError<E>> {
    let first = mine.first().ok_or_else(|| {
        ChannelError::from(WireError::Field {
            msg: "keys",
            field: "qps",
            problem: "no QP to exchange".to_string(),
        })
    })?;
    let mut remote = Vec::with_capacity(mine.len());
    match test.verb() {
        Verb::Write | Verb::Read | Verb::Atomic => {
            // 6.06 write tests: K×n, then K×n (perftest prints the remote keys
            // here), connect, then the "after RTR" K. The atomic tests exchange the same
            // keys as often; they connect after the first K×n, which the peer cannot tell.
            let mut earlier = Vec::with_capacity(mine.len());
            if !test.is_bw() {
                chan.exchange_keys(first)?;
            } else {
                for m in mine {
                    earlier.push(chan.exchange_keys(m)?);
                }
                distinct(&earlier)?;
            }
            for m in mine {
                remote.push(chan.exchange_keys(m)?);
            }
            distinct(&remote)?;
            for (again, k) in earlier.iter().zip(&remote) {
                due(k, again, mine.len())?;
            }
            connect(&remote).map_err(SeqError::Qp)?;
            if !test.is_bw() {
                // 6.06 ib_write_lat exchanges the keys once more per QP after
                // connecting (captured with strace: four 108-byte K with one QP).
                for m in mine {
                    chan.exchange_keys(m)?;
                }
            }
            due(&chan.exchange_keys(first)?, &remote[0], mine.len())?;
        }
        Verb::Send => {
            // Send tests: K×n, connect, the "after RTR" K, then K×n (printed).
            for m in mine {
                remote.push(chan.exchange_keys(m)?);
            }
            distinct(&remote)?;
            connect(&remote).map_err(SeqError::Qp)?;
            due(&chan.exchange_keys(first)?, &remote[0], mine.len())?;
            for (i, m) in mine.iter().enumerate() {
                remote[i] = chan.exchange_keys(m)?;
            }
        }
    }
    Ok(remote)
}

/// The peer's keys of this side's QP count must name as many QPs: perftest repeats its first
/// QP's keys in its sync exchanges, so a repeat means it has fewer QPs (`-q`).
fn distinct(theirs: &[KeyMsg]) -> Result<(), ChannelError> {
    match theirs.iter().skip(1).position(|k| k.qpn == theirs[0].qpn) {
        Some(i) => Err(ChannelError::QpCount(QpCountMismatch::Fewer {
            ours: theirs.len(),
            theirs: i + 1,
        })),
        None => Ok(()),
    }
}

/// A keys exchange where the peer's keys of `expected`'s QP are due: another QP there means
/// the peer has more QPs than this side's `ours`.
fn due(got: &KeyMsg, expected: &KeyMsg, ours: usize) -> Result<(), ChannelError> {
    if got.qpn == expected.qpn {
        return Ok(());
    }
    Err(ChannelError::QpCount(QpCountMismatch::More {
        ours,
        got: got.qpn,
        expected: expected.qpn,
    }))
}

/// Send tests: the keys exchange before each run (each message size with `-a`).
/// The server must have posted its receives before calling it: the client starts
/// sending as soon as it returns.
pub fn send_pre_run(chan: &mut Channel, mine: &KeyMsg) -> Result<(), ChannelError> {
    chan.exchange_keys(mine).map(|_| ())
}

/// `ib_send_bw -a`: the keys exchange after each size (`run_wait`: the deadline,
/// which must cover the peer's run).
pub fn send_bw_post_size(
    chan: &mut Channel,
    mine: &KeyMsg,
    run_wait: Duration,
) -> Result<(), ChannelError> {
    chan.exchange_keys_within(mine, run_wait).map(|_| ())
}

/// Unidirectional `ib_write_bw`, client, after its run(s): the keys exchange, the
/// BW report of the last size (the server prints it), the closing handshake. The
/// server's report is garbage in perftest 6.06 and is not returned.
pub fn write_bw_client_finish(
    mut chan: Channel,
    mine: &KeyMsg,
    report: &BwReportMsg,
) -> Result<(), ChannelError> {
    chan.exchange_keys(mine)?;
    chan.exchange_bw_report(report)?;
    chan.close_connection(mine)
}

/// Unidirectional `ib_write_bw`, server: waits (up to `run_wait`) for the client
/// to finish its run(s), takes its BW report (sending zeros for ours), closes.
/// Returns the client's report, which the server prints as its result row.
pub fn write_bw_server_finish(
    mut chan: Channel,
    mine: &KeyMsg,
    run_wait: Duration,
) -> Result<BwReportMsg, ChannelError> {
    chan.exchange_keys_within(mine, run_wait)?;
    let zeros = BwReportMsg {
        size: 0,
        iters: 0,
        bw_peak: 0.0,
        bw_avg: 0.0,
        msg_rate: 0.0,
    };
    let theirs = chan.exchange_bw_report(&zeros)?;
    chan.close_connection(mine)?;
    Ok(theirs)
}

/// Send tests, after the last run (`run_wait`: the deadline, which must cover the
/// peer's run): the closing handshake (`K D`).
pub fn send_finish(
    mut chan: Channel,
    mine: &KeyMsg,
    run_wait: Duration,
) -> Result<(), ChannelError> {
    chan.link_mut().set_timeout(run_wait);
    chan.close_connection(mine)
}
