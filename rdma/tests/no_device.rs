//! On a machine without RDMA (like the CI host), opening a device is a clear, typed error,
//! never a crash. On a machine with devices, opening the first one works or fails typed.

use rdma_verbs::{Context, DeviceList, Error};

fn kernel_has_devices() -> bool {
    std::fs::read_dir("/sys/class/infiniband")
        .map(|mut d| d.next().is_some())
        .unwrap_or(false)
}

#[test]
fn opening_without_a_device_says_no_rdma_device() {
    let list = DeviceList::new();
    if kernel_has_devices() {
        match Context::open(None) {
            Ok(ctx) => assert!(!ctx.name().is_empty()),
            Err(e) => assert!(matches!(e, Error::NoProvider { .. }), "{e}"),
        }
        return;
    }
    // A kernel without RDMA fails the listing (ENOSYS); one with the module but no device
    // gives an empty list. Both must come out as NoDevice.
    if let Ok(list) = list {
        assert!(list.is_empty(), "{list:?}");
        let err = list.find(None).unwrap_err();
        assert!(matches!(err, Error::NoDevice), "{err:?}");
    }
    let err = Context::open(None).unwrap_err();
    assert!(matches!(err, Error::NoDevice), "{err:?}");
    let msg = err.to_string();
    assert!(msg.starts_with("no RDMA device found"), "{msg}");
    eprintln!("as expected on a host without RDMA: {msg}");
    let err = Context::open(Some("mlx5_0")).unwrap_err();
    assert!(
        matches!(err, Error::NoDevice | Error::DeviceNotFound { .. }),
        "{err:?}"
    );
}

#[cfg(feature = "cm")]
#[test]
fn rdma_cm_without_a_device_says_no_rdma_device() {
    if kernel_has_devices() {
        // The device tests (tests/tests/cm.rs) cover a machine with RDMA.
        return;
    }
    let err = rdma_verbs::cm::CmId::new().unwrap_err();
    assert!(matches!(err, Error::NoDevice), "{err:?}");
    let err = rdma_verbs::cm::Listener::bind("0.0.0.0:0".parse().unwrap(), 1).unwrap_err();
    assert!(matches!(err, Error::NoDevice), "{err:?}");
}
