//! The `rdma-validate` binary on a machine without the device it is asked about (CI's host has
//! no RDMA device at all): help, usage errors (exit 2), the no-device error (exit 1), the JSON
//! report's shape, and device selection through a fixture sysfs tree. The runs on a real device
//! are device tests (tests/tests/cni_validate.rs, in the Soft-RoCE VM).

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_rdma-validate");

fn run(args: &[&str], sysfs_root: Option<&Path>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    match sysfs_root {
        Some(root) => cmd.env("IB_SRIOV_SYSFS_ROOT", root),
        None => cmd.env_remove("IB_SRIOV_SYSFS_ROOT"),
    };
    cmd.output().expect("run rdma-validate")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", text(&out.stdout)))
}

/// True when this machine has RDMA devices libibverbs can list.
fn has_rdma_devices() -> bool {
    rdma_verbs::DeviceList::new().is_ok_and(|l| !l.is_empty())
}

#[test]
fn help_explains_every_check_and_the_exit_status() {
    let out = run(&["--help"], None);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for check in ib_sriov_cni::validate::CHECKS {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(check)),
            "--help does not explain {check}:\n{help}"
        );
    }
    for opt in [
        "--device",
        "--pci",
        "--netdev",
        "--port",
        "--json",
        "--mode",
        "--budget-ms",
        "--expect-link-layer",
        "--pkey",
        "--guid",
        "--netns",
        "Exit status",
    ] {
        assert!(help.contains(opt), "--help lacks {opt}");
    }
}

#[test]
fn usage_errors_exit_2_naming_the_argument() {
    for (args, names) in [
        (&["--bogus"][..], "--bogus"),
        (&["--port", "0"], "--port"),
        (&["--port", "256"], "--port"),
        (&["--mode", "off"], "--mode"),
        (&["--device", "a", "--pci", "0000:03:02.0"], "--pci"),
        (&["--pkey", "0x8000"], "partition 0"),
        (&["--pkey", "0x10000"], "--pkey"),
        (&["--guid", "02:00"], "--guid"),
        (&["--expect-link-layer", "ib"], "infiniband, ethernet, any"),
        (&["--budget-ms", "0"], "--budget-ms"),
    ] {
        let out = run(args, None);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.starts_with("error:"), "{args:?}: {err}");
        assert!(err.contains(names), "{args:?} should name {names}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn no_device_at_all_is_a_clear_error_with_exit_1() {
    if has_rdma_devices() {
        // CI's host has no RDMA device: there this test must run, never pass by skipping.
        assert!(
            std::env::var_os("CI").is_none(),
            "CI's host is expected to have no RDMA device"
        );
        eprintln!("skipped: this machine has RDMA devices (the VM tests cover selection)");
        return;
    }
    let out = run(&[], None);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.starts_with("rdma-validate: no RDMA device"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let out = run(&["--json"], None);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["passed"], false);
    assert_eq!(v["cause"], "no_device");
    assert!(v["error"].as_str().unwrap().starts_with("no RDMA device"));
}

#[test]
fn a_missing_device_fails_the_device_check_and_skips_its_dependents() {
    let out = run(&["--device", "no-such-rdma-dev"], None);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        ib_sriov_cni::validate::CHECKS.len() + 1,
        "{stdout}"
    );
    assert!(
        lines[0].starts_with(
            "FAIL device      no RDMA device no-such-rdma-dev in this network namespace (found: "
        ),
        "{stdout}"
    );
    assert!(lines[1].starts_with("SKIP port        skipped: the device could not be opened"));
    assert!(lines
        .last()
        .unwrap()
        .starts_with("FAILED: no-such-rdma-dev port 1:"));
}

#[test]
fn the_json_report_lists_every_check_with_outcome_and_cause() {
    let out = run(
        &["--device", "no-such-rdma-dev", "--json", "--mode", "port"],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["device"], "no-such-rdma-dev");
    assert_eq!(v["port"], 1);
    assert_eq!(v["mode"], "port");
    assert_eq!(v["passed"], false);
    let cause = v["cause"].as_str().unwrap();
    assert!(
        ["no_device", "device_not_found"].contains(&cause),
        "{cause}"
    );
    let checks = v["checks"].as_array().unwrap();
    let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ib_sriov_cni::validate::CHECKS);
    assert_eq!(checks[0]["outcome"], "fail");
    assert!(checks[0]["fix"].as_str().unwrap().contains("rdmaIsolation"));
    assert_eq!(checks[1]["outcome"], "skipped");
    assert!(checks[1]["cause"].is_null());
    assert!(v["self_test"].is_null());
    assert!(v["failure"]
        .as_str()
        .unwrap()
        .starts_with("no RDMA device no-such-rdma-dev"));
}

#[test]
fn netdev_and_pci_resolve_through_the_sysfs_root() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    std::fs::create_dir_all(r.join("class/net/ib9/device/infiniband/mlx5_9")).unwrap();
    std::fs::create_dir_all(r.join("bus/pci/devices/0000:03:02.0/infiniband/mlx5_7")).unwrap();
    std::fs::create_dir_all(r.join("bus/pci/devices/0000:03:02.1/infiniband/mlx5_a")).unwrap();
    std::fs::create_dir_all(r.join("bus/pci/devices/0000:03:02.1/infiniband/mlx5_b")).unwrap();
    std::fs::create_dir_all(r.join("bus/pci/devices/0000:03:02.2")).unwrap();

    // Resolved, then validated: the report is about the resolved device (absent here).
    let out = run(&["--netdev", "ib9", "--json"], Some(r));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(json(&out)["device"], "mlx5_9");
    let out = run(&["--pci", "0000:03:02.0", "--json"], Some(r));
    assert_eq!(json(&out)["device"], "mlx5_7");

    for (args, message) in [
        (&["--netdev", "eth7"][..], "no network interface eth7"),
        (
            &["--pci", "0000:03:02.1"],
            "has several RDMA devices (mlx5_a, mlx5_b)",
        ),
        (&["--pci", "0000:03:02.2"], "has no RDMA device"),
        (&["--pci", "0000:09:00.0"], "no PCI device 0000:09:00.0"),
        (&["--pci", "bogus"], "bogus"),
    ] {
        let out = run(args, Some(r));
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.starts_with("rdma-validate: "), "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn a_missing_network_namespace_is_named() {
    let out = run(
        &[
            "--netns",
            "/run/netns/no-such-ns",
            "--device",
            "rxe0",
            "--json",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("rdma-validate: cannot open network namespace /run/netns/no-such-ns"),
        "{err}"
    );
    assert_eq!(json(&out)["cause"], "netns");
}
