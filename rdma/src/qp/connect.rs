//! Connecting an RC QP: RESET (or INIT) → INIT → RTR → RTS in one consuming step.

use super::{QpAttr, QpState, QpType, QueuePair};
use crate::access::Access;
use crate::error::{Error, Result};
use crate::gid::Gid;
use crate::port::Mtu;
use std::fmt;

/// What a QP needs to know about its peer, as exchanged out of band.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteQp {
    /// The peer's QP number.
    pub qpn: u32,
    /// The peer's first send PSN (24 bits).
    pub psn: u32,
    /// The peer's LID (InfiniBand; 0 on RoCE).
    pub lid: u16,
    /// The peer's GID: needed on RoCE and across IB subnets, `None` for LID-only addressing.
    pub gid: Option<Gid>,
}

/// Local settings for [`QueuePair::connect`]. Defaults follow `ibv_rc_pingpong` and perftest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectOptions {
    /// Port number (default 1).
    pub port: u8,
    /// Local GID index, required when the remote has a GID (default `None`).
    pub gid_index: Option<u32>,
    /// Path MTU (default 1024).
    pub mtu: Mtu,
    /// Our first send PSN (24 bits, default 0).
    pub psn: u32,
    /// Remote access rights granted (default none).
    pub access: Access,
    /// Service level (default 0).
    pub sl: u8,
    /// P_Key index (default 0).
    pub pkey_index: u16,
    /// Hop limit of the GRH (default 1, as `ibv_rc_pingpong`; perftest uses 255).
    pub hop_limit: u8,
    /// Local ACK timeout code (default 14).
    pub timeout: u8,
    /// Transport retries (default 7).
    pub retry_cnt: u8,
    /// RNR retries (default 7: infinite).
    pub rnr_retry: u8,
    /// RNR NAK timer code (default 12).
    pub min_rnr_timer: u8,
    /// Outstanding RDMA reads we may issue (default 1).
    pub max_rd_atomic: u8,
    /// Incoming RDMA reads we answer at once (default 1).
    pub max_dest_rd_atomic: u8,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            port: 1,
            gid_index: None,
            mtu: Mtu::Mtu1024,
            psn: 0,
            access: Access::NONE,
            sl: 0,
            pkey_index: 0,
            hop_limit: 1,
            timeout: 14,
            retry_cnt: 7,
            rnr_retry: 7,
            min_rnr_timer: 12,
            max_rd_atomic: 1,
            max_dest_rd_atomic: 1,
        }
    }
}

/// A failed [`QueuePair::connect`]: the error, and the QP back (in whatever state it reached).
pub struct ConnectError {
    /// What went wrong.
    pub error: Error,
    /// The QP (boxed: the error path is cold and the QP is large).
    pub qp: Box<QueuePair>,
}

impl fmt::Debug for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectError")
            .field("error", &self.error)
            .field("qp", &self.qp)
            .finish()
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "connecting QP {:#x}: {}", self.qp.qpn(), self.error)
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<ConnectError> for Error {
    fn from(e: ConnectError) -> Error {
        e.error
    }
}

impl QueuePair {
    /// What a peer needs to connect to this QP with `opts` ([`RemoteQp`]): its number,
    /// `opts.psn`, and the LID and (with `opts.gid_index`) the GID of `opts.port`. Send it
    /// to the peer out of band; the peer's goes to [`connect`](Self::connect). An absent or
    /// empty GID entry is [`Error::GidIndexAbsent`].
    pub fn address(&self, opts: &ConnectOptions) -> Result<RemoteQp> {
        let ctx = self.pd().context();
        let lid = ctx.query_port(opts.port)?.lid();
        // The table entry, not ibv_query_gid: rxe answers that one with a zero GID for an
        // index past its table, where this is Error::GidIndexAbsent.
        let gid = opts
            .gid_index
            .map(|i| ctx.gid_entry(opts.port, i).map(|e| e.gid))
            .transpose()?;
        Ok(RemoteQp {
            qpn: self.qpn,
            psn: opts.psn,
            lid,
            gid,
        })
    }

    /// RESET → INIT on `port`, granting `access` to peers. Needed before posting receives
    /// ahead of [`connect`](Self::connect) (which does it itself when the QP is in RESET).
    pub fn init(&mut self, port: u8, pkey_index: u16, access: Access) -> Result<()> {
        self.modify(
            &QpAttr::new()
                .state(QpState::Init)
                .pkey_index(pkey_index)
                .port(port)
                .access(access),
        )
    }

    /// Connects to `remote`: RESET → INIT (unless already INIT) → RTR → RTS. Consumes the QP
    /// and gives it back connected, or inside the error.
    pub fn connect(
        mut self,
        remote: &RemoteQp,
        opts: &ConnectOptions,
    ) -> Result<QueuePair, ConnectError> {
        match self.connect_steps(remote, opts) {
            Ok(()) => Ok(self),
            Err(error) => Err(ConnectError {
                error,
                qp: Box::new(self),
            }),
        }
    }

    fn connect_steps(&mut self, remote: &RemoteQp, opts: &ConnectOptions) -> Result<()> {
        if self.qp_type == QpType::Ud {
            return Err(Error::InvalidArgument(format!(
                "QP {:#x} is UD: it has no peer to connect to (UdQueuePair addresses each send)",
                self.qpn
            )));
        }
        if remote.qpn > 0xff_ffff || remote.psn > 0xff_ffff || opts.psn > 0xff_ffff {
            return Err(Error::InvalidArgument(format!(
                "QPN and PSN are 24-bit: remote qpn {:#x} psn {:#x}, local psn {:#x}",
                remote.qpn, remote.psn, opts.psn
            )));
        }
        let dgid = match (remote.gid, opts.gid_index) {
            (Some(gid), Some(idx)) if !gid.is_zero() => {
                // Fails with Error::GidIndexAbsent, naming the table size, before the verb
                // would fail with a bare EINVAL.
                self.pd().context().gid_entry(opts.port, idx)?;
                let idx = u8::try_from(idx).map_err(|_| {
                    Error::InvalidArgument(format!("GID index {idx} is larger than 255"))
                })?;
                Some((gid, idx, opts.hop_limit))
            }
            (Some(gid), None) if !gid.is_zero() => {
                return Err(Error::InvalidArgument(
                    "the remote gave a GID but no local GID index was chosen (RoCE needs one)"
                        .into(),
                ))
            }
            _ => None,
        };
        if self.state == QpState::Reset {
            self.init(opts.port, opts.pkey_index, opts.access)?;
        }
        let rtr = QpAttr::new()
            .state(QpState::Rtr)
            .path_mtu(opts.mtu)
            .dest_qpn(remote.qpn)
            .rq_psn(remote.psn)
            .address(self.port, remote.lid, opts.sl, dgid);
        let rts = QpAttr::new().state(QpState::Rts).sq_psn(opts.psn);
        // UC has no responder resources, acknowledgements or retries: the kernel refuses
        // those attributes on it.
        let (rtr, rts) = match self.qp_type {
            QpType::Rc => (
                rtr.max_dest_rd_atomic(opts.max_dest_rd_atomic)
                    .min_rnr_timer(opts.min_rnr_timer),
                rts.timeout(opts.timeout)
                    .retry_cnt(opts.retry_cnt)
                    .rnr_retry(opts.rnr_retry)
                    .max_rd_atomic(opts.max_rd_atomic),
            ),
            QpType::Uc | QpType::Ud => (rtr, rts),
        };
        self.modify(&rtr)?;
        self.modify(&rts)
    }
}
