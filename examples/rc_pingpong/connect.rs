//! Connecting to the peer: the TCP exchange of addresses (`pp_client_exch_dest`,
//! `pp_server_exch_dest`) and the QP's move to RTR and RTS (`pp_connect_ctx`).

use std::time::Duration;

use rdma_exchange::{ExchangeError, OobListener, OobStream, PingpongDest, PINGPONG_MSG_LEN};
use rdma_verbs::{ConnectOptions, QpState, QueuePair, RemoteQp};

use crate::args::Opts;
use crate::output::{fail, strerror, Failed};

fn exchange_timeout(o: &Opts) -> Duration {
    o.timeout.unwrap_or(Duration::MAX)
}

/// `pp_client_exch_dest`.
pub(crate) fn client_exchange(
    o: &Opts,
    host: &str,
    my: &PingpongDest,
) -> Result<PingpongDest, Failed> {
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
    if let Err(e) = s.send_pingpong(my) {
        return Err(fail!("Couldn't send local address", o.variant.detail(&e)));
    }
    match s
        .recv_pingpong()
        .and_then(|rem| s.send_done().map(|()| rem))
    {
        Ok(rem) => Ok(rem),
        Err(e) => Err(fail!(
            format!("client read/write: {e}"),
            "Couldn't read/write remote address"
        )),
    }
}

/// `pp_connect_ctx`: RTR and RTS towards `rem` (the QP is in INIT).
pub(crate) fn connect_qp(
    qp: QueuePair,
    o: &Opts,
    my_psn: u32,
    rem: &PingpongDest,
) -> Result<QueuePair, Failed> {
    let remote = RemoteQp {
        qpn: rem.qpn,
        psn: rem.psn,
        lid: rem.lid,
        // The C tool adds a GRH only when the remote GID's interface id is not zero.
        gid: (rem.gid.0[8..] != [0; 8]).then_some(rem.gid),
    };
    let opts = ConnectOptions {
        port: o.ib_port,
        gid_index: u32::try_from(o.gidx).ok(),
        mtu: o.mtu,
        psn: my_psn,
        sl: o.sl,
        // The rest are ibv_rc_pingpong's values, which are ConnectOptions' defaults: no remote
        // access, P_Key index 0, hop limit 1, timeout 14, retry 7, RNR retry 7, RNR timer 12,
        // one outstanding read each way. On a UC QP `connect` sets only what UC takes (as
        // ibv_uc_pingpong: no timeout, retries, RNR timer or reads).
        ..ConnectOptions::default()
    };
    qp.connect(&remote, &opts).map_err(|e| {
        let step = if e.qp.state() == QpState::Rtr {
            "RTS"
        } else {
            "RTR"
        };
        fail!(
            format!("Failed to modify QP to {step}"),
            o.variant.detail(&e.error)
        )
    })
}

/// `pp_server_exch_dest`: also connects the QP before answering, as the C server does.
pub(crate) fn server_exchange(
    o: &Opts,
    qp: QueuePair,
    my: &PingpongDest,
) -> Result<(QueuePair, PingpongDest), Failed> {
    let listener = OobListener::bind(o.port).map_err(|e| {
        fail!(
            format!("Couldn't listen to port {}", o.port),
            o.variant.detail(&e)
        )
    })?;
    let accepted = listener.accept(exchange_timeout(o));
    drop(listener);
    let mut s = accepted.map_err(|e| fail!("accept() failed", o.variant.detail(&e)))?;
    let rem = s.recv_pingpong().map_err(|e| {
        let n = match e {
            ExchangeError::PeerClosed { received, .. }
            | ExchangeError::Timeout { received, .. } => received as i64,
            ExchangeError::Parse { .. } => PINGPONG_MSG_LEN as i64,
            _ => -1,
        };
        fail!(
            format!("server read: {e}"),
            format!("{n}/52: Couldn't read remote address")
        )
    })?;
    let qp = connect_qp(qp, o, my.psn, &rem).inspect_err(|_| {
        let _ = fail!("Couldn't connect to remote QP");
    })?;
    // The C server reads 5 bytes and does not look at them.
    let mut done = [0u8; 5];
    if let Err(e) = s.send_pingpong(my).and_then(|()| s.recv_exact(&mut done)) {
        return Err(fail!(
            "Couldn't send/recv local address",
            o.variant.detail(&e)
        ));
    }
    Ok((qp, rem))
}
