//! The client: resolves the server, connects, and runs the pings.

use std::time::Duration;

use rdma_examples::rping::{fill_ping, next_start, text_of, RdmaInfo, FIRST_START};
use rdma_verbs::cm::{CmId, ConnParam};
use rdma_verbs::{Access, MemoryRegion};

use crate::args::Args;
use crate::output::{say, Doing, Failure};
use crate::session::Session;
use crate::setup::{create, data_buf, recv_buf, Verbs};

/// Address and route resolution timeout, as the C tool's (2000 ms each).
const RESOLVE_TIMEOUT: Duration = Duration::from_millis(2000);

/// Runs the client side; `Ok` when every ping (or, with `-C 0`, every ping until the server
/// closed the connection) went through.
pub(crate) async fn client(args: &Args) -> Result<(), Failure> {
    let (dst, src) = args.client_addrs().map_err(Failure)?;
    let step = Duration::from_secs(args.timeout);
    let mut id = CmId::new()?;
    id.resolve_addr_async(src, dst, RESOLVE_TIMEOUT)
        .await
        .doing(&format!("resolving {dst}"))?;
    id.resolve_route_async(RESOLVE_TIMEOUT)
        .await
        .doing(&format!("resolving the route to {dst}"))?;
    let ctx = id.context()?;
    let Verbs { pd, cq, mut qp } = create(&ctx)?;
    let mut start = data_buf(&pd, args.size, Access::LOCAL_WRITE | Access::REMOTE_READ)?;
    let sink = data_buf(&pd, args.size, Access::LOCAL_WRITE | Access::REMOTE_WRITE)?;
    id.init_qp(&mut qp)?;
    Session::post_recv(&mut qp, recv_buf(&pd)?)?;
    let conn = id
        .connect_async(qp, &ConnParam::default(), step)
        .await
        .doing(&format!("connecting to {dst}"))?;
    let (qp, id) = conn.into_parts();
    let mut s = Session::new(qp, cq, id, step, args.debug > 0);
    s.debug(format_args!("rdma_connect successful"));

    let outcome = pings(args, &mut s, &mut start, &sink).await;
    if s.is_closed() {
        eprintln!("client DISCONNECT EVENT...");
        return outcome;
    }
    let closed = s.disconnect().await;
    eprintln!("client DISCONNECT EVENT...");
    outcome.and(closed)
}

/// The ping loop (`rping_test_client`).
async fn pings(
    args: &Args,
    s: &mut Session,
    start: &mut MemoryRegion,
    sink: &MemoryRegion,
) -> Result<(), Failure> {
    let size = args.size as usize;
    let mut first = FIRST_START;
    let mut data = vec![0u8; size];
    let mut echoed = vec![0u8; size];
    let mut ping: i32 = 0;
    while args.count == 0 || (ping as u32) < args.count {
        fill_ping(&mut data, ping, first);
        first = next_start(first);
        start.write_at(0, &data);
        advertise(s, start, args.size)?;
        // The server reads the start buffer, then says go ahead.
        if !go_ahead(s, args, ping).await? {
            return Ok(());
        }
        advertise(s, sink, args.size)?;
        // The server writes the sink, then says go ahead.
        if !go_ahead(s, args, ping).await? {
            return Ok(());
        }
        sink.read_at(0, &mut echoed);
        if args.validate > 0 && echoed != data {
            let at = echoed
                .iter()
                .zip(&data)
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            return Err(Failure(format!(
                "data mismatch! ping {ping}: byte {at} came back as {:#04x}, sent {:#04x}",
                echoed[at], data[at]
            )));
        }
        if args.verbose > 0 {
            say!("ping data: {}", text_of(&echoed));
        }
        ping = ping.wrapping_add(1);
    }
    Ok(())
}

/// Waits for the server's "go ahead"; `false` when the server closed the connection, which
/// ends an endless run (`-C 0`) normally and a counted one with an error.
async fn go_ahead(s: &mut Session, args: &Args, ping: i32) -> Result<bool, Failure> {
    match s.message().await? {
        Some(_) => Ok(true),
        None if args.count == 0 => Ok(false),
        None => Err(Failure(format!(
            "the server closed the connection during ping {ping} of {}",
            args.count
        ))),
    }
}

/// Sends the message advertising `size` bytes of `buf`.
fn advertise(s: &mut Session, buf: &MemoryRegion, size: u32) -> Result<(), Failure> {
    let info = RdmaInfo {
        addr: buf.addr(),
        rkey: buf.rkey(),
        size,
    };
    s.debug(format_args!(
        "RDMA addr {:x} rkey {:x} len {}",
        info.addr, info.rkey, info.size
    ));
    s.send(&info)
}
