//! The program: the C tool's `main` after its getopt loop.

use std::process::ExitCode;

use rdma_exchange::PingpongDest;
use rdma_verbs::{Gid, LinkLayer, WorkCompletion};

use crate::args::{from_env, Opts};
use crate::device::open_device;
use crate::drive::drive;
use crate::exchange::{client_exchange, connect_all, server_exchange};
use crate::output::{address_line, fail, Failed};
use crate::pingpong::{Lane, Pingpong, RECV_WRID, SEND_WRID};
use crate::setup::{check_opts, setup, Setup};
use crate::sys::{page_size, random_psn};
use crate::variant::Variant;
use crate::watchdog::watchdog;

/// Runs the ping-pong the options ask for; every failure has been printed.
fn run(o: &Opts) -> Result<(), Failed> {
    let v = o.variant;
    let ctx = open_device(o)?;
    let Setup {
        cq,
        srq,
        qps,
        mut pieces,
        inline,
    } = setup(&ctx, o)?;
    pieces.reverse(); // post the pieces in address order (pop takes from the end)
    let mut pp = Pingpong {
        lanes: Vec::new(),
        srq,
        free: pieces,
        inline,
        rx_depth: o.rx_depth,
        iters: o.iters,
        routs: 0,
        rcnt: 0,
        scnt: 0,
        check: o.chk.then(|| (page_size(), Default::default())),
        progress: None,
    };
    let routs = pp.post_recv(o.rx_depth);
    pp.routs = i64::from(routs);
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
    if port.link_layer() != LinkLayer::Ethernet && port.lid() == 0 {
        return Err(fail!("Couldn't get local LID"));
    }
    let gid = match u32::try_from(o.gidx) {
        Ok(idx) => ctx.query_gid(o.ib_port, idx).map_err(|e| {
            fail!(
                format!("Could not get local gid for gid index {}", o.gidx),
                v.detail(&e)
            )
        })?,
        Err(_) => Gid::ZERO,
    };
    let my: Vec<PingpongDest> = qps
        .iter()
        .map(|qp| PingpongDest {
            lid: port.lid(),
            qpn: qp.qpn(),
            psn: random_psn(),
            gid,
        })
        .collect();
    for d in &my {
        address_line("local address: ", d);
    }

    let remote_lines = |rem: &[PingpongDest]| {
        for d in &rem[..my.len()] {
            address_line("remote address:", d);
        }
    };
    let qps = match &o.servername {
        Some(host) => {
            let rem = client_exchange(o, host, &my)?;
            remote_lines(&rem);
            connect_all(qps, o, &my, &rem)?
        }
        None => {
            let (qps, rem) = server_exchange(o, qps, &my)?;
            remote_lines(&rem);
            qps
        }
    };
    pp.lanes = qps
        .into_iter()
        .map(|qp| Lane {
            qp,
            pending: RECV_WRID,
            current: None,
        })
        .collect();
    if o.servername.is_some() {
        for i in 0..pp.lanes.len() {
            // A zeroed piece: the C client's buffer (its -c marks are zeros too).
            pp.lanes[i].current = pp.free.pop();
            if !pp.post_send(i) {
                return Err(fail!("Couldn't post send"));
            }
            pp.lanes[i].pending = SEND_WRID | RECV_WRID;
        }
    }
    if let Some(t) = o.timeout {
        pp.progress = Some(watchdog(v.name, t, o.iters));
    }

    let mut wcs = vec![WorkCompletion::default(); (o.num_qp + o.rx_depth) as usize];
    drive(v, o, &cq, &mut pp, &mut wcs)
}

/// The program's `main`: parses the command line, checks `-q` and `-r` as the C tool does,
/// runs, returns the C tool's exit status.
pub(crate) fn main(v: &'static Variant) -> ExitCode {
    let opts = match from_env(v) {
        Ok(o) => o,
        Err(code) => return code,
    };
    if let Err(msg) = check_opts(&opts) {
        let _ = fail!(msg);
        return ExitCode::from(1);
    }
    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failed) => ExitCode::from(1),
    }
}
