//! `ib-sriov` against network configs, on the host: malformed ones fail ADD with the spec's code
//! naming the field and leave the node unchanged, while DEL (nothing saved) succeeds noting
//! them; the Go plugin's configs get past decoding; DEL undoes a saved state whatever the
//! config says.

mod common;

use common::{Node, ADD_ENV, DEL_ENV, GOOD};
use ib_sriov_cni::plugin::state::{path_of, State, STATE_VERSION};
use std::fs;

/// Configs ADD refuses while decoding them: (what, config, code, what the message names).
const MALFORMED: &[(&str, &[u8], u64, &str)] = &[
    ("empty", b"", 6, "empty"),
    ("null", b"null", 6, "null"),
    ("invalid UTF-8", b"\xff\xfe{}", 6, "not valid JSON"),
    (
        "truncated",
        br#"{"cniVersion":"1.0.0","name":"#,
        6,
        "not valid JSON",
    ),
    (
        "top-level array",
        br#"[{"cniVersion":"1.0.0"}]"#,
        6,
        "array",
    ),
    ("string", br#""ib-net""#, 6, "string"),
    ("number", b"5", 6, "number"),
    ("version number", br#"{"cniVersion":1}"#, 7, "cniVersion"),
    ("unknown version", br#"{"cniVersion":"9.9.9"}"#, 1, "9.9.9"),
    ("version text", br#"{"cniVersion":"1.0"}"#, 1, "1.0"),
    (
        "validation mode",
        br#"{"cniVersion":"1.0.0","validation":{"mode":"always"}}"#,
        7,
        "validation.mode",
    ),
    (
        "validation typo",
        br#"{"cniVersion":"1.0.0","validation":{"mdoe":"off"}}"#,
        7,
        "validation.mdoe",
    ),
    (
        "negative timeout",
        br#"{"cniVersion":"1.0.0","validation":{"timeoutMs":-5}}"#,
        7,
        "validation.timeoutMs",
    ),
    (
        "link state up",
        br#"{"cniVersion":"1.0.0","link_state":"up"}"#,
        7,
        "link_state",
    ),
    (
        "GUID with dashes",
        br#"{"cniVersion":"1.0.0","runtimeConfig":{"infinibandGUID":"02-00-00-00-00-00-00-05"}}"#,
        7,
        "runtimeConfig.infinibandGUID",
    ),
    (
        "args GUID number",
        br#"{"cniVersion":"1.0.0","args":{"cni":{"guid":5}}}"#,
        7,
        "args.cni.guid",
    ),
    (
        "pkey 0x0",
        br#"{"cniVersion":"1.0.0","pkey":"0x0"}"#,
        7,
        "pkey",
    ),
    (
        "pkey out of range",
        br#"{"cniVersion":"1.0.0","pkey":"0x10000"}"#,
        7,
        "pkey",
    ),
    (
        "rdmaIsolation string",
        br#"{"cniVersion":"1.0.0","rdmaIsolation":"true"}"#,
        7,
        "rdmaIsolation",
    ),
    (
        "PCI address syntax",
        br#"{"cniVersion":"1.0.0","deviceID":"0000:03:02"}"#,
        7,
        "deviceID",
    ),
    (
        "deviceID number",
        br#"{"cniVersion":"1.0.0","deviceID":3}"#,
        7,
        "deviceID",
    ),
    (
        "args array",
        br#"{"cniVersion":"1.0.0","args":[]}"#,
        7,
        "args",
    ),
];

#[test]
fn malformed_configs_fail_add_naming_the_field_and_del_ignores_them() {
    for (what, conf, code, needle) in MALFORMED {
        let node = Node::new();
        let out = node.run_unchanged(ADD_ENV, conf);
        assert_eq!(out.code_naming(needle), *code, "{what}: {out:?}");
        let out = node.run_unchanged(DEL_ENV, conf);
        out.empty_success();
        assert!(
            out.stderr
                .starts_with("ib-sriov: DEL: ignoring the network config: ")
                && out.stderr.lines().count() == 1,
            "{what}: {out:?}"
        );
    }
}

/// Configs the Go plugin takes (its README, example NAD and test config, and the forms its
/// `encoding/json` decoding accepts), each with the deviceID Multus adds.
fn upstream_configs() -> Vec<String> {
    let readme = r#"{
    "cniVersion": "0.3.1",
    "name": "mynet",
    "type": "ib-sriov",
    "deviceID": "0000:03:02.0",
    "link_state": "enable",
    "rdmaIsolation": true,
    "ibKubernetesEnabled": false,
    "ipam": {
                "type": "host-local",
                "subnet": "10.56.217.0/24",
                "rangeStart": "10.56.217.171",
                "rangeEnd": "10.56.217.181",
                "routes": [
                        { "dst": "0.0.0.0/0" }
                ],
                "gateway": "10.56.217.1"
        }
}"#;
    let test_config = r#"{
        "name": "mynet",
        "type": "ib-sriov",
        "deviceID": "0000:af:06.1",
        "vf": 0,
        "ipam": {
            "type": "host-local",
            "subnet": "10.55.206.0/26",
            "routes": [
                { "dst": "0.0.0.0/0" }
            ],
            "gateway": "10.55.206.1"
        }
                        }"#;
    let nad = r#"{"type":"ib-sriov","cniVersion":"0.3.1","name":"sriov-network","pkey":"0x5","link_state":"enable","ibKubernetesEnabled":false,"ipam":{"type":"host-local","subnet":"10.56.217.0/24","routes":[{"dst":"0.0.0.0/0"}],"gateway":"10.56.217.1"},"deviceID":"0000:03:02.0"}"#;
    let mut all = vec![readme.to_owned(), test_config.to_owned(), nad.to_owned()];
    let base = |version: &str, extra: &str| {
        format!(
            r#"{{{version}"name":"n","type":"ib-sriov","deviceID":"0000:03:02.0","ipam":{{"type":"host-local","subnet":"192.0.2.0/24"}}{extra}}}"#
        )
    };
    for v in ["", r#""cniVersion":"","#, r#""cniVersion":null,"#] {
        all.push(base(v, ""));
    }
    for v in [
        "0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0",
    ] {
        all.push(base(&format!(r#""cniVersion":"{v}","#), ""));
    }
    for extra in [
        r#","args":null"#,
        r#","args":{"cni":null}"#,
        r#","args":{"cni":{"guid":"02:00:00:00:00:00:00:05","mellanox.infiniband.app":"configured"}}"#,
        r#","runtimeConfig":{}"#,
        r#","runtimeConfig":null"#,
        r#","runtimeConfig":{"infinibandGUID":""}"#,
        r#","capabilities":{"infinibandGUID":true},"runtimeConfig":{"infinibandGUID":"02:00:00:00:00:00:00:05"}"#,
        r#","ibKubernetesEnabled":true,"runtimeConfig":{"infinibandGUID":"02:00:00:00:00:00:00:05"}"#,
        r#","vf":0"#,
        r#","vfioPciMode":false"#,
        r#","pkey":"0x8005""#,
        r#","pkey":"0x7fff""#,
        r#","pkey":"0X7FFF""#,
        r#","pkey":"32773""#,
        r#","pkey":"""#,
        r#","pkey":null"#,
        r#","link_state":"auto""#,
        r#","link_state":"disable""#,
        r#","link_state":"""#,
        r#","rdmaIsolation":false"#,
        r#","rdmaIsolation":null"#,
        r#","dns":{"nameservers":["192.0.2.53"]}"#,
        r#","validation":null"#,
    ] {
        all.push(base(r#""cniVersion":"1.0.0","#, extra));
    }
    all
}

#[test]
fn upstream_configs_get_past_decoding_and_del_succeeds() {
    for conf in upstream_configs() {
        let node = Node::new();
        let out = node.run(ADD_ENV, conf.as_bytes());
        let v = out.error();
        let code = v["code"].as_u64().unwrap_or_default();
        assert!(
            ![1, 4, 6, 7].contains(&code),
            "ADD refused the config itself: {conf}: {out:?}"
        );
        // The missing pod namespace is what stops it.
        assert_eq!(code, 102, "{conf}: {out:?}");
        let out = node.run(DEL_ENV, conf.as_bytes());
        out.empty_success();
        assert_eq!(out.stderr, "", "{conf}: {out:?}");
    }
}

#[test]
fn del_undoes_the_saved_state_whatever_the_config() {
    for conf in [&b"null"[..], b"", br#"{"cniVersion":"1.0.0","pkey":"0x0"}"#] {
        let node = Node::new();
        // A state file as ADD writes it, with no step to undo (the fields of format 1; any
        // newer field takes its default).
        let saved = serde_json::json!({
            "version": STATE_VERSION,
            "network": "ib-net",
            "containerId": "c1",
            "ifname": "net1",
            "netns": "/nonexistent/netns/pod",
            "pci": "0000:03:02.0",
            "rdmaDevice": null,
            "config": GOOD,
            "steps": [],
            "result": {},
        });
        fs::create_dir_all(node.state_dir()).unwrap();
        let file = path_of(&node.state_dir(), "c1", "net1");
        fs::write(&file, saved.to_string()).unwrap();
        assert!(State::load(&node.state_dir(), "c1", "net1")
            .unwrap()
            .is_some());
        let out = node.run(DEL_ENV, conf);
        out.empty_success();
        assert!(!file.exists(), "the state file is left: {out:?}");
        assert!(
            out.stderr.contains("ignoring the network config"),
            "{out:?}"
        );
        // A second DEL has nothing to do.
        node.run(DEL_ENV, conf).empty_success();
    }
}
