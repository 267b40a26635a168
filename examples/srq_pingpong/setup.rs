//! The resources of the C tool's `pp_init_ctx`, and its checks of `-q` and `-r`.

use rdma_verbs::{
    Access, CompletionQueue, Context, MemoryRegion, ProtectionDomain, QpCaps, QueuePair,
    SharedReceiveQueue,
};

use crate::args::Opts;
use crate::exchange::MAX_QP;
use crate::output::{fail, Failed};

/// Pieces of `size` bytes the program registers: one per posted receive, and two per QP (the
/// one its send owns and the one it last received; see the module documentation of `main`).
pub(crate) fn piece_count(o: &Opts) -> u64 {
    u64::from(o.rx_depth) + 2 * u64::from(o.num_qp)
}

/// The C tool's checks after its getopt loop (same messages, `%d` included), then ours of the
/// memory to register. The message to print on failure.
pub(crate) fn check_opts(o: &Opts) -> Result<(), String> {
    if o.num_qp > o.rx_depth {
        return Err(format!(
            "rx_depth {} is too small for {} QPs -- must have at least one receive per QP.",
            o.rx_depth as i32, o.num_qp as i32
        ));
    }
    if o.num_qp as usize >= MAX_QP {
        return Err(format!(
            "num_qp {} must be less than {}",
            o.num_qp as i32,
            MAX_QP - 1
        ));
    }
    let bytes = piece_count(o).checked_mul(u64::from(o.size));
    if bytes.is_none_or(|b| b > isize::MAX as u64) {
        return Err(format!(
            "{}: (rx-depth + 2 * num-qp) * size = ({} + 2 * {}) * {} bytes is too much memory",
            o.variant.name, o.rx_depth, o.num_qp, o.size
        ));
    }
    Ok(())
}

/// What `pp_init_ctx` makes: the CQ (with its channel for `-e`), the SRQ, the QPs in INIT
/// and the registered memory cut into pieces.
pub(crate) struct Setup {
    pub(crate) cq: CompletionQueue,
    pub(crate) srq: SharedReceiveQueue,
    pub(crate) qps: Vec<QueuePair>,
    /// All pieces, zeroed, in address order.
    pub(crate) pieces: Vec<MemoryRegion>,
    /// The C rule: inline sends when a QP's actual `max_inline_data` covers the message.
    pub(crate) inline: bool,
}

/// `pp_init_ctx` on the opened device, with the C tool's messages.
pub(crate) fn setup(ctx: &Context, o: &Opts) -> Result<Setup, Failed> {
    let v = o.variant;
    let pd = ProtectionDomain::new(ctx).map_err(|e| fail!("Couldn't allocate PD", v.detail(&e)))?;
    // check_opts bounded the product by isize::MAX.
    let len = (piece_count(o) * u64::from(o.size)) as usize;
    let mut mr = MemoryRegion::new(&pd, len, Access::LOCAL_WRITE)
        .map_err(|e| fail!("Couldn't register MR", v.detail(&e)))?;
    if let Some(bytes) = mr.as_mut_slice() {
        bytes.fill(0); // memset(ctx->buf, 0, size)
    }

    let mut cq = CompletionQueue::builder(ctx, o.rx_depth + o.num_qp);
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
    let srq = SharedReceiveQueue::new(&pd, o.rx_depth, 1)
        .map_err(|e| fail!("Couldn't create SRQ", v.detail(&e)))?;

    let mut qps = Vec::with_capacity(o.num_qp as usize);
    let mut inline = false;
    for i in 0..o.num_qp {
        let qp = QueuePair::builder(&pd, &cq, &cq)
            .qp_type(v.qp_type)
            .srq(&srq)
            .caps(QpCaps {
                max_send_wr: 1,
                max_recv_wr: 0,
                max_send_sge: 1,
                max_recv_sge: 0,
                max_inline_data: 0,
            })
            .build()
            .map_err(|e| fail!(format!("Couldn't create QP[{i}]"), v.detail(&e)))?;
        inline |= qp.caps().max_inline_data >= o.size;
        qps.push(qp);
    }
    for (i, qp) in qps.iter_mut().enumerate() {
        qp.init(o.ib_port, 0, Access::NONE)
            .map_err(|e| fail!(format!("Failed to modify QP[{i}] to INIT"), v.detail(&e)))?;
    }
    Ok(Setup {
        cq,
        srq,
        qps,
        pieces: mr.chunks(o.size as usize),
        inline,
    })
}
