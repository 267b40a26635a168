//! The server: listens, accepts one client (or, with `-P`, every client, served
//! concurrently) and answers its pings.

use std::time::Duration;

use rdma_examples::rping::{text_of, RdmaInfo};
use rdma_verbs::cm::{ConnParam, ConnectRequest, Listener};
use rdma_verbs::{Access, RemoteBuf};

use crate::args::Args;
use crate::output::{say, Doing, Failure};
use crate::session::{Session, Want};
use crate::setup::{create, data_buf, recv_buf, Verbs};

/// The listen backlog (the C tool's).
const BACKLOG: u16 = 3;
/// How long one wait for a client lasts before the next (a server waits without limit).
const LISTEN_ROUND: Duration = Duration::from_secs(3600);

/// Runs the server side.
pub(crate) async fn server(args: &Args) -> Result<(), Failure> {
    let addr = args.server_addr().map_err(Failure)?;
    let mut listener = Listener::bind(addr, BACKLOG).doing(&format!("listening on {addr}"))?;
    if args.debug > 0 {
        say!("rdma_bind_addr successful");
        say!("rdma_listen");
    }
    loop {
        let request = match listener.get_request_async(LISTEN_ROUND).await {
            Ok(r) => r,
            Err(e)
                if matches!(
                    e.cm_kind(),
                    Some(rdma_verbs::cm::CmErrorKind::Timeout { .. })
                ) =>
            {
                continue
            }
            Err(e) => return Err(Failure(format!("waiting for a client: {e}"))),
        };
        if !args.persistent {
            return serve(args, request).await;
        }
        let args = args.clone();
        tokio::task::spawn_local(async move {
            let peer = request.peer_addr();
            if let Err(e) = serve(&args, request).await {
                eprintln!("rping: connection from {}: {e}", show(peer));
            }
        });
    }
}

/// Serves one client until it disconnects (`rping_test_server`).
async fn serve(args: &Args, request: ConnectRequest) -> Result<(), Failure> {
    let step = Duration::from_secs(args.timeout);
    let peer = show(request.peer_addr());
    if args.debug > 0 {
        say!("connect request from {peer}");
    }
    let ctx = request.context()?;
    let Verbs { pd, cq, mut qp } = create(&ctx)?;
    let mut buf = data_buf(&pd, args.size, Access::LOCAL_WRITE)?;
    request.init_qp(&mut qp)?;
    Session::post_recv(&mut qp, recv_buf(&pd)?)?;
    let conn = request
        .accept_async(qp, &ConnParam::default(), step)
        .await
        .doing(&format!("accepting {peer}"))?;
    let (qp, id) = conn.into_parts();
    let mut s = Session::new(qp, cq, id, step, args.debug > 0);
    s.debug(format_args!("accepted {peer}"));
    let go_ahead = RdmaInfo {
        addr: 0,
        rkey: 0,
        size: 0,
    };
    loop {
        // The client's start buffer.
        let Some(src) = s.message().await? else {
            break;
        };
        if src.size as usize > buf.len() {
            return Err(Failure(format!(
                "the client's ping data is {} bytes, more than this server's -S {}",
                src.size,
                buf.len()
            )));
        }
        s.debug(format_args!(
            "Received rkey {:x} addr {:x} len {} from peer",
            src.rkey, src.addr, src.size
        ));
        s.read(buf, remote(src, src.size))?;
        s.debug(format_args!("server posted rdma read req"));
        let mine = transfer(&mut s, Want::Read).await?;
        let text = text_of(mine.as_slice().unwrap_or_default());
        if args.verbose > 0 {
            say!("server ping data: {text}");
        }
        s.send(&go_ahead)?;
        s.debug(format_args!("server posted go ahead"));
        // The client's sink: the string read, with its NUL, goes back.
        let dst = s.message().await?.ok_or_else(mid_ping)?;
        let len = (text.len() as u32 + 1).min(src.size).min(dst.size);
        s.debug(format_args!(
            "rdma write of {len} bytes to addr {:x} rkey {:x}",
            dst.addr, dst.rkey
        ));
        s.write(mine, remote(dst, len))?;
        buf = transfer(&mut s, Want::Write).await?;
        s.send(&go_ahead)?;
        s.debug(format_args!("server posted go ahead"));
    }
    eprintln!("server DISCONNECT EVENT...");
    Ok(())
}

/// Waits for this side's RDMA READ or WRITE and takes its buffer back.
async fn transfer(s: &mut Session, want: Want) -> Result<rdma_verbs::MemoryRegion, Failure> {
    s.transfer(want).await?.ok_or_else(mid_ping)
}

fn mid_ping() -> Failure {
    Failure("the client disconnected in mid-ping".into())
}

/// `len` bytes of the peer's buffer.
fn remote(info: RdmaInfo, len: u32) -> RemoteBuf {
    RemoteBuf {
        addr: info.addr,
        rkey: info.rkey,
        len: len as u64,
    }
}

fn show(addr: Option<std::net::SocketAddr>) -> String {
    addr.map_or_else(|| "an unknown address".into(), |a| a.to_string())
}
