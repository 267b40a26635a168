//! `ib-vf` against the real kernel in the VM: a netdev that is not an SR-IOV InfiniBand PF (a
//! dummy) refuses VF GUIDs and link state with a clear message and exit 1; `guid show` on it
//! lists no VFs; an unknown PF is named.

use rdma_device_tests::process::workspace_bin;
use std::process::Command;

fn ib_vf(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(workspace_bin("ib-vf", "ib-sriov-cni"))
        .args(args)
        .output()
        .expect("run ib-vf");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

struct Dummy(&'static str);

impl Dummy {
    fn new(name: &'static str) -> Dummy {
        let _ = Command::new("ip").args(["link", "del", name]).status();
        let st = Command::new("ip")
            .args(["link", "add", name, "type", "dummy"])
            .status()
            .unwrap();
        assert!(st.success(), "ip link add {name}");
        Dummy(name)
    }
}

impl Drop for Dummy {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", self.0]).status();
    }
}

#[test]
fn a_pf_without_sriov_refuses_guids_and_link_state_clearly() {
    let pf = Dummy::new("ibvfpf0");
    let (code, _, err) = ib_vf(&["guid", "set", pf.0, "0", "02:00:00:00:00:00:00:05"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("ibvfpf0") && err.contains("EOPNOTSUPP"),
        "{err}"
    );
    assert!(err.contains("not an SR-IOV InfiniBand PF"), "{err}");
    let (code, _, err) = ib_vf(&["link-state", pf.0, "0", "enable"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("link state enable") && err.contains("ibvfpf0"),
        "{err}"
    );
    let (code, out, err) = ib_vf(&["guid", "show", pf.0]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.trim(), "ibvfpf0: no VFs");
    let (code, out, _) = ib_vf(&["guid", "show", pf.0, "--json"]);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["pf"], "ibvfpf0");
    assert_eq!(v["vfs"], serde_json::json!([]));
    let (code, _, err) = ib_vf(&["guid", "show", pf.0, "--vf", "3"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("has no VF 3"), "{err}");
}

#[test]
fn an_unknown_pf_is_named() {
    let (code, _, err) = ib_vf(&["guid", "show", "nosuchpf0"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("nosuchpf0"), "{err}");
    let (code, _, err) = ib_vf(&["guid", "set", "nosuchpf0", "1", "02:00:00:00:00:00:00:05"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("nosuchpf0"), "{err}");
}
