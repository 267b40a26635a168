//! RDMA devices: listing them and opening one.

use crate::context::Context;
use crate::error::{Error, Result};
use crate::sys;
use std::ffi::CStr;
use std::fmt;
use std::path::Path;
use std::ptr::NonNull;

/// What kind of node a device is (`enum ibv_node_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeType {
    /// An InfiniBand channel adapter (also RoCE NICs and Soft-RoCE).
    Ca,
    /// An InfiniBand switch.
    Switch,
    /// An InfiniBand router.
    Router,
    /// An iWARP NIC.
    Rnic,
    /// A usNIC.
    Usnic,
    /// A usNIC over UDP.
    UsnicUdp,
    /// Unspecified or unknown.
    Unknown,
}

/// The transport a device speaks (`enum ibv_transport_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transport {
    /// InfiniBand transport (native IB and RoCE).
    Ib,
    /// iWARP.
    Iwarp,
    /// usNIC.
    Usnic,
    /// usNIC over UDP.
    UsnicUdp,
    /// Unspecified or unknown.
    Unknown,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Ib => "InfiniBand",
            Transport::Iwarp => "iWARP",
            Transport::Usnic => "usNIC",
            Transport::UsnicUdp => "usNIC UDP",
            Transport::Unknown => "unknown",
        })
    }
}

/// The RDMA devices libibverbs can open (`ibv_get_device_list`).
pub struct DeviceList {
    list: NonNull<*mut sys::ibv_device>,
    len: usize,
}

// SAFETY: the list is an immutable array of device pointers owned by this value; libibverbs'
// device objects are reference counted internally and usable from any thread.
unsafe impl Send for DeviceList {}
// SAFETY: as above; nothing mutates the array after creation.
unsafe impl Sync for DeviceList {}

impl DeviceList {
    /// Lists the devices. An empty list is not an error here (see [`DeviceList::find`]); a
    /// kernel without RDMA support is [`Error::NoDevice`].
    pub fn new() -> Result<Self> {
        sys::register_static_providers();
        let mut n = 0;
        // SAFETY: `n` is a valid out-pointer; the returned array is freed in Drop.
        let raw = unsafe { sys::ibv_get_device_list(&mut n) };
        let list = NonNull::new(raw).ok_or_else(|| {
            let err = Error::last_os("ibv_get_device_list");
            // ENOSYS: the kernel has no RDMA support loaded (no ib_uverbs, no
            // /sys/class/infiniband_verbs), i.e. there is no RDMA device at all.
            match err.errno() {
                Some(libc::ENOSYS) => Error::NoDevice,
                _ => err,
            }
        })?;
        Ok(DeviceList {
            list,
            len: n.max(0) as usize,
        })
    }

    /// Number of devices.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there is no device.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The devices, in libibverbs' order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Device<'_>> + '_ {
        (0..self.len).map(move |i| Device {
            // SAFETY: i < len, and the array holds `len` valid device pointers while `self` lives.
            raw: unsafe { *self.list.as_ptr().add(i) },
            _list: self,
        })
    }

    /// The device named `name`, or the first one when `name` is `None`.
    ///
    /// Errors say why none was found: [`Error::NoDevice`], [`Error::DeviceNotFound`], or
    /// [`Error::NoProvider`] when the kernel has the device but libibverbs cannot drive it.
    pub fn find(&self, name: Option<&str>) -> Result<Device<'_>> {
        let found = match name {
            Some(name) => self.iter().find(|d| d.name() == name),
            None => self.iter().next(),
        };
        if let Some(dev) = found {
            return Ok(dev);
        }
        let kernel = kernel_devices();
        match name {
            Some(name) if kernel.iter().any(|k| k == name) => Err(Error::NoProvider {
                device: name.to_string(),
            }),
            Some(name) => Err(Error::DeviceNotFound {
                name: name.to_string(),
                present: if kernel.is_empty() {
                    "none".to_string()
                } else {
                    kernel.join(", ")
                },
            }),
            None => match kernel.first() {
                Some(k) => Err(Error::NoProvider { device: k.clone() }),
                None => Err(Error::NoDevice),
            },
        }
    }

    /// Opens the device named `name` (or the first device).
    pub fn open(&self, name: Option<&str>) -> Result<Context> {
        self.find(name)?.open()
    }
}

impl Drop for DeviceList {
    fn drop(&mut self) {
        // SAFETY: the array came from ibv_get_device_list and is freed once. Contexts opened
        // from it keep their own references (libibverbs allows freeing the list after open).
        unsafe { sys::ibv_free_device_list(self.list.as_ptr()) }
    }
}

impl fmt::Debug for DeviceList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The device names the kernel has (`/sys/class/infiniband`), whether or not libibverbs has a
/// provider for them.
fn kernel_devices() -> Vec<String> {
    let dir = Path::new("/sys/class/infiniband");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// One device of a [`DeviceList`].
#[derive(Clone, Copy)]
pub struct Device<'a> {
    raw: *mut sys::ibv_device,
    _list: &'a DeviceList,
}

impl<'a> Device<'a> {
    /// The kernel name, e.g. `mlx5_0` or `rxe0`.
    pub fn name(&self) -> &'a str {
        // SAFETY: the device is live while the list is; its name is a NUL-terminated array.
        let name = unsafe { CStr::from_ptr(sys::ibv_get_device_name(self.raw)) };
        name.to_str().unwrap_or("<non-UTF-8 name>")
    }

    /// The node GUID in host order (as `ibv_devices` prints it).
    pub fn guid(&self) -> u64 {
        // SAFETY: the device is live; the call reads sysfs-cached data.
        u64::from_be(unsafe { sys::ibv_get_device_guid(self.raw) })
    }

    /// The node type.
    pub fn node_type(&self) -> NodeType {
        use sys::ibv_node_type::*;
        // SAFETY: the device is live; node_type is a plain field set at list time.
        match unsafe { (*self.raw).node_type } {
            IBV_NODE_CA => NodeType::Ca,
            IBV_NODE_SWITCH => NodeType::Switch,
            IBV_NODE_ROUTER => NodeType::Router,
            IBV_NODE_RNIC => NodeType::Rnic,
            IBV_NODE_USNIC => NodeType::Usnic,
            IBV_NODE_USNIC_UDP => NodeType::UsnicUdp,
            _ => NodeType::Unknown,
        }
    }

    /// The transport.
    pub fn transport(&self) -> Transport {
        use sys::ibv_transport_type::*;
        // SAFETY: as node_type.
        match unsafe { (*self.raw).transport_type } {
            IBV_TRANSPORT_IB => Transport::Ib,
            IBV_TRANSPORT_IWARP => Transport::Iwarp,
            IBV_TRANSPORT_USNIC => Transport::Usnic,
            IBV_TRANSPORT_USNIC_UDP => Transport::UsnicUdp,
            _ => Transport::Unknown,
        }
    }

    /// Opens the device.
    pub fn open(&self) -> Result<Context> {
        // SAFETY: the device is live; the context returned is owned by the Context.
        let raw = unsafe { sys::ibv_open_device(self.raw) };
        match NonNull::new(raw) {
            Some(raw) => Ok(Context::from_raw(raw, self.name().to_string())),
            None => {
                let err = std::io::Error::last_os_error();
                match err.raw_os_error() {
                    Some(libc::ENOENT) | Some(libc::ENXIO) | Some(libc::ENOSYS)
                    | Some(libc::EACCES) => Err(Error::NoProvider {
                        device: self.name().to_string(),
                    }),
                    _ => Err(Error::Verb {
                        verb: "ibv_open_device",
                        source: err,
                    }),
                }
            }
        }
    }
}

impl fmt::Debug for Device<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Device")
            .field("name", &self.name())
            .field("guid", &format_args!("{:016x}", self.guid()))
            .field("node_type", &self.node_type())
            .field("transport", &self.transport())
            .finish()
    }
}
