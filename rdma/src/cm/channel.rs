//! The event channel (`struct rdma_event_channel`): a non-blocking descriptor from which
//! events are read, copied and acknowledged in one step.

use super::event_kind::EventKind;
use super::param::ConnParam;
use crate::error::{Error, Result};
use crate::sys::cm;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::ptr::{self, NonNull};
use std::time::Instant;

/// The data of one `struct rdma_cm_event`, copied: the event itself is already acknowledged.
pub(crate) struct RawEvent {
    /// What happened.
    pub(crate) kind: EventKind,
    /// The event's raw status (a negative errno, or a reject reason).
    pub(crate) status: i32,
    /// The connection parameters of the events that carry them (connect request and
    /// response, reject, established), else the default.
    pub(crate) param: ConnParam,
}

/// One event channel. Each id of this crate has its own, so a wait on it sees only that id's
/// events (a listener's channel also reports connect requests, each of whose new id moves to a
/// channel of its own at once).
pub(crate) struct EventChannel {
    raw: NonNull<cm::rdma_event_channel>,
    /// The descriptor's registration with tokio, made once by the first async wait.
    #[cfg(feature = "tokio")]
    async_fd: std::sync::OnceLock<std::io::Result<tokio::io::unix::AsyncFd<RawFd>>>,
}

// SAFETY: a channel is a descriptor plus a heap struct librdmacm only reads after creation;
// librdmacm's calls on a channel are thread safe (each is one read or write on the
// descriptor). What reading an event writes into the *id* is serialized by the id's lock
// (`RawId::read_event`, the only caller of `read_event`).
unsafe impl Send for EventChannel {}
// SAFETY: as above; the tokio registration is made once under a OnceLock.
unsafe impl Sync for EventChannel {}

impl EventChannel {
    /// `rdma_create_event_channel`, with the descriptor made non-blocking (waits use poll(2)
    /// or tokio, never a blocking read).
    pub(crate) fn new() -> Result<Self> {
        // librdmacm lists the verbs devices here (its first use in the process).
        crate::sys::register_static_providers();
        // SAFETY: no preconditions; a null return sets errno.
        let raw = unsafe { cm::rdma_create_event_channel() };
        let raw = NonNull::new(raw).ok_or_else(|| {
            let err = Error::last_os("rdma_create_event_channel");
            match err.errno() {
                // librdmacm found no RDMA device, or the kernel lacks rdma_ucm.
                Some(libc::ENODEV) | Some(libc::ENOENT) | Some(libc::ENOSYS) => Error::NoDevice,
                _ => err,
            }
        })?;
        let channel = EventChannel {
            raw,
            #[cfg(feature = "tokio")]
            async_fd: std::sync::OnceLock::new(),
        };
        let fd = channel.fd();
        // SAFETY: `fd` is the channel's open descriptor; F_GETFL/F_SETFL take no pointers.
        let ok = unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFL);
            flags >= 0 && libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) == 0
        };
        if !ok {
            return Err(Error::last_os("fcntl(O_NONBLOCK) on the RDMA CM channel"));
        }
        Ok(channel)
    }

    pub(crate) fn as_ptr(&self) -> *mut cm::rdma_event_channel {
        self.raw.as_ptr()
    }

    /// The channel's descriptor: readable when an event is pending.
    pub(crate) fn fd(&self) -> RawFd {
        // SAFETY: the channel is live; `fd` is a plain field.
        unsafe { (*self.raw.as_ptr()).fd }
    }

    /// The descriptor, borrowed for as long as the channel lives.
    pub(crate) fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the descriptor stays open until the channel is destroyed in Drop, which
        // needs `&mut self`, so not while this borrow lives.
        unsafe { BorrowedFd::borrow_raw(self.fd()) }
    }

    /// Reads the next event without blocking: copies it and acknowledges it. `None` when none
    /// is pending. With the event comes its id (`event->id`): for a connect request that is
    /// the new connection's id, which nobody owns yet: the caller must adopt it.
    /// librdmacm updates the id's route while reading some events: only
    /// `RawId::read_event`, holding the id's lock, calls this.
    pub(super) fn read_event(&self) -> Result<Option<(RawEvent, *mut cm::rdma_cm_id)>> {
        let mut ev: *mut cm::rdma_cm_event = ptr::null_mut();
        // SAFETY: the channel is live and `ev` is a valid out-pointer.
        if unsafe { cm::rdma_get_cm_event(self.raw.as_ptr(), &mut ev) } != 0 {
            let err = io::Error::last_os_error();
            return match err.kind() {
                io::ErrorKind::WouldBlock => Ok(None),
                _ => Err(Error::Verb {
                    verb: "rdma_get_cm_event",
                    source: err,
                }),
            };
        }
        // SAFETY: rdma_get_cm_event succeeded, so `ev` points to an event that stays valid,
        // private data included, until it is acknowledged below; ids of this crate are all
        // in the TCP port space, whose events carry `param.conn`.
        let (event, id) = unsafe {
            let e = &*ev;
            let kind = EventKind::from_raw(e.event);
            let param = match kind {
                EventKind::ConnectRequest
                | EventKind::ConnectResponse
                | EventKind::Rejected
                | EventKind::Established => ConnParam::from_raw(e.param.conn.as_ref()),
                _ => ConnParam::default(),
            };
            let status = e.status;
            (
                RawEvent {
                    kind,
                    status,
                    param,
                },
                e.id,
            )
        };
        // SAFETY: the event came from rdma_get_cm_event and is acknowledged once; nothing
        // reads it afterwards. Its return value is always 0.
        unsafe { cm::rdma_ack_cm_event(ev) };
        Ok(Some((event, id)))
    }

    /// Waits until the descriptor is readable or `deadline` (never, if `None`) passes;
    /// returns whether it became readable.
    pub(crate) fn wait_readable(&self, deadline: Option<Instant>) -> Result<bool> {
        loop {
            let timeout_ms = match deadline {
                None => -1,
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(false);
                    }
                    // Round up so a wait never ends just before its deadline.
                    i32::try_from(left.as_millis() + 1).unwrap_or(i32::MAX)
                }
            };
            let mut pfd = libc::pollfd {
                fd: self.fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: `pfd` is one valid pollfd.
            match unsafe { libc::poll(&mut pfd, 1, timeout_ms) } {
                n if n > 0 => return Ok(true),
                0 => {}
                _ => {
                    let err = io::Error::last_os_error();
                    if err.kind() != io::ErrorKind::Interrupted {
                        return Err(Error::Verb {
                            verb: "poll on the RDMA CM channel",
                            source: err,
                        });
                    }
                }
            }
        }
    }

    /// The descriptor's tokio registration, made by the first call (inside a runtime).
    #[cfg(feature = "tokio")]
    pub(crate) fn async_fd(&self) -> Result<&tokio::io::unix::AsyncFd<RawFd>> {
        if self.async_fd.get().is_none() && tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::InvalidArgument(
                "async RDMA CM calls must run inside a tokio runtime".into(),
            ));
        }
        let registered = self.async_fd.get_or_init(|| {
            // SAFETY: the descriptor is the channel's, open until Drop, which drops this
            // registration before destroying the channel; `RawFd::as_raw_fd` always returns
            // it.
            unsafe {
                tokio::io::unix::AsyncFd::register_with_interest(
                    self.fd(),
                    tokio::io::Interest::READABLE,
                )
            }
            .map_err(|e| e.into_parts().1)
        });
        registered.as_ref().map_err(|e| Error::Verb {
            verb: "tokio AsyncFd registration of the RDMA CM channel",
            source: std::io::Error::new(e.kind(), e.to_string()),
        })
    }
}

impl AsRawFd for EventChannel {
    fn as_raw_fd(&self) -> RawFd {
        self.fd()
    }
}

impl Drop for EventChannel {
    fn drop(&mut self) {
        // Deregister from tokio while the descriptor is still open.
        #[cfg(feature = "tokio")]
        drop(self.async_fd.take());
        // SAFETY: every id on this channel was destroyed first (an id owns its channel and
        // destroys itself before dropping it); destroyed once.
        unsafe { cm::rdma_destroy_event_channel(self.raw.as_ptr()) };
    }
}
