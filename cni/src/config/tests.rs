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

#[test]
fn decode_failures_are_code_6_and_bad_values_code_7() {
    assert_eq!(code_of("{").0, 6);
    assert_eq!(code_of("not json").0, 6);
    let (code, msg) =
        code_of(r#"{"cniVersion":"1.0.0","runtimeConfig":{"infinibandGUID":"02:00"}}"#);
    assert_eq!(code, 7);
    assert!(msg.contains("02:00"), "{msg}");
    let (code, msg) = code_of(r#"{"cniVersion":"1.0.0","pkey":"0x10000"}"#);
    assert_eq!(code, 7);
    assert!(msg.contains("0x10000"), "{msg}");
    let (code, msg) = code_of(r#"{"cniVersion":"1.0.0","link_state":"up"}"#);
    assert_eq!(code, 7);
    assert!(msg.contains("up"), "{msg}");
    let (code, msg) = code_of(r#"{"cniVersion":"1.0.0","deviceID":"03:02.0"}"#);
    assert_eq!(code, 7);
    assert!(msg.contains("03:02.0"), "{msg}");
    let (code, msg) = code_of(r#"{"cniVersion":"1.0.0","validation":{"mdoe":"off"}}"#);
    assert_eq!(code, 7);
    assert!(msg.contains("mdoe"), "{msg}");
    let (code, msg) = code_of(r#"{"cniVersion":"1.0.0","validation":{"mode":"sometimes"}}"#);
    assert_eq!(code, 7);
    assert!(msg.contains("sometimes"), "{msg}");
    let (code, _) = code_of(r#"{"name":"no version"}"#);
    assert_eq!(code, 7);
}

#[test]
fn unsupported_versions_are_code_1() {
    let (code, msg) = code_of(r#"{"cniVersion":"0.2.0"}"#);
    assert_eq!(code, 1);
    assert!(msg.contains("0.2.0"), "{msg}");
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
    let (_, msg) = check(&format!("{{{dev},\"validation\":{{\"timeoutMs\":0}}}}")).unwrap_err();
    assert!(msg.contains("timeoutMs"), "{msg}");
    check(&format!(
        "{{{dev},\"validation\":{{\"timeoutMs\":0,\"mode\":\"off\"}}}}"
    ))
    .unwrap();
}
