//! The program: the C tool's `main` and `pp_init_ctx`, for either variant.

use std::process::ExitCode;

use rdma_exchange::PingpongDest;
use rdma_verbs::{
    Access, CompletionQueue, Gid, LinkLayer, MemoryRegion, PostApi, ProtectionDomain, QpCaps,
    QueuePair, WorkCompletion,
};

use crate::args::{from_env, Opts};
use crate::connect::connect_qp;
use crate::device::open_device;
use crate::drive::drive;
use crate::exchange::{client_exchange, server_exchange};
use crate::output::{address_line, fail, Failed};
use crate::pingpong::{post_recv, Pingpong, RECV_WRID, SEND_WRID};
use crate::sys::{page_size, random_psn};
use crate::variant::Variant;
use crate::watchdog::watchdog;

/// The byte the C tool fills its buffer with (`memset(buf, 0x7b, size)`).
const FILL: u8 = 0x7b;

/// Runs the ping-pong the options ask for; every failure has been printed.
fn run(o: &Opts) -> Result<(), Failed> {
    let v = o.variant;
    let page = page_size();
    let size = o.size as usize;

    let ctx = open_device(o)?;

    let mut cq = CompletionQueue::builder(&ctx, o.rx_depth + 1);
    if o.events {
        cq = cq.with_channel();
    }
    let cq = cq.build().map_err(|e| {
        if e.verb() == Some("ibv_create_comp_channel") {
            fail!("Couldn't create completion channel", v.detail(&e))
        } else {
            fail!("Couldn't create CQ", v.detail(&e))
        }
    })?;
    let pd =
        ProtectionDomain::new(&ctx).map_err(|e| fail!("Couldn't allocate PD", v.detail(&e)))?;
    let register = |len: usize| {
        let mut mr = MemoryRegion::new(&pd, len, Access::LOCAL_WRITE)
            .map_err(|e| fail!("Couldn't register MR", v.detail(&e)))?;
        if let Some(bytes) = mr.as_mut_slice() {
            bytes.fill(FILL);
        }
        Ok::<_, Failed>(mr)
    };
    // One piece per posted receive, plus the spare that the client's first message is sent
    // from (see the module documentation).
    let mr = register((o.rx_depth as usize + 1) * size)?;

    let mut qp = QueuePair::builder(&pd, &cq, &cq)
        .qp_type(v.qp_type)
        .post_api(if o.new_send {
            PostApi::Extended
        } else {
            PostApi::Classic
        })
        .caps(QpCaps {
            max_send_wr: 1,
            max_recv_wr: o.rx_depth,
            max_send_sge: 1,
            max_recv_sge: 1,
            max_inline_data: 0,
        })
        .build()
        .map_err(|e| fail!("Couldn't create QP", v.detail(&e)))?;
    // The C rule: inline when the QP's actual max_inline_data covers the message.
    let inline = qp.caps().max_inline_data >= o.size;
    qp.init(o.ib_port, 0, Access::NONE)
        .map_err(|e| fail!("Failed to modify QP to INIT", v.detail(&e)))?;

    let mut free = mr.chunks(size);
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
    if port.link_layer() != LinkLayer::Ethernet && port.lid() == 0 {
        return Err(fail!("Couldn't get local LID"));
    }
    let gid = match u32::try_from(o.gidx) {
        Ok(idx) => ctx
            .query_gid(o.ib_port, idx)
            .map_err(|e| fail!(format!("can't read sgid of index {}", o.gidx), v.detail(&e)))?,
        Err(_) => Gid::ZERO,
    };
    let my = PingpongDest {
        lid: port.lid(),
        qpn: qp.qpn(),
        psn: random_psn(),
        gid,
    };
    address_line("local address: ", &my);

    let qp = match &o.servername {
        Some(host) => {
            let rem = client_exchange(o, host, &my)?;
            address_line("remote address:", &rem);
            connect_qp(qp, o, my.psn, &rem)?
        }
        None => {
            let (qp, rem) = server_exchange(o, &my, |rem| connect_qp(qp, o, my.psn, rem))?;
            address_line("remote address:", &rem);
            qp
        }
    };

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

/// The program's `main` for the tool `v`: parses the command line, runs, returns the C tool's
/// exit status.
pub(crate) fn main(v: &'static Variant) -> ExitCode {
    let opts = match from_env(v) {
        Ok(o) => o,
        Err(code) => return code,
    };
    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failed) => ExitCode::from(1),
    }
}
