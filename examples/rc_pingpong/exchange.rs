//! The TCP exchange of addresses (`pp_client_exch_dest`, `pp_server_exch_dest`) that
//! `ibv_rc_pingpong`, `ibv_uc_pingpong` and `ibv_ud_pingpong` share: one 52-byte
//! `LLLL:QQQQQQ:PPPPPP:<gid>` message each way, then `done` from the client. The server gets
//! its QP ready for the peer (`pp_connect_ctx`) before it answers; what that takes differs
//! between the tools, so the caller passes it in.

use std::time::Duration;

use rdma_exchange::{ExchangeError, OobListener, OobStream, PingpongDest, PINGPONG_MSG_LEN};

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

/// `pp_server_exch_dest`: reads the peer's address, runs `connect` on it (the C server's
/// `pp_connect_ctx`, printing `Couldn't connect to remote QP` after its own message when it
/// fails), then answers with `my` and reads `done`.
pub(crate) fn server_exchange<T>(
    o: &Opts,
    my: &PingpongDest,
    connect: impl FnOnce(&PingpongDest) -> Result<T, Failed>,
) -> Result<(T, PingpongDest), Failed> {
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
    let ready = connect(&rem).inspect_err(|_| {
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
    Ok((ready, rem))
}
