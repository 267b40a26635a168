//! Running code inside a network namespace (the pod's `CNI_NETNS`) without moving the process.
//!
//! [`run_in`] starts a fresh thread, which calls `setns(fd, CLONE_NEWNET)` and then runs the
//! closure; only that thread changes namespace, and it ends when the closure returns, so no
//! other thread (and no later work on a pooled thread) ever runs in the wrong namespace. The
//! closure may borrow from the caller (the thread is scoped).
//!
//! [`run_in_with_sysfs`] also gives the thread a private mount namespace with a fresh sysfs at
//! `/sys`, as `ip netns exec` does. sysfs shows the network (and, in exclusive RDMA netns
//! mode, RDMA) devices of the namespace that *mounted* it, so a thread that only called
//! `setns` still sees the host's `/sys/class/net` and `/sys/class/infiniband`; libibverbs
//! reads sysfs to open a device, so RDMA work inside the pod's namespace needs this variant.
//!
//! A panic in the closure is caught on its thread and returned as [`NetnsError::Panicked`]
//! with the panic message: the plugin must still print a CNI error and roll back, so a panic
//! never unwinds into the caller.

use std::any::Any;
use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// An open network namespace: an owned file descriptor of an nsfs file such as
/// `/run/netns/NAME`, `/proc/PID/ns/net` or `/var/run/netns/cni-…` (what `CNI_NETNS` names).
#[derive(Debug)]
pub struct NetNs {
    fd: OwnedFd,
    path: PathBuf,
}

/// Why a namespace could not be opened or entered, or the work in it failed to finish.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// The namespace file cannot be opened.
    #[error("cannot open network namespace {}: {source}", path.display())]
    Open {
        /// The path given.
        path: PathBuf,
        /// What `open` said.
        source: io::Error,
    },
    /// The file is not a network namespace.
    #[error("{} is not a network namespace ({what})", path.display())]
    NotNetns {
        /// The path given.
        path: PathBuf,
        /// What it is instead.
        what: String,
    },
    /// `setns` refused.
    #[error("cannot enter network namespace {}: setns: {source}{}", path.display(),
        if source.raw_os_error() == Some(libc::EPERM) { " (needs CAP_SYS_ADMIN)" } else { "" })]
    Enter {
        /// The namespace's path.
        path: PathBuf,
        /// What `setns` said.
        source: io::Error,
    },
    /// The thread could not be started.
    #[error("cannot start a thread for network namespace {}: {source}", path.display())]
    Spawn {
        /// The namespace's path.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// The private `/sys` of [`run_in_with_sysfs`] could not be set up.
    #[error("cannot mount a sysfs of network namespace {} on /sys: {step}: {source}", path.display())]
    Sysfs {
        /// The namespace's path.
        path: PathBuf,
        /// The step that failed (`unshare(CLONE_NEWNS)`, …).
        step: &'static str,
        /// What the system said.
        source: io::Error,
    },
    /// The closure panicked.
    #[error("the work in network namespace {} panicked: {message}", path.display())]
    Panicked {
        /// The namespace's path.
        path: PathBuf,
        /// The panic message.
        message: String,
    },
}

impl NetnsError {
    /// The errno behind the error, if there is one.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            NetnsError::Open { source, .. }
            | NetnsError::Enter { source, .. }
            | NetnsError::Spawn { source, .. }
            | NetnsError::Sysfs { source, .. } => source.raw_os_error(),
            NetnsError::NotNetns { .. } | NetnsError::Panicked { .. } => None,
        }
    }
}

/// `statfs.f_type` of nsfs (namespace files, Linux 3.19 and later).
const NSFS_MAGIC: i64 = 0x6e73_6673;

impl NetNs {
    /// Opens the network namespace file at `path` (read-only, close-on-exec) and checks that
    /// it is one.
    pub fn open(path: impl AsRef<Path>) -> Result<NetNs, NetnsError> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path).map_err(|source| NetnsError::Open {
            path: path.clone(),
            source,
        })?;
        let ns = NetNs {
            fd: file.into(),
            path,
        };
        ns.check_type()?;
        Ok(ns)
    }

    /// The calling thread's network namespace (`/proc/thread-self/ns/net`).
    pub fn current() -> Result<NetNs, NetnsError> {
        NetNs::open("/proc/thread-self/ns/net")
    }

    /// The path it was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The namespace's inode number: equal for two handles of the same namespace (what `ip
    /// netns identify` compares).
    pub fn id(&self) -> io::Result<u64> {
        // SAFETY: all-zero is a valid `stat` (plain integers).
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: the fd is open (owned by self) and `st` is writable.
        if unsafe { libc::fstat(self.fd.as_raw_fd(), &mut st) } != 0 {
            return Err(io::Error::last_os_error());
        }
        #[allow(clippy::unnecessary_cast)] // st_ino's type differs between targets
        Ok(st.st_ino as u64)
    }

    fn check_type(&self) -> Result<(), NetnsError> {
        let not = |what: String| NetnsError::NotNetns {
            path: self.path.clone(),
            what,
        };
        // SAFETY: all-zero is a valid `statfs` (plain integers).
        let mut st: libc::statfs = unsafe { std::mem::zeroed() };
        // SAFETY: the fd is open (owned by self) and `st` is a writable statfs.
        if unsafe { libc::fstatfs(self.fd.as_raw_fd(), &mut st) } != 0 {
            return Err(NetnsError::Open {
                path: self.path.clone(),
                source: io::Error::last_os_error(),
            });
        }
        #[allow(clippy::unnecessary_cast)] // f_type's type differs between targets
        let fs = st.f_type as i64;
        if fs != NSFS_MAGIC {
            return Err(not(format!(
                "a file on a filesystem of type {fs:#x}, not nsfs"
            )));
        }
        // SAFETY: NS_GET_NSTYPE takes no argument and only reads the fd's namespace.
        let kind = unsafe { libc::ioctl(self.fd.as_raw_fd(), libc::NS_GET_NSTYPE) };
        match kind {
            k if k == libc::CLONE_NEWNET => Ok(()),
            // Linux before 4.11 cannot tell; setns will check.
            -1 if io::Error::last_os_error().raw_os_error() == Some(libc::ENOTTY) => Ok(()),
            -1 => Err(NetnsError::Open {
                path: self.path.clone(),
                source: io::Error::last_os_error(),
            }),
            k => Err(not(format!("a namespace of type {k:#x}"))),
        }
    }
}

impl AsFd for NetNs {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Runs `f` on a new thread that has entered `ns` (`setns(fd, CLONE_NEWNET)`), waits for it
/// and returns its value. The caller's thread never changes namespace. A panic in `f` is
/// returned as [`NetnsError::Panicked`].
pub fn run_in<T: Send>(ns: &NetNs, f: impl FnOnce() -> T + Send) -> Result<T, NetnsError> {
    on_thread(&ns.path, || enter(ns), f)
}

/// [`run_in`], and before `f` the thread also unshares its mount namespace (made a slave of
/// the host's, so nothing propagates back) and mounts a fresh sysfs on `/sys`, which shows the
/// devices of `ns` (what `ip netns exec` does). Needs CAP_SYS_ADMIN. The mounts vanish with
/// the thread.
pub fn run_in_with_sysfs<T: Send>(
    ns: &NetNs,
    f: impl FnOnce() -> T + Send,
) -> Result<T, NetnsError> {
    on_thread(
        &ns.path,
        || {
            enter(ns)?;
            private_sysfs(&ns.path)
        },
        f,
    )
}

/// Runs `setup` and then `f` on a new scoped thread; panics become [`NetnsError::Panicked`].
fn on_thread<T: Send>(
    path: &Path,
    setup: impl FnOnce() -> Result<(), NetnsError> + Send,
    f: impl FnOnce() -> T + Send,
) -> Result<T, NetnsError> {
    std::thread::scope(|s| {
        let handle = std::thread::Builder::new()
            .name("netns".into())
            .spawn_scoped(s, move || {
                setup()?;
                Ok(f())
            })
            .map_err(|source| NetnsError::Spawn {
                path: path.to_owned(),
                source,
            })?;
        handle.join().unwrap_or_else(|payload| {
            Err(NetnsError::Panicked {
                path: path.to_owned(),
                message: panic_message(payload.as_ref()),
            })
        })
    })
}

fn enter(ns: &NetNs) -> Result<(), NetnsError> {
    // SAFETY: the fd is open for the duration of the call (borrowed from `ns`); setns only
    // changes the calling thread's namespace, which is this fresh thread's.
    if unsafe { libc::setns(ns.fd.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(NetnsError::Enter {
            path: ns.path.clone(),
            source: io::Error::last_os_error(),
        });
    }
    Ok(())
}

fn private_sysfs(path: &Path) -> Result<(), NetnsError> {
    let fail = |step: &'static str| NetnsError::Sysfs {
        path: path.to_owned(),
        step,
        source: io::Error::last_os_error(),
    };
    // SAFETY: unshare with only CLONE_NEWNS (which implies CLONE_FS) affects this thread alone.
    if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
        return Err(fail("unshare(CLONE_NEWNS)"));
    }
    let root = c"/";
    let sys = c"/sys";
    // SAFETY: valid NUL-terminated paths; a NULL source/type/data is allowed for a
    // propagation change. This mount namespace belongs to this thread only.
    if unsafe {
        libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_SLAVE,
            std::ptr::null(),
        )
    } != 0
    {
        return Err(fail("making / a slave mount"));
    }
    // SAFETY: a valid path; a lazy unmount in this thread's private mount namespace.
    if unsafe { libc::umount2(sys.as_ptr(), libc::MNT_DETACH) } != 0
        && io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL)
    {
        return Err(fail("unmounting /sys"));
    }
    let name = CString::new(path.as_os_str().as_bytes()).unwrap_or_else(|_| c"sysfs".into());
    // SAFETY: valid NUL-terminated strings; sysfs takes no data.
    if unsafe {
        libc::mount(
            name.as_ptr(),
            sys.as_ptr(),
            c"sysfs".as_ptr(),
            0,
            std::ptr::null(),
        )
    } != 0
    {
        return Err(fail("mounting sysfs on /sys"));
    }
    Ok(())
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a panic without a message)".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// CAP_SYS_ADMIN in the effective set: setns and mounting need it.
    fn privileged() -> bool {
        const CAP_SYS_ADMIN: u32 = 21;
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap_or_default();
        crate::validate::memlock::cap_eff(&status).is_some_and(|c| c & (1 << CAP_SYS_ADMIN) != 0)
    }

    fn net_devices() -> BTreeSet<String> {
        std::fs::read_dir("/sys/class/net")
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect()
    }

    #[test]
    fn a_missing_file_is_an_open_error_naming_path_and_errno() {
        let e = NetNs::open("/run/netns/no-such-ns-for-test").unwrap_err();
        assert!(matches!(e, NetnsError::Open { .. }), "{e:?}");
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
        let msg = e.to_string();
        assert!(
            msg.starts_with("cannot open network namespace /run/netns/no-such-ns-for-test: "),
            "{msg}"
        );
        assert!(msg.contains("No such file"), "{msg}");
    }

    #[test]
    fn other_files_and_other_namespaces_are_refused() {
        let f = tempfile::NamedTempFile::new().unwrap();
        let e = NetNs::open(f.path()).unwrap_err();
        assert!(matches!(e, NetnsError::NotNetns { .. }), "{e:?}");
        assert!(e.to_string().contains("not nsfs"), "{e}");
        let e = NetNs::open("/proc/self/ns/mnt").unwrap_err();
        match &e {
            NetnsError::NotNetns { what, .. } => assert!(what.contains("0x20000"), "{what}"),
            other => panic!("expected NotNetns, got {other:?}"),
        }
    }

    #[test]
    fn current_is_this_threads_namespace() {
        let ns = NetNs::current().unwrap();
        let by_path = NetNs::open("/proc/self/ns/net").unwrap();
        assert_eq!(ns.id().unwrap(), by_path.id().unwrap());
        assert!(ns.as_fd().as_raw_fd() >= 0);
        assert_eq!(ns.path(), Path::new("/proc/thread-self/ns/net"));
    }

    #[test]
    fn run_in_enters_or_names_the_missing_capability() {
        let ns = NetNs::current().unwrap();
        let local = String::from("abc");
        let got = run_in(&ns, || {
            (
                local.len(),
                NetNs::current().unwrap().id().unwrap(),
                std::thread::current().name().map(str::to_owned),
            )
        });
        if privileged() {
            let (sum, id, name) = got.unwrap();
            assert_eq!(sum, 3, "the closure borrows the caller's data");
            assert_eq!(id, ns.id().unwrap());
            assert_eq!(name.as_deref(), Some("netns"));
        } else {
            let e = got.unwrap_err();
            assert!(matches!(e, NetnsError::Enter { .. }), "{e:?}");
            assert_eq!(e.raw_os_error(), Some(libc::EPERM));
            assert!(e.to_string().contains("needs CAP_SYS_ADMIN"), "{e}");
        }
    }

    #[test]
    fn a_panic_becomes_an_error_with_its_message() {
        let e = on_thread(
            Path::new("/run/netns/x"),
            || Ok(()),
            || -> u8 { panic!("boom {}", 7) },
        )
        .unwrap_err();
        match &e {
            NetnsError::Panicked { path, message } => {
                assert_eq!(path, Path::new("/run/netns/x"));
                assert_eq!(message, "boom 7");
            }
            other => panic!("expected Panicked, got {other:?}"),
        }
        let e = on_thread(Path::new("/x"), || Ok(()), || std::panic::panic_any(5u8)).unwrap_err();
        assert!(e.to_string().contains("a panic without a message"), "{e}");
    }

    #[test]
    fn a_setup_failure_skips_the_work() {
        let mut ran = false;
        let e = on_thread(
            Path::new("/x"),
            || {
                Err(NetnsError::NotNetns {
                    path: "/x".into(),
                    what: "test".into(),
                })
            },
            || ran = true,
        )
        .unwrap_err();
        assert!(matches!(e, NetnsError::NotNetns { .. }));
        assert!(!ran);
    }

    /// A fresh namespace (made by a helper thread that unshares its own): only `lo` in it,
    /// the caller's namespace and `/sys` untouched. Needs CAP_SYS_ADMIN; without it the test
    /// checks that setns is refused with EPERM (above) and stops here.
    #[test]
    fn a_fresh_namespace_is_entered_and_its_own_sysfs_shows_only_lo() {
        if !privileged() {
            // CI runs as root: there this test must run, never pass by skipping.
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must run this test with CAP_SYS_ADMIN"
            );
            eprintln!("skipped: needs CAP_SYS_ADMIN (run_in_enters_or_names_the_missing_capability covers EPERM)");
            return;
        }
        let fresh = std::thread::spawn(|| {
            // SAFETY: unshare(CLONE_NEWNET) changes only this helper thread's namespace.
            assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWNET) }, 0);
            NetNs::current().unwrap()
        })
        .join()
        .unwrap();
        let here = NetNs::current().unwrap();
        assert_ne!(fresh.id().unwrap(), here.id().unwrap());
        let before = net_devices();
        let inside = run_in(&fresh, || NetNs::current().unwrap().id().unwrap()).unwrap();
        assert_eq!(inside, fresh.id().unwrap());
        let (id, devices) = run_in_with_sysfs(&fresh, || {
            (NetNs::current().unwrap().id().unwrap(), net_devices())
        })
        .unwrap();
        assert_eq!(id, fresh.id().unwrap());
        assert_eq!(devices, BTreeSet::from(["lo".to_owned()]));
        assert_eq!(NetNs::current().unwrap().id().unwrap(), here.id().unwrap());
        assert_eq!(net_devices(), before, "the caller's /sys is untouched");
    }
}
