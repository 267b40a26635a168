//! What a UD QP hands back at completion: [`UdCompletion`], and for a received datagram its
//! [`Sender`], apart from the payload.

use crate::completion::{CompletionError, WcOpcode, WcStatus};
use crate::gid::Gid;
use crate::mr::MemoryRegion;
use crate::qp::Completion;
use crate::sys;
use std::fmt;

/// A completed work request of a [`UdQueuePair`](super::UdQueuePair), with the buffer it
/// owned and, for a received datagram, who sent it.
#[derive(Debug)]
pub struct UdCompletion {
    /// The `wr_id` given when posting.
    pub wr_id: u64,
    /// The status.
    pub status: WcStatus,
    /// What completed (valid when the status is success).
    pub opcode: WcOpcode,
    /// Payload bytes: of a receive, what landed in the buffer (the 40-byte header area is
    /// not counted); of a send, as the device reports it.
    pub byte_len: u32,
    /// The immediate data, host order, if any.
    pub imm_data: Option<u32>,
    /// The buffer the work request owned, handed back.
    pub buf: Option<MemoryRegion>,
    /// The sender of a successfully received datagram (`None` for sends and failures).
    pub sender: Option<Sender>,
    /// The QP the work ran on.
    pub qp_num: u32,
    /// The vendor syndrome (errors).
    pub vendor_err: u32,
}

impl UdCompletion {
    /// The completion of a send, or of a failed receive.
    pub(crate) fn plain(c: Completion) -> Self {
        Self::with(c, None)
    }

    pub(crate) fn with(c: Completion, sender: Option<Sender>) -> Self {
        UdCompletion {
            wr_id: c.wr_id,
            status: c.status,
            opcode: c.opcode,
            byte_len: c.byte_len,
            imm_data: c.imm_data,
            buf: c.buf,
            sender,
            qp_num: c.qp_num,
            vendor_err: c.vendor_err,
        }
    }

    /// True when the status is success.
    pub fn is_ok(&self) -> bool {
        self.status == WcStatus::Success
    }

    /// `Ok(())` on success, the typed completion error otherwise.
    pub fn result(&self) -> Result<(), CompletionError> {
        if self.is_ok() {
            Ok(())
        } else {
            Err(CompletionError {
                status: self.status,
                wr_id: self.wr_id,
                qp_num: self.qp_num,
                vendor_err: self.vendor_err,
            })
        }
    }

    /// The received payload: the first `byte_len` bytes of the buffer handed back (`None`
    /// without an owned buffer, or for a region peers may write).
    pub fn payload(&self) -> Option<&[u8]> {
        let bytes = self.buf.as_ref()?.as_slice()?;
        bytes.get(..self.byte_len as usize)
    }
}

/// Who sent a received datagram: its QP number and address, from the completion and the
/// 40-byte header area the device filled before the payload. Answer it with
/// [`AddressHandle::reply_to`](crate::AddressHandle::reply_to).
#[derive(Clone, Copy)]
pub struct Sender {
    wc: sys::ibv_wc,
    grh: sys::ibv_grh,
}

impl Sender {
    /// From a successful receive completion and the header area of its receive.
    pub(crate) fn new(wc: &sys::ibv_wc, header: &[u8; super::GRH_LEN]) -> Self {
        // SAFETY: `ibv_grh` is 40 bytes of integers and byte arrays (no padding, any bit
        // pattern valid), the size of `header`; the read is unaligned-safe.
        let grh = unsafe { std::ptr::read_unaligned(header.as_ptr().cast::<sys::ibv_grh>()) };
        Sender { wc: *wc, grh }
    }

    /// The sending QP's number.
    pub fn qpn(&self) -> u32 {
        self.wc.src_qp
    }
    /// The sender's LID (InfiniBand; 0 on RoCE).
    pub fn lid(&self) -> u16 {
        self.wc.slid
    }
    /// The service level the datagram came on.
    pub fn sl(&self) -> u8 {
        self.wc.sl
    }
    /// The destination LID path bits (the low bits of our LID it was sent to).
    pub fn path_bits(&self) -> u8 {
        self.wc.dlid_path_bits
    }
    /// The P_Key index it came on.
    pub fn pkey_index(&self) -> u16 {
        self.wc.pkey_index
    }
    /// True when the datagram carried a global route header (`IBV_WC_GRH`): always on RoCE.
    pub fn has_grh(&self) -> bool {
        self.wc.wc_flags & sys::ibv_wc_flags::IBV_WC_GRH != 0
    }

    /// The sender's GID, when the datagram carried a global route: the GRH's source GID (IB,
    /// RoCE v1 and v2 over IPv6), or the IPv4-mapped GID of the source address when the
    /// header area holds an IPv4 header in its last 20 bytes (RoCE v2 over IPv4), as
    /// rdma-core tells them apart.
    pub fn source_gid(&self) -> Option<Gid> {
        if !self.has_grh() {
            return None;
        }
        let bytes = self.header_bytes();
        // An IPv4 header (version 4, 20 bytes: IHL 5) at offset 20; else a GRH (version 6).
        if bytes[20] == 0x45 {
            let mut g = [0u8; 16];
            g[10] = 0xff;
            g[11] = 0xff;
            g[12..].copy_from_slice(&bytes[32..36]);
            return Some(Gid(g));
        }
        // SAFETY: `raw` of a union of byte arrays and integers: every bit pattern is valid.
        Some(Gid(unsafe { self.grh.sgid.raw }))
    }

    /// The 40 header bytes as the device wrote them (meaningful only with
    /// [`has_grh`](Self::has_grh)).
    pub fn header_bytes(&self) -> [u8; super::GRH_LEN] {
        // SAFETY: `ibv_grh` is 40 bytes of plain data (checked by a test); any bytes are
        // valid `u8`s.
        unsafe { std::mem::transmute::<sys::ibv_grh, [u8; super::GRH_LEN]>(self.grh) }
    }

    /// The completion fields as the provider wrote them (its `wr_id` is the crate's).
    pub(crate) fn raw_wc(&self) -> &sys::ibv_wc {
        &self.wc
    }
    /// The header area as `struct ibv_grh`.
    pub(crate) fn raw_grh(&self) -> &sys::ibv_grh {
        &self.grh
    }
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("qpn", &format_args!("{:#x}", self.qpn()))
            .field("lid", &self.lid())
            .field("sl", &self.sl())
            .field("gid", &self.source_gid())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender(flags: u32, header: [u8; 40]) -> Sender {
        let wc = sys::ibv_wc {
            src_qp: 0x12,
            slid: 7,
            wc_flags: flags,
            ..Default::default()
        };
        Sender::new(&wc, &header)
    }

    #[test]
    fn grh_is_forty_bytes() {
        assert_eq!(std::mem::size_of::<sys::ibv_grh>(), super::super::GRH_LEN);
    }

    #[test]
    fn source_gid_of_a_grh() {
        let mut h = [0u8; 40];
        h[0] = 0x60;
        h[8..24].copy_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
        let s = sender(sys::ibv_wc_flags::IBV_WC_GRH, h);
        assert_eq!(s.source_gid().unwrap().0[..2], [0xfe, 0x80]);
        assert_eq!(s.source_gid().unwrap().0[15], 8);
        assert_eq!((s.qpn(), s.lid()), (0x12, 7));
        assert_eq!(s.header_bytes(), h);
    }

    #[test]
    fn source_gid_of_an_ipv4_header() {
        let mut h = [0u8; 40];
        h[20] = 0x45;
        h[32..36].copy_from_slice(&[198, 18, 0, 1]);
        let s = sender(sys::ibv_wc_flags::IBV_WC_GRH, h);
        let g = s.source_gid().unwrap();
        assert!(g.is_ipv4_mapped());
        assert_eq!(g.0[12..], [198, 18, 0, 1]);
    }

    #[test]
    fn no_gid_without_a_grh() {
        let s = sender(0, [0x60; 40]);
        assert_eq!(s.source_gid(), None);
        assert!(!s.has_grh());
    }
}
