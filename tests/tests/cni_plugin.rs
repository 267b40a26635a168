//! The `ib-sriov` CNI plugin, run as the runtime runs it, against the real kernel in the VM:
//! real network namespaces, real rtnetlink, real `host-local` IPAM (Debian's
//! containernetworking-plugins) and validation on rxe0.
//!
//! Only sysfs is a fixture (`IB_SRIOV_SYSFS_ROOT`): it maps a fake VF PCI address to a real
//! netdev (a dummy) and to the RDMA device rxe0, and its PF to another dummy (which, not being
//! an SR-IOV PF, refuses VF requests the way a PF without the capability does).
//!
//! The VF netdev is never rxe0's own `rdma0`: on the VM's kernel (6.1) moving an rxe device's
//! netdev to another namespace unregisters the rxe device (it is gone from every namespace), and
//! an rxe device cannot itself move between namespaces (EOPNOTSUPP), so a real VF's
//! "netdev and RDMA device both in the pod" can only be approached with a separate dummy.
//!
//! The tests run one at a time: they share rxe0 and the RDMA netns mode.

use rdma_device_tests::cni_node::{sh, sh_ok, Node, CNI_BIN_DIR};
use rdma_device_tests::process::{serial, workspace_bin};
use serde_json::{json, Value};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One simulated VF: fixture sysfs, PF and VF netdevs, a pod namespace, IPAM data and state
/// directories. Dropping it removes everything it created.
struct Vf {
    dir: tempfile::TempDir,
    pci: String,
    pf: String,
    vf_netdev: String,
    netns: String,
    subnet: String,
}

impl Vf {
    fn new(tag: u8) -> Vf {
        assert!(
            Path::new(CNI_BIN_DIR).join("host-local").is_file(),
            "{CNI_BIN_DIR}/host-local is missing: install Debian's containernetworking-plugins"
        );
        let dir = tempfile::tempdir().unwrap();
        let pci = format!("0000:00:1f.{}", tag % 8);
        let pf = format!("cnipf{tag}");
        let vf_netdev = format!("cnivf{tag}");
        for n in [&pf, &vf_netdev] {
            let _ = sh_ok(&format!("ip link del {n} 2>/dev/null"));
            sh(&format!("ip link add {n} type dummy"));
        }
        let netns = format!("cnipod{tag}");
        let _ = sh_ok(&format!("ip netns del {netns} 2>/dev/null"));
        sh(&format!("ip netns add {netns}"));
        let root = dir.path().join("sys");
        let devs = root.join("bus/pci/devices");
        let pf_pci = "0000:00:1e.0";
        let (pfd, vfd) = (devs.join(pf_pci), devs.join(&pci));
        std::fs::create_dir_all(pfd.join("net").join(&pf)).unwrap();
        std::fs::create_dir_all(vfd.join("net").join(&vf_netdev)).unwrap();
        std::fs::create_dir_all(vfd.join("infiniband/rxe0")).unwrap();
        symlink(format!("../{pci}"), pfd.join("virtfn0")).unwrap();
        symlink(format!("../{pf_pci}"), vfd.join("physfn")).unwrap();
        let drv = root.join("bus/pci/drivers/fake");
        std::fs::create_dir_all(&drv).unwrap();
        std::fs::write(drv.join("bind"), "").unwrap();
        std::fs::write(drv.join("unbind"), "").unwrap();
        symlink("../../drivers/fake", vfd.join("driver")).unwrap();
        Vf {
            dir,
            pci,
            pf,
            vf_netdev,
            netns,
            subnet: format!("10.77.{tag}.0/24"),
        }
    }

    fn netns_path(&self) -> String {
        format!("/run/netns/{}", self.netns)
    }

    fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn ipam_dir(&self) -> PathBuf {
        self.dir.path().join("ipam")
    }

    /// A network config for this VF; `extra` fields are merged in at the top level.
    fn conf(&self, extra: Value) -> Value {
        let mut c = json!({
            "cniVersion": "1.0.0",
            "name": "ib-test",
            "type": "ib-sriov",
            "deviceID": self.pci,
            "ipam": {"type": "host-local", "subnet": self.subnet, "dataDir": self.ipam_dir()},
            "validation": {"mode": "loopback", "linkLayer": "ethernet", "timeoutMs": 60000},
        });
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    }

    /// Runs the plugin; returns (exit success, stdout parsed as JSON or Null, stderr).
    fn run(&self, command: &str, container: &str, conf: &Value) -> (bool, Value, String) {
        let exe = workspace_bin("ib-sriov", "ib-sriov-cni");
        let mut cmd = Command::new(exe);
        cmd.env("CNI_COMMAND", command)
            .env("CNI_CONTAINERID", container)
            .env("CNI_NETNS", self.netns_path())
            .env("CNI_IFNAME", "net1")
            .env("CNI_PATH", CNI_BIN_DIR)
            .env("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAME=p")
            .env("IB_SRIOV_SYSFS_ROOT", self.dir.path().join("sys"))
            .env("IB_SRIOV_STATE_DIR", self.state_dir())
            .env("IB_SRIOV_LOCK_FILE", self.dir.path().join("cni.lock"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let child = Node::spawn(&mut cmd, conf);
        let r = Node::outcome(child.wait_with_output().unwrap());
        (r.ok, r.out, r.err)
    }

    fn in_host(&self, name: &str) -> bool {
        sh_ok(&format!("ip link show {name} >/dev/null 2>&1"))
    }

    fn in_pod(&self, name: &str) -> Option<Value> {
        let out = Command::new("ip")
            .args(["-n", &self.netns, "-j", "addr", "show", name])
            .output()
            .unwrap();
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice::<Value>(&out.stdout)
            .ok()?
            .get(0)
            .cloned()
    }

    /// Host-local's reservations (files named after the addresses) in its data directory.
    fn reserved(&self) -> Vec<String> {
        let d = self.ipam_dir().join("ib-test");
        let Ok(rd) = std::fs::read_dir(d) else {
            return vec![];
        };
        rd.flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("10.77."))
            .collect()
    }

    /// Everything is back as before ADD: VF netdev on the host under its name, nothing in the
    /// pod, no address reserved, no state.
    fn assert_restored(&self, container: &str) {
        assert!(
            self.in_host(&self.vf_netdev),
            "{} is back on the host",
            self.vf_netdev
        );
        assert!(self.in_pod("net1").is_none(), "net1 is gone from the pod");
        assert_eq!(
            self.reserved(),
            Vec::<String>::new(),
            "IPAM released its address"
        );
        assert!(
            !self.state_dir().join(format!("{container}-net1")).exists(),
            "state removed"
        );
    }
}

impl Drop for Vf {
    fn drop(&mut self) {
        let _ = sh_ok(&format!("ip netns del {} 2>/dev/null", self.netns));
        for n in [&self.pf, &self.vf_netdev] {
            let _ = sh_ok(&format!("ip link del {n} 2>/dev/null"));
        }
    }
}

fn assert_cni_error(v: &Value, code: u64, needle: &str) {
    assert_eq!(v["code"], code, "error object: {v}");
    let msg = v["msg"].as_str().unwrap_or_default();
    assert!(
        msg.contains(needle),
        "msg {msg:?} should contain {needle:?}"
    );
}

#[test]
fn add_check_del_round_trip_and_del_twice() {
    let _g = serial();
    let vf = Vf::new(1);
    let conf = vf.conf(json!({}));
    let (ok, res, err) = vf.run("ADD", "c1", &conf);
    assert!(ok, "ADD failed: {res} {err}");
    assert_eq!(res["cniVersion"], "1.0.0");
    assert_eq!(res["interfaces"][0]["name"], "net1");
    assert_eq!(res["interfaces"][0]["sandbox"], vf.netns_path());
    let addr = res["ips"][0]["address"].as_str().unwrap().to_owned();
    assert!(
        addr.starts_with("10.77.1.") && addr.ends_with("/24"),
        "{addr}"
    );
    assert_eq!(res["ips"][0]["interface"], 0);
    // The netdev is in the pod, renamed, up, with the address; gone from the host.
    let link = vf.in_pod("net1").expect("net1 in the pod");
    assert!(
        link["flags"].as_array().unwrap().iter().any(|f| f == "UP"),
        "{link}"
    );
    let ip = addr.split('/').next().unwrap();
    assert!(
        link["addr_info"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["local"] == ip),
        "{link}"
    );
    assert!(!vf.in_host(&vf.vf_netdev));
    assert_eq!(vf.reserved(), [ip.to_owned()]);

    let (ok, v, err) = vf.run("CHECK", "c1", &conf);
    assert!(ok, "CHECK failed: {v} {err}");
    // CHECK notices a change: the interface taken down in the pod.
    sh(&format!("ip -n {} link set net1 down", vf.netns));
    let (ok, v, _) = vf.run("CHECK", "c1", &conf);
    assert!(!ok);
    assert_cni_error(&v, 101, "net1 is down");
    sh(&format!("ip -n {} link set net1 up", vf.netns));

    let (ok, v, err) = vf.run("DEL", "c1", &conf);
    assert!(ok, "DEL failed: {v} {err}");
    vf.assert_restored("c1");
    let (ok, v, err) = vf.run("DEL", "c1", &conf);
    assert!(ok, "second DEL failed: {v} {err}");
}

#[test]
fn missing_ipam_plugin_rolls_back_everything() {
    let _g = serial();
    let vf = Vf::new(3);
    let conf = vf.conf(json!({"ipam": {"type": "no-such-ipam"}}));
    let (ok, v, _) = vf.run("ADD", "c3", &conf);
    assert!(!ok);
    assert_cni_error(&v, 103, "no-such-ipam");
    vf.assert_restored("c3");
}

#[test]
fn validation_failures_name_the_cause_and_roll_back() {
    let _g = serial();
    let vf = Vf::new(4);
    let (ok, v, _) = vf.run("ADD", "c4", &vf.conf(json!({"pkey": "0x8005"})));
    assert!(!ok);
    assert_cni_error(&v, 104, "pkey 0x8005");
    assert!(
        v["details"]
            .as_str()
            .unwrap_or_default()
            .contains("\"checks\""),
        "{v}"
    );
    vf.assert_restored("c4");
    let conf = vf.conf(json!({"validation": {"linkLayer": "infiniband"}}));
    let (ok, v, _) = vf.run("ADD", "c4", &conf);
    assert!(!ok);
    assert_cni_error(&v, 104, "link layer");
    vf.assert_restored("c4");
}

#[test]
fn guid_and_link_state_on_a_pf_that_cannot_do_them_are_clear_errors() {
    let _g = serial();
    let vf = Vf::new(5);
    let conf = vf.conf(json!({"runtimeConfig": {"infinibandGUID": "02:00:00:00:00:00:00:05"}}));
    let (ok, v, _) = vf.run("ADD", "c5", &conf);
    assert!(!ok);
    assert_cni_error(&v, 101, "GUID 02:00:00:00:00:00:00:05");
    assert!(v["msg"].as_str().unwrap().contains(&vf.pf), "{v}");
    vf.assert_restored("c5");
    let (ok, v, _) = vf.run("ADD", "c5", &vf.conf(json!({"link_state": "enable"})));
    assert!(!ok);
    assert_cni_error(&v, 101, "link state enable");
    vf.assert_restored("c5");
}

#[test]
fn rdma_isolation_needs_exclusive_mode() {
    let _g = serial();
    let vf = Vf::new(6);
    let (ok, v, _) = vf.run("ADD", "c6", &vf.conf(json!({"rdmaIsolation": true})));
    assert!(!ok);
    assert_cni_error(&v, 7, "rdma system set netns exclusive");
    vf.assert_restored("c6");
}

#[test]
fn del_after_the_pod_namespace_is_gone_succeeds() {
    let _g = serial();
    let vf = Vf::new(7);
    let conf = vf.conf(json!({}));
    let (ok, res, err) = vf.run("ADD", "c7", &conf);
    assert!(ok, "{res} {err}");
    // The runtime tears the sandbox down first: the dummy dies with the namespace.
    sh(&format!("ip netns del {}", vf.netns));
    let (ok, v, err) = vf.run("DEL", "c7", &conf);
    assert!(ok, "DEL after the namespace went away failed: {v} {err}");
    assert_eq!(vf.reserved(), Vec::<String>::new());
    assert!(!vf.state_dir().join("c7-net1").exists());
}

#[test]
fn gc_removes_only_attachments_the_runtime_no_longer_knows() {
    let _g = serial();
    let a = Vf::new(8);
    let (ok, res, err) = a.run("ADD", "keep", &a.conf(json!({})));
    assert!(ok, "{res} {err}");
    // A second attachment sharing a's state directory, in its own pod.
    let b = Vf::new(9);
    let mut bconf = b.conf(json!({}));
    bconf["cniVersion"] = "1.1.0".into();
    let exe = workspace_bin("ib-sriov", "ib-sriov-cni");
    let run_b = |cmd: &str, conf: &Value| {
        let mut c = Command::new(&exe);
        c.env("CNI_COMMAND", cmd)
            .env("CNI_CONTAINERID", "stale")
            .env("CNI_NETNS", b.netns_path())
            .env("CNI_IFNAME", "net1")
            .env("CNI_PATH", CNI_BIN_DIR)
            .env("IB_SRIOV_SYSFS_ROOT", b.dir.path().join("sys"))
            .env("IB_SRIOV_STATE_DIR", a.state_dir())
            .env("IB_SRIOV_LOCK_FILE", a.dir.path().join("cni.lock"));
        let path = a.dir.path().join("stdin.json");
        std::fs::write(&path, conf.to_string()).unwrap();
        c.stdin(std::fs::File::open(&path).unwrap());
        c.output().unwrap()
    };
    let out = run_b("ADD", &bconf);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(a.state_dir().join("stale-net1").exists());
    let mut gc = bconf.clone();
    gc["cni.dev/valid-attachments"] = json!([{"containerID": "keep", "ifname": "net1"}]);
    let out = run_b("GC", &gc);
    assert!(
        out.status.success(),
        "GC: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        !a.state_dir().join("stale-net1").exists(),
        "GC removed the stale attachment"
    );
    assert!(
        b.in_host(&b.vf_netdev) && b.reserved().is_empty(),
        "and undid it"
    );
    assert!(
        a.state_dir().join("keep-net1").exists(),
        "GC kept the valid one"
    );
    assert!(a.in_pod("net1").is_some());
    let (ok, v, err) = a.run("DEL", "keep", &a.conf(json!({})));
    assert!(ok, "{v} {err}");
    a.assert_restored("keep");
}

#[test]
fn version_and_status() {
    let vf = Vf::new(10);
    let (ok, v, _) = vf.run("VERSION", "x", &json!({"cniVersion": "1.1.0"}));
    assert!(ok);
    assert_eq!(
        v["supportedVersions"],
        json!(["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"])
    );
    let mut conf = vf.conf(json!({}));
    conf["cniVersion"] = "1.1.0".into();
    let (ok, v, err) = vf.run("STATUS", "x", &conf);
    assert!(ok, "{v} {err}");
    conf["rdmaIsolation"] = true.into();
    let (ok, v, _) = vf.run("STATUS", "x", &conf);
    assert!(!ok);
    assert_cni_error(&v, 50, "exclusive");
}

/// Sets the RDMA subsystem's netns mode, retrying while a namespace being torn down keeps the
/// kernel busy (EBUSY).
fn set_rdma_netns_mode(mode: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !sh_ok(&format!("rdma system set netns {mode} 2>/dev/null")) {
        assert!(
            std::time::Instant::now() < deadline,
            "cannot set RDMA netns mode {mode}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// Shared mode again when the test ends, however it ends.
struct SharedModeOnDrop;

impl Drop for SharedModeOnDrop {
    fn drop(&mut self) {
        set_rdma_netns_mode("shared");
    }
}

#[test]
fn rdma_isolation_with_a_device_that_cannot_move_rolls_back() {
    let _g = serial();
    // Exclusive mode can only be entered while no other namespace exists: before the pod's.
    set_rdma_netns_mode("exclusive");
    let _restore = SharedModeOnDrop;
    let vf = Vf::new(11);
    let (ok, v, _) = vf.run("ADD", "c11", &vf.conf(json!({"rdmaIsolation": true})));
    assert!(!ok);
    // rxe cannot change namespaces (no user-context disassociation): the kernel says
    // EOPNOTSUPP, and the message names the device.
    assert_cni_error(&v, 101, "rxe0");
    assert!(v["msg"].as_str().unwrap().contains("cannot move"), "{v}");
    vf.assert_restored("c11");
    assert!(sh("rdma system show").contains("exclusive"));
    drop(vf);
}

/// rxe0's netdev up again (and its port ACTIVE) when the test ends, however it ends.
struct Rdma0UpOnDrop;

impl Drop for Rdma0UpOnDrop {
    fn drop(&mut self) {
        let _ = sh_ok("ip link set rdma0 up");
        let ctx = rdma_device_tests::device();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while ctx.active_port(1).is_err() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

#[test]
fn a_port_that_is_down_fails_add_with_the_fix_and_rolls_back() {
    let _g = serial();
    let vf = Vf::new(12);
    let _up = Rdma0UpOnDrop;
    sh("ip link set rdma0 down");
    let (ok, v, _) = vf.run("ADD", "c12", &vf.conf(json!({})));
    assert!(!ok);
    assert_cni_error(&v, 104, "port 1 of rxe0 is DOWN");
    assert!(
        v["msg"]
            .as_str()
            .unwrap()
            .contains("set link_state to enable"),
        "{v}"
    );
    vf.assert_restored("c12");
}
