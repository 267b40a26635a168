//! Getting the QP ready for the peer: its move to RTR and RTS (`pp_connect_ctx`).

use rdma_exchange::PingpongDest;
use rdma_verbs::{ConnectOptions, QpState, QueuePair, RemoteQp};

use crate::args::Opts;
use crate::output::{fail, Failed};

/// `pp_connect_ctx`: RTR and RTS towards `rem` (the QP is in INIT).
pub(crate) fn connect_qp(
    qp: QueuePair,
    o: &Opts,
    my_psn: u32,
    rem: &PingpongDest,
) -> Result<QueuePair, Failed> {
    let remote = RemoteQp {
        qpn: rem.qpn,
        psn: rem.psn,
        lid: rem.lid,
        // The C tool adds a GRH only when the remote GID's interface id is not zero.
        gid: (rem.gid.0[8..] != [0; 8]).then_some(rem.gid),
    };
    let opts = ConnectOptions {
        port: o.ib_port,
        gid_index: u32::try_from(o.gidx).ok(),
        mtu: o.mtu,
        psn: my_psn,
        sl: o.sl,
        // The rest are ibv_rc_pingpong's values, which are ConnectOptions' defaults: no remote
        // access, P_Key index 0, hop limit 1, timeout 14, retry 7, RNR retry 7, RNR timer 12,
        // one outstanding read each way. On a UC QP `connect` sets only what UC takes (as
        // ibv_uc_pingpong: no timeout, retries, RNR timer or reads).
        ..ConnectOptions::default()
    };
    qp.connect(&remote, &opts).map_err(|e| {
        let step = if e.qp.state() == QpState::Rtr {
            "RTS"
        } else {
            "RTR"
        };
        fail!(
            format!("Failed to modify QP to {step}"),
            o.variant.detail(&e.error)
        )
    })
}
