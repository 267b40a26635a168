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
    /// `ibv_dealloc_pd`, or what [`ProtectionDomain::from_raw_parts`] was given.
    dealloc: sys::DestroyFn<sys::ibv_pd>,
}

// SAFETY: PDs are thread safe in libibverbs; the pointer is freed only in Drop.
unsafe impl Send for PdInner {}
// SAFETY: as above.
unsafe impl Sync for PdInner {}

impl Drop for PdInner {
    fn drop(&mut self) {
        // SAFETY: MRs, QPs and SRQs hold an Arc to this inner, so none is left; freed once.
        // A failure (EBUSY) cannot happen without a leaked child; the PD is then leaked too.
        unsafe { (self.dealloc)(self.raw.as_ptr()) };
    }
}

impl ProtectionDomain {
    /// Allocates a protection domain (`ibv_alloc_pd`).
    pub fn new(ctx: &Context) -> Result<Self> {
        // SAFETY: the context is live; the PD is freed in PdInner's Drop.
        let raw = unsafe { sys::ibv_alloc_pd(ctx.as_raw()) };
        let raw = NonNull::new(raw).ok_or_else(|| Error::last_os("ibv_alloc_pd"))?;
        // SAFETY: `raw` was just allocated on `ctx`; ibv_dealloc_pd undoes ibv_alloc_pd.
        Ok(unsafe { Self::from_raw_parts(raw, ctx, sys::ibv_dealloc_pd) })
    }

    /// Wraps a protection domain of `ctx` this crate did not allocate; `dealloc` frees it
    /// after the last handle (and every resource made from it) is gone.
    ///
    /// # Safety
    /// `raw` is a live `ibv_pd` of `ctx` that nothing else frees. Every verb the safe API
    /// calls on it, and on the resources made from it, must be valid for it. `dealloc` may be
    /// called from any thread, once.
    pub unsafe fn from_raw_parts(
        raw: NonNull<sys::ibv_pd>,
        ctx: &Context,
        dealloc: sys::DestroyFn<sys::ibv_pd>,
    ) -> Self {
        ProtectionDomain {
            inner: Arc::new(PdInner {
                raw,
                ctx: ctx.inner.clone(),
                dealloc,
            }),
        }
    }

    /// The context this PD belongs to.
    pub fn context(&self) -> Context {
        Context {
            inner: self.inner.ctx.clone(),
        }
    }

    /// The raw PD pointer (valid while this PD or any resource of it lives).
    pub fn as_raw(&self) -> *mut sys::ibv_pd {
        self.inner.raw.as_ptr()
    }
}

impl fmt::Debug for ProtectionDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProtectionDomain")
            .field("device", &self.inner.ctx.name)
            .finish()
    }
}
