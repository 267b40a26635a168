//! Memory regions that own their (page-aligned) memory, and the pieces they split into.
//!
//! A [`MemoryRegion`] is both the registration and an exclusive owner of a byte range of it.
//! [`split_at`](MemoryRegion::split_at) and [`chunks`](MemoryRegion::chunks) cut it into
//! smaller `MemoryRegion`s that share the registration (an `Arc`, touched only when splitting
//! and dropping) and each own their range, so each can be handed to a different work request.
//! The registration is released and the memory unmapped when the last piece is dropped: first
//! `ibv_dereg_mr` (after which the device can no longer reach the pages), then `munmap`. If
//! deregistration fails the memory is leaked, never freed under the device.

use crate::access::Access;
use crate::error::{Error, Result};
use crate::pd::{PdInner, ProtectionDomain};
use crate::sys;
use std::fmt;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::sync::Arc;

/// Where a peer may access memory: address, rkey and length, as sent to it out of band.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RemoteBuf {
    /// The virtual address of the first byte.
    pub addr: u64,
    /// The rkey of the region.
    pub rkey: u32,
    /// The length in bytes.
    pub len: u64,
}

impl RemoteBuf {
    /// The sub-range `offset..offset+len`, or `None` when it does not fit.
    pub fn slice(&self, offset: u64, len: u64) -> Option<RemoteBuf> {
        let end = offset.checked_add(len)?;
        (end <= self.len).then_some(RemoteBuf {
            addr: self.addr + offset,
            rkey: self.rkey,
            len,
        })
    }
}

enum Backing {
    Mmap(#[allow(dead_code)] memmap2::MmapMut),
    /// Caller-owned memory ([`MemoryRegion::register_raw`], [`MemoryRegion::from_raw_parts`]).
    Foreign,
}

struct MrInner {
    raw: NonNull<sys::ibv_mr>,
    _pd: Arc<PdInner>,
    backing: ManuallyDrop<Backing>,
    access: Access,
    lkey: u32,
    rkey: u32,
    /// `ibv_dereg_mr`, or what [`MemoryRegion::from_raw_parts`] was given.
    dereg: sys::DestroyFn<sys::ibv_mr>,
}

// SAFETY: the MR handle is only used to deregister it in Drop; the memory is owned by the pieces.
unsafe impl Send for MrInner {}
// SAFETY: as above; shared access only reads the immutable keys.
unsafe impl Sync for MrInner {}

impl Drop for MrInner {
    fn drop(&mut self) {
        // SAFETY: the MR is live and deregistered once; no piece is left, so no work request
        // of the safe API references it (each posted piece is held by its queue until done).
        let ret = unsafe { (self.dereg)(self.raw.as_ptr()) };
        if ret == 0 {
            // SAFETY: dropped exactly once, after the device lost access to the pages.
            unsafe { ManuallyDrop::drop(&mut self.backing) };
        }
        // On failure the device may still reach the pages: the mapping is leaked on purpose.
    }
}

/// A registered memory region, owning its memory (or an exclusive piece of it).
pub struct MemoryRegion {
    inner: Arc<MrInner>,
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the piece exclusively owns its byte range; the shared inner is Send + Sync.
unsafe impl Send for MemoryRegion {}
// SAFETY: `&MemoryRegion` only allows reads (and volatile reads of remote-writable memory).
unsafe impl Sync for MemoryRegion {}

/// Options for [`MemoryRegion::builder`].
#[derive(Debug)]
pub struct MrBuilder<'a> {
    pd: &'a ProtectionDomain,
    len: usize,
    access: Access,
    huge_pages: bool,
}

impl MrBuilder<'_> {
    /// Access rights (default: [`Access::LOCAL_WRITE`]).
    pub fn access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }

    /// Back the region with huge pages (`MAP_HUGETLB`); needs pages reserved in
    /// `/proc/sys/vm/nr_hugepages`, and the length is rounded up to the huge page size.
    pub fn huge_pages(mut self, yes: bool) -> Self {
        self.huge_pages = yes;
        self
    }

    /// Maps zeroed memory and registers it.
    pub fn build(self) -> Result<MemoryRegion> {
        if self.len == 0 {
            return Err(Error::InvalidArgument(
                "a memory region needs at least one byte".into(),
            ));
        }
        let mut opts = memmap2::MmapOptions::new();
        opts.len(self.len);
        if self.huge_pages {
            opts.huge(None);
        }
        let mut map = opts.map_anon().map_err(|source| Error::Verb {
            verb: if self.huge_pages {
                "mmap(MAP_HUGETLB)"
            } else {
                "mmap"
            },
            source,
        })?;
        let ptr = NonNull::new(map.as_mut_ptr()).expect("mmap never returns NULL");
        // SAFETY: the mapping is owned by the region being built and outlives the registration
        // (MrInner deregisters before it unmaps).
        unsafe { register(self.pd, ptr, self.len, self.access, Backing::Mmap(map)) }
    }
}

/// Registers `len` bytes at `ptr` and wraps them with their backing.
///
/// # Safety
/// `ptr..ptr+len` is mapped, and stays mapped and unaliased until the returned region and all
/// pieces split from it are dropped.
unsafe fn register(
    pd: &ProtectionDomain,
    ptr: NonNull<u8>,
    len: usize,
    access: Access,
    backing: Backing,
) -> Result<MemoryRegion> {
    // SAFETY: per this function's contract the memory stays valid for the registration.
    let raw = unsafe { sys::ibv_reg_mr_full(pd.as_raw(), ptr.as_ptr().cast(), len, access.bits()) };
    let Some(raw) = NonNull::new(raw) else {
        let err = std::io::Error::last_os_error();
        return Err(memlock_error(len, &err).unwrap_or(Error::Verb {
            verb: "ibv_reg_mr",
            source: err,
        }));
    };
    // SAFETY: a fresh registration of `ptr..ptr+len` (mapped per this function's contract)
    // on `pd`; ibv_dereg_mr undoes it.
    Ok(unsafe { wrap(raw, pd, ptr, len, access, backing, sys::ibv_dereg_mr) })
}

/// The region of the registration `raw` of `len` bytes at `ptr`, kept by `backing`.
///
/// # Safety
/// `raw` is a live registration of `ptr..ptr+len` on `pd` with `access`, which `dereg`
/// releases once; the memory stays mapped and unaliased while the region or a piece lives.
unsafe fn wrap(
    raw: NonNull<sys::ibv_mr>,
    pd: &ProtectionDomain,
    ptr: NonNull<u8>,
    len: usize,
    access: Access,
    backing: Backing,
    dereg: sys::DestroyFn<sys::ibv_mr>,
) -> MemoryRegion {
    // SAFETY: per the caller, a live MR; lkey/rkey are plain fields.
    let (lkey, rkey) = unsafe { ((*raw.as_ptr()).lkey, (*raw.as_ptr()).rkey) };
    MemoryRegion {
        inner: Arc::new(MrInner {
            raw,
            _pd: pd.inner.clone(),
            backing: ManuallyDrop::new(backing),
            access,
            lkey,
            rkey,
            dereg,
        }),
        ptr,
        len,
    }
}

/// Turns a registration failure into [`Error::MemlockTooLow`] when the locked-memory limit is
/// the likely cause: ENOMEM/EPERM/EAGAIN, a finite limit, and no CAP_IPC_LOCK.
fn memlock_error(len: usize, err: &std::io::Error) -> Option<Error> {
    if !matches!(
        err.raw_os_error(),
        Some(libc::ENOMEM) | Some(libc::EPERM) | Some(libc::EAGAIN)
    ) {
        return None;
    }
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) } != 0
        || lim.rlim_cur == libc::RLIM_INFINITY
        || has_cap_ipc_lock()
    {
        return None;
    }
    Some(Error::MemlockTooLow {
        len,
        limit: format!("{} bytes", lim.rlim_cur),
    })
}

/// True when the effective capability set has CAP_IPC_LOCK (which lifts RLIMIT_MEMLOCK).
fn has_cap_ipc_lock() -> bool {
    const CAP_IPC_LOCK: u32 = 14;
    // Capabilities are per thread: read the calling thread's.
    std::fs::read_to_string("/proc/thread-self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << CAP_IPC_LOCK) != 0)
}

impl MemoryRegion {
    /// Wraps a registration of `pd` this crate did not make: the region is the memory at
    /// `raw->addr`, `raw->length` bytes, with `raw`'s keys. `dereg` releases the registration
    /// after the last piece is gone, and may free the memory then.
    ///
    /// # Safety
    /// `raw` is a live `ibv_mr` of `pd` that nothing else deregisters; its memory is mapped,
    /// at least one byte long, and read or written only through this region (and the device)
    /// until `dereg` returns 0. `access` is what it was registered with. `dereg` may be
    /// called from any thread, once; when it fails the memory must stay mapped.
    pub unsafe fn from_raw_parts(
        raw: NonNull<sys::ibv_mr>,
        pd: &ProtectionDomain,
        access: Access,
        dereg: sys::DestroyFn<sys::ibv_mr>,
    ) -> Self {
        // SAFETY: the caller's live MR; addr and length are plain fields.
        let (addr, len) = unsafe { ((*raw.as_ptr()).addr, (*raw.as_ptr()).length) };
        let ptr = NonNull::new(addr.cast::<u8>()).expect("a registered region has an address");
        // SAFETY: forwarded from this function's contract: `raw` registers `ptr..ptr+len`,
        // whose memory its creator owns (a foreign backing) and `dereg` releases.
        unsafe { wrap(raw, pd, ptr, len, access, Backing::Foreign, dereg) }
    }

    /// Maps `len` zeroed bytes and registers them with `access`.
    pub fn new(pd: &ProtectionDomain, len: usize, access: Access) -> Result<Self> {
        Self::builder(pd, len).access(access).build()
    }

    /// A builder for more options (huge pages).
    pub fn builder(pd: &ProtectionDomain, len: usize) -> MrBuilder<'_> {
        MrBuilder {
            pd,
            len,
            access: Access::LOCAL_WRITE,
            huge_pages: false,
        }
    }

    /// Registers memory the caller owns (`ibv_reg_mr` on `ptr..ptr+len`).
    ///
    /// # Safety
    /// Until the returned region and every piece split from it have been dropped:
    /// - `ptr..ptr+len` stays mapped and is not freed or unmapped;
    /// - no other code reads or writes it except through the returned region (the device may
    ///   write it at any time while a receive or read is outstanding).
    ///
    /// Dropping the last piece deregisters the memory but does not free it.
    pub unsafe fn register_raw(
        pd: &ProtectionDomain,
        ptr: NonNull<u8>,
        len: usize,
        access: Access,
    ) -> Result<Self> {
        if len == 0 {
            return Err(Error::InvalidArgument(
                "a memory region needs at least one byte".into(),
            ));
        }
        // SAFETY: forwarded from this function's contract.
        unsafe { register(pd, ptr, len, access, Backing::Foreign) }
    }

    /// The local key, for SGEs.
    pub fn lkey(&self) -> u32 {
        self.inner.lkey
    }
    /// The remote key, for peers.
    pub fn rkey(&self) -> u32 {
        self.inner.rkey
    }
    /// The address of this piece's first byte.
    pub fn addr(&self) -> u64 {
        self.ptr.as_ptr() as u64
    }
    /// The length of this piece.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Always false: regions have at least one byte.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The access rights the region was registered with.
    pub fn access(&self) -> Access {
        self.inner.access
    }
    /// Where a peer may reach this piece (meaningful with remote access rights).
    pub fn remote(&self) -> RemoteBuf {
        RemoteBuf {
            addr: self.addr(),
            rkey: self.rkey(),
            len: self.len as u64,
        }
    }
    /// True when both are pieces of the same registration.
    pub fn same_registration(&self, other: &MemoryRegion) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The bytes, unless peers may write them ([`Access::remote_writable`]); use
    /// [`read_at`](Self::read_at) for those.
    ///
    /// No work request can write these bytes meanwhile: a piece handed to a receive or read is
    /// owned by its queue until its completion is returned.
    pub fn as_slice(&self) -> Option<&[u8]> {
        if self.access().remote_writable() {
            return None;
        }
        // SAFETY: this piece exclusively owns ptr..ptr+len, the memory is mapped while the
        // inner lives, and no peer can write it (no remote-write right).
        Some(unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) })
    }

    /// The bytes, mutably, unless peers may write them; use [`write_at`](Self::write_at) for those.
    pub fn as_mut_slice(&mut self) -> Option<&mut [u8]> {
        if self.access().remote_writable() {
            return None;
        }
        // SAFETY: as as_slice, and `&mut self` makes the access exclusive.
        Some(unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) })
    }

    /// Copies `dst.len()` bytes starting at `offset` out of the region with volatile reads,
    /// which is sound even while a peer writes it. Returns false when the range does not fit.
    pub fn read_at(&self, offset: usize, dst: &mut [u8]) -> bool {
        if !self.fits(offset, dst.len()) {
            return false;
        }
        for (i, d) in dst.iter_mut().enumerate() {
            // SAFETY: in bounds (checked above); a volatile read of mapped memory owned by this
            // piece, which a peer may change concurrently.
            *d = unsafe { self.ptr.as_ptr().add(offset + i).read_volatile() };
        }
        true
    }

    /// One byte at `offset` with a volatile read (e.g. to spin on a flag a peer writes).
    pub fn load(&self, offset: usize) -> Option<u8> {
        // SAFETY: in bounds when `fits`; volatile read of memory owned by this piece.
        self.fits(offset, 1)
            .then(|| unsafe { self.ptr.as_ptr().add(offset).read_volatile() })
    }

    /// Copies `src` into the region at `offset` with volatile writes. Returns false when the
    /// range does not fit.
    pub fn write_at(&mut self, offset: usize, src: &[u8]) -> bool {
        if !self.fits(offset, src.len()) {
            return false;
        }
        for (i, s) in src.iter().enumerate() {
            // SAFETY: in bounds (checked above); `&mut self` owns the range.
            unsafe { self.ptr.as_ptr().add(offset + i).write_volatile(*s) };
        }
        true
    }

    /// Sets every byte to `byte` (volatile writes).
    pub fn fill(&mut self, byte: u8) {
        for i in 0..self.len {
            // SAFETY: i < len; `&mut self` owns the range.
            unsafe { self.ptr.as_ptr().add(i).write_volatile(byte) };
        }
    }

    fn fits(&self, offset: usize, len: usize) -> bool {
        offset.checked_add(len).is_some_and(|end| end <= self.len)
    }

    /// Splits into `[0, mid)` and `[mid, len)`, two pieces of the same registration.
    ///
    /// # Panics
    /// When `mid` is 0 or not less than `len()` (a piece cannot be empty).
    pub fn split_at(self, mid: usize) -> (MemoryRegion, MemoryRegion) {
        assert!(
            mid > 0 && mid < self.len,
            "split_at({mid}) of a {}-byte region",
            self.len
        );
        let tail = MemoryRegion {
            inner: self.inner.clone(),
            // SAFETY: mid < len, so the result is inside the same mapping and non-null.
            ptr: unsafe { NonNull::new_unchecked(self.ptr.as_ptr().add(mid)) },
            len: self.len - mid,
        };
        let head = MemoryRegion {
            inner: self.inner,
            ptr: self.ptr,
            len: mid,
        };
        (head, tail)
    }

    /// Cuts the region into pieces of `size` bytes (the last may be shorter).
    ///
    /// # Panics
    /// When `size` is 0.
    pub fn chunks(self, size: usize) -> Vec<MemoryRegion> {
        assert!(size > 0, "chunks(0)");
        let mut out = Vec::with_capacity(self.len.div_ceil(size));
        let mut rest = self;
        while rest.len > size {
            let (head, tail) = rest.split_at(size);
            out.push(head);
            rest = tail;
        }
        out.push(rest);
        out
    }

    /// Joins two adjacent pieces of one registration back together (`self` first), or gives
    /// both back unchanged.
    pub fn unsplit(self, next: MemoryRegion) -> Result<MemoryRegion, (MemoryRegion, MemoryRegion)> {
        if self.same_registration(&next) && self.addr() + self.len as u64 == next.addr() {
            Ok(MemoryRegion {
                inner: self.inner,
                ptr: self.ptr,
                len: self.len + next.len,
            })
        } else {
            Err((self, next))
        }
    }

    /// The SGE describing `offset..offset+len` of this piece, if it fits in it and in a u32.
    #[inline(always)]
    pub(crate) fn sge(&self, offset: usize, len: usize) -> Option<sys::ibv_sge> {
        if !self.fits(offset, len) || len > u32::MAX as usize {
            return None;
        }
        Some(sys::ibv_sge {
            addr: self.addr() + offset as u64,
            length: len as u32,
            lkey: self.inner.lkey,
        })
    }
}

impl fmt::Debug for MemoryRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryRegion")
            .field("addr", &format_args!("{:#x}", self.addr()))
            .field("len", &self.len)
            .field("lkey", &format_args!("{:#x}", self.lkey()))
            .field("rkey", &format_args!("{:#x}", self.rkey()))
            .field("access", &self.access())
            .finish()
    }
}
