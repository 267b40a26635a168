//! Port attributes: state, LID, MTU, link layer.

use crate::sys;
use std::fmt;

/// The logical state of a port (`enum ibv_port_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PortState {
    /// Reserved value 0.
    Nop,
    /// The link is down.
    Down,
    /// The link is up but the subnet manager has not configured the port.
    Init,
    /// Configured, waiting for the SM to activate.
    Armed,
    /// Active: can send and receive.
    Active,
    /// Active, deferring.
    ActiveDefer,
    /// Another value.
    Other(u32),
}

impl PortState {
    pub(crate) fn from_raw(raw: u32) -> Self {
        use sys::ibv_port_state::*;
        match raw {
            IBV_PORT_NOP => PortState::Nop,
            IBV_PORT_DOWN => PortState::Down,
            IBV_PORT_INIT => PortState::Init,
            IBV_PORT_ARMED => PortState::Armed,
            IBV_PORT_ACTIVE => PortState::Active,
            IBV_PORT_ACTIVE_DEFER => PortState::ActiveDefer,
            other => PortState::Other(other),
        }
    }
}

impl fmt::Display for PortState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortState::Nop => f.write_str("NOP"),
            PortState::Down => f.write_str("DOWN"),
            PortState::Init => f.write_str("INIT"),
            PortState::Armed => f.write_str("ARMED"),
            PortState::Active => f.write_str("ACTIVE"),
            PortState::ActiveDefer => f.write_str("ACTIVE_DEFER"),
            PortState::Other(v) => write!(f, "state {v}"),
        }
    }
}

/// A path MTU (`enum ibv_mtu`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u32)]
pub enum Mtu {
    /// 256 bytes.
    Mtu256 = 1,
    /// 512 bytes.
    Mtu512 = 2,
    /// 1024 bytes.
    Mtu1024 = 3,
    /// 2048 bytes.
    Mtu2048 = 4,
    /// 4096 bytes.
    Mtu4096 = 5,
}

impl Mtu {
    /// From the enum value (1..=5).
    pub fn from_raw(raw: u32) -> Option<Self> {
        Some(match raw {
            1 => Mtu::Mtu256,
            2 => Mtu::Mtu512,
            3 => Mtu::Mtu1024,
            4 => Mtu::Mtu2048,
            5 => Mtu::Mtu4096,
            _ => return None,
        })
    }

    /// From a size in bytes (256, 512, 1024, 2048 or 4096).
    pub fn from_bytes(bytes: u32) -> Option<Self> {
        Some(match bytes {
            256 => Mtu::Mtu256,
            512 => Mtu::Mtu512,
            1024 => Mtu::Mtu1024,
            2048 => Mtu::Mtu2048,
            4096 => Mtu::Mtu4096,
            _ => return None,
        })
    }

    /// The size in bytes.
    pub fn bytes(self) -> u32 {
        128 << (self as u32)
    }

    /// The enum value for `ibv_qp_attr.path_mtu`.
    pub fn to_raw(self) -> u32 {
        self as u32
    }
}

impl fmt::Display for Mtu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.bytes())
    }
}

/// The link layer of a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkLayer {
    /// Native InfiniBand (addressed by LID).
    InfiniBand,
    /// Ethernet: RoCE (addressed by GID).
    Ethernet,
    /// Not reported (old providers: treat as InfiniBand).
    Unspecified,
}

impl fmt::Display for LinkLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LinkLayer::InfiniBand => "InfiniBand",
            LinkLayer::Ethernet => "Ethernet",
            LinkLayer::Unspecified => "unspecified",
        })
    }
}

/// Attributes of one port (`struct ibv_port_attr`, queried with the header's full-size logic).
#[derive(Clone, Copy)]
pub struct PortAttr(pub(crate) sys::ibv_port_attr);

impl PortAttr {
    /// The logical state.
    pub fn state(&self) -> PortState {
        PortState::from_raw(self.0.state)
    }
    /// The largest MTU the port supports.
    pub fn max_mtu(&self) -> Option<Mtu> {
        Mtu::from_raw(self.0.max_mtu)
    }
    /// The MTU in use.
    pub fn active_mtu(&self) -> Option<Mtu> {
        Mtu::from_raw(self.0.active_mtu)
    }
    /// The base LID (0 on RoCE).
    pub fn lid(&self) -> u16 {
        self.0.lid
    }
    /// The subnet manager's LID.
    pub fn sm_lid(&self) -> u16 {
        self.0.sm_lid
    }
    /// The LID mask control.
    pub fn lmc(&self) -> u8 {
        self.0.lmc
    }
    /// Entries in the GID table.
    pub fn gid_tbl_len(&self) -> u32 {
        self.0.gid_tbl_len.max(0) as u32
    }
    /// Entries in the P_Key table.
    pub fn pkey_tbl_len(&self) -> u16 {
        self.0.pkey_tbl_len
    }
    /// The largest message the port can send.
    pub fn max_msg_sz(&self) -> u32 {
        self.0.max_msg_sz
    }
    /// The link layer.
    pub fn link_layer(&self) -> LinkLayer {
        // IBV_LINK_LAYER_* (an anonymous enum in verbs.h): 0 unspecified, 1 IB, 2 Ethernet.
        match self.0.link_layer {
            1 => LinkLayer::InfiniBand,
            2 => LinkLayer::Ethernet,
            _ => LinkLayer::Unspecified,
        }
    }
    /// The physical state (`ibv_devinfo`'s phys_state number: 5 is LinkUp).
    pub fn phys_state(&self) -> u8 {
        self.0.phys_state
    }
    /// The raw struct.
    pub fn as_raw(&self) -> &sys::ibv_port_attr {
        &self.0
    }
}

impl fmt::Debug for PortAttr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortAttr")
            .field("state", &self.state())
            .field("lid", &self.lid())
            .field("active_mtu", &self.active_mtu())
            .field("link_layer", &self.link_layer())
            .field("gid_tbl_len", &self.gid_tbl_len())
            .finish()
    }
}

/// Attributes of a device (`struct ibv_device_attr`).
#[derive(Clone, Copy)]
pub struct DeviceAttr(pub(crate) sys::ibv_device_attr);

impl DeviceAttr {
    /// Firmware version text.
    pub fn fw_ver(&self) -> String {
        let bytes: Vec<u8> = self
            .0
            .fw_ver
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
    /// Node GUID in host order.
    pub fn node_guid(&self) -> u64 {
        u64::from_be(self.0.node_guid)
    }
    /// System image GUID in host order.
    pub fn sys_image_guid(&self) -> u64 {
        u64::from_be(self.0.sys_image_guid)
    }
    /// Largest memory region.
    pub fn max_mr_size(&self) -> u64 {
        self.0.max_mr_size
    }
    /// Most QPs.
    pub fn max_qp(&self) -> u32 {
        self.0.max_qp.max(0) as u32
    }
    /// Deepest work queue.
    pub fn max_qp_wr(&self) -> u32 {
        self.0.max_qp_wr.max(0) as u32
    }
    /// Most SGEs per WR.
    pub fn max_sge(&self) -> u32 {
        self.0.max_sge.max(0) as u32
    }
    /// Most CQs.
    pub fn max_cq(&self) -> u32 {
        self.0.max_cq.max(0) as u32
    }
    /// Deepest CQ.
    pub fn max_cqe(&self) -> u32 {
        self.0.max_cqe.max(0) as u32
    }
    /// Most outstanding RDMA reads/atomics a QP can answer.
    pub fn max_qp_rd_atom(&self) -> u32 {
        self.0.max_qp_rd_atom.max(0) as u32
    }
    /// Most outstanding RDMA reads/atomics a QP can issue.
    pub fn max_qp_init_rd_atom(&self) -> u32 {
        self.0.max_qp_init_rd_atom.max(0) as u32
    }
    /// Atomic support (`IBV_ATOMIC_NONE`, `IBV_ATOMIC_HCA` or `IBV_ATOMIC_GLOB`).
    pub fn atomic_cap(&self) -> sys::ibv_atomic_cap::Type {
        self.0.atomic_cap
    }
    /// Most SRQs.
    pub fn max_srq(&self) -> u32 {
        self.0.max_srq.max(0) as u32
    }
    /// Deepest SRQ.
    pub fn max_srq_wr(&self) -> u32 {
        self.0.max_srq_wr.max(0) as u32
    }
    /// Number of physical ports.
    pub fn phys_port_cnt(&self) -> u8 {
        self.0.phys_port_cnt
    }
    /// Vendor id.
    pub fn vendor_id(&self) -> u32 {
        self.0.vendor_id
    }
    /// Vendor part id.
    pub fn vendor_part_id(&self) -> u32 {
        self.0.vendor_part_id
    }
    /// The raw struct.
    pub fn as_raw(&self) -> &sys::ibv_device_attr {
        &self.0
    }
}

impl fmt::Debug for DeviceAttr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceAttr")
            .field("fw_ver", &self.fw_ver())
            .field("node_guid", &format_args!("{:016x}", self.node_guid()))
            .field("max_qp_wr", &self.max_qp_wr())
            .field("max_sge", &self.max_sge())
            .field("max_cqe", &self.max_cqe())
            .field("phys_port_cnt", &self.phys_port_cnt())
            .finish()
    }
}
