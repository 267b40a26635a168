//! RLIMIT_MEMLOCK too low for a registration gives Error::MemlockTooLow with the limit and the
//! fix. Its own test binary: it lowers the limit and drops CAP_IPC_LOCK for the whole process.

use rdma_device_tests::device;
use rdma_verbs::{Access, Error, MemoryRegion, ProtectionDomain};

/// Drops CAP_IPC_LOCK (which lifts the limit for root) from the effective set.
fn drop_cap_ipc_lock() {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const V3: u32 = 0x2008_0522;
    const CAP_IPC_LOCK: u32 = 14;
    let mut h = Header {
        version: V3,
        pid: 0,
    };
    let mut d = [Data::default(); 2];
    // SAFETY: capget/capset with a v3 header and two data words, as capget(2) describes.
    unsafe {
        assert_eq!(libc::syscall(libc::SYS_capget, &mut h, d.as_mut_ptr()), 0);
        d[0].effective &= !(1 << CAP_IPC_LOCK);
        assert_eq!(libc::syscall(libc::SYS_capset, &mut h, d.as_ptr()), 0);
    }
}

#[test]
fn registration_over_the_memlock_limit_names_the_limit() {
    let ctx = device();
    let pd = ProtectionDomain::new(&ctx).unwrap();
    // A small registration works before the limit is lowered.
    drop(MemoryRegion::new(&pd, 4096, Access::LOCAL_WRITE).unwrap());
    drop_cap_ipc_lock();
    let lim = libc::rlimit {
        rlim_cur: 64 * 1024,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit with a valid struct.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim) }, 0);
    let err = MemoryRegion::new(&pd, 4 << 20, Access::LOCAL_WRITE).unwrap_err();
    match &err {
        Error::MemlockTooLow { len, limit } => {
            assert_eq!(*len, 4 << 20);
            assert_eq!(limit, "65536 bytes");
        }
        other => panic!("expected MemlockTooLow, got {other:?}"),
    }
    assert!(err.to_string().contains("ulimit -l"), "{err}");
}
