//! Address handles: where a UD send goes (`struct ibv_ah`).
//!
//! An [`AddressHandle`] is made from a peer's address as exchanged out of band
//! ([`AddressHandle::to`], or [`AhAttr`] for every field), or from a received datagram, to
//! answer its sender ([`AddressHandle::reply_to`], `ibv_create_ah_from_wc`).

use crate::error::{Error, Result};
use crate::gid::Gid;
use crate::pd::{PdInner, ProtectionDomain};
use crate::qp::{ConnectOptions, RemoteQp};
use crate::sys;
use crate::ud::Sender;
use std::fmt;
use std::ptr::NonNull;
use std::sync::Arc;

/// The global route of an address (the GRH a send carries): needed on RoCE and across IB
/// subnets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GlobalRoute {
    /// The destination GID.
    pub dgid: Gid,
    /// The local GID table index the sends come from.
    pub sgid_index: u8,
    /// The hop limit (`ibv_ud_pingpong` uses 64).
    pub hop_limit: u8,
    /// The flow label (20 bits).
    pub flow_label: u32,
    /// The traffic class.
    pub traffic_class: u8,
}

/// An address vector (`struct ibv_ah_attr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AhAttr {
    /// The destination LID (InfiniBand; 0 on RoCE).
    pub dlid: u16,
    /// The service level.
    pub sl: u8,
    /// The source path bits (LMC).
    pub src_path_bits: u8,
    /// The static rate code (0: the port's rate).
    pub static_rate: u8,
    /// The local port the sends leave from.
    pub port: u8,
    /// The global route, if the address is global.
    pub grh: Option<GlobalRoute>,
}

impl AhAttr {
    /// The address of `remote` as [`QueuePair::connect`](crate::QueuePair::connect) would
    /// reach it with `opts` (port, service level, local GID index, hop limit): LID
    /// addressing, and a global route when the remote gave a non-zero GID.
    pub fn to(remote: &RemoteQp, opts: &ConnectOptions) -> Result<AhAttr> {
        let grh = match (remote.gid, opts.gid_index) {
            (Some(gid), Some(idx)) if !gid.is_zero() => Some(GlobalRoute {
                dgid: gid,
                sgid_index: u8::try_from(idx).map_err(|_| {
                    Error::InvalidArgument(format!("GID index {idx} is larger than 255"))
                })?,
                hop_limit: opts.hop_limit,
                flow_label: 0,
                traffic_class: 0,
            }),
            (Some(gid), None) if !gid.is_zero() => {
                return Err(Error::InvalidArgument(
                    "the remote gave a GID but no local GID index was chosen (RoCE needs one)"
                        .into(),
                ))
            }
            _ => None,
        };
        Ok(AhAttr {
            dlid: remote.lid,
            sl: opts.sl,
            src_path_bits: 0,
            static_rate: 0,
            port: opts.port,
            grh,
        })
    }

    fn to_raw(self) -> sys::ibv_ah_attr {
        let mut raw = sys::ibv_ah_attr {
            dlid: self.dlid,
            sl: self.sl,
            src_path_bits: self.src_path_bits,
            static_rate: self.static_rate,
            port_num: self.port,
            ..Default::default()
        };
        if let Some(g) = self.grh {
            raw.is_global = 1;
            raw.grh.dgid.raw = g.dgid.0;
            raw.grh.sgid_index = g.sgid_index;
            raw.grh.hop_limit = g.hop_limit;
            raw.grh.flow_label = g.flow_label;
            raw.grh.traffic_class = g.traffic_class;
        }
        raw
    }
}

/// An address handle (`struct ibv_ah`) of a protection domain: the destination of UD sends.
/// Cheap to clone; a UD QP keeps the handles of its peers alive while sends to them are
/// outstanding ([`UdQueuePair::add_peer`](crate::ud::UdQueuePair::add_peer)).
#[derive(Clone)]
pub struct AddressHandle {
    pub(crate) inner: Arc<AhInner>,
}

pub(crate) struct AhInner {
    raw: NonNull<sys::ibv_ah>,
    pd: Arc<PdInner>,
    attr: Option<AhAttr>,
}

// SAFETY: address handles are thread safe in libibverbs; the pointer is freed only in Drop.
unsafe impl Send for AhInner {}
// SAFETY: as above; `&AhInner` exposes only the pointer and plain data.
unsafe impl Sync for AhInner {}

impl Drop for AhInner {
    fn drop(&mut self) {
        // SAFETY: the AH is live and destroyed once; a UD QP holds its peers' handles until no
        // outstanding send names them, so no work request refers to it any more.
        unsafe { sys::ibv_destroy_ah(self.raw.as_ptr()) };
    }
}

impl AddressHandle {
    /// Creates an address handle for `attr` on `pd` (`ibv_create_ah`). On RoCE the kernel
    /// resolves the destination's MAC address here.
    pub fn new(pd: &ProtectionDomain, attr: &AhAttr) -> Result<Self> {
        if attr.grh.is_some_and(|g| g.flow_label > 0xf_ffff) {
            return Err(Error::InvalidArgument(
                "a flow label is 20 bits: at most 0xfffff".into(),
            ));
        }
        let mut raw_attr = attr.to_raw();
        // SAFETY: the PD is live (and kept alive by the handle); `raw_attr` is a complete
        // attribute struct the call only reads.
        let raw = unsafe { sys::ibv_create_ah(pd.as_raw(), &mut raw_attr) };
        let raw = NonNull::new(raw).ok_or_else(|| Error::last_os("ibv_create_ah"))?;
        Ok(Self::wrap(raw, pd, Some(*attr)))
    }

    /// The address of `remote` reached with `opts` ([`AhAttr::to`]).
    pub fn to(pd: &ProtectionDomain, remote: &RemoteQp, opts: &ConnectOptions) -> Result<Self> {
        Self::new(pd, &AhAttr::to(remote, opts)?)
    }

    /// The address of the sender of a received datagram, to answer it from `port`
    /// (`ibv_create_ah_from_wc`, which reverses the GRH's GIDs on a global route).
    pub fn reply_to(pd: &ProtectionDomain, port: u8, sender: &Sender) -> Result<Self> {
        let mut wc = *sender.raw_wc();
        let mut grh = *sender.raw_grh();
        // SAFETY: the PD is live; `wc` holds a receive completion's fields as the provider
        // wrote them and `grh` the 40 bytes the device placed before the payload (copies: the
        // call only reads them, through pointers valid for the call).
        let raw = unsafe { sys::ibv_create_ah_from_wc(pd.as_raw(), &mut wc, &mut grh, port) };
        let raw = NonNull::new(raw).ok_or_else(|| Error::last_os("ibv_create_ah_from_wc"))?;
        Ok(Self::wrap(raw, pd, None))
    }

    fn wrap(raw: NonNull<sys::ibv_ah>, pd: &ProtectionDomain, attr: Option<AhAttr>) -> Self {
        AddressHandle {
            inner: Arc::new(AhInner {
                raw,
                pd: pd.inner.clone(),
                attr,
            }),
        }
    }

    /// The attributes it was made with (`None` for one made by
    /// [`reply_to`](Self::reply_to), which the provider filled in).
    pub fn attr(&self) -> Option<&AhAttr> {
        self.inner.attr.as_ref()
    }

    /// True when `pd` is the protection domain the handle belongs to.
    pub(crate) fn is_of(&self, pd: &Arc<PdInner>) -> bool {
        Arc::ptr_eq(&self.inner.pd, pd)
    }

    /// The raw handle (valid while this handle or a clone lives).
    #[inline]
    pub fn as_raw(&self) -> *mut sys::ibv_ah {
        self.inner.raw.as_ptr()
    }
}

impl fmt::Debug for AddressHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AddressHandle")
            .field("attr", &self.inner.attr)
            .finish()
    }
}
