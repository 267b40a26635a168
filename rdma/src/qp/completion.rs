//! What completing a work request hands back: [`Completion`].

use crate::completion::{CompletionError, WcOpcode, WcStatus, WorkCompletion};
use crate::mr::MemoryRegion;

/// A completed work request, with the buffer it owned.
#[derive(Debug)]
pub struct Completion {
    /// The `wr_id` given when posting.
    pub wr_id: u64,
    /// The status.
    pub status: WcStatus,
    /// What completed (valid when the status is success).
    pub opcode: WcOpcode,
    /// Bytes received (receives) or transferred.
    pub byte_len: u32,
    /// The immediate data, host order, if any.
    pub imm_data: Option<u32>,
    /// The buffer the work request owned, handed back.
    pub buf: Option<MemoryRegion>,
    /// The QP the work ran on.
    pub qp_num: u32,
    /// The vendor syndrome (errors).
    pub vendor_err: u32,
}

impl Completion {
    /// True when the status is success.
    pub fn is_ok(&self) -> bool {
        self.status == WcStatus::Success
    }

    /// `Ok(())` on success, the typed completion error otherwise.
    pub fn result(&self) -> Result<(), CompletionError> {
        if self.is_ok() {
            Ok(())
        } else {
            Err(self.error())
        }
    }

    /// The completion as an error (whatever its status).
    pub fn error(&self) -> CompletionError {
        CompletionError {
            status: self.status,
            wr_id: self.wr_id,
            qp_num: self.qp_num,
            vendor_err: self.vendor_err,
        }
    }

    #[inline(always)]
    pub(crate) fn new(wc: &WorkCompletion, user_wr_id: u64, buf: Option<MemoryRegion>) -> Self {
        Completion {
            wr_id: user_wr_id,
            status: wc.status(),
            opcode: wc.opcode(),
            byte_len: wc.byte_len(),
            imm_data: wc.imm_data(),
            buf,
            qp_num: wc.qp_num(),
            vendor_err: wc.vendor_err(),
        }
    }
}
