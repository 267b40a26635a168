//! A node for the `ib-sriov` plugin's device tests: one PF with `n` VFs and `m` pod network
//! namespaces. Only sysfs is a fixture (`IB_SRIOV_SYSFS_ROOT`): each fake VF PCI address maps
//! to a real dummy netdev and to rxe0; the PF is a dummy too (it refuses VF requests, as a PF
//! without SR-IOV does). Everything else is the VM's kernel: namespaces, rtnetlink, Debian's
//! `host-local` IPAM, and the validation on rxe0.
//!
//! [`Node::snapshot`] is what "the node is exactly as before" means: every link on the host and
//! in each pod (name, up, address, addresses), the namespaces, the RDMA devices and netns mode,
//! IPAM's allocations, the plugin's state files, and whether the node lock is free.

use crate::process::workspace_bin;
use serde_json::{json, Value};
use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// Where Debian's containernetworking-plugins put `host-local`.
pub const CNI_BIN_DIR: &str = "/usr/lib/cni";

/// Runs `cmd` with `sh -c`; panics naming it when it fails. Returns its stdout.
pub fn sh(cmd: &str) -> String {
    let out = Command::new("sh")
        .args(["-c", cmd])
        .output()
        .expect("run sh");
    assert!(
        out.status.success(),
        "`{cmd}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `cmd` with `sh -c`; whether it succeeded.
pub fn sh_ok(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", cmd])
        .status()
        .is_ok_and(|s| s.success())
}

/// One fake VF.
#[derive(Debug, Clone)]
pub struct FakeVf {
    /// Its PCI address in the fixture.
    pub pci: String,
    /// Its netdev on the host (a dummy).
    pub netdev: String,
}

/// The node: a fixture sysfs, a PF, VFs, pods, and the plugin's directories.
pub struct Node {
    dir: tempfile::TempDir,
    /// The PF netdev (a dummy).
    pub pf: String,
    /// The VFs.
    pub vfs: Vec<FakeVf>,
    /// The pods' network namespace names.
    pub pods: Vec<String>,
}

/// What a run of the plugin gave.
#[derive(Debug)]
pub struct Run {
    /// Exited 0.
    pub ok: bool,
    /// Stdout as JSON (`Null` when empty).
    pub out: Value,
    /// Stderr.
    pub err: String,
    /// Killed by a signal (the crash tests' SIGKILL).
    pub killed: bool,
}

impl Node {
    /// A node named by `tag` (a short word, unique per test) with `vfs` VFs and `pods` pods.
    pub fn new(tag: &str, vfs: usize, pods: usize) -> Node {
        assert!(
            Path::new(CNI_BIN_DIR).join("host-local").is_file(),
            "{CNI_BIN_DIR}/host-local is missing: install Debian's containernetworking-plugins"
        );
        assert!((1..=8).contains(&vfs), "a fixture PF has 1 to 8 VFs");
        let dir = tempfile::tempdir().unwrap();
        let pf = format!("{tag}pf");
        let root = dir.path().join("sys");
        let devs = root.join("bus/pci/devices");
        let pf_pci = "0000:02:00.0";
        let drv = root.join("bus/pci/drivers/fake");
        std::fs::create_dir_all(&drv).unwrap();
        std::fs::write(drv.join("bind"), "").unwrap();
        std::fs::write(drv.join("unbind"), "").unwrap();
        let pfd = devs.join(pf_pci);
        std::fs::create_dir_all(pfd.join("net").join(&pf)).unwrap();
        let mut fake = Vec::new();
        for i in 0..vfs {
            let vf = FakeVf {
                pci: format!("0000:02:01.{i}"),
                netdev: format!("{tag}vf{i}"),
            };
            let vfd = devs.join(&vf.pci);
            std::fs::create_dir_all(vfd.join("net").join(&vf.netdev)).unwrap();
            std::fs::create_dir_all(vfd.join("infiniband/rxe0")).unwrap();
            symlink(format!("../{}", vf.pci), pfd.join(format!("virtfn{i}"))).unwrap();
            symlink(format!("../{pf_pci}"), vfd.join("physfn")).unwrap();
            symlink("../../drivers/fake", vfd.join("driver")).unwrap();
            fake.push(vf);
        }
        for n in std::iter::once(&pf).chain(fake.iter().map(|v| &v.netdev)) {
            let _ = sh_ok(&format!("ip link del {n} 2>/dev/null"));
            sh(&format!("ip link add {n} type dummy"));
        }
        // Some VF netdevs up, some down: DEL must put back each as it was.
        for v in fake.iter().step_by(2) {
            sh(&format!("ip link set {} up", v.netdev));
        }
        let pods: Vec<String> = (0..pods).map(|i| format!("{tag}pod{i}")).collect();
        for p in &pods {
            let _ = sh_ok(&format!("ip netns del {p} 2>/dev/null"));
            sh(&format!("ip netns add {p}"));
        }
        Node {
            dir,
            pf,
            vfs: fake,
            pods,
        }
    }

    /// The path of pod `i`'s namespace.
    pub fn netns_path(&self, pod: usize) -> String {
        format!("/run/netns/{}", self.pods[pod])
    }

    /// The plugin's state directory.
    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// The node lock.
    pub fn lock_file(&self) -> PathBuf {
        self.dir.path().join("run/cni.lock")
    }

    fn ipam_dir(&self) -> PathBuf {
        self.dir.path().join("ipam")
    }

    /// A network config for VF `vf` with IPAM and loopback validation; `extra` fields are
    /// merged in at the top level.
    pub fn conf(&self, vf: usize, extra: Value) -> Value {
        let mut c = json!({
            "cniVersion": "1.0.0",
            "name": "ib-test",
            "type": "ib-sriov",
            "deviceID": self.vfs[vf].pci,
            "ipam": {"type": "host-local", "subnet": "10.78.0.0/24", "dataDir": self.ipam_dir()},
            "validation": {"mode": "loopback", "linkLayer": "ethernet", "timeoutMs": 60000},
        });
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    }

    /// The plugin as the runtime starts it for `command` on (`container`, `net1`) in pod
    /// `pod`, behind `wrapper` (e.g. strace) when given. Its stdin is piped.
    pub fn command(&self, wrapper: &[&str], command: &str, container: &str, pod: usize) -> Command {
        let exe = workspace_bin("ib-sriov", "ib-sriov-cni");
        self.command_of(&exe, wrapper, command, container, pod)
    }

    /// [`Node::command`] with the plugin executable `exe` (e.g. the static release build).
    pub fn command_of(
        &self,
        exe: &Path,
        wrapper: &[&str],
        command: &str,
        container: &str,
        pod: usize,
    ) -> Command {
        let mut cmd = match wrapper.split_first() {
            None => Command::new(exe),
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(exe);
                c
            }
        };
        cmd.env("CNI_COMMAND", command)
            .env("CNI_CONTAINERID", container)
            .env("CNI_NETNS", self.netns_path(pod))
            .env("CNI_IFNAME", "net1")
            .env("CNI_PATH", CNI_BIN_DIR)
            .env("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAME=p")
            .env("IB_SRIOV_SYSFS_ROOT", self.dir.path().join("sys"))
            .env("IB_SRIOV_STATE_DIR", self.state_dir())
            .env("IB_SRIOV_LOCK_FILE", self.lock_file())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Starts `cmd` with `conf` on its stdin.
    pub fn spawn(cmd: &mut Command, conf: &Value) -> Child {
        let mut child = cmd.spawn().expect("start ib-sriov");
        let mut stdin = child.stdin.take().unwrap();
        // A plugin killed before it read its stdin gives EPIPE here: its exit tells.
        let _ = stdin.write_all(conf.to_string().as_bytes());
        drop(stdin);
        child
    }

    /// What a finished run gave.
    pub fn outcome(out: Output) -> Run {
        use std::os::unix::process::ExitStatusExt;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let v = if stdout.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&stdout)
                .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {stdout}"))
        };
        Run {
            ok: out.status.success(),
            out: v,
            err: String::from_utf8_lossy(&out.stderr).into_owned(),
            killed: out.status.signal() == Some(libc::SIGKILL)
                || String::from_utf8_lossy(&out.stderr).contains("+++ killed by SIGKILL"),
        }
    }

    /// Runs the plugin to the end.
    pub fn run(&self, command: &str, container: &str, pod: usize, conf: &Value) -> Run {
        let child = Node::spawn(&mut self.command(&[], command, container, pod), conf);
        Node::outcome(child.wait_with_output().unwrap())
    }

    /// Everything ADD may change and DEL must restore, as comparable text.
    pub fn snapshot(&self) -> Vec<String> {
        let mut s = vec![format!(
            "netns: {}",
            sh("ip netns list | cut -d' ' -f1 | sort").trim()
        )];
        s.extend(
            links(&["-j", "addr", "show"])
                .into_iter()
                .map(|l| format!("host {l}")),
        );
        for p in &self.pods {
            s.extend(
                links(&["-n", p, "-j", "addr", "show"])
                    .into_iter()
                    .map(|l| format!("{p} {l}")),
            );
        }
        s.push(format!(
            "rdma devices: {}",
            sh("rdma dev show | cut -d' ' -f1,2").trim()
        ));
        s.push(format!("rdma system: {}", sh("rdma system show").trim()));
        // IPAM's allocations are files named by the address (its last_reserved_ip and lock
        // files are its own bookkeeping).
        s.extend(tree(&self.ipam_dir()).into_iter().filter(|l| {
            l.rsplit('/')
                .next()
                .is_some_and(|n| n.starts_with("10.78."))
        }));
        s.extend(tree(&self.state_dir()));
        let lock = self.lock_file();
        let free = !lock.exists() || sh_ok(&format!("flock -n {} true", lock.display()));
        s.push(format!("node lock free: {free}"));
        s
    }
}

/// `ip ... addr show` as one line per link: name, up, hardware address, addresses.
fn links(args: &[&str]) -> Vec<String> {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(out.status.success(), "ip {args:?} failed");
    let v: Value = serde_json::from_slice(&out.stdout).expect("ip -j gives JSON");
    let mut lines: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let up = l["flags"]
                .as_array()
                .is_some_and(|f| f.iter().any(|x| x == "UP"));
            let addrs: Vec<String> = l["addr_info"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| format!("{}/{}", x["local"], x["prefixlen"]))
                        .collect()
                })
                .unwrap_or_default();
            format!(
                "{} up={up} mac={} addrs={addrs:?}",
                l["ifname"], l["address"]
            )
        })
        .collect();
    lines.sort();
    lines
}

/// Every file under `dir` with its contents (the directory's own absence is "nothing").
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(tree(&p));
        } else {
            let text = std::fs::read(&p).unwrap_or_default();
            out.push(format!(
                "{}: {}",
                p.display(),
                String::from_utf8_lossy(&text)
            ));
        }
    }
    out.sort();
    out
}

impl Drop for Node {
    fn drop(&mut self) {
        for p in &self.pods {
            let _ = sh_ok(&format!("ip netns del {p} 2>/dev/null"));
        }
        for n in std::iter::once(&self.pf).chain(self.vfs.iter().map(|v| &v.netdev)) {
            let _ = sh_ok(&format!("ip link del {n} 2>/dev/null"));
        }
    }
}
