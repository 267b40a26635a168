//! The program: the C tool's `main`, from the resources to the statistics.

use std::process::ExitCode;

use rdma_exchange::PingpongDest;
use rdma_verbs::{Gid, WorkCompletion};

use crate::args::{from_env, Opts};
use crate::drive::drive;
use crate::exchange::{client_exchange, server_exchange};
use crate::output::{address_line, fail, ntop, out, Failed};
use crate::pingpong::{post_recv, Pingpong, RECV_WRID, SEND_WRID};
use crate::setup::{add_peer, init, Resources};
use crate::sys::{page_size, random_psn};
use crate::watchdog::watchdog;

/// The local address line: `ibv_ud_pingpong` writes `: GID` where the remote line (and the
/// other tools) write `, GID`.
pub(crate) fn local_line(d: &PingpongDest) -> String {
    format!(
        "  local address:  LID 0x{:04x}, QPN 0x{:06x}, PSN 0x{:06x}: GID {}",
        d.lid,
        d.qpn,
        d.psn,
        ntop(&d.gid)
    )
}

/// Runs the ping-pong the options ask for; every failure has been printed.
fn run(o: &Opts) -> Result<(), Failed> {
    let v = o.variant;
    let page = page_size();
    let size = o.size as usize;
    // The C tool draws the PSN after creating the QP and sets it on the move to RTS; the
    // crate's UD QP reaches RTS when built, so the PSN comes first.
    let psn = random_psn();
    let Resources {
        ctx,
        cq,
        pd,
        mut qp,
        pieces,
        inline,
    } = init(o, psn)?;

    let mut free = pieces;
    let mut current = free.pop().expect("rx_depth + 1 pieces");
    free.reverse(); // post the pieces in address order (pop takes from the end)
    let (routs, _) = post_recv(&mut qp, &mut free, o.rx_depth);
    if routs < o.rx_depth {
        return Err(fail!(format!("Couldn't post receive ({routs})")));
    }
    if o.events {
        cq.req_notify(false)
            .map_err(|e| fail!("Couldn't request CQ notification", v.detail(&e)))?;
    }
    let port = ctx
        .query_port(o.ib_port)
        .map_err(|e| fail!("Couldn't get port info", v.detail(&e)))?;
    let gid = match u32::try_from(o.gidx) {
        Ok(idx) => ctx.query_gid(o.ib_port, idx).map_err(|e| {
            fail!(
                format!("Could not get local gid for gid index {}", o.gidx),
                v.detail(&e)
            )
        })?,
        Err(_) => Gid::ZERO,
    };
    let my = PingpongDest {
        lid: port.lid(),
        qpn: qp.qpn(),
        psn,
        gid,
    };
    out!("{}", local_line(&my));

    let (peer, rem) = match &o.servername {
        Some(host) => {
            let rem = client_exchange(o, host, &my)?;
            address_line("remote address:", &rem);
            (add_peer(&mut qp, &pd, o, &rem)?, rem)
        }
        None => {
            let (peer, rem) = server_exchange(o, &my, |rem| add_peer(&mut qp, &pd, o, rem))?;
            address_line("remote address:", &rem);
            (peer, rem)
        }
    };
    debug_assert_eq!(qp.peer(peer).map(|(_, qpn, _)| qpn), Some(rem.qpn));

    let mut check = None;
    if o.servername.is_some() && o.chk {
        if let Some(bytes) = current.as_mut_slice() {
            for i in (0..size).step_by(page) {
                bytes[i] = 0; // i / page_size % sizeof(char)
            }
        }
    } else if o.chk {
        // Before any message arrives the buffer holds the 0x7b fill: every page is "invalid".
        check = Some((page, (0..size).step_by(page).map(|i| i / page).collect()));
    }
    let mut pp = Pingpong {
        qp,
        peer,
        size,
        free,
        current: Some(current),
        inline,
        rx_depth: o.rx_depth,
        iters: o.iters,
        routs: i64::from(routs),
        deficit: 0,
        rcnt: 0,
        scnt: 0,
        pending: RECV_WRID,
        check,
        progress: None,
    };
    if o.servername.is_some() {
        if !pp.post_send() {
            return Err(fail!("Couldn't post send"));
        }
        pp.pending |= SEND_WRID;
    }
    if let Some(t) = o.timeout {
        pp.progress = Some(watchdog(v.name, t, o.iters));
    }

    let mut wcs = [WorkCompletion::default(); 2];
    drive(v, o, &cq, &mut pp, &mut wcs)
}

/// The program's `main`: parses the command line, runs, returns the C tool's exit status.
pub(crate) fn main(v: &'static crate::variant::Variant) -> ExitCode {
    let opts = match from_env(v) {
        Ok(o) => o,
        Err(code) => return code,
    };
    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failed) => ExitCode::from(1),
    }
}
