//! One test, both roles: device resources, the perftest handshake, the measured loop,
//! the statistics and the report, in perftest 6.06's order.

use super::params::{Kind, Params};
use rdma::{
    Access, CompletionQueue, ConnectOptions, Context, Gid, LinkLayer, MemoryRegion,
    ProtectionDomain, QpCaps, QueuePair, RemoteBuf, RemoteQp,
};
use rdma_bench::perftest::channel::{
    setup, write_bw_client_finish, write_bw_server_finish, Channel, Preamble, Role, Test,
};
use rdma_bench::perftest::report::{
    address, banner, bw_header, bw_row, lat_header, lat_row, BannerInfo, BwResult, LatResult, Side,
    TestKind, Verb, RESULT_LINE, WAITING_FOR_CLIENT,
};
use rdma_bench::perftest::stats::{
    bandwidth, latency, BwInput, MAX_ITERS_WITH_PEAK, NS_TICKS_PER_USEC,
};
use rdma_bench::perftest::wire::{BwReportMsg, KeyMsg, Mtu as WireMtu};
use rdma_bench::run::{self, BwConfig, Clock, LatConfig, LatRole, LatSource};
use std::collections::hash_map::RandomState;
use std::error::Error;
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::time::Duration;

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// perftest's outstanding reads for non-read tests.
const OUT_READS: u16 = 1;

fn out(s: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(s.as_bytes());
    let _ = o.flush();
}

/// A random 24-bit PSN (perftest: `lrand48() & 0xffffff`).
fn random_psn() -> u32 {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    (h.finish() & 0xff_ffff) as u32
}

fn rdma_mtu(m: WireMtu) -> rdma::Mtu {
    rdma::Mtu::from_raw(m.as_enum()).expect("both enums are ibv_mtu 1..=5")
}

fn wire_mtu(m: rdma::Mtu) -> WireMtu {
    WireMtu::from_enum(m.to_raw()).expect("both enums are ibv_mtu 1..=5")
}

/// Runs the test described by `p`.
pub fn run(p: &Params) -> Res<()> {
    let role = if p.host.is_some() {
        Role::Client
    } else {
        Role::Server
    };
    // Device, port, GID.
    let ctx = Context::open(p.device.as_deref())?;
    let port_attr = ctx.active_port(p.ib_port)?;
    let gid_index = match p.gid_index {
        Some(i) => Some(i),
        None => ctx.default_gid_index(p.ib_port)?,
    };
    let gid = match gid_index {
        Some(i) => Some(ctx.query_gid(p.ib_port, i)?),
        None => None,
    };
    let local_mtu = match p.mtu {
        Some(b) => rdma::Mtu::from_bytes(b).ok_or("invalid MTU")?,
        None => port_attr
            .active_mtu()
            .ok_or("the port reports no active MTU")?,
    };
    let link_type = if port_attr.link_layer() == LinkLayer::Ethernet {
        "Ethernet"
    } else {
        "IB"
    };

    // Out-of-band connection and preamble.
    let mut chan = match &p.host {
        Some(host) => Channel::connect(host, p.port, p.timeout)?,
        None => {
            out(WAITING_FOR_CLIENT);
            Channel::accept(p.port, None, p.timeout)?
        }
    };
    let agreed = chan.preamble(&Preamble::local(wire_mtu(local_mtu)))?;

    let kind = match p.kind {
        Kind::WriteBw => TestKind::Bw,
        Kind::WriteLat => TestKind::Lat,
    };
    out(&banner(&BannerInfo {
        verb: Verb::Write,
        kind,
        role,
        duplex: false,
        post_list: 1,
        recv_post_list: 1,
        events: None,
        dual_port: false,
        device: ctx.name().to_string(),
        num_qps: 1,
        transport: "IB".into(),
        connection: "RC".into(),
        use_srq: false,
        pcie_relax_order: kind == TestKind::Bw,
        pcie_ro_warning: false,
        ibv_wr_api: false,
        tx_depth: p.tx_depth,
        rx_depth: 0,
        cq_mod: p.cq_mod,
        mtu_bytes: agreed.mtu.bytes(),
        link_type: link_type.into(),
        gid_index: gid_index.map(|i| i as i32),
        max_inline: 0,
        out_reads: u32::from(OUT_READS),
        rdma_cm: false,
    }));

    // Resources.
    let size = usize::try_from(p.size)?;
    let pd = ProtectionDomain::new(&ctx)?;
    let cq = CompletionQueue::new(&ctx, p.tx_depth.max(1))?;
    let qp = QueuePair::builder(&pd, &cq, &cq)
        .caps(QpCaps {
            max_send_wr: p.tx_depth.max(1),
            max_recv_wr: 1,
            max_send_sge: 1,
            max_recv_sge: 1,
            max_inline_data: 0,
        })
        .build()?;
    let target = MemoryRegion::new(&pd, size, Access::LOCAL_WRITE | Access::REMOTE_WRITE)?;
    let psn = random_psn();
    let mine = KeyMsg {
        lid: port_attr.lid(),
        out_reads: OUT_READS,
        qpn: qp.qpn(),
        psn,
        rkey: target.rkey(),
        vaddr: target.addr(),
        gid: gid.map(|g| g.0),
        srqn: 0,
    };
    out(&address(Side::Local, Verb::Write, &mine));

    // Handshake; the QP is connected inside it.
    let opts = ConnectOptions {
        port: p.ib_port,
        gid_index,
        mtu: rdma_mtu(agreed.mtu),
        psn,
        access: Access::REMOTE_WRITE,
        hop_limit: 0xff,
        timeout: 14,
        retry_cnt: 7,
        rnr_retry: 7,
        min_rnr_timer: 12,
        max_rd_atomic: OUT_READS as u8,
        max_dest_rd_atomic: OUT_READS as u8,
        ..ConnectOptions::default()
    };
    let test = match p.kind {
        Kind::WriteBw => Test::WriteBw,
        Kind::WriteLat => Test::WriteLat,
    };
    let mut slot = Some(qp);
    let remote = setup(&mut chan, test, std::slice::from_ref(&mine), |r| {
        let r = &r[0];
        let remote = RemoteQp {
            qpn: r.qpn,
            psn: r.psn,
            lid: r.lid,
            gid: r.gid.map(Gid),
        };
        let qp = slot.take().expect("connect runs once");
        match qp.connect(&remote, &opts) {
            Ok(q) => {
                slot = Some(q);
                Ok(())
            }
            Err(e) => Err(e.error),
        }
    })?;
    let mut qp = slot.ok_or("the QP was not connected")?;
    let r = remote.first().ok_or("no remote keys")?;
    out(&address(Side::Remote, Verb::Write, r));
    let remote_buf = RemoteBuf {
        addr: r.vaddr,
        rkey: r.rkey,
        len: p.size,
    };
    let clock = Clock::new();

    match (p.kind, role) {
        (Kind::WriteBw, Role::Client) => {
            out(&bw_header(p.unit));
            let src = MemoryRegion::new(&pd, size, Access::LOCAL_WRITE)?;
            let src = qp.pin(src);
            let cfg = BwConfig {
                iters: p.iters,
                size: p.size,
                tx_depth: p.tx_depth,
                cq_mod: p.cq_mod,
                timeout: p.timeout,
            };
            let mut s = run::write_bw(&mut qp, &cq, src, remote_buf, &cfg, &clock)?;
            let no_peak = p.iters > MAX_ITERS_WITH_PEAK;
            if no_peak {
                // perftest keeps the last completion time in slot 0 without peak.
                s.completed[0] = s.completed[s.completed.len() - 1];
            }
            let res = bandwidth(&BwInput {
                tposted: &s.posted,
                tcompleted: &s.completed,
                size: p.size,
                iters: p.iters,
                num_qps: 1,
                post_list: 1,
                cq_mod: u64::from(p.cq_mod),
                no_peak,
                duration: false,
                ticks_per_sec: NS_TICKS_PER_USEC * 1e6,
                unit: p.unit,
            })?;
            out(&bw_row(&res, p.unit));
            write_bw_client_finish(chan, &mine, &BwReportMsg::from(res))?;
            out(RESULT_LINE);
        }
        (Kind::WriteBw, Role::Server) => {
            out(&bw_header(p.unit));
            // Wait for the client's whole run: its progress deadline plus the run at a
            // pessimistic 1 MB/s; a client that dies closes the connection sooner.
            let run_wait = p.timeout + Duration::from_secs(p.iters.saturating_mul(p.size) >> 20);
            let theirs = write_bw_server_finish(chan, &mine, run_wait)?;
            out(&bw_row(&BwResult::from(theirs), p.unit));
            out(RESULT_LINE);
            drop(target);
        }
        (Kind::WriteLat, _) => {
            out(&lat_header());
            let source = LatSource::Buffer(MemoryRegion::new(&pd, size, Access::LOCAL_WRITE)?);
            let cfg = LatConfig {
                iters: p.iters,
                size: p.size,
                timeout: p.timeout,
                role: if role == Role::Server {
                    LatRole::Server
                } else {
                    LatRole::Client
                },
            };
            let posted = run::write_lat(&mut qp, &cq, &target, source, remote_buf, &cfg, &clock)?;
            let stats = latency(&posted, NS_TICKS_PER_USEC, 2)?;
            out(&lat_row(&LatResult {
                size: p.size,
                iters: p.iters,
                stats,
            }));
            out(RESULT_LINE);
            drop(chan);
        }
    }
    Ok(())
}
