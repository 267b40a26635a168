//! The owned `struct rdma_cm_id` under every public type: creation, its own event channel,
//! addresses, the device it is bound to, QP transitions it computes, and reading its events
//! as raw parts (waiting for them as [`CmEvent`](super::CmEvent)s is in `wait`, above the
//! event types, since a connect request event owns a new id).

use super::addr::RawSockAddr;
use super::channel::{EventChannel, RawEvent};
use super::event_kind::EventKind;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::qp::{QpAttr, QpState, QueuePair};
use crate::sys::{self, cm};
use std::ffi::CStr;
use std::net::SocketAddr;
use std::ptr::{self, NonNull};
use std::sync::{Mutex, MutexGuard};

/// An RDMA CM id in the TCP port space (reliable connections) with its own event channel.
pub(crate) struct RawId {
    raw: NonNull<cm::rdma_cm_id>,
    /// Serializes reading an event (librdmacm then writes the id's route, device and port)
    /// with `&self` reads of those fields.
    lock: Mutex<()>,
    /// Dropped after the id: `Drop::drop` below destroys the id before fields drop.
    channel: EventChannel,
}

// SAFETY: librdmacm ids may be used from any thread. This is the id's only owner; librdmacm
// writes the id's memory only in calls made through `&mut self` (bind, resolve, migrate) or
// while reading an event, which holds `lock`, as do the `&self` reads of what it writes.
unsafe impl Send for RawId {}
// SAFETY: as above: every `&self` access to the id's memory holds `lock`. The only other
// librdmacm call made through `&self` from safe code that may run concurrently is
// rdma_init_qp_attr, which reads the id's handle and asks the kernel; connect, accept, reject
// and disconnect run while their caller owns the id (by value or `&mut`).
unsafe impl Sync for RawId {}

impl RawId {
    /// A new id on a new channel (`rdma_create_id`, `RDMA_PS_TCP`).
    pub(crate) fn new() -> Result<Self> {
        let channel = EventChannel::new()?;
        let mut raw = ptr::null_mut();
        // SAFETY: the channel is live (and outlives the id, see Drop); `raw` is an out-pointer.
        let ret = unsafe {
            cm::rdma_create_id(
                channel.as_ptr(),
                &mut raw,
                ptr::null_mut(),
                cm::rdma_port_space::RDMA_PS_TCP,
            )
        };
        if ret != 0 {
            return Err(Error::last_os("rdma_create_id"));
        }
        let raw = NonNull::new(raw).ok_or_else(|| Error::last_os("rdma_create_id"))?;
        Ok(RawId {
            raw,
            lock: Mutex::new(()),
            channel,
        })
    }

    /// Takes ownership of the new id of a connect request and moves it to a channel of its
    /// own. On failure the id is destroyed (which rejects the peer).
    ///
    /// # Safety
    /// `child` must be a live id that nothing else owns, with no unacknowledged event.
    pub(crate) unsafe fn adopt(child: *mut cm::rdma_cm_id) -> Result<Self> {
        let destroy = |err: Error| {
            // SAFETY: the caller hands over a live, unowned id; destroyed once, here.
            unsafe { cm::rdma_destroy_id(child) };
            err
        };
        let raw = NonNull::new(child)
            .ok_or_else(|| Error::InvalidArgument("connect request without an id".into()))?;
        let channel = EventChannel::new().map_err(destroy)?;
        // SAFETY: both are live; the id's only event (the request) is acknowledged, so
        // librdmacm does not wait for anything.
        if unsafe { cm::rdma_migrate_id(child, channel.as_ptr()) } != 0 {
            return Err(destroy(Error::last_os("rdma_migrate_id")));
        }
        Ok(RawId {
            raw,
            lock: Mutex::new(()),
            channel,
        })
    }

    pub(crate) fn as_ptr(&self) -> *mut cm::rdma_cm_id {
        self.raw.as_ptr()
    }

    pub(crate) fn channel(&self) -> &EventChannel {
        &self.channel
    }

    fn locked(&self) -> MutexGuard<'_, ()> {
        // The lock guards no data of its own: a panic while holding it leaves nothing torn.
        self.lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reads this id's next event without blocking (`None` when none is pending); a connect
    /// request comes with its new id, adopted onto a channel of its own.
    pub(crate) fn read_event(&self) -> Result<Option<(RawEvent, Option<RawId>)>> {
        let _guard = self.locked();
        let Some((event, event_id)) = self.channel.read_event()? else {
            return Ok(None);
        };
        if event.kind != EventKind::ConnectRequest {
            return Ok(Some((event, None)));
        }
        // SAFETY: a connect request's `id` is a new id that librdmacm handed to us and nobody
        // else owns; its event is acknowledged.
        let child = unsafe { RawId::adopt(event_id) }?;
        Ok(Some((event, Some(child))))
    }

    /// `rdma_bind_addr`.
    pub(crate) fn bind(&mut self, addr: &SocketAddr) -> Result<()> {
        let mut sa = RawSockAddr::new(addr);
        // SAFETY: the id is live; `sa` is a valid sockaddr of its family, read during the call.
        if unsafe { cm::rdma_bind_addr(self.as_ptr(), sa.as_mut_ptr()) } != 0 {
            return Err(Error::last_os("rdma_bind_addr"));
        }
        Ok(())
    }

    /// The id's source address (`rdma_get_local_addr`), once bound or resolved.
    pub(crate) fn local_addr(&self) -> Option<SocketAddr> {
        let _guard = self.locked();
        // SAFETY: the id is live; the route's address union is plain data (read unaligned as
        // libc's layout-identical storage). librdmacm writes it only in `&mut self` calls and
        // while reading an event, which holds the lock held here.
        let storage = unsafe {
            ptr::addr_of!((*self.as_ptr()).route.addr.__bindgen_anon_1.src_storage)
                .cast::<libc::sockaddr_storage>()
                .read_unaligned()
        };
        RawSockAddr::from_storage(storage).to_socket_addr()
    }

    /// The id's destination address (`rdma_get_peer_addr`), once resolved or connected.
    pub(crate) fn peer_addr(&self) -> Option<SocketAddr> {
        let _guard = self.locked();
        // SAFETY: as in local_addr.
        let storage = unsafe {
            ptr::addr_of!((*self.as_ptr()).route.addr.__bindgen_anon_2.dst_storage)
                .cast::<libc::sockaddr_storage>()
                .read_unaligned()
        };
        RawSockAddr::from_storage(storage).to_socket_addr()
    }

    /// The port of the device the id is bound to.
    pub(crate) fn port(&self) -> u8 {
        let _guard = self.locked();
        // SAFETY: the id is live; a plain field.
        unsafe { (*self.as_ptr()).port_num }
    }

    /// The name of the device the id is bound to: known after an address was resolved or a
    /// specific local address bound, and for the id of a connect request.
    pub(crate) fn device_name(&self) -> Result<String> {
        let _guard = self.locked();
        // SAFETY: the id is live; `verbs` is null or librdmacm's open context of the device,
        // which stays open while the id is bound to it.
        let dev = unsafe {
            let verbs = (*self.as_ptr()).verbs;
            if verbs.is_null() {
                ptr::null_mut()
            } else {
                (*verbs).device
            }
        };
        if dev.is_null() {
            return Err(Error::InvalidArgument(
                "the RDMA CM id is not bound to a device yet: resolve an address, or bind a \
                 local address of an RDMA device"
                    .into(),
            ));
        }
        // SAFETY: a live device; the name is a NUL-terminated string inside it.
        let name = unsafe { CStr::from_ptr(sys::ibv_get_device_name(dev)) };
        Ok(name.to_string_lossy().into_owned())
    }

    /// Opens our own context on the id's device (librdmacm's stays private to it).
    pub(crate) fn context(&self) -> Result<Context> {
        Context::open(Some(&self.device_name()?))
    }

    /// Fails unless `qp` lives on the id's device.
    pub(crate) fn check_qp(&self, qp: &QueuePair) -> Result<()> {
        let device = self.device_name()?;
        let qp_device = qp.pd().context().name().to_string();
        if device != qp_device {
            return Err(Error::InvalidArgument(format!(
                "QP {:#x} is on device {qp_device}, the RDMA CM id on {device}: create it on \
                 the id's context()",
                qp.qpn()
            )));
        }
        Ok(())
    }

    /// Moves `qp` to `state` with the attributes the CM computes for this connection
    /// (`rdma_init_qp_attr`), after `adjust` had its say, through the core's checked modify.
    pub(crate) fn move_qp(
        &self,
        qp: &mut QueuePair,
        state: QpState,
        adjust: impl FnOnce(&mut sys::ibv_qp_attr),
    ) -> Result<()> {
        let mut attr = sys::ibv_qp_attr {
            qp_state: state.to_raw(),
            ..Default::default()
        };
        let mut mask = 0;
        // SAFETY: the id is live; `attr` and `mask` are writable.
        if unsafe { cm::rdma_init_qp_attr(self.as_ptr(), &mut attr, &mut mask) } != 0 {
            return Err(Error::last_os("rdma_init_qp_attr"));
        }
        adjust(&mut attr);
        qp.modify(&QpAttr::from_raw(attr, mask as u32))
    }

    /// RESET → INIT with the CM's port, P_Key and access flags; a QP already past RESET is
    /// left as it is.
    pub(crate) fn init_qp(&self, qp: &mut QueuePair) -> Result<()> {
        self.check_qp(qp)?;
        if qp.state() == QpState::Reset {
            self.move_qp(qp, QpState::Init, |_| {})?;
        }
        Ok(())
    }

    /// Takes `qp` (RESET or INIT) to RTS for the connection: INIT again with the attributes
    /// the CM knows now (before the handshake it grants no remote access; librdmacm and the
    /// kernel refresh INIT the same way), then RTR and RTS, each adjustable.
    pub(crate) fn connect_qp(
        &self,
        qp: &mut QueuePair,
        adjust_rtr: impl FnOnce(&mut sys::ibv_qp_attr),
        adjust_rts: impl FnOnce(&mut sys::ibv_qp_attr),
    ) -> Result<()> {
        self.check_qp(qp)?;
        self.move_qp(qp, QpState::Init, |_| {})?;
        self.move_qp(qp, QpState::Rtr, adjust_rtr)?;
        self.move_qp(qp, QpState::Rts, adjust_rts)
    }
}

impl Drop for RawId {
    fn drop(&mut self) {
        // A connected id sends a disconnect request, one with a pending connect request a
        // reject. No librdmacm QP is attached (QPs are the core's own).
        // SAFETY: live, destroyed once; its events were acknowledged when read (no wait).
        unsafe { cm::rdma_destroy_id(self.raw.as_ptr()) };
    }
}
