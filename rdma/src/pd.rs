//! Protection domains.

use crate::context::{Context, ContextInner};
use crate::error::{Error, Result};
use crate::sys;
use std::fmt;
use std::ptr::NonNull;
use std::sync::Arc;

/// A protection domain (`struct ibv_pd`): groups the memory regions and queue pairs that may
/// work together. Cheap to clone; resources created from it keep it (and its context) alive.
#[derive(Clone)]
pub struct ProtectionDomain {
    pub(crate) inner: Arc<PdInner>,
}

pub(crate) struct PdInner {
    pub(crate) raw: NonNull<sys::ibv_pd>,
    pub(crate) ctx: Arc<ContextInner>,
}

// SAFETY: PDs are thread safe in libibverbs; the pointer is freed only in Drop.
unsafe impl Send for PdInner {}
// SAFETY: as above.
unsafe impl Sync for PdInner {}

impl Drop for PdInner {
    fn drop(&mut self) {
        #[cfg(feature = "stub-provider")]
        if self.ctx.stub {
            // SAFETY: a stub PD was made by crate::stub and is freed once, here.
            unsafe { crate::stub::free_pd(self.raw) };
            return;
        }
        // SAFETY: MRs, QPs and SRQs hold an Arc to this inner, so none is left; freed once.
        // A failure (EBUSY) cannot happen without a leaked child; the PD is then leaked too.
        unsafe { sys::ibv_dealloc_pd(self.raw.as_ptr()) };
    }
}

impl ProtectionDomain {
    /// Allocates a protection domain (`ibv_alloc_pd`).
    pub fn new(ctx: &Context) -> Result<Self> {
        // SAFETY: the context is live; the PD is freed in PdInner's Drop.
        let raw = unsafe { sys::ibv_alloc_pd(ctx.as_raw()) };
        let raw = NonNull::new(raw).ok_or_else(|| Error::last_os("ibv_alloc_pd"))?;
        Ok(ProtectionDomain {
            inner: Arc::new(PdInner {
                raw,
                ctx: ctx.inner.clone(),
            }),
        })
    }

    /// The context this PD belongs to.
    pub fn context(&self) -> Context {
        Context {
            inner: self.inner.ctx.clone(),
        }
    }

    /// The raw PD pointer (valid while this PD or any resource of it lives).
    pub fn as_raw(&self) -> *mut sys::ibv_pd {
        #[cfg(feature = "stub-provider")]
        self.inner
            .ctx
            .refuse_stub("a verb on the protection domain");
        self.inner.raw.as_ptr()
    }

    /// A PD of the fake provider of [`crate::stub`], which frees `raw` when dropped.
    #[cfg(feature = "stub-provider")]
    pub(crate) fn from_stub_parts(raw: NonNull<sys::ibv_pd>, ctx: &Context) -> Self {
        debug_assert!(ctx.inner.stub);
        ProtectionDomain {
            inner: Arc::new(PdInner {
                raw,
                ctx: ctx.inner.clone(),
            }),
        }
    }
}

impl fmt::Debug for ProtectionDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProtectionDomain")
            .field("device", &self.inner.ctx.name)
            .finish()
    }
}
