//! The CNI plugin's validation step on rxe0, inside fresh network namespaces (the RDMA netns
//! mode of the VM is shared, so rxe0 is visible there), and the `rdma-validate` binary: a
//! passing loopback run with bytes verified and latency measured, and each failure cause
//! (pkey, GUID, link layer, budget, memlock) named with its fix.

use ib_sriov_cni::netns::{self, NetNs};
use ib_sriov_cni::validate::{self, Cause, Expect, ExpectedLinkLayer, Mode, Outcome, Report};
use ib_sriov_cni::{Guid, Pkey};
use rdma_device_tests::process::{serial, workspace_bin};
use std::process::{Command, Output};
use std::time::Duration;

const DEV: &str = "rxe0";
const BUDGET: Duration = Duration::from_secs(30);

/// A network namespace made with `ip netns add`, deleted when dropped.
struct TempNetns {
    name: String,
}

impl TempNetns {
    fn new(tag: &str) -> TempNetns {
        let name = format!("cnival-{tag}-{}", std::process::id());
        ip(&["netns", "add", &name]);
        TempNetns { name }
    }

    fn path(&self) -> String {
        format!("/run/netns/{}", self.name)
    }

    fn open(&self) -> NetNs {
        NetNs::open(self.path()).expect("open the new namespace")
    }
}

impl Drop for TempNetns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .status();
    }
}

fn ip(args: &[&str]) {
    let st = Command::new("ip").args(args).status().expect("run ip");
    assert!(st.success(), "ip {args:?} failed");
}

/// rxe0's node GUID as sysfs prints it (`0200:5eff:fe00:0001`).
fn sysfs_node_guid() -> Guid {
    let text = std::fs::read_to_string(format!("/sys/class/infiniband/{DEV}/node_guid"))
        .expect("read node_guid");
    Guid::parse_sysfs(&text).expect("sysfs GUID form")
}

/// What rxe0 (RoCE, default pkey only) satisfies.
fn rxe_expect() -> Expect {
    Expect {
        link_layer: ExpectedLinkLayer::Ethernet,
        pkey: Some(Pkey::DEFAULT_FULL),
        guid: Some(sysfs_node_guid()),
    }
}

fn validate_here(expect: &Expect, mode: Mode) -> Report {
    validate::validate(DEV, 1, expect, mode, BUDGET)
}

/// Every check passed, the four operations verified 64 KiB each, latency numbers are sane.
fn assert_full_pass(r: &Report) {
    assert!(r.passed(), "{r}");
    assert!(
        r.checks.iter().all(|c| c.outcome == Outcome::Pass),
        "every check runs and passes: {r}"
    );
    let st = r.self_test.as_ref().expect("self-test numbers");
    let ops: Vec<(&str, usize)> = st
        .operations
        .iter()
        .map(|o| (o.name, o.bytes_verified))
        .collect();
    assert_eq!(
        ops,
        [
            ("send", 65536),
            ("send_imm", 65536),
            ("rdma_write", 65536),
            ("rdma_read", 65536)
        ]
    );
    assert!(st.operations.iter().all(|o| o.micros > 0.0));
    assert_eq!(
        st.gid_index,
        Some(1),
        "perftest's choice on rxe0: the IPv4 RoCE v2 GID"
    );
    assert_eq!(st.registered_bytes, validate::SELF_TEST_REGISTERED_BYTES);
    let lat = st.latency.as_ref().expect("latency measured");
    assert!(lat.samples >= 1 && lat.samples <= 1000, "{lat:?}");
    assert!(
        0.0 < lat.min_us
            && lat.min_us <= lat.median_us
            && lat.median_us <= lat.p99_us
            && lat.p99_us <= lat.max_us,
        "{lat:?}"
    );
}

#[test]
fn loopback_validation_passes_inside_a_fresh_network_namespace() {
    let _one = serial();
    let ns = TempNetns::new("pass");
    let handle = ns.open();
    let expect = rxe_expect();
    let (inside, report) = netns::run_in(&handle, || {
        (
            NetNs::current().unwrap().id().unwrap(),
            validate_here(&expect, Mode::Loopback),
        )
    })
    .expect("run in the namespace");
    assert_eq!(
        inside,
        handle.id().unwrap(),
        "validated on a thread inside it"
    );
    assert_ne!(inside, NetNs::current().unwrap().id().unwrap());
    println!("{report}");
    println!("{}", serde_json::to_string(&report).unwrap());
    assert_full_pass(&report);
    assert!(
        report.elapsed < BUDGET,
        "{:?} within the budget",
        report.elapsed
    );
}

#[test]
fn loopback_validation_passes_with_the_namespaces_own_sysfs() {
    // What the plugin does in exclusive RDMA netns mode: a private /sys of the pod's namespace
    // (here shared mode, so rxe0 is in it too).
    let _one = serial();
    let ns = TempNetns::new("sysfs");
    let expect = rxe_expect();
    let (net, report) = netns::run_in_with_sysfs(&ns.open(), || {
        let net: Vec<String> = std::fs::read_dir("/sys/class/net")
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        (net, validate_here(&expect, Mode::Loopback))
    })
    .expect("run in the namespace");
    assert_eq!(net, ["lo"], "the thread's /sys is the new namespace's");
    assert_full_pass(&report);
    assert!(
        std::path::Path::new("/sys/class/net/rdma0").exists(),
        "the caller's /sys is untouched"
    );
}

#[test]
fn node_guid_byte_order_matches_sysfs() {
    let _one = serial();
    let sysfs = sysfs_node_guid();
    assert!(sysfs.is_assigned());
    let ctx = rdma_device_tests::device();
    assert_eq!(
        Guid::from_u64(ctx.query_device().unwrap().node_guid()),
        sysfs
    );
    let list = rdma_verbs::DeviceList::new().unwrap();
    let dev = list.find(Some(DEV)).unwrap();
    assert_eq!(Guid::from_u64(dev.guid()), sysfs);
    let r = validate_here(
        &Expect {
            guid: Some(sysfs),
            ..Expect::default()
        },
        Mode::Port,
    );
    let c = r.check("guid").unwrap();
    assert_eq!(c.outcome, Outcome::Pass, "{r}");
    assert_eq!(c.detail, format!("node GUID {sysfs} as configured"));
}

#[test]
fn port_mode_runs_the_checks_and_skips_the_self_test() {
    let _one = serial();
    let r = validate_here(&rxe_expect(), Mode::Port);
    assert!(r.passed(), "{r}");
    let (checks, selftest) = r.checks.split_at(7);
    assert!(checks.iter().all(|c| c.outcome == Outcome::Pass), "{r}");
    assert!(selftest.iter().all(|c| c.outcome == Outcome::Skipped
        && c.detail == "skipped: validation mode is port (checks only)"));
    assert!(r.self_test.is_none());
}

#[test]
fn a_pkey_not_in_the_table_fails_with_the_pkey_cause() {
    let _one = serial();
    let expect = Expect {
        pkey: Some("0x8005".parse().unwrap()),
        ..rxe_expect()
    };
    let r = validate_here(&expect, Mode::Loopback);
    assert_eq!(r.failure_cause(), Some(Cause::PkeyMissing), "{r}");
    assert_eq!(
        r.failure_message().unwrap(),
        "pkey 0x8005 is not in the pkey table of port 1 of rxe0 (0xffff): add the VF to \
         partition 0x0005 in the subnet manager (or fix pkey)"
    );
    // Independent checks still ran, and the self-test with them (pkey index 0).
    assert_eq!(r.count(Outcome::Fail), 1, "{r}");
    for name in [
        "guid",
        "memlock",
        "loopback",
        "send",
        "rdma_read",
        "latency",
    ] {
        assert_eq!(r.check(name).unwrap().outcome, Outcome::Pass, "{name}: {r}");
    }
}

#[test]
fn a_pkey_matches_by_partition_whatever_the_membership() {
    let _one = serial();
    let expect = Expect {
        pkey: Some("0x7fff".parse().unwrap()),
        ..rxe_expect()
    };
    let r = validate_here(&expect, Mode::Port);
    let c = r.check("pkey").unwrap();
    assert_eq!(c.outcome, Outcome::Pass, "{r}");
    assert!(
        c.detail
            .starts_with("pkey 0x7fff: partition 0x7fff at index 0 as 0xffff (full member)"),
        "{}",
        c.detail
    );
}

#[test]
fn a_different_guid_fails_with_the_guid_cause() {
    let _one = serial();
    let actual = sysfs_node_guid();
    let want: Guid = "02:00:00:00:00:00:00:05".parse().unwrap();
    assert_ne!(actual, want);
    let r = validate_here(
        &Expect {
            guid: Some(want),
            ..rxe_expect()
        },
        Mode::Port,
    );
    assert_eq!(r.failure_cause(), Some(Cause::GuidMismatch), "{r}");
    let msg = r.failure_message().unwrap();
    assert!(
        msg.starts_with(&format!(
            "node GUID of rxe0 is {actual}, not the configured 02:00:00:00:00:00:00:05: the \
             configured GUID was not applied"
        )),
        "{msg}"
    );
    assert!(msg.contains("rebound"), "{msg}");
}

#[test]
fn expecting_infiniband_on_rxe0_fails_with_the_link_layer_cause() {
    let _one = serial();
    let r = validate_here(
        &Expect {
            link_layer: ExpectedLinkLayer::Infiniband,
            ..rxe_expect()
        },
        Mode::Port,
    );
    assert_eq!(r.failure_cause(), Some(Cause::LinkLayer), "{r}");
    let msg = r.failure_message().unwrap();
    assert!(
        msg.starts_with(
            "port 1 of rxe0 is Ethernet (RoCE), not InfiniBand: this is not an InfiniBand device"
        ),
        "{msg}"
    );
    assert!(msg.contains("ethernet or any"), "{msg}");
    // The address check follows the real link layer: RoCE's GID.
    let addr = r.check("address").unwrap();
    assert_eq!(addr.outcome, Outcome::Pass);
    assert!(
        addr.detail
            .starts_with("GID index 1 ::ffff:198.18.0.1 (RoCE v2)"),
        "{}",
        addr.detail
    );
}

#[test]
fn a_spent_budget_times_out_naming_the_stage_and_releases_everything() {
    let _one = serial();
    let r = validate::validate(DEV, 1, &rxe_expect(), Mode::Loopback, Duration::ZERO);
    assert_eq!(r.failure_cause(), Some(Cause::Timeout), "{r}");
    let send = r.check("send").unwrap();
    assert!(
        send.detail.starts_with("self-test timed out after ")
            && send
                .detail
                .ends_with("the budget ran out before SEND started"),
        "{}",
        send.detail
    );
    assert!(send.fix.as_deref().unwrap().contains("--budget-ms"));
    assert_eq!(r.check("loopback").unwrap().outcome, Outcome::Pass);
    for name in ["send_imm", "rdma_write", "rdma_read", "latency"] {
        let c = r.check(name).unwrap();
        assert_eq!(
            (c.outcome, c.detail.as_str()),
            (Outcome::Skipped, "skipped: send failed"),
            "{name}"
        );
    }
    // Nothing was left behind: a full run right after passes.
    assert_full_pass(&validate_here(&rxe_expect(), Mode::Loopback));
}

fn rdma_validate(args: &[&str]) -> Output {
    Command::new(workspace_bin("rdma-validate", "ib-sriov-cni"))
        .args(args)
        .output()
        .expect("run rdma-validate")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out.stdout)))
}

#[test]
fn rdma_validate_passes_on_rxe0_with_one_line_per_check() {
    let _one = serial();
    let out = rdma_validate(&[
        "--device",
        DEV,
        "--expect-link-layer",
        "ethernet",
        "--pkey",
        "0xffff",
    ]);
    let stdout = text(&out.stdout);
    println!("{stdout}");
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), validate::CHECKS.len() + 1, "{stdout}");
    for (line, name) in lines.iter().zip(validate::CHECKS) {
        assert!(line.starts_with(&format!("PASS {name:<11} ")), "{line}");
    }
    assert!(
        lines[1].starts_with("PASS port        port 1 ACTIVE"),
        "{}",
        lines[1]
    );
    assert!(lines[8].contains("65536 bytes verified"), "{}", lines[8]);
    assert!(
        lines[13].starts_with("OK: rxe0 port 1: 13 passed, 0 failed, 0 skipped"),
        "{}",
        lines[13]
    );
}

#[test]
fn rdma_validate_json_on_rxe0_carries_the_numbers() {
    let _one = serial();
    let out = rdma_validate(&["--device", DEV, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v = json(&out);
    println!("{v:#}");
    assert_eq!(v["passed"], true);
    assert!(v["failure"].is_null() && v["cause"].is_null());
    let ops = v["self_test"]["operations"].as_array().unwrap();
    assert_eq!(ops.len(), 4);
    assert!(ops.iter().all(|o| o["bytes_verified"] == 65536));
    let lat = &v["self_test"]["latency"];
    assert!(lat["samples"].as_u64().unwrap() >= 1);
    assert!(lat["median_us"].as_f64().unwrap() > 0.0);
}

#[test]
fn rdma_validate_exits_1_on_a_bad_pkey_naming_it() {
    let _one = serial();
    let out = rdma_validate(&["--device", DEV, "--pkey", "0x8005"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            "\nFAIL pkey        pkey 0x8005 is not in the pkey table of port 1 of rxe0 (0xffff): "
        ),
        "{stdout}"
    );
    let out = rdma_validate(&[
        "--device", DEV, "--pkey", "0x8005", "--json", "--mode", "port",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["cause"], "pkey_missing");
}

#[test]
fn rdma_validate_resolves_a_netdev_and_picks_the_only_device() {
    let _one = serial();
    let out = rdma_validate(&["--netdev", "rdma0", "--json", "--mode", "port"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(json(&out)["device"], DEV);
    let out = rdma_validate(&["--json", "--mode", "port"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(json(&out)["device"], DEV, "the VM's only device");
    let out = rdma_validate(&["--netdev", "lo"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("rdma-validate: network interface lo has no RDMA device"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn rdma_validate_runs_inside_a_named_namespace() {
    let _one = serial();
    let ns = TempNetns::new("cli");
    let out = rdma_validate(&["--netns", &ns.path(), "--device", DEV, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(json(&out)["passed"], true);
}

#[test]
fn rdma_validate_reports_a_low_memlock_limit_as_the_memlock_cause() {
    let _one = serial();
    let bin = workspace_bin("rdma-validate", "ib-sriov-cni");
    let script = format!("ulimit -l 64; exec {} --device {DEV} --json", bin.display());
    let out = Command::new("setpriv")
        .args(["--bounding-set=-ipc_lock", "sh", "-c", &script])
        .output()
        .expect("run setpriv (util-linux)");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let v = json(&out);
    assert_eq!(v["cause"], "memlock", "{v:#}");
    let failure = v["failure"].as_str().unwrap();
    assert!(
        failure.starts_with(
            "RLIMIT_MEMLOCK is 64 KiB without CAP_IPC_LOCK: registering the self-test's 208 KiB needs more"
        ) && failure.contains("raise the pod's memlock limit"),
        "{failure}"
    );
    let checks = v["checks"].as_array().unwrap();
    let by_name = |n: &str| checks.iter().find(|c| c["name"] == n).unwrap().clone();
    assert_eq!(by_name("memlock")["outcome"], "fail");
    assert_eq!(by_name("port")["outcome"], "pass");
    assert_eq!(by_name("loopback")["outcome"], "skipped");
    assert_eq!(
        by_name("send")["detail"],
        "skipped: RLIMIT_MEMLOCK does not allow the self-test's registrations"
    );
}
