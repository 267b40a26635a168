//! Connecting to the peer: the TCP exchange of addresses (`pp_client_exch_dest`,
//! `pp_server_exch_dest`) and the QPs' moves to RTR and RTS (`pp_connect_ctx`).
//!
//! Whatever `-q` is, the C tool sends `MAX_QP` (256) address messages each way: one per QP,
//! then all-zero ones (`0000:000000:000000:` and 32 zeros) for the QPs it does not use. So
//! does this program, and it reads 256 from the peer, using the first `num_qp`.

use std::time::Duration;

use rdma_exchange::{ExchangeError, OobListener, OobStream, PingpongDest, PINGPONG_MSG_LEN};
use rdma_verbs::{ConnectOptions, Gid, QpState, QueuePair, RemoteQp};

use crate::args::Opts;
use crate::output::{fail, strerror, Failed};

/// `MAX_QP` of the C tool: the address messages sent and read each way.
pub(crate) const MAX_QP: usize = 256;

/// The message of a QP the tool does not use (`my_dest` is zeroed before it is filled).
const UNUSED: PingpongDest = PingpongDest {
    lid: 0,
    qpn: 0,
    psn: 0,
    gid: Gid::ZERO,
};

fn exchange_timeout(o: &Opts) -> Duration {
    o.timeout.unwrap_or(Duration::MAX)
}

/// The `MAX_QP` messages to send: ours (fewer than `MAX_QP`), then unused ones.
pub(crate) fn wire_dests(my: &[PingpongDest]) -> impl Iterator<Item = &PingpongDest> {
    my.iter().chain(std::iter::repeat(&UNUSED)).take(MAX_QP)
}

/// Bytes of a message that had arrived when reading it failed, as the C tool's `%d/52`.
fn received(e: &ExchangeError) -> i64 {
    match e {
        ExchangeError::PeerClosed { received, .. } | ExchangeError::Timeout { received, .. } => {
            *received as i64
        }
        ExchangeError::Parse { .. } => PINGPONG_MSG_LEN as i64,
        _ => -1,
    }
}

/// Reads the peer's `MAX_QP` messages; on failure, the index of the message and why.
pub(crate) fn recv_dests(s: &mut OobStream) -> Result<Vec<PingpongDest>, (usize, ExchangeError)> {
    (0..MAX_QP)
        .map(|i| s.recv_pingpong().map_err(|e| (i, e)))
        .collect()
}

/// What is printed when reading message `i` failed: `who` (`client` or `server`) prefixes
/// the first line, as the C tool's `perror`; the second is its `%d/%d: ... [%d]` line.
pub(crate) fn read_failure(who: &str, i: usize, e: &ExchangeError) -> [String; 2] {
    [
        format!("{who} read: {e}"),
        format!(
            "{}/{PINGPONG_MSG_LEN}: Couldn't read remote address [{i}]",
            received(e)
        ),
    ]
}

/// [`recv_dests`], printing [`read_failure`] on failure.
fn recv_dests_or_fail(s: &mut OobStream, who: &str) -> Result<Vec<PingpongDest>, Failed> {
    recv_dests(s).map_err(|(i, e)| {
        let [perror, line] = read_failure(who, i, &e);
        fail!(perror, line)
    })
}

/// Sends our `MAX_QP` messages.
fn send_dests(s: &mut OobStream, o: &Opts, my: &[PingpongDest]) -> Result<(), Failed> {
    for d in wire_dests(my) {
        s.send_pingpong(d)
            .map_err(|e| fail!("Couldn't send local address", o.variant.detail(&e)))?;
    }
    Ok(())
}

/// `pp_client_exch_dest`: the peer's addresses, `MAX_QP` of them.
pub(crate) fn client_exchange(
    o: &Opts,
    host: &str,
    my: &[PingpongDest],
) -> Result<Vec<PingpongDest>, Failed> {
    let mut s = match OobStream::connect(host, o.port, exchange_timeout(o)) {
        Ok(s) => s,
        Err(ExchangeError::Resolve { source, .. }) => {
            let msg = strerror(&source);
            let msg = msg
                .strip_prefix("failed to lookup address information: ")
                .unwrap_or(&msg);
            return Err(fail!(format!("{msg} for {host}:{}", o.port)));
        }
        Err(e) => {
            return Err(fail!(
                format!("Couldn't connect to {host}:{}", o.port),
                o.variant.detail(&e)
            ))
        }
    };
    send_dests(&mut s, o, my)?;
    let rem = recv_dests_or_fail(&mut s, "client")?;
    s.send_done()
        .map_err(|e| fail!(format!("client write: {e}")))?;
    Ok(rem)
}

/// `pp_connect_ctx`: each QP (in INIT) to RTR and RTS towards the peer's QP of the same index.
pub(crate) fn connect_all(
    qps: Vec<QueuePair>,
    o: &Opts,
    my: &[PingpongDest],
    rem: &[PingpongDest],
) -> Result<Vec<QueuePair>, Failed> {
    // The C tool takes the GRH decision and the GID from the first remote address for all QPs,
    // and adds a GRH only when that GID's interface id is not zero.
    let gid = rem.first().map(|d| d.gid).filter(|g| g.0[8..] != [0; 8]);
    qps.into_iter()
        .zip(my.iter().zip(rem))
        .enumerate()
        .map(|(i, (qp, (my, rem)))| {
            let remote = RemoteQp {
                qpn: rem.qpn,
                psn: rem.psn,
                lid: rem.lid,
                gid,
            };
            let opts = ConnectOptions {
                port: o.ib_port,
                gid_index: u32::try_from(o.gidx).ok(),
                mtu: o.mtu,
                psn: my.psn,
                sl: o.sl,
                // The rest are ibv_srq_pingpong's values, which are ConnectOptions' defaults:
                // no remote access, P_Key index 0, hop limit 1, timeout 14, retry 7, RNR retry
                // 7, RNR timer 12, one outstanding read each way.
                ..ConnectOptions::default()
            };
            qp.connect(&remote, &opts).map_err(|e| {
                let step = if e.qp.state() == QpState::Rtr {
                    "RTS"
                } else {
                    "RTR"
                };
                fail!(
                    format!("Failed to modify QP[{i}] to {step}"),
                    o.variant.detail(&e.error)
                )
            })
        })
        .collect()
}

/// `pp_server_exch_dest`: also connects the QPs before answering, as the C server does.
pub(crate) fn server_exchange(
    o: &Opts,
    qps: Vec<QueuePair>,
    my: &[PingpongDest],
) -> Result<(Vec<QueuePair>, Vec<PingpongDest>), Failed> {
    let listener = OobListener::bind(o.port).map_err(|e| {
        fail!(
            format!("Couldn't listen to port {}", o.port),
            o.variant.detail(&e)
        )
    })?;
    let accepted = listener.accept(exchange_timeout(o));
    drop(listener);
    let mut s = accepted.map_err(|e| fail!("accept() failed", o.variant.detail(&e)))?;
    let rem = recv_dests_or_fail(&mut s, "server")?;
    let qps = connect_all(qps, o, my, &rem).inspect_err(|_| {
        let _ = fail!("Couldn't connect to remote QP");
    })?;
    send_dests(&mut s, o, my)?;
    // The C server reads the 5 bytes of "done" and does not look at them; its message for a
    // failure says "client write".
    let mut done = [0u8; 5];
    s.recv_exact(&mut done)
        .map_err(|e| fail!(format!("client write: {e}")))?;
    Ok((qps, rem))
}
