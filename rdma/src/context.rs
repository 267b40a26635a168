//! An open device context: device and port queries, GID table.

use crate::error::{check, Error, Result};
use crate::gid::{best_gid_index, Gid, GidEntry, GidType};
use crate::port::{DeviceAttr, LinkLayer, PortAttr, PortState};
use crate::sys;
use std::fmt;
use std::ptr::NonNull;
use std::sync::Arc;

/// An open RDMA device (`struct ibv_context`). Cheap to clone (an `Arc`); every resource created
/// from it keeps it open, so dropping in any order is safe.
#[derive(Clone)]
pub struct Context {
    pub(crate) inner: Arc<ContextInner>,
}

pub(crate) struct ContextInner {
    pub(crate) raw: NonNull<sys::ibv_context>,
    pub(crate) name: String,
    /// Closes `raw` when the last handle is gone: `ibv_close_device`, or what
    /// [`Context::from_raw_parts`] was given.
    close: sys::DestroyFn<sys::ibv_context>,
}

// SAFETY: libibverbs contexts are thread safe (every verb may be called from any thread); the
// pointer is only freed in Drop, when no clone is left.
unsafe impl Send for ContextInner {}
// SAFETY: as above.
unsafe impl Sync for ContextInner {}

impl Drop for ContextInner {
    fn drop(&mut self) {
        // SAFETY: every child resource holds an Arc to this inner, so none is left; closed
        // once, by the function this context was made with.
        unsafe { (self.close)(self.raw.as_ptr()) };
    }
}

impl Context {
    pub(crate) fn from_raw(raw: NonNull<sys::ibv_context>, name: String) -> Self {
        // SAFETY: `raw` was just opened with ibv_open_device, which ibv_close_device undoes.
        unsafe { Self::from_raw_parts(raw, name, sys::ibv_close_device) }
    }

    /// Wraps a context this crate did not open; `close` releases it after the last handle
    /// (and every resource made from it) is gone.
    ///
    /// # Safety
    /// `raw` is a live `ibv_context` that nothing else closes. Every verb the safe API calls
    /// on it, and on the resources made from it, must be valid for it. `close` may be called
    /// from any thread, once.
    pub unsafe fn from_raw_parts(
        raw: NonNull<sys::ibv_context>,
        name: impl Into<String>,
        close: sys::DestroyFn<sys::ibv_context>,
    ) -> Self {
        Context {
            inner: Arc::new(ContextInner {
                raw,
                name: name.into(),
                close,
            }),
        }
    }

    /// Opens the device named `name`, or the first device when `None`.
    pub fn open(name: Option<&str>) -> Result<Self> {
        crate::DeviceList::new()?.open(name)
    }

    /// The device name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The raw context pointer (valid while this `Context` or any resource of it lives).
    pub fn as_raw(&self) -> *mut sys::ibv_context {
        self.inner.raw.as_ptr()
    }

    /// The device attributes (`ibv_query_device`).
    pub fn query_device(&self) -> Result<DeviceAttr> {
        let mut attr = sys::ibv_device_attr::default();
        // SAFETY: the context is live and `attr` is a writable struct of the header's size.
        check("ibv_query_device", unsafe {
            sys::ibv_query_device(self.as_raw(), &mut attr)
        })?;
        Ok(DeviceAttr(attr))
    }

    /// The attributes of `port` (1-based), as the header's inline `ibv_query_port` gets them.
    pub fn query_port(&self, port: u8) -> Result<PortAttr> {
        let mut attr = sys::ibv_port_attr::default();
        // SAFETY: the context is live and `attr` is writable.
        check("ibv_query_port", unsafe {
            sys::ibv_query_port_full(self.as_raw(), port, &mut attr)
        })?;
        Ok(PortAttr(attr))
    }

    /// The attributes of `port`, or [`Error::PortNotActive`] when it is not ACTIVE.
    pub fn active_port(&self, port: u8) -> Result<PortAttr> {
        let attr = self.query_port(port)?;
        match attr.state() {
            PortState::Active => Ok(attr),
            state => Err(Error::PortNotActive {
                device: self.name().to_string(),
                port,
                state,
            }),
        }
    }

    /// The GID at `index` of `port` (`ibv_query_gid`).
    pub fn query_gid(&self, port: u8, index: u32) -> Result<Gid> {
        let mut gid = sys::ibv_gid::default();
        // SAFETY: the context is live and `gid` is writable.
        let ret = unsafe { sys::ibv_query_gid(self.as_raw(), port, index as i32, &mut gid) };
        if ret != 0 {
            return Err(self.gid_error(port, index, Error::last_os("ibv_query_gid")));
        }
        // SAFETY: every bit pattern of the union is a valid byte array.
        Ok(Gid(unsafe { gid.raw }))
    }

    /// The GID table entry at `index` of `port`, with its type (`ibv_query_gid_ex`).
    /// An absent or empty entry is [`Error::GidIndexAbsent`].
    pub fn gid_entry(&self, port: u8, index: u32) -> Result<GidEntry> {
        let mut entry = sys::ibv_gid_entry::default();
        // SAFETY: the context is live and `entry` is writable with the header's size.
        let ret = unsafe { sys::ibv_query_gid_ex(self.as_raw(), port as u32, index, &mut entry) };
        if ret != 0 {
            return Err(self.gid_error(port, index, Error::from_ret("ibv_query_gid_ex", ret)));
        }
        Ok(GidEntry {
            // SAFETY: every bit pattern of the union is a valid byte array.
            gid: Gid(unsafe { entry.gid.raw }),
            index: entry.gid_index,
            gid_type: GidType::from_raw(entry.gid_type),
            ndev_ifindex: entry.ndev_ifindex,
        })
    }

    /// The valid entries of `port`'s GID table (empty entries skipped).
    pub fn gid_table(&self, port: u8) -> Result<Vec<GidEntry>> {
        let len = self.query_port(port)?.gid_tbl_len();
        let mut out = Vec::new();
        for index in 0..len {
            match self.gid_entry(port, index) {
                Ok(e) if !e.gid.is_zero() => out.push(e),
                Ok(_) | Err(Error::GidIndexAbsent { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The GID index to use on `port` when the user gave none, as perftest chooses it:
    /// `None` on InfiniBand (LID addressing), the best-scoring entry on RoCE
    /// ([`GidEntry::perftest_score`]), [`Error::NoUsableGid`] when RoCE has none.
    pub fn default_gid_index(&self, port: u8) -> Result<Option<u32>> {
        if self.query_port(port)?.link_layer() != LinkLayer::Ethernet {
            return Ok(None);
        }
        match best_gid_index(&self.gid_table(port)?) {
            Some(i) => Ok(Some(i)),
            None => Err(Error::NoUsableGid {
                device: self.name().to_string(),
                port,
            }),
        }
    }

    /// The P_Key at `index` of `port` in host order (`ibv_query_pkey`), membership bit
    /// included; 0 is an unused slot. An index past the table is an [`Error::Verb`] with the
    /// errno libibverbs saw (it reads the port's `pkeys/<index>` file in sysfs).
    pub fn query_pkey(&self, port: u8, index: u16) -> Result<u16> {
        let mut pkey: u16 = 0;
        // SAFETY: the context is live and `pkey` is writable.
        let ret = unsafe { sys::ibv_query_pkey(self.as_raw(), port, index as i32, &mut pkey) };
        match ret {
            0 => Ok(u16::from_be(pkey)),
            // libibverbs returns -1 with errno set when reading sysfs fails; providers that
            // implement the verb themselves return a positive errno.
            r if r < 0 => Err(Error::last_os("ibv_query_pkey")),
            r => Err(Error::from_ret("ibv_query_pkey", r)),
        }
    }

    /// The whole P_Key table of `port` in host order: entry `i` is the key at index `i` (the
    /// index a QP's `pkey_index` names), 0 marks an unused slot. Its length is the port's
    /// [`PortAttr::pkey_tbl_len`].
    pub fn pkey_table(&self, port: u8) -> Result<Vec<u16>> {
        let len = self.query_port(port)?.pkey_tbl_len();
        (0..len).map(|i| self.query_pkey(port, i)).collect()
    }

    fn gid_error(&self, port: u8, index: u32, err: Error) -> Error {
        let table_len = self.query_port(port).map(|p| p.gid_tbl_len()).unwrap_or(0);
        match err.errno() {
            Some(libc::EINVAL) | Some(libc::ENODATA) | Some(libc::ENOENT) => {
                Error::GidIndexAbsent {
                    device: self.name().to_string(),
                    port,
                    index,
                    table_len,
                    hint: if index >= table_len {
                        ""
                    } else {
                        ", this one is empty"
                    },
                }
            }
            _ => err,
        }
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("name", &self.name())
            .finish()
    }
}
