//! The command dispatch and the paths that need no device, no root and no netlink.

use super::*;
use std::path::Path;

fn ctx(dir: &Path) -> Context {
    Context {
        sys: SysRoot::new(dir.join("sys")),
        state_dir: dir.join("state"),
        lock_file: dir.join("lock/cni.lock"),
        rebind_wait: Duration::from_millis(10),
    }
}

fn env(command: Command) -> Env {
    Env {
        command,
        container_id: "c1".into(),
        netns: Some("/nonexistent/netns".into()),
        ifname: "net1".into(),
        args: String::new(),
        path: vec![],
    }
}

fn err(dir: &Path, command: Command, conf: &str) -> (u32, String) {
    let e = run(&ctx(dir), &env(command), conf.as_bytes()).unwrap_err();
    (e.code.number(), e.msg)
}

#[test]
fn version_lists_the_supported_versions() {
    let d = tempfile::tempdir().unwrap();
    let out = run(
        &ctx(d.path()),
        &env(Command::Version),
        br#"{"cniVersion":"0.4.0"}"#,
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["cniVersion"], "0.4.0");
    assert_eq!(
        v["supportedVersions"],
        serde_json::json!(SUPPORTED_VERSIONS)
    );
    let out = run(&ctx(d.path()), &env(Command::Version), b"").unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["cniVersion"], FALLBACK_VERSION);
}

#[test]
fn commands_newer_than_the_config_version_are_code_1() {
    let d = tempfile::tempdir().unwrap();
    let (code, msg) = err(d.path(), Command::Check, r#"{"cniVersion":"0.3.1"}"#);
    assert_eq!(code, 1);
    assert!(msg.contains("CHECK needs cniVersion 0.4.0"), "{msg}");
    for c in [Command::Status, Command::Gc] {
        let (code, msg) = err(d.path(), c, r#"{"cniVersion":"1.0.0"}"#);
        assert_eq!(code, 1, "{c}");
        assert!(msg.contains("needs cniVersion 1.1.0"), "{msg}");
    }
}

#[test]
fn add_fails_early_on_config_and_namespace_problems() {
    let d = tempfile::tempdir().unwrap();
    assert_eq!(err(d.path(), Command::Add, "{").0, 6);
    let (code, msg) = err(
        d.path(),
        Command::Add,
        r#"{"cniVersion":"1.0.0","type":"ib-sriov"}"#,
    );
    assert_eq!(code, 7);
    assert!(msg.contains("deviceID"), "{msg}");
    let (code, msg) = err(
        d.path(),
        Command::Add,
        r#"{"cniVersion":"1.0.0","deviceID":"0000:03:00.2"}"#,
    );
    assert_eq!(code, 102, "{msg}");
    assert!(msg.contains("/nonexistent/netns"), "{msg}");
    let mut e = env(Command::Add);
    e.args = "BOGUS=1".into();
    let x = run(
        &ctx(d.path()),
        &e,
        br#"{"cniVersion":"1.0.0","deviceID":"0000:03:00.2"}"#,
    )
    .unwrap_err();
    assert_eq!(x.code, Code::InvalidEnv);
    assert!(x.msg.contains("BOGUS"), "{}", x.msg);
    assert!(
        !d.path().join("state").exists(),
        "nothing saved for a failed ADD"
    );
}

#[test]
fn del_without_state_succeeds_and_check_without_state_is_unknown_container() {
    let d = tempfile::tempdir().unwrap();
    let conf = br#"{"cniVersion":"1.1.0","deviceID":"0000:03:00.2"}"#;
    assert_eq!(run(&ctx(d.path()), &env(Command::Del), conf).unwrap(), "");
    assert_eq!(run(&ctx(d.path()), &env(Command::Del), conf).unwrap(), "");
    let e = run(&ctx(d.path()), &env(Command::Check), conf).unwrap_err();
    assert_eq!(e.code, Code::UnknownContainer);
    assert!(e.msg.contains("c1/net1"), "{}", e.msg);
}

#[test]
fn status_and_gc_with_nothing_to_do() {
    let d = tempfile::tempdir().unwrap();
    let conf = br#"{"cniVersion":"1.1.0","name":"n","cni.dev/valid-attachments":[{"containerID":"c9","ifname":"net1"}]}"#;
    run(&ctx(d.path()), &env(Command::Status), conf).unwrap();
    assert!(d.path().join("state").is_dir());
    run(&ctx(d.path()), &env(Command::Gc), conf).unwrap();
    let bad =
        br#"{"cniVersion":"1.1.0","name":"n","cni.dev/valid-attachments":[{"ifname":"net1"}]}"#;
    let e = run(&ctx(d.path()), &env(Command::Gc), bad).unwrap_err();
    assert_eq!(e.code, Code::InvalidConfig);
    assert!(e.msg.contains("valid-attachments"), "{}", e.msg);
}

#[test]
fn error_version_falls_back_when_the_config_has_none() {
    assert_eq!(error_version(br#"{"cniVersion":"0.3.1"}"#), "0.3.1");
    assert_eq!(
        error_version(br#"{"cniVersion":"9.9.9"}"#),
        FALLBACK_VERSION
    );
    assert_eq!(error_version(b"garbage"), FALLBACK_VERSION);
}
