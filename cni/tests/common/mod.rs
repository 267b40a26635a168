//! The harness of the `ib-sriov` binary tests: one temp tree per case for the plugin's state
//! directory, lock file and sysfs root, runs with only the given `CNI_*` variables, and checks
//! of the error object the spec asks for.

use serde_json::Value;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_ib-sriov");

/// The variables ADD (and CHECK) needs, for a pod namespace that does not exist.
pub const ADD_ENV: &[(&str, &str)] = &[
    ("CNI_COMMAND", "ADD"),
    ("CNI_CONTAINERID", "c1"),
    ("CNI_NETNS", "/nonexistent/netns/pod"),
    ("CNI_IFNAME", "net1"),
    ("CNI_PATH", "/nonexistent/cni/bin"),
];

/// What DEL needs.
pub const DEL_ENV: &[(&str, &str)] = &[
    ("CNI_COMMAND", "DEL"),
    ("CNI_CONTAINERID", "c1"),
    ("CNI_IFNAME", "net1"),
];

/// A config ADD decodes (and then fails on the missing namespace).
pub const GOOD: &str = r#"{"cniVersion":"1.0.0","name":"ib-net","type":"ib-sriov","deviceID":"0000:03:02.0","ipam":{"type":"host-local","subnet":"192.0.2.0/24"}}"#;

/// One node: a temp tree holding the plugin's state directory, lock file and sysfs root.
pub struct Node {
    dir: tempfile::TempDir,
}

/// What one run gave.
#[derive(Debug)]
pub struct Out {
    /// The exit status.
    pub code: Option<i32>,
    /// Stdout, without the final newline.
    pub stdout: String,
    /// Stderr.
    pub stderr: String,
}

impl Out {
    /// The error object on stdout (the run must have failed).
    pub fn error(&self) -> Value {
        assert_eq!(self.code, Some(1), "{self:?}");
        let v: Value = serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"));
        let version = v["cniVersion"].as_str().unwrap_or_default();
        assert!(
            ib_sriov_cni::spec::SUPPORTED_VERSIONS.contains(&version),
            "error without a valid cniVersion: {self:?}"
        );
        assert!(v["msg"].is_string(), "{self:?}");
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "stderr is not one line: {self:?}");
        assert!(lines[0].starts_with("ib-sriov: "), "{self:?}");
        assert!(!self.stderr.contains("panicked"), "{self:?}");
        v
    }

    /// The CNI error code, checking that `msg` names `needle`.
    pub fn code_naming(&self, needle: &str) -> u64 {
        let v = self.error();
        let msg = v["msg"].as_str().unwrap_or_default();
        assert!(
            msg.contains(needle),
            "msg does not name {needle:?}: {self:?}"
        );
        v["code"].as_u64().unwrap_or_default()
    }

    /// A success with nothing on stdout.
    pub fn empty_success(&self) {
        assert_eq!(self.code, Some(0), "{self:?}");
        assert_eq!(self.stdout, "", "{self:?}");
    }
}

impl Node {
    pub fn new() -> Node {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("sys")).unwrap();
        Node { dir }
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// Every path under the tree with the contents of its files, sorted.
    pub fn listing(&self) -> Vec<(PathBuf, Option<Vec<u8>>)> {
        fn walk(dir: &Path, out: &mut Vec<(PathBuf, Option<Vec<u8>>)>) {
            for e in fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    out.push((p.clone(), None));
                    walk(&p, out);
                } else {
                    out.push((p.clone(), Some(fs::read(&p).unwrap())));
                }
            }
        }
        let mut out = Vec::new();
        walk(self.dir.path(), &mut out);
        out.sort();
        out
    }

    /// The plugin with only `vars` and this node's overrides in its environment.
    pub fn command(&self, vars: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.env_clear()
            .env("IB_SRIOV_STATE_DIR", self.state_dir())
            .env("IB_SRIOV_LOCK_FILE", self.dir.path().join("lock/cni.lock"))
            .env("IB_SRIOV_SYSFS_ROOT", self.dir.path().join("sys"))
            .envs(vars.iter().copied());
        cmd
    }

    /// Runs the plugin with `stdin` written (from a thread: it may stop reading early).
    pub fn run(&self, vars: &[(&str, &str)], stdin: &[u8]) -> Out {
        let mut child = self
            .command(vars)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run ib-sriov");
        let mut input = child.stdin.take().unwrap();
        let data = stdin.to_vec();
        let writer = std::thread::spawn(move || {
            // The plugin refuses a huge config without reading it all: EPIPE is expected.
            let _ = input.write_all(&data);
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        Out {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).trim_end().to_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs the plugin and asserts that the node's tree is unchanged.
    pub fn run_unchanged(&self, vars: &[(&str, &str)], stdin: &[u8]) -> Out {
        let before = self.listing();
        let out = self.run(vars, stdin);
        assert_eq!(self.listing(), before, "the node changed: {out:?}");
        out
    }
}
