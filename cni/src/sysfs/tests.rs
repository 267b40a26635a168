//! VF discovery against a fixture tree shaped like the kernel's.

use super::*;
use std::os::unix::fs::symlink;

const VF: &str = "0000:03:00.2";
const PF: &str = "0000:03:00.0";

/// bus/pci/devices/{PF,VF}, the PF with netdev ib0 and virtfn0 → other, virtfn1 → VF; the VF
/// with netdev ib1, RDMA device mlx5_3 and a driver directory.
fn fixture() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let devs = t.path().join("bus/pci/devices");
    let pf = devs.join(PF);
    let vf = devs.join(VF);
    let other = devs.join("0000:03:00.1");
    for d in [&pf, &vf, &other] {
        fs::create_dir_all(d).unwrap();
    }
    fs::create_dir_all(pf.join("net/ib0")).unwrap();
    symlink("../0000:03:00.1", pf.join("virtfn0")).unwrap();
    symlink(format!("../{VF}"), pf.join("virtfn1")).unwrap();
    symlink(format!("../{PF}"), vf.join("physfn")).unwrap();
    symlink(format!("../{PF}"), other.join("physfn")).unwrap();
    fs::create_dir_all(vf.join("net/ib1")).unwrap();
    fs::create_dir_all(vf.join("infiniband/mlx5_3")).unwrap();
    let drv = t.path().join("bus/pci/drivers/mlx5_core");
    fs::create_dir_all(&drv).unwrap();
    fs::write(drv.join("bind"), "").unwrap();
    fs::write(drv.join("unbind"), "").unwrap();
    symlink("../../drivers/mlx5_core", vf.join("driver")).unwrap();
    let net = t.path().join("class/net");
    fs::create_dir_all(&net).unwrap();
    symlink(vf.join("net/ib1"), net.join("ib1")).unwrap();
    fs::create_dir_all(vf.join("net/ib1")).unwrap();
    symlink(&vf, vf.join("net/ib1/device")).unwrap();
    let rxe = t.path().join("class/infiniband/rxe0");
    fs::create_dir_all(&rxe).unwrap();
    fs::write(rxe.join("parent"), "rdma0\n").unwrap();
    fs::create_dir_all(net.join("rdma0")).unwrap();
    t
}

fn pci(s: &str) -> PciAddr {
    s.parse().unwrap()
}

#[test]
fn vf_discovery_finds_pf_index_netdev_and_rdma_device() {
    let t = fixture();
    let root = SysRoot::new(t.path());
    assert!(root.is_vf(&pci(VF)));
    assert!(!root.is_vf(&pci(PF)));
    let vf = root.vf(&pci(VF)).unwrap();
    assert_eq!(
        vf,
        VfInfo {
            pci: pci(VF),
            pf_netdev: "ib0".into(),
            vf_index: 1,
            netdev: Some("ib1".into()),
            rdma_devices: vec!["mlx5_3".into()],
        }
    );
}

#[test]
fn missing_device_and_pf_are_named() {
    let t = fixture();
    let root = SysRoot::new(t.path());
    let e = root.vf(&pci("0000:09:00.0")).unwrap_err();
    assert!(matches!(e, SysfsError::NoPciDevice { .. }), "{e}");
    assert!(e.to_string().contains("0000:09:00.0"), "{e}");
    let e = root.vf(&pci(PF)).unwrap_err();
    assert!(matches!(e, SysfsError::NotAVf { .. }), "{e}");
    assert!(e.to_string().contains("is not an SR-IOV VF"), "{e}");
}

#[test]
fn vf_without_index_link_or_pf_netdev_is_an_error() {
    let t = fixture();
    let root = SysRoot::new(t.path());
    let pf = t.path().join("bus/pci/devices").join(PF);
    fs::remove_file(pf.join("virtfn1")).unwrap();
    assert!(matches!(
        root.vf(&pci(VF)),
        Err(SysfsError::NoVfIndex { .. })
    ));
    fs::remove_dir_all(pf.join("net")).unwrap();
    let e = root.vf(&pci(VF)).unwrap_err();
    assert!(
        matches!(e, SysfsError::Io { .. } | SysfsError::NoPfNetdev { .. }),
        "{e}"
    );
}

#[test]
fn rdma_device_of_netdev_through_pci_or_parent() {
    let t = fixture();
    let root = SysRoot::new(t.path());
    assert_eq!(root.rdma_devices_of_netdev("ib1").unwrap(), ["mlx5_3"]);
    assert_eq!(root.rdma_devices_of_netdev("rdma0").unwrap(), ["rxe0"]);
    for bad in ["nope", "..", "a/b", ""] {
        let e = root.rdma_devices_of_netdev(bad).unwrap_err();
        assert!(matches!(e, SysfsError::NoNetdev { .. }), "{bad}: {e}");
    }
    assert_eq!(root.rdma_devices_of_pci(VF).unwrap(), ["mlx5_3"]);
    assert!(matches!(
        root.rdma_devices_of_pci("3:0.2"),
        Err(SysfsError::Pci(_))
    ));
}

#[test]
fn vf_pci_follows_the_pfs_virtfn_link() {
    let t = fixture();
    let root = SysRoot::new(t.path());
    let net = t.path().join("class/net");
    fs::create_dir_all(net.join("ib0")).unwrap();
    symlink(
        t.path().join("bus/pci/devices").join(PF),
        net.join("ib0/device"),
    )
    .unwrap();
    assert_eq!(root.vf_pci("ib0", 1).unwrap(), pci(VF));
    assert!(matches!(root.vf_pci("ib0", 7), Err(SysfsError::Io { .. })));
    assert!(matches!(
        root.vf_pci("nope", 0),
        Err(SysfsError::NoNetdev { .. })
    ));
}

#[test]
fn rebind_writes_the_address_to_unbind_then_bind() {
    let t = fixture();
    let root = SysRoot::new(t.path());
    let back = root.rebind(&pci(VF), Duration::from_millis(100)).unwrap();
    assert_eq!(back.as_deref(), Some("ib1"));
    let drv = t.path().join("bus/pci/drivers/mlx5_core");
    assert_eq!(fs::read_to_string(drv.join("unbind")).unwrap(), VF);
    assert_eq!(fs::read_to_string(drv.join("bind")).unwrap(), VF);
    fs::remove_file(t.path().join("bus/pci/devices").join(VF).join("driver")).unwrap();
    let e = root.rebind(&pci(VF), Duration::ZERO).unwrap_err();
    assert!(matches!(e, SysfsError::NoDriver { .. }), "{e}");
}

#[test]
fn system_root_follows_the_environment_variable() {
    // Only this test touches the variable.
    std::env::set_var(ROOT_ENV, "/tmp/fixture-root");
    assert_eq!(SysRoot::system().path(), Path::new("/tmp/fixture-root"));
    std::env::set_var(ROOT_ENV, "");
    assert_eq!(SysRoot::system().path(), Path::new("/sys"));
    std::env::remove_var(ROOT_ENV);
}
