//! `rdma-scale`: how the cost of RC queue pairs grows with their number.
//!
//! `rdma-scale connect --qps N --via tcp|cm [HOST]` creates N RC QPs (each with its own CQ)
//! and connects them to a peer running the same command without HOST: over one TCP
//! connection carrying `RDMA-EP/1` lines (`rdma_exchange`) and then RTR/RTS by hand, or with
//! one rdma_cm connection per QP. It prints one JSON line (`rdma_bench::scale::record::
//! ConnectPoint`): the seconds to create them all, to exchange the endpoints (tcp), to
//! connect them all and to destroy them all; the resident set before, after creating and after
//! connecting, VmHWM; open descriptors. Every wait for the peer is bounded by `--timeout`.
//!
//! `rdma-scale report RESULTS --out DIR --date DATE` renders the results file of
//! scripts/scale-curves as markdown tables and SVG figures (`rdma_bench::scale`).
//!
//! Errors: `rdma-scale: <what went wrong>` on stderr, exit status 1 (2 for a bad command
//! line). There is no `unsafe` code.

#![forbid(unsafe_code)]

mod args;
mod cm;
mod memory;
mod tcp;

use std::fmt::Display;
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use rdma_bench::scale::record::{ConnectPoint, Role, Via};
use rdma_verbs::gid::Gid;
use rdma_verbs::{CompletionQueue, Context, Mtu, ProtectionDomain, QpCaps, QueuePair};

use crate::args::{Cli, Command, ConnectArgs};

/// A one-line error for the user.
#[derive(Debug)]
pub(crate) struct Failure(pub(crate) String);

impl Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Adds what was being done to any error.
pub(crate) trait Doing<T> {
    /// The error as `what: error`.
    fn doing(self, what: impl Display) -> Result<T, Failure>;
}

impl<T, E: Display> Doing<T> for Result<T, E> {
    fn doing(self, what: impl Display) -> Result<T, Failure> {
        self.map_err(|e| Failure(format!("{what}: {e}")))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let done = match cli.command {
        Command::Connect(a) => connect(&a),
        Command::Report(a) => rdma_bench::scale::write_report(&a.results, &a.out, &a.date)
            .map(|files| {
                for f in files {
                    println!("wrote {}", f.display());
                }
            })
            .map_err(|e| Failure(e.to_string())),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr().lock(), "rdma-scale: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The opened device and port, and what the QPs share.
pub(crate) struct Device {
    pub(crate) ctx: Context,
    pub(crate) pd: ProtectionDomain,
    pub(crate) port: u8,
    pub(crate) lid: u16,
    pub(crate) gid_index: Option<u32>,
    pub(crate) gid: Gid,
    pub(crate) mtu: Mtu,
}

fn open(a: &ConnectArgs) -> Result<Device, Failure> {
    let ctx = Context::open(a.ib_dev.as_deref()).doing("opening the RDMA device")?;
    let name = ctx.name().to_string();
    let attr = ctx
        .active_port(a.ib_port)
        .doing(format!("port {} of {name}", a.ib_port))?;
    let mtu = attr
        .active_mtu()
        .ok_or_else(|| Failure(format!("port {} of {name} has no valid MTU", a.ib_port)))?;
    let gid_index = match a.gid_index {
        Some(i) => Some(i),
        None => ctx
            .default_gid_index(a.ib_port)
            .doing(format!("choosing a GID index on {name}"))?,
    };
    let gid = match gid_index {
        Some(i) => ctx
            .query_gid(a.ib_port, i)
            .doing(format!("GID {i} of {name} port {}", a.ib_port))?,
        None => Gid::ZERO,
    };
    let max_qp = ctx.query_device().doing("querying the device")?.max_qp();
    if a.qps > max_qp {
        return Err(Failure(format!(
            "{name} allows at most {max_qp} QPs (max_qp), {} asked for",
            a.qps
        )));
    }
    Ok(Device {
        pd: ProtectionDomain::new(&ctx).doing("allocating a protection domain")?,
        ctx,
        port: a.ib_port,
        lid: attr.lid(),
        gid_index,
        gid,
        mtu,
    })
}

/// One QP and the CQ it sends and receives on.
pub(crate) struct Made {
    pub(crate) qp: QueuePair,
    _cq: CompletionQueue,
}

impl Made {
    /// Splits it into the QP and something that keeps the CQ alive.
    pub(crate) fn into_parts(self) -> (QueuePair, CompletionQueue) {
        (self.qp, self._cq)
    }
}

/// An RC QP of `depth` sends and receives on `cq`.
pub(crate) fn new_qp(
    dev: &Device,
    cq: &CompletionQueue,
    depth: u32,
) -> Result<QueuePair, rdma_verbs::Error> {
    let caps = QpCaps {
        max_send_wr: depth,
        max_recv_wr: depth,
        ..QpCaps::default()
    };
    QueuePair::builder(&dev.pd, cq, cq).caps(caps).build()
}

fn create(dev: &Device, n: u32, depth: u32) -> Result<Vec<Made>, Failure> {
    (0..n)
        .map(|i| {
            let cq = CompletionQueue::new(&dev.ctx, 2 * depth)
                .doing(format!("creating CQ {i} ({} entries)", 2 * depth))?;
            let qp = new_qp(dev, &cq, depth).doing(format!("creating QP {i} of {n}"))?;
            Ok(Made { qp, _cq: cq })
        })
        .collect()
}

/// What the connected QPs need to stay connected (dropped to destroy them).
pub(crate) type Held = Box<dyn std::any::Any>;

fn connect(a: &ConnectArgs) -> Result<(), Failure> {
    let dev = open(a)?;
    let timeout = Duration::from_secs(a.timeout);
    let start = memory::rss()?;
    let t = Instant::now();
    let made = create(&dev, a.qps, a.depth)?;
    let create_s = t.elapsed().as_secs_f64();
    let created = memory::rss()?;
    let via: Via = a.via.into();
    let role = if a.host.is_some() {
        Role::Client
    } else {
        Role::Server
    };
    let (held, exchange_s, connect_s) = match (via, &a.host) {
        (Via::Tcp, None) => tcp::serve(&dev, made, a.port, timeout)?,
        (Via::Tcp, Some(h)) => tcp::connect(&dev, made, h, a.port, timeout)?,
        (Via::Cm, None) => cm::serve(made, a.port, timeout)?,
        (Via::Cm, Some(h)) => cm::connect(&dev, made, a.depth, h, a.port, timeout)?,
    };
    let connected = memory::rss()?;
    let fds = memory::fds()?;
    let t = Instant::now();
    drop(held);
    let destroy_s = t.elapsed().as_secs_f64();
    let end = memory::rss()?;
    let point = ConnectPoint {
        tool: "rdma-scale".into(),
        role,
        via,
        qps: a.qps,
        depth: a.depth,
        create_s,
        exchange_s,
        connect_s,
        destroy_s,
        rss_start_kib: start.rss_kib,
        rss_created_kib: created.rss_kib,
        rss_connected_kib: connected.rss_kib,
        hwm_kib: end.hwm_kib,
        fds,
    };
    let line = serde_json::to_string(&point).doing("writing the JSON line")?;
    println!("{line}");
    Ok(())
}
