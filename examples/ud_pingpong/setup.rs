//! The resources of `pp_init_ctx` (device, MTU check, CQ, PD, buffer, UD QP) and the address
//! handle of `pp_connect_ctx`, with the C tool's messages.

use rdma_exchange::PingpongDest;
use rdma_verbs::ud::{Peer, UdQueuePair, DEFAULT_QKEY};
use rdma_verbs::{
    Access, AddressHandle, AhAttr, CompletionQueue, Context, Error, GlobalRoute, MemoryRegion,
    ProtectionDomain, QpCaps, QpType,
};

use crate::args::Opts;
use crate::device::open_device;
use crate::output::{fail, Failed};

/// The byte the C tool fills its buffer with (`memset(buf, 0x7b, size + 40)`).
const FILL: u8 = 0x7b;

/// The hop limit of the C tool's address handle.
const HOP_LIMIT: u8 = 64;

/// What `pp_init_ctx` makes: the device, the CQ, the PD, the QP, and the buffer pieces.
pub(crate) struct Resources {
    /// The opened device.
    pub(crate) ctx: Context,
    /// The one CQ of sends and receives (with a completion channel for `-e`).
    pub(crate) cq: CompletionQueue,
    /// The protection domain of the buffer, the QP and the address handle.
    pub(crate) pd: ProtectionDomain,
    /// The UD QP, in RTS.
    pub(crate) qp: UdQueuePair,
    /// `rx_depth + 1` pieces of `size` bytes (at least 1), filled with `0x7b`.
    pub(crate) pieces: Vec<MemoryRegion>,
    /// Whether sends go inline (the QP's actual `max_inline_data` covers `--size`).
    pub(crate) inline: bool,
}

/// The length of one buffer piece: `size`, but at least one byte (a region cannot be
/// empty; a zero-byte message fits in it).
pub(crate) fn piece_len(size: u32) -> usize {
    (size as usize).max(1)
}

/// The C tool's check of `--size` against the port's active MTU (in bytes).
pub(crate) fn check_size(size: u32, active_mtu: u32) -> Result<(), String> {
    if size > active_mtu {
        return Err(format!(
            "Requested size larger than port MTU ({active_mtu})"
        ));
    }
    Ok(())
}

/// The C tool's message for a failure of `UdQueuePair`'s build, which creates the QP,
/// registers its header slots and moves it to INIT, RTR and RTS.
fn qp_build_message(e: &Error) -> &'static str {
    match e.verb() {
        Some("ibv_create_qp") => "Couldn't create QP",
        Some("ibv_reg_mr") => "Couldn't register MR",
        Some("ibv_query_port") => "Couldn't get port info",
        _ => "Failed to modify QP to INIT",
    }
}

/// `pp_init_ctx`: opens the device, checks `--size` against the MTU, makes the CQ (with a
/// completion channel for `-e`), the PD, the buffer and the UD QP, whose first send PSN is
/// `psn`.
pub(crate) fn init(o: &Opts, psn: u32) -> Result<Resources, Failed> {
    let v = o.variant;
    let ctx = open_device(o)?;
    let port = ctx.query_port(o.ib_port).map_err(|e| {
        fail!(
            format!("Unable to query port info for port {}", o.ib_port),
            v.detail(&e)
        )
    })?;
    let mtu = port.active_mtu().map_or(0, |m| m.bytes());
    check_size(o.size, mtu).map_err(|msg| fail!(msg))?;

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
    let len = piece_len(o.size);
    let mut mr = MemoryRegion::new(&pd, (o.rx_depth as usize + 1) * len, Access::LOCAL_WRITE)
        .map_err(|e| fail!("Couldn't register MR", v.detail(&e)))?;
    if let Some(bytes) = mr.as_mut_slice() {
        bytes.fill(FILL);
    }
    debug_assert_eq!(v.qp_type, QpType::Ud, "UdQueuePair makes UD QPs only");
    let qp = UdQueuePair::builder(&pd, &cq, &cq)
        .caps(QpCaps {
            max_send_wr: 1,
            max_recv_wr: o.rx_depth,
            max_send_sge: 1,
            max_recv_sge: 1,
            max_inline_data: 0,
        })
        .port(o.ib_port)
        .pkey_index(0)
        .qkey(DEFAULT_QKEY)
        .psn(psn)
        .build()
        .map_err(|e| fail!(qp_build_message(&e), v.detail(&e)))?;
    // The C rule: inline when the QP's actual max_inline_data covers the message.
    let inline = qp.caps().max_inline_data >= o.size;
    Ok(Resources {
        ctx,
        cq,
        pd,
        qp,
        pieces: mr.chunks(len),
        inline,
    })
}

/// The address vector of `pp_connect_ctx`: LID addressing, plus a global route (hop limit
/// 64, the local GID index `-g`) only when the remote GID's interface id is not zero.
pub(crate) fn ah_attr(o: &Opts, rem: &PingpongDest) -> AhAttr {
    let global = rem.gid.0[8..] != [0; 8];
    AhAttr {
        dlid: rem.lid,
        sl: o.sl,
        src_path_bits: 0,
        static_rate: 0,
        port: o.ib_port,
        grh: global.then_some(GlobalRoute {
            dgid: rem.gid,
            // As C's assignment to the u8 `sgid_index`: -1 (no `-g`) becomes 255, which
            // ibv_create_ah then refuses.
            sgid_index: o.gidx as u8,
            hop_limit: HOP_LIMIT,
            flow_label: 0,
            traffic_class: 0,
        }),
    }
}

/// `pp_connect_ctx`'s `ibv_create_ah`: the peer `rem` as a destination of the QP's sends,
/// with the Q_Key 0x11111111.
pub(crate) fn add_peer(
    qp: &mut UdQueuePair,
    pd: &ProtectionDomain,
    o: &Opts,
    rem: &PingpongDest,
) -> Result<Peer, Failed> {
    let detail = |e: &Error| o.variant.detail(e);
    let ah = AddressHandle::new(pd, &ah_attr(o, rem))
        .map_err(|e| fail!("Failed to create AH", detail(&e)))?;
    qp.add_peer(ah, rem.qpn, DEFAULT_QKEY)
        .map_err(|e| fail!("Failed to create AH", detail(&e)))
}
