//! Everything before the measured runs, in perftest 6.06's order: device, port and GID; the
//! TCP connection and preamble; the banner; QPs, CQs and buffers; the keys exchanges with the
//! QPs connected inside them; the address lines. With `-c UD` the QPs are
//! [`UdQueuePair`]s, their sizes capped at the path MTU, and each sender's peer an address
//! handle made of the peer's keys.

use super::out::{out, Res};
use crate::cli::params::Params;
use rdma_bench::perftest::atomic::{outstanding, Outstanding, ATOMIC_CYCLE_BUFFER};
use rdma_bench::perftest::connection::{
    ud_size, UdSize, UD_INLINE_WARNING, UD_SIZE_CAPPED, UD_SIZE_REFUSAL,
};
use rdma_bench::perftest::handshake::{setup, Channel, Preamble};
use rdma_bench::perftest::report::{
    address, banner, BannerInfo, Side, RESULT_LINE, WAITING_FOR_CLIENT,
};
use rdma_bench::perftest::transport::{Link, Role};
use rdma_bench::perftest::wire::KeyMsg;
use rdma_bench::perftest::{Connection, PerfTest, Verb};
use rdma_verbs::ud::{Peer, UdQueuePair, DEFAULT_QKEY};
use rdma_verbs::{
    Access, AddressHandle, CompletionQueue, ConnectOptions, Context, Gid, LinkLayer, MemoryRegion,
    PostApi, ProtectionDomain, QpCaps, QueuePair, RemoteBuf, RemoteQp,
};
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

/// perftest's outstanding reads for the write and send tests.
const OUT_READS_NON_READ: u16 = 1;

/// The connected state both roles run their tests on.
pub struct Session {
    pub role: Role,
    pub chan: Channel,
    pub ctx: Context,
    pub pd: ProtectionDomain,
    /// Send completions of every QP.
    pub send_cq: CompletionQueue,
    /// Receive completions of every QP.
    pub recv_cq: CompletionQueue,
    pub qps: Vec<QueuePair>,
    /// `-c UD`: the test QPs (then `qps` is empty).
    pub ud: Vec<UdQueuePair>,
    /// `-c UD`: the peer each UD QP sends to (perftest makes one on senders only).
    pub ud_peers: Vec<Option<Peer>>,
    /// The region the peer writes into or reads from: `qps` slices of `slice` bytes.
    pub target: MemoryRegion,
    pub mine: Vec<KeyMsg>,
    pub remote: Vec<KeyMsg>,
    pub gid_index: Option<u32>,
    pub link_layer: LinkLayer,
    /// The path MTU both sides agreed on.
    pub mtu_bytes: u32,
    /// `-R`: the rdma_cm ids of the QPs (dropped after them).
    pub _cm: Option<super::cm::CmQps>,
    /// The QPs post with the extended API (`ibv_wr_*`).
    pub extended: bool,
    /// `-W`: the port counters, read before the connection.
    pub counters: Option<super::additions::Counters>,
    /// The peer is C perftest, which compares no options (rdma-perf peers did).
    pub c_peer: bool,
}

impl Session {
    /// The peer's buffer of QP `i`, `len` bytes long.
    pub fn remote_buf(&self, i: usize, len: u64) -> RemoteBuf {
        let r = &self.remote[i];
        RemoteBuf {
            addr: r.vaddr,
            rkey: r.rkey,
            len,
        }
    }

    /// The link layer's name as the banner prints it.
    pub fn link_name(&self) -> &'static str {
        if self.link_layer == LinkLayer::Ethernet {
            "Ethernet"
        } else {
            "IB"
        }
    }
}

/// A random 24-bit PSN (perftest: `lrand48() & 0xffffff`).
fn random_psn(salt: u32) -> u32 {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    h.write_u32(salt);
    (h.finish() & 0xff_ffff) as u32
}

/// The post API of the test QPs: the extended one (`ibv_wr_*`) where the device has it for
/// this connection type, as perftest uses it by default (perftest 6.06 decides by a list of
/// device models, which leaves it off on rxe; rdma-perf asks the device: it builds a QP), or
/// the classic `ibv_post_send` with `--use_old_post_send` and on UD (whose QPs post with it
/// only).
fn post_api(ctx: &Context, p: &Params) -> Res<PostApi> {
    if p.x.old_post_send || p.connection == Connection::Ud {
        return Ok(PostApi::Classic);
    }
    let pd = ProtectionDomain::new(ctx)?;
    let cq = CompletionQueue::new(ctx, 1)?;
    let probe = QueuePair::builder(&pd, &cq, &cq)
        .post_api(PostApi::Extended)
        .qp_type(p.connection.qp_type())
        .caps(QpCaps {
            max_send_wr: 1,
            max_recv_wr: 1,
            ..QpCaps::default()
        })
        .build();
    match probe {
        Ok(_) => Ok(PostApi::Extended),
        Err(rdma_verbs::Error::Unsupported { .. }) => Ok(PostApi::Classic),
        Err(e) => Err(e.into()),
    }
}

/// A UD QP the device refused, with the likely cause when inline data was asked for (perftest
/// disables `-I` on devices it does not know, such as rxe; rdma-perf asks for it).
fn ud_qp_error(e: rdma_verbs::Error, inline: u32) -> Box<dyn std::error::Error + Send + Sync> {
    if inline == 0 {
        return e.into();
    }
    format!("{e} (a UD QP with -I {inline}: the device may take less inline data; lower -I)").into()
}

/// Opens the device, connects to the peer and sets every QP up to RTS (RTR for the passive
/// server of a unidirectional test, as perftest leaves it). With `-c UD` it also caps `p`'s
/// sizes at the agreed path MTU, as perftest does.
pub fn open(p: &mut Params) -> Res<Session> {
    let ud = p.connection == Connection::Ud;
    if p.ud_inline_lowered {
        out(RESULT_LINE);
        eprint!("{UD_INLINE_WARNING}");
    }
    let role = if p.host.is_some() {
        Role::Client
    } else {
        Role::Server
    };
    let verb = p.test.verb();
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
        Some(b) => rdma_verbs::Mtu::from_bytes(b).ok_or("invalid MTU")?,
        None => port_attr
            .active_mtu()
            .ok_or("the port reports no active MTU")?,
    };
    let reads = matches!(verb, Verb::Read | Verb::Atomic);
    if reads {
        // What perftest 6.06 prints for the READ and atomic tests on a device it does not
        // know.
        eprintln!(" Device not recognized to implement inline feature. Disabling it");
        out(RESULT_LINE);
    }
    let out_reads: u16 = if reads {
        let max = ctx.query_device()?.max_qp_rd_atom();
        let max = max.clamp(1, u32::from(u16::MAX));
        let o = outstanding(p.out_reads, max);
        if o.clamped {
            out(RESULT_LINE);
            eprint!("{}", Outstanding::warning(max));
        }
        u16::try_from(o.value).unwrap_or(u16::MAX)
    } else {
        OUT_READS_NON_READ
    };

    let post_api = post_api(&ctx, p)?;
    // perftest opens the counters before it connects: a missing one stops it there.
    let counters = if p.x.counters.is_empty() {
        None
    } else {
        Some(super::additions::Counters::open(
            ctx.name(),
            p.ib_port,
            &p.x.counters,
        )?)
    };

    // Out-of-band connection and preamble (over rdma_cm with -R or -z).
    let link = match (&p.host, p.x.exchange_cm) {
        (Some(host), false) => Link::connect(host, p.port, p.timeout)?,
        (Some(host), true) => Link::connect_cm(host, p.port, p.timeout)?,
        (None, cm) => {
            out(WAITING_FOR_CLIENT);
            if cm {
                Link::accept_cm(p.port, None, p.timeout)?
            } else {
                Link::accept(p.port, None, p.timeout)?
            }
        }
    };
    let mut chan = Channel::new(link, gid_index);
    let agreed = chan.preamble(&Preamble::local(local_mtu))?;
    if ud {
        let mtu = u64::from(agreed.mtu.bytes());
        match ud_size(&p.sizes, p.all, p.size_given, mtu) {
            UdSize::Fits => {}
            UdSize::Capped(sizes) => {
                eprint!("{}", UD_SIZE_CAPPED.replace("{}", &mtu.to_string()));
                p.sizes = sizes;
            }
            UdSize::Refused => return Err(UD_SIZE_REFUSAL.into()),
        }
    }
    let p = &*p;
    super::peer_check::check(&mut chan, &agreed, p)?;
    let link_layer = port_attr.link_layer();
    let link_name = if link_layer == LinkLayer::Ethernet {
        "Ethernet"
    } else {
        "IB"
    };
    out(&banner(&BannerInfo {
        test: p.test,
        role,
        atomic: (verb == Verb::Atomic).then_some(p.atomic),
        duplex: p.bidirectional,
        post_list: p.x.post_list,
        recv_post_list: 1,
        events: p
            .x
            .events
            .then(|| p.x.comp_vector.unwrap_or(0).unsigned_abs()),
        dual_port: false,
        device: ctx.name().to_string(),
        num_qps: p.qps,
        transport: "IB".into(),
        connection: p.connection.as_str().into(),
        use_srq: false,
        pcie_relax_order: p.test != PerfTest::WriteLat && p.x.pcie_relaxed,
        pcie_ro_warning: false,
        ibv_wr_api: post_api == PostApi::Extended,
        tx_depth: p.tx_depth,
        rx_depth: p.rx_depth,
        cq_mod: p.cq_mod,
        mtu_bytes: agreed.mtu.bytes(),
        link_type: link_name.into(),
        gid_index: gid_index.map(|i| i as i32),
        max_inline: p.inline_size,
        out_reads: u32::from(out_reads),
        rdma_cm: p.rdma_cm,
        exchange_cm: p.x.exchange_cm,
    }));
    if p.rdma_cm && role == Role::Server {
        out(" Waiting for client rdma_cm QP to connect\n");
        out(" Please run the same command with the IB/RoCE interface IP\n");
        out(RESULT_LINE);
    }

    // Resources: one send CQ and one receive CQ for every QP.
    let n = p.qps as usize;
    // perftest's atomic BW client moves along a page of the peer's buffer, a cache line per
    // atomic: each QP's slice is at least that page.
    let slice = if verb == Verb::Atomic {
        p.max_size().max(ATOMIC_CYCLE_BUFFER)
    } else {
        p.max_size()
    };
    let pd = ProtectionDomain::new(&ctx)?;
    let send_depth = p.tx_depth.max(1).saturating_mul(p.qps);
    let recv_depth = if verb == Verb::Send {
        p.rx_depth.max(1).saturating_mul(p.qps)
    } else {
        1
    };
    let cq = |depth: u32| -> Res<CompletionQueue> {
        let mut b = CompletionQueue::builder(&ctx, depth);
        if p.x.events {
            b = b.with_channel().comp_vector(p.x.comp_vector.unwrap_or(0));
        }
        Ok(b.build()?)
    };
    let send_cq = cq(send_depth)?;
    let recv_cq = cq(recv_depth)?;
    let make_qp = || -> Res<QueuePair> {
        Ok(QueuePair::builder(&pd, &send_cq, &recv_cq)
            .post_api(post_api)
            .qp_type(p.connection.qp_type())
            .caps(QpCaps {
                max_send_wr: p.tx_depth.max(1),
                max_recv_wr: if verb == Verb::Send {
                    p.rx_depth.max(1)
                } else {
                    1
                },
                max_send_sge: 1,
                max_recv_sge: 1,
                max_inline_data: p.inline_size,
            })
            .build()?)
    };
    let psns: Vec<u32> = (0..n).map(|i| random_psn(i as u32)).collect();
    let caps = QpCaps {
        max_send_wr: p.tx_depth.max(1),
        max_recv_wr: p.rx_depth.max(1),
        max_send_sge: 1,
        max_recv_sge: 1,
        max_inline_data: p.inline_size,
    };
    // UD: INIT with perftest's Q_Key, RTR, RTS with the PSN the keys give (perftest leaves
    // a unidirectional server in RTR; the peer cannot tell).
    let mut ud_qps = if ud {
        psns.iter()
            .map(|&psn| {
                UdQueuePair::builder(&pd, &send_cq, &recv_cq)
                    .port(p.ib_port)
                    .qkey(DEFAULT_QKEY)
                    .psn(psn)
                    .caps(caps)
                    .build()
                    .map_err(|e| ud_qp_error(e, p.inline_size))
            })
            .collect::<Res<Vec<_>>>()?
    } else {
        Vec::new()
    };
    // With -R the CM connects the QPs now (perftest's create_rdma_cm_connection).
    let (qps, cm) = if ud {
        (Vec::new(), None)
    } else if p.rdma_cm {
        let cm_reads = if reads {
            u8::try_from(out_reads).unwrap_or(u8::MAX)
        } else {
            0
        };
        let (qps, cm) = super::cm::connect_qps(&mut chan, p, n, cm_reads, gid.is_some(), make_qp)?;
        (qps, Some(cm))
    } else {
        ((0..n).map(|_| make_qp()).collect::<Res<Vec<_>>>()?, None)
    };
    let target_access = match verb {
        Verb::Write => Access::LOCAL_WRITE | Access::REMOTE_WRITE,
        Verb::Read => Access::LOCAL_WRITE | Access::REMOTE_READ,
        Verb::Atomic => Access::LOCAL_WRITE | Access::REMOTE_ATOMIC,
        Verb::Send => Access::LOCAL_WRITE,
    };
    let total = usize::try_from(slice.saturating_mul(u64::from(p.qps)))?;
    let target = MemoryRegion::new(&pd, total, target_access)?;
    let qpns: Vec<u32> = if ud {
        ud_qps.iter().map(UdQueuePair::qpn).collect()
    } else {
        qps.iter().map(QueuePair::qpn).collect()
    };
    let mine: Vec<KeyMsg> = qpns
        .iter()
        .enumerate()
        .map(|(i, &qpn)| KeyMsg {
            lid: port_attr.lid(),
            out_reads,
            qpn,
            psn: psns[i],
            rkey: target.rkey(),
            vaddr: target.addr() + i as u64 * slice,
            gid: gid.map(|g| g.0),
            srqn: 0,
        })
        .collect();
    // With -R or -z perftest prints the addresses with its exchange's parameters, whose verb
    // is SEND: no RKey/VAddr (nor OUT).
    let addr_verb = if p.x.exchange_cm { Verb::Send } else { verb };
    for m in &mine {
        out(&address(Side::Local, addr_verb, m));
    }

    // The keys exchanges, the QPs connected where perftest connects them.
    let access = match verb {
        Verb::Write => Access::REMOTE_WRITE,
        Verb::Read => Access::REMOTE_READ,
        Verb::Atomic => Access::REMOTE_ATOMIC,
        Verb::Send => Access::REMOTE_WRITE | Access::LOCAL_WRITE,
    };
    let max_rd = u8::try_from(out_reads).unwrap_or(u8::MAX);
    let mut pending: Vec<QueuePair> = qps;
    let mut connected: Vec<QueuePair> = Vec::with_capacity(n);
    let mut ud_peers: Vec<Option<Peer>> = Vec::with_capacity(n);
    // perftest makes the address handles where it connects, on the sides that send.
    let sends = !p.test.is_bw() || role == Role::Client || p.bidirectional;
    let remote = setup(&mut chan, p.test, &mine, |theirs| {
        if ud {
            for (i, qp) in ud_qps.iter_mut().enumerate() {
                let r = &theirs[i];
                if !sends {
                    ud_peers.push(None);
                    continue;
                }
                let opts = ConnectOptions {
                    port: p.ib_port,
                    gid_index,
                    hop_limit: 0xff,
                    ..ConnectOptions::default()
                };
                let remote = RemoteQp {
                    qpn: r.qpn,
                    psn: r.psn,
                    lid: r.lid,
                    gid: r.gid.map(Gid),
                };
                let ah = AddressHandle::to(&pd, &remote, &opts)?;
                ud_peers.push(Some(qp.add_peer(ah, r.qpn, DEFAULT_QKEY)?));
            }
            return Ok(());
        }
        if cm.is_some() {
            // Connected by the CM already; perftest skips ctx_connect.
            connected.append(&mut pending);
            return Ok(());
        }
        for (i, qp) in pending.drain(..).enumerate() {
            let r = &theirs[i];
            let opts = ConnectOptions {
                port: p.ib_port,
                gid_index,
                mtu: agreed.mtu,
                psn: mine[i].psn,
                access,
                hop_limit: 0xff,
                sl: p.x.sl,
                pkey_index: p.x.pkey_index,
                timeout: p.x.qp_timeout,
                retry_cnt: 7,
                rnr_retry: 7,
                min_rnr_timer: 12,
                max_rd_atomic: u8::try_from(r.out_reads).unwrap_or(u8::MAX).min(max_rd),
                max_dest_rd_atomic: max_rd,
            };
            let remote = RemoteQp {
                qpn: r.qpn,
                psn: r.psn,
                lid: r.lid,
                gid: r.gid.map(Gid),
            };
            connected.push(qp.connect(&remote, &opts).map_err(|e| e.error)?);
        }
        Ok::<(), rdma_verbs::Error>(())
    })?;
    if connected.len() != n && !ud {
        return Err("the QPs were not connected".into());
    }
    for r in &remote {
        out(&address(Side::Remote, addr_verb, r));
    }
    Ok(Session {
        role,
        chan,
        ctx,
        pd,
        send_cq,
        recv_cq,
        qps: connected,
        ud: ud_qps,
        ud_peers,
        target,
        mine,
        remote,
        gid_index,
        link_layer,
        mtu_bytes: agreed.mtu.bytes(),
        _cm: cm,
        extended: post_api == PostApi::Extended,
        counters,
        c_peer: !agreed.remote_version.is_rdma_perf(),
    })
}
