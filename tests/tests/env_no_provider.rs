//! A device the kernel has but libibverbs cannot drive gives Error::NoProvider. Its own test
//! binary: it hides every provider from libibverbs (IBV_CONFIG_DIR) before the first verb.

use rdma::{DeviceList, Error};

#[test]
fn device_without_provider_is_named() {
    let kernel: Vec<String> = std::fs::read_dir("/sys/class/infiniband")
        .expect("device tests need an RDMA device: /sys/class/infiniband is missing")
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(!kernel.is_empty(), "device tests need an RDMA device");
    let empty = std::env::temp_dir().join("rdma-no-providers");
    std::fs::create_dir_all(&empty).unwrap();
    // Before libibverbs initializes (nothing in this process has called it yet).
    std::env::set_var("IBV_CONFIG_DIR", &empty);
    let list = DeviceList::new().unwrap();
    assert!(list.is_empty(), "no provider should load: {list:?}");
    match list.find(None).unwrap_err() {
        Error::NoProvider { device } => assert!(kernel.contains(&device), "{device}"),
        other => panic!("expected NoProvider, got {other:?}"),
    }
    let err = list.find(Some(&kernel[0])).unwrap_err();
    assert!(matches!(err, Error::NoProvider { .. }), "{err:?}");
    assert!(err.to_string().contains("ibverbs-providers"), "{err}");
}
