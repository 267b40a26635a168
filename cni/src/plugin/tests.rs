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
    assert_eq!(v["supportedVersions"][0], "0.1.0");
    assert_eq!(v["supportedVersions"][1], "0.2.0");
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
    for unreadable in [
        &br#"{"cniVersion":"9.9.9"}"#[..],
        br#"{"cniVersion":1}"#,
        b"garbage",
        b"",
        b"null",
        b"[]",
    ] {
        assert_eq!(error_version(unreadable), FALLBACK_VERSION);
    }
    // libcni reads an object without a version as 0.1.0.
    for none in [
        &b"{}"[..],
        br#"{"cniVersion":""}"#,
        br#"{"cniVersion":null}"#,
    ] {
        assert_eq!(error_version(none), "0.1.0");
    }
}

/// Configs ADD refuses while decoding them: each must leave DEL free to succeed.
const UNPARSEABLE: &[&[u8]] = &[
    b"",
    b"null",
    b"{\"cniVersion\":\"1.0.0\",\"name\":\"\xff\"}",
    b"\xfe\xff",
    b"{",
    b"[]",
    br#"{"cniVersion":1}"#,
    br#"{"cniVersion":"9.9.9"}"#,
    br#"{"cniVersion":"1.0.0","validation":{"mode":"sometimes"}}"#,
    br#"{"cniVersion":"1.0.0","link_state":"up"}"#,
    br#"{"cniVersion":"1.0.0","runtimeConfig":{"infinibandGUID":"02-00-00-00-00-00-00-05"}}"#,
    br#"{"cniVersion":"1.0.0","pkey":"0x0"}"#,
    br#"{"cniVersion":"1.0.0","rdmaIsolation":"true"}"#,
];

fn del_logged(ctx: &Context, conf: &[u8]) -> (Result<String, Error>, Vec<String>) {
    let mut lines = Vec::new();
    let r = run_with_log(ctx, &env(Command::Del), conf, &mut |l| {
        lines.push(l.to_owned())
    });
    (r, lines)
}

#[test]
fn del_needs_no_config_and_notes_one_that_does_not_parse() {
    let d = tempfile::tempdir().unwrap();
    let ctx = ctx(d.path());
    for conf in UNPARSEABLE {
        let text = String::from_utf8_lossy(conf);
        assert!(
            run(&ctx, &env(Command::Add), conf).is_err(),
            "ADD accepts {text}"
        );
        let (r, lines) = del_logged(&ctx, conf);
        assert_eq!(r, Ok(String::new()), "{text}");
        assert_eq!(lines.len(), 1, "{text}: {lines:?}");
        assert!(
            lines[0].starts_with("ib-sriov: DEL: ignoring the network config: ")
                && !lines[0].contains('\n'),
            "{}",
            lines[0]
        );
    }
    let (r, lines) = del_logged(&ctx, br#"{"cniVersion":"1.0.0","name":"n"}"#);
    assert_eq!((r, lines), (Ok(String::new()), vec![]));
    assert!(!d.path().join("state").exists() && !d.path().join("lock").exists());
}

#[test]
fn del_undoes_a_saved_attachment_whatever_the_config_says() {
    let d = tempfile::tempdir().unwrap();
    let ctx = ctx(d.path());
    for conf in UNPARSEABLE {
        // A state file as ADD writes it, with no step to undo (the fields of format 1; any
        // newer field takes its default).
        let saved = serde_json::json!({
            "version": state::STATE_VERSION,
            "network": "ib-net",
            "containerId": "c1",
            "ifname": "net1",
            "netns": "/nonexistent/netns",
            "pci": "0000:03:00.2",
            "rdmaDevice": null,
            "config": r#"{"cniVersion":"1.0.0","name":"ib-net"}"#,
            "steps": [],
            "result": {},
        });
        std::fs::create_dir_all(&ctx.state_dir).unwrap();
        let file = state::path_of(&ctx.state_dir, "c1", "net1");
        std::fs::write(&file, saved.to_string()).unwrap();
        assert!(state::State::load(&ctx.state_dir, "c1", "net1")
            .unwrap()
            .is_some());
        let (r, _) = del_logged(&ctx, conf);
        assert_eq!(r, Ok(String::new()), "{}", String::from_utf8_lossy(conf));
        assert!(!file.exists(), "the state of c1/net1 is left");
    }
}

#[test]
fn configs_without_a_version_are_0_1_0_and_need_ipam_for_add() {
    let d = tempfile::tempdir().unwrap();
    let ctx = ctx(d.path());
    for conf in [
        &br#"{"name":"n","deviceID":"0000:03:00.2"}"#[..],
        br#"{"cniVersion":"0.2.0","name":"n","deviceID":"0000:03:00.2"}"#,
    ] {
        let e = run(&ctx, &env(Command::Add), conf).unwrap_err();
        assert_eq!(e.code, Code::InvalidConfig, "{}", e.msg);
        assert!(e.msg.contains("ipam"), "{}", e.msg);
    }
    // With IPAM, ADD gets past the config (to the missing namespace).
    let conf = br#"{"name":"n","deviceID":"0000:03:00.2","ipam":{"type":"host-local"}}"#;
    let e = run(&ctx, &env(Command::Add), conf).unwrap_err();
    assert_eq!(e.code, Code::Netns, "{}", e.msg);
    let (code, msg) = err(d.path(), Command::Check, r#"{"name":"n"}"#);
    assert_eq!(code, 1);
    assert!(msg.contains("says 0.1.0"), "{msg}");
    assert_eq!(err(d.path(), Command::Status, "{}").0, 1);
    assert!(!d.path().join("state").exists());
}
