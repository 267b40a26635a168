//! A port that is not ACTIVE gives Error::PortNotActive naming device, port and state. Its own
//! test binary: it takes the device's network interface down (and back up) for the process.

use rdma_device_tests::device;
use rdma_verbs::{Error, PortState};
use std::process::Command;

fn ip_link(ifname: &str, state: &str) {
    let st = Command::new("ip")
        .args(["link", "set", ifname, state])
        .status()
        .expect("run ip");
    assert!(st.success(), "ip link set {ifname} {state}");
}

#[test]
fn port_down_is_reported_with_the_fix() {
    let ctx = device();
    ctx.active_port(1).expect("port 1 starts ACTIVE");
    let gid = ctx.gid_table(1).unwrap().into_iter().next().expect("a GID");
    let mut name = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: the buffer holds IF_NAMESIZE bytes, as if_indextoname requires.
    let p = unsafe { libc::if_indextoname(gid.ndev_ifindex, name.as_mut_ptr()) };
    assert!(!p.is_null(), "the RoCE GID names its netdev");
    // SAFETY: if_indextoname wrote a NUL-terminated name.
    let ifname = unsafe { std::ffi::CStr::from_ptr(name.as_ptr()) }
        .to_str()
        .unwrap()
        .to_string();
    ip_link(&ifname, "down");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let err = loop {
        match ctx.active_port(1) {
            Err(e) => break e,
            Ok(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(50))
            }
            Ok(_) => panic!("port stayed ACTIVE after {ifname} went down"),
        }
    };
    ip_link(&ifname, "up");
    match &err {
        Error::PortNotActive {
            device,
            port,
            state,
        } => {
            assert_eq!((device.as_str(), *port), (ctx.name(), 1));
            assert_eq!(*state, PortState::Down);
        }
        other => panic!("expected PortNotActive, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("is DOWN") && msg.contains("bring the link up"),
        "{msg}"
    );
}
