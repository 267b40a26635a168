//! QP states and a checked `ibv_modify_qp`.

use super::{QpType, QueuePair};
use crate::access::Access;
use crate::error::{Error, Result};
use crate::gid::Gid;
use crate::port::Mtu;
use crate::sys;
use crate::sys::ibv_qp_attr_mask as m;
use std::fmt;

/// The state of a queue pair (`enum ibv_qp_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum QpState {
    /// Just created or reset: nothing can be posted.
    Reset,
    /// Initialized: receives can be posted.
    Init,
    /// Ready to receive.
    Rtr,
    /// Ready to send.
    Rts,
    /// Send queue drained.
    Sqd,
    /// Send queue error.
    Sqe,
    /// Error: outstanding work is flushed.
    Err,
    /// A value this crate does not know.
    Unknown(u32),
}

impl QpState {
    /// The state of an `ibv_qp_state` value.
    pub fn from_raw(raw: u32) -> Self {
        use sys::ibv_qp_state::*;
        match raw {
            IBV_QPS_RESET => QpState::Reset,
            IBV_QPS_INIT => QpState::Init,
            IBV_QPS_RTR => QpState::Rtr,
            IBV_QPS_RTS => QpState::Rts,
            IBV_QPS_SQD => QpState::Sqd,
            IBV_QPS_SQE => QpState::Sqe,
            IBV_QPS_ERR => QpState::Err,
            other => QpState::Unknown(other),
        }
    }

    /// The `ibv_qp_state` value (an unknown one as it came).
    pub fn to_raw(self) -> u32 {
        use sys::ibv_qp_state::*;
        match self {
            QpState::Reset => IBV_QPS_RESET,
            QpState::Init => IBV_QPS_INIT,
            QpState::Rtr => IBV_QPS_RTR,
            QpState::Rts => IBV_QPS_RTS,
            QpState::Sqd => IBV_QPS_SQD,
            QpState::Sqe => IBV_QPS_SQE,
            QpState::Err => IBV_QPS_ERR,
            QpState::Unknown(raw) => raw,
        }
    }
}

impl fmt::Display for QpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QpState::Reset => f.write_str("RESET"),
            QpState::Init => f.write_str("INIT"),
            QpState::Rtr => f.write_str("RTR"),
            QpState::Rts => f.write_str("RTS"),
            QpState::Sqd => f.write_str("SQD"),
            QpState::Sqe => f.write_str("SQE"),
            QpState::Err => f.write_str("ERR"),
            QpState::Unknown(v) => write!(f, "state {v}"),
        }
    }
}

/// Attributes for [`QueuePair::modify`]: each setter also sets its bit of the attribute mask,
/// so the mask can never disagree with what was filled in.
#[derive(Clone, Copy, Default)]
pub struct QpAttr {
    pub(crate) attr: sys::ibv_qp_attr,
    pub(crate) mask: u32,
}

impl QpAttr {
    /// No attribute set.
    pub fn new() -> Self {
        Self::default()
    }
    /// The state to move to.
    pub fn state(mut self, s: QpState) -> Self {
        self.attr.qp_state = s.to_raw();
        self.mask |= m::IBV_QP_STATE;
        self
    }
    /// P_Key index (INIT).
    pub fn pkey_index(mut self, i: u16) -> Self {
        self.attr.pkey_index = i;
        self.mask |= m::IBV_QP_PKEY_INDEX;
        self
    }
    /// Port number (INIT).
    pub fn port(mut self, port: u8) -> Self {
        self.attr.port_num = port;
        self.mask |= m::IBV_QP_PORT;
        self
    }
    /// Remote access rights the QP grants (INIT).
    pub fn access(mut self, a: Access) -> Self {
        self.attr.qp_access_flags = a.bits();
        self.mask |= m::IBV_QP_ACCESS_FLAGS;
        self
    }
    /// Path MTU (RTR).
    pub fn path_mtu(mut self, mtu: Mtu) -> Self {
        self.attr.path_mtu = mtu.to_raw();
        self.mask |= m::IBV_QP_PATH_MTU;
        self
    }
    /// Remote QP number (RTR).
    pub fn dest_qpn(mut self, qpn: u32) -> Self {
        self.attr.dest_qp_num = qpn;
        self.mask |= m::IBV_QP_DEST_QPN;
        self
    }
    /// Receive PSN: the remote's first send PSN (RTR).
    pub fn rq_psn(mut self, psn: u32) -> Self {
        self.attr.rq_psn = psn;
        self.mask |= m::IBV_QP_RQ_PSN;
        self
    }
    /// Incoming RDMA reads/atomics the QP can answer at once (RTR).
    pub fn max_dest_rd_atomic(mut self, n: u8) -> Self {
        self.attr.max_dest_rd_atomic = n;
        self.mask |= m::IBV_QP_MAX_DEST_RD_ATOMIC;
        self
    }
    /// RNR NAK timer code (RTR), 12 = 0.64 ms.
    pub fn min_rnr_timer(mut self, t: u8) -> Self {
        self.attr.min_rnr_timer = t;
        self.mask |= m::IBV_QP_MIN_RNR_TIMER;
        self
    }
    /// The address vector (RTR): LID addressing, or GID addressing when `dgid` is given.
    pub fn address(
        mut self,
        port: u8,
        dlid: u16,
        sl: u8,
        dgid: Option<(Gid, u8 /* sgid index */, u8 /* hop limit */)>,
    ) -> Self {
        let ah = &mut self.attr.ah_attr;
        ah.dlid = dlid;
        ah.sl = sl;
        ah.src_path_bits = 0;
        ah.port_num = port;
        if let Some((gid, sgid_index, hop_limit)) = dgid {
            ah.is_global = 1;
            ah.grh.dgid.raw = gid.0;
            ah.grh.sgid_index = sgid_index;
            ah.grh.hop_limit = hop_limit;
        } else {
            ah.is_global = 0;
        }
        self.mask |= m::IBV_QP_AV;
        self
    }
    /// Local ACK timeout code (RTS): 4.096 µs × 2^t; 14 ≈ 67 ms.
    pub fn timeout(mut self, t: u8) -> Self {
        self.attr.timeout = t;
        self.mask |= m::IBV_QP_TIMEOUT;
        self
    }
    /// Transport retries (RTS), 0..=7.
    pub fn retry_cnt(mut self, n: u8) -> Self {
        self.attr.retry_cnt = n;
        self.mask |= m::IBV_QP_RETRY_CNT;
        self
    }
    /// RNR retries (RTS), 0..=6, 7 = infinite.
    pub fn rnr_retry(mut self, n: u8) -> Self {
        self.attr.rnr_retry = n;
        self.mask |= m::IBV_QP_RNR_RETRY;
        self
    }
    /// Send PSN (RTS).
    pub fn sq_psn(mut self, psn: u32) -> Self {
        self.attr.sq_psn = psn;
        self.mask |= m::IBV_QP_SQ_PSN;
        self
    }
    /// The Q_Key (INIT, UD): receives accept only datagrams carrying it.
    pub fn qkey(mut self, qkey: u32) -> Self {
        self.attr.qkey = qkey;
        self.mask |= m::IBV_QP_QKEY;
        self
    }
    /// Outstanding RDMA reads/atomics the QP may issue (RTS).
    pub fn max_rd_atomic(mut self, n: u8) -> Self {
        self.attr.max_rd_atomic = n;
        self.mask |= m::IBV_QP_MAX_QP_RD_ATOMIC;
        self
    }
    /// The raw attribute mask.
    pub fn mask(&self) -> u32 {
        self.mask
    }

    /// Attributes someone else computed, e.g. `rdma_init_qp_attr` for an RDMA CM connection:
    /// [`QueuePair::modify`] still checks the transition and the required attributes.
    #[cfg(feature = "cm")]
    pub(crate) fn from_raw(attr: sys::ibv_qp_attr, mask: u32) -> Self {
        QpAttr { attr, mask }
    }
}

const MASK_NAMES: [(u32, &str); 14] = [
    (m::IBV_QP_STATE, "state"),
    (m::IBV_QP_PKEY_INDEX, "pkey_index"),
    (m::IBV_QP_PORT, "port"),
    (m::IBV_QP_ACCESS_FLAGS, "access"),
    (m::IBV_QP_QKEY, "qkey"),
    (m::IBV_QP_AV, "address"),
    (m::IBV_QP_PATH_MTU, "path_mtu"),
    (m::IBV_QP_DEST_QPN, "dest_qpn"),
    (m::IBV_QP_RQ_PSN, "rq_psn"),
    (m::IBV_QP_MAX_DEST_RD_ATOMIC, "max_dest_rd_atomic"),
    (m::IBV_QP_MIN_RNR_TIMER, "min_rnr_timer"),
    (m::IBV_QP_TIMEOUT, "timeout"),
    (m::IBV_QP_RETRY_CNT, "retry_cnt"),
    (m::IBV_QP_RNR_RETRY, "rnr_retry"),
];

fn names(mask: u32) -> String {
    let mut v: Vec<&str> = MASK_NAMES
        .iter()
        .filter(|(bit, _)| mask & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    if mask & m::IBV_QP_SQ_PSN != 0 {
        v.push("sq_psn");
    }
    if mask & m::IBV_QP_MAX_QP_RD_ATOMIC != 0 {
        v.push("max_rd_atomic");
    }
    v.join(", ")
}

/// The attributes a transition of a QP of `qp_type` requires (IB spec table "QP state
/// transition properties"): UC has no responder resources, acknowledgements or retries; UD
/// has a Q_Key instead of access rights and no peer.
fn required(qp_type: QpType, from: QpState, to: QpState) -> Option<u32> {
    use QpState::*;
    if qp_type == QpType::Ud {
        match (from, to) {
            (Reset, Init) => {
                return Some(
                    m::IBV_QP_STATE | m::IBV_QP_PKEY_INDEX | m::IBV_QP_PORT | m::IBV_QP_QKEY,
                )
            }
            (Init, Rtr) => return Some(m::IBV_QP_STATE),
            (Rtr, Rts) => return Some(m::IBV_QP_STATE | m::IBV_QP_SQ_PSN),
            _ => {}
        }
    }
    if qp_type == QpType::Uc {
        match (from, to) {
            (Init, Rtr) => {
                return Some(
                    m::IBV_QP_STATE
                        | m::IBV_QP_AV
                        | m::IBV_QP_PATH_MTU
                        | m::IBV_QP_DEST_QPN
                        | m::IBV_QP_RQ_PSN,
                )
            }
            (Rtr, Rts) => return Some(m::IBV_QP_STATE | m::IBV_QP_SQ_PSN),
            _ => {}
        }
    }
    Some(match (from, to) {
        (_, Reset) | (_, Err) => m::IBV_QP_STATE,
        (Reset, Init) => {
            m::IBV_QP_STATE | m::IBV_QP_PKEY_INDEX | m::IBV_QP_PORT | m::IBV_QP_ACCESS_FLAGS
        }
        (Init, Init) => m::IBV_QP_STATE,
        (Init, Rtr) => {
            m::IBV_QP_STATE
                | m::IBV_QP_AV
                | m::IBV_QP_PATH_MTU
                | m::IBV_QP_DEST_QPN
                | m::IBV_QP_RQ_PSN
                | m::IBV_QP_MAX_DEST_RD_ATOMIC
                | m::IBV_QP_MIN_RNR_TIMER
        }
        (Rtr, Rts) => {
            m::IBV_QP_STATE
                | m::IBV_QP_TIMEOUT
                | m::IBV_QP_RETRY_CNT
                | m::IBV_QP_RNR_RETRY
                | m::IBV_QP_SQ_PSN
                | m::IBV_QP_MAX_QP_RD_ATOMIC
        }
        (Rts, Rts) | (Sqd, Rts) | (Sqe, Rts) | (Rts, Sqd) | (Sqd, Sqd) => m::IBV_QP_STATE,
        _ => return None,
    })
}

impl QueuePair {
    /// `ibv_modify_qp`, checked first: the transition must be one an RC QP can make from its
    /// current state, and every attribute it requires must be set; the error names what is
    /// missing. Attributes not set keep their values.
    pub fn modify(&mut self, attr: &QpAttr) -> Result<()> {
        let to = if attr.mask & m::IBV_QP_STATE != 0 {
            QpState::from_raw(attr.attr.qp_state)
        } else {
            self.state
        };
        if attr.mask & m::IBV_QP_STATE != 0 {
            let Some(needed) = required(self.qp_type, self.state, to) else {
                return Err(Error::InvalidArgument(format!(
                    "QP {:#x} cannot go from {} to {}",
                    self.qpn, self.state, to
                )));
            };
            let missing = needed & !attr.mask;
            if missing != 0 {
                return Err(Error::InvalidArgument(format!(
                    "QP {:#x} {} -> {} needs {}; missing: {}",
                    self.qpn,
                    self.state,
                    to,
                    names(needed),
                    names(missing)
                )));
            }
        }
        let mut raw = attr.attr;
        // SAFETY: the QP is live; `raw` is a valid attribute struct and the mask only names
        // fields the setters filled in.
        let ret = unsafe { (self.ops.modify)(self.as_raw(), &mut raw, attr.mask as i32) };
        if ret != 0 {
            return Err(Error::from_ret("ibv_modify_qp", ret));
        }
        if attr.mask & m::IBV_QP_PORT != 0 {
            self.port = attr.attr.port_num;
        }
        self.set_state(to);
        Ok(())
    }

    /// Moves the QP to the error state: outstanding work completes with
    /// [`WcStatus::WrFlush`](crate::WcStatus::WrFlush).
    pub fn set_error(&mut self) -> Result<()> {
        self.modify(&QpAttr::new().state(QpState::Err))
    }

    /// Asks the device for the QP's current state (`ibv_query_qp`), and remembers it.
    pub fn query_state(&mut self) -> Result<QpState> {
        let mut attr = sys::ibv_qp_attr::default();
        let mut init = sys::ibv_qp_init_attr::default();
        // SAFETY: the QP is live and both structs are writable.
        let ret = unsafe {
            (self.ops.query)(self.as_raw(), &mut attr, m::IBV_QP_STATE as i32, &mut init)
        };
        if ret != 0 {
            return Err(Error::from_ret("ibv_query_qp", ret));
        }
        self.set_state(QpState::from_raw(attr.qp_state));
        Ok(self.state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setters_set_their_mask_bits() {
        let a = QpAttr::new().state(QpState::Init).port(1).pkey_index(0);
        assert_eq!(
            a.mask,
            m::IBV_QP_STATE | m::IBV_QP_PORT | m::IBV_QP_PKEY_INDEX
        );
        assert_eq!(a.attr.port_num, 1);
    }

    #[test]
    fn transition_table() {
        let rc = |from, to| required(QpType::Rc, from, to);
        assert!(rc(QpState::Reset, QpState::Rts).is_none());
        assert!(rc(QpState::Rts, QpState::Err).is_some());
        let need = rc(QpState::Reset, QpState::Init).unwrap();
        assert_eq!(names(need & !m::IBV_QP_STATE), "pkey_index, port, access");
        let need = rc(QpState::Rtr, QpState::Rts).unwrap();
        assert!(names(need).contains("sq_psn") && names(need).contains("max_rd_atomic"));
        // UC: no responder resources, acknowledgements or retries.
        // UD: a Q_Key at INIT, nothing at RTR, the send PSN at RTS.
        let ud = |from, to| required(QpType::Ud, from, to).unwrap();
        assert_eq!(
            names(ud(QpState::Reset, QpState::Init)),
            "state, pkey_index, port, qkey"
        );
        assert_eq!(names(ud(QpState::Init, QpState::Rtr)), "state");
        assert_eq!(names(ud(QpState::Rtr, QpState::Rts)), "state, sq_psn");
        let uc = |from, to| required(QpType::Uc, from, to).unwrap();
        assert_eq!(names(uc(QpState::Rtr, QpState::Rts)), "state, sq_psn");
        assert_eq!(
            names(uc(QpState::Init, QpState::Rtr)),
            "state, address, path_mtu, dest_qpn, rq_psn"
        );
        assert_eq!(
            uc(QpState::Reset, QpState::Init),
            rc(QpState::Reset, QpState::Init).unwrap()
        );
    }

    #[test]
    fn state_round_trip() {
        for s in [
            QpState::Reset,
            QpState::Init,
            QpState::Rtr,
            QpState::Rts,
            QpState::Err,
        ] {
            assert_eq!(QpState::from_raw(s.to_raw()), s);
        }
    }
}
