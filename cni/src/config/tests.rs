//! Network config decoding and the ADD checks.

use super::*;

const GO_EXAMPLE: &str = r#"{"cniVersion":"1.0.0","name":"ib-net","type":"ib-sriov",
 "deviceID":"0000:03:02.0","pkey":"0x5","link_state":"enable",
 "rdmaIsolation":true,"ibKubernetesEnabled":false,
 "runtimeConfig":{"infinibandGUID":"02:00:00:00:00:00:00:05"},
 "args":{"cni":{"guid":"02:00:00:00:00:00:00:06"}},
 "ipam":{"type":"host-local","subnet":"192.0.2.0/24"},
 "capabilities":{"infinibandGUID":true}}"#;

fn code_of(text: &str) -> (u32, String) {
    let e = NetConf::parse(text.as_bytes()).unwrap_err();
    (e.code.number(), e.msg)
}

#[test]
fn the_go_plugins_config_means_the_same() {
    let c = NetConf::parse(GO_EXAMPLE.as_bytes()).unwrap();
    assert_eq!(c.version().unwrap(), Version::V1_0_0);
    assert_eq!(c.name, "ib-net");
    assert_eq!(c.plugin_type, "ib-sriov");
    assert_eq!(c.device_id.as_ref().unwrap().as_str(), "0000:03:02.0");
    assert_eq!(c.pkey.unwrap().raw(), 5);
    assert_eq!(c.link_state, Some(VfLinkState::Enable));
    assert!(c.rdma_isolation && !c.ib_kubernetes_enabled);
    // runtimeConfig wins over args.cni.
    assert_eq!(c.guid().unwrap().to_string(), "02:00:00:00:00:00:00:05");
    assert_eq!(c.ipam_type(), Some("host-local"));
    assert_eq!(c.validation, Validation::default());
    assert_eq!(c.check_for_add().unwrap().as_str(), "0000:03:02.0");
}

#[test]
fn defaults_and_the_validation_section() {
    let c = NetConf::parse(br#"{"cniVersion":"1.1.0","name":"n","type":"ib-sriov"}"#).unwrap();
    assert_eq!(c.validation.mode, Mode::Loopback);
    assert_eq!(c.validation.budget(), Duration::from_secs(10));
    assert_eq!(c.validation.link_layer, ExpectedLinkLayer::Infiniband);
    assert_eq!(c.validation.port, 1);
    assert_eq!((c.guid(), c.pkey, c.link_state), (None, None, None));
    let c = NetConf::parse(
        br#"{"cniVersion":"1.1.0","validation":{"mode":"port","timeoutMs":500,"linkLayer":"ethernet","port":2}}"#,
    )
    .unwrap();
    assert_eq!(c.validation.mode, Mode::Port);
    assert_eq!(c.validation.timeout_ms, 500);
    assert_eq!(c.validation.link_layer, ExpectedLinkLayer::Ethernet);
    assert_eq!(c.validation.port, 2);
}

#[test]
fn empty_guid_strings_mean_unset_and_args_guid_is_the_fallback() {
    let c = NetConf::parse(
        br#"{"cniVersion":"1.0.0","runtimeConfig":{"infinibandGUID":""},"args":{"cni":{"guid":"02:00:00:00:00:00:00:06"}},"pkey":""}"#,
    )
    .unwrap();
    assert_eq!(c.guid().unwrap().to_string(), "02:00:00:00:00:00:00:06");
    assert_eq!(c.pkey, None);
}

/// The Go plugin's own test config (pkg/config/config_test.go): no `cniVersion`, and a `vf`
/// field neither plugin knows.
const GO_TEST_CONFIG: &str = r#"{
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

#[test]
fn the_go_test_config_without_cni_version_is_0_1_0() {
    let c = NetConf::parse(GO_TEST_CONFIG.as_bytes()).unwrap();
    assert_eq!(c.cni_version, "0.1.0");
    assert_eq!(c.version().unwrap(), Version::V0_1_0);
    assert_eq!(c.check_for_add().unwrap().as_str(), "0000:af:06.1");
    assert_eq!(c.ipam_type(), Some("host-local"));
    for empty in [r#""cniVersion":"","#, r#""cniVersion":null,"#] {
        let text = GO_TEST_CONFIG.replacen('{', &format!("{{{empty}"), 1);
        assert_eq!(NetConf::parse(text.as_bytes()).unwrap(), c, "{text}");
    }
}

/// `base` with `field` (a `"key": value` text) added at the top level.
fn with_field(field: &str) -> String {
    format!(r#"{{"cniVersion":"1.0.0","name":"n","deviceID":"0000:03:02.0",{field}}}"#)
}

#[test]
fn null_means_absent_wherever_go_decoding_accepts_it() {
    let base = NetConf::parse(with_field(r#""x":1"#).as_bytes()).unwrap();
    for field in [
        r#""args": null"#,
        r#""args": {"cni": null}"#,
        r#""args": {"cni": {"guid": null}}"#,
        r#""runtimeConfig": null"#,
        r#""runtimeConfig": {}"#,
        r#""runtimeConfig": {"infinibandGUID": null}"#,
        r#""ipam": null"#,
        r#""prevResult": null"#,
        r#""validation": null"#,
        r#""validation": {"mode": null, "timeoutMs": null, "linkLayer": null, "port": null}"#,
        r#""pkey": null"#,
        r#""link_state": null"#,
        r#""rdmaIsolation": null"#,
        r#""ibKubernetesEnabled": null"#,
        r#""capabilities": null"#,
        r#""dns": null"#,
        r#""vfioPciMode": null"#,
    ] {
        let c =
            NetConf::parse(with_field(field).as_bytes()).unwrap_or_else(|e| panic!("{field}: {e}"));
        assert_eq!(c, base, "{field}");
    }
    let c = NetConf::parse(br#"{"cniVersion":"1.0.0","name":null,"type":null,"deviceID":null}"#)
        .unwrap();
    assert_eq!((c.name.as_str(), c.plugin_type.as_str()), ("", ""));
    assert_eq!(c.device_id, None);
}

#[test]
fn empty_strings_are_unset_for_the_go_plugins_string_fields() {
    let c = NetConf::parse(
        br#"{"cniVersion":"1.0.0","deviceID":"","pkey":"","link_state":"","runtimeConfig":{"infinibandGUID":""},"args":{"cni":{"guid":""}}}"#,
    )
    .unwrap();
    assert_eq!(
        (c.device_id.clone(), c.pkey, c.link_state, c.guid()),
        (None, None, None, None)
    );
    let (code, msg) = code_of(r#"{"cniVersion":"1.0.0","validation":{"mode":""}}"#);
    assert_eq!(code, 7);
    assert!(msg.contains("validation.mode"), "{msg}");
}

#[test]
fn the_last_of_duplicate_keys_wins_as_in_go() {
    let c = NetConf::parse(br#"{"cniVersion":"1.0.0","pkey":"bad","pkey":"0x8005"}"#).unwrap();
    assert_eq!(c.pkey.unwrap().raw(), 0x8005);
}

#[test]
fn input_that_is_not_a_json_object_is_code_6() {
    let huge = format!(
        r#"{{"cniVersion":"1.0.0","name":"{}"}}"#,
        "a".repeat(MAX_CONFIG_BYTES)
    );
    for (text, needle) in [
        (&b""[..], "empty"),
        (b" \n\t", "empty"),
        (b"{", "not valid JSON"),
        (b"not json", "not valid JSON"),
        (
            b"{\"cniVersion\":\"1.0.0\",\"name\":\"\xff\xfe\"}",
            "not valid JSON",
        ),
        (b"\xff", "not valid JSON"),
        (b"null", "null, not a JSON object"),
        (b"[]", "an array, not a JSON object"),
        (b"\"ib-net\"", "a string, not a JSON object"),
        (b"5", "a number, not a JSON object"),
        (b"true", "a boolean, not a JSON object"),
        (huge.as_bytes(), "larger than 1048576 bytes"),
    ] {
        let e = NetConf::parse(text).unwrap_err();
        assert_eq!(e.code, Code::Decode, "{}", String::from_utf8_lossy(text));
        assert!(e.msg.contains(needle), "{}", e.msg);
        assert!(!e.msg.contains('\n'), "{}", e.msg);
    }
}

#[test]
fn wrong_types_and_bad_values_are_code_7_naming_the_field() {
    for (field, path, needle) in [
        (r#""cniVersion": 1"#, "cniVersion", "expected a string"),
        (r#""name": 5"#, "name", "expected a string"),
        (
            r#""deviceID": 5"#,
            "deviceID",
            "expected a string, got a number (5)",
        ),
        (r#""deviceID": "03:02.0""#, "deviceID", "03:02.0"),
        (
            r#""deviceID": "0000:03:02.0/x""#,
            "deviceID",
            "0000:03:02.0/x",
        ),
        (
            r#""rdmaIsolation": "true""#,
            "rdmaIsolation",
            r#"expected true or false, got a string ("true")"#,
        ),
        (
            r#""ibKubernetesEnabled": 1"#,
            "ibKubernetesEnabled",
            "expected true or false",
        ),
        (r#""pkey": 5"#, "pkey", "expected a string"),
        (r#""pkey": "0x0""#, "pkey", "partition 0"),
        (r#""pkey": "0x10000""#, "pkey", "0x10000"),
        (r#""pkey": "-1""#, "pkey", "-1"),
        (r#""link_state": "up""#, "link_state", "up"),
        (r#""link_state": true"#, "link_state", "expected a string"),
        (
            r#""runtimeConfig": {"infinibandGUID": "02-00-00-00-00-00-00-05"}"#,
            "runtimeConfig.infinibandGUID",
            "02-00-00-00-00-00-00-05",
        ),
        (
            r#""runtimeConfig": 5"#,
            "runtimeConfig",
            "expected an object",
        ),
        (r#""args": []"#, "args", "expected an object, got an array"),
        (r#""args": {"cni": "x"}"#, "args.cni", "expected an object"),
        (
            r#""args": {"cni": {"guid": 5}}"#,
            "args.cni.guid",
            "expected a string",
        ),
        (r#""ipam": "host-local""#, "ipam", "expected an object"),
        (r#""ipam": {"type": 5}"#, "ipam.type", "expected a string"),
        (r#""prevResult": []"#, "prevResult", "expected an object"),
        (r#""validation": true"#, "validation", "expected an object"),
        (
            r#""validation": {"mdoe": "off"}"#,
            "validation.mdoe",
            "unknown field",
        ),
        (
            r#""validation": {"mode": "sometimes"}"#,
            "validation.mode",
            "sometimes",
        ),
        (
            r#""validation": {"timeoutMs": -1}"#,
            "validation.timeoutMs",
            "expected a number of milliseconds (0 or more), got a number (-1)",
        ),
        (
            r#""validation": {"timeoutMs": 1.5}"#,
            "validation.timeoutMs",
            "1.5",
        ),
        (
            r#""validation": {"timeoutMs": "10"}"#,
            "validation.timeoutMs",
            "string",
        ),
        (
            r#""validation": {"linkLayer": "roce"}"#,
            "validation.linkLayer",
            "roce",
        ),
        (
            r#""validation": {"port": 256}"#,
            "validation.port",
            "(1-255), got a number (256)",
        ),
    ] {
        let (code, msg) = code_of(&with_field(field));
        assert_eq!(code, 7, "{field}: {msg}");
        assert!(
            msg.starts_with(&format!("network config: {path}: ")),
            "{field}: {msg}"
        );
        assert!(msg.contains(needle), "{field}: {msg}");
    }
}

#[test]
fn unsupported_versions_are_code_1_and_checked_first() {
    for v in ["9.9.9", "0.5.0", "1.0", "v1.0.0"] {
        let (code, msg) = code_of(&format!(r#"{{"cniVersion":"{v}","pkey":"bad"}}"#));
        assert_eq!(code, 1, "{v}: {msg}");
        assert!(msg.contains(v), "{msg}");
    }
    for v in [
        "0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0",
    ] {
        let c = NetConf::parse(format!(r#"{{"cniVersion":"{v}"}}"#).as_bytes()).unwrap();
        assert_eq!(c.version().unwrap().to_string(), v);
    }
}

#[test]
fn deserialize_decodes_as_parse_does() {
    let c: NetConf = serde_json::from_str(GO_EXAMPLE).unwrap();
    assert_eq!(c, NetConf::parse(GO_EXAMPLE.as_bytes()).unwrap());
    let e = serde_json::from_str::<NetConf>(r#"{"pkey":5}"#).unwrap_err();
    assert!(e.to_string().contains("pkey"), "{e}");
}

#[test]
fn add_needs_a_device_a_guid_under_ib_kubernetes_and_a_usable_ipam() {
    let check = |text: &str| {
        NetConf::parse(text.as_bytes())
            .unwrap()
            .check_for_add()
            .map(|_| ())
            .map_err(|e| (e.code.number(), e.msg))
    };
    let (code, msg) = check(r#"{"cniVersion":"1.0.0"}"#).unwrap_err();
    assert_eq!(code, 7);
    assert!(msg.contains("deviceID"), "{msg}");
    let dev = r#""cniVersion":"1.0.0","deviceID":"0000:03:02.0""#;
    let (_, msg) = check(&format!("{{{dev},\"ibKubernetesEnabled\":true}}")).unwrap_err();
    assert!(msg.contains("ibKubernetesEnabled"), "{msg}");
    check(&format!(
        "{{{dev},\"ibKubernetesEnabled\":true,\"runtimeConfig\":{{\"infinibandGUID\":\"02:00:00:00:00:00:00:05\"}}}}"
    ))
    .unwrap();
    let (_, msg) = check(&format!(
        "{{{dev},\"args\":{{\"cni\":{{\"guid\":\"00:00:00:00:00:00:00:00\"}}}}}}"
    ))
    .unwrap_err();
    assert!(msg.contains("not valid"), "{msg}");
    let (_, msg) = check(&format!("{{{dev},\"ipam\":{{\"type\":\"dhcp\"}}}}")).unwrap_err();
    assert!(msg.contains("dhcp"), "{msg}");
    let (_, msg) = check(&format!("{{{dev},\"ipam\":{{\"type\":\"../sh\"}}}}")).unwrap_err();
    assert!(msg.contains("../sh"), "{msg}");
    let (_, msg) = check(&format!("{{{dev},\"ipam\":{{\"subnet\":\"x\"}}}}")).unwrap_err();
    assert!(msg.contains("type"), "{msg}");
    check(&format!("{{{dev},\"ipam\":{{}}}}")).unwrap();
    check(&format!("{{{dev},\"ipam\":{{\"type\":null}}}}")).unwrap();
    let (_, msg) = check(&format!("{{{dev},\"validation\":{{\"timeoutMs\":0}}}}")).unwrap_err();
    assert!(msg.contains("timeoutMs"), "{msg}");
    check(&format!(
        "{{{dev},\"validation\":{{\"timeoutMs\":0,\"mode\":\"off\"}}}}"
    ))
    .unwrap();
}
