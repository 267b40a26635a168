//! The success result of ADD (and the `prevResult` of CHECK/DEL).

use super::{Cidr, Version};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// A CNI result. Decoding accepts the 0.3.x/0.4.0 shape too (`ips[].version` is ignored);
/// [`Result::to_json`] writes the shape of the version asked for.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Result {
    /// The version of this result.
    #[serde(default)]
    pub cni_version: String,
    /// Interfaces created or touched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<Interface>,
    /// Addresses assigned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<IpConfig>,
    /// Routes installed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    /// DNS settings from IPAM.
    #[serde(default, skip_serializing_if = "Dns::is_empty")]
    pub dns: Dns,
}

/// One interface.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Interface {
    /// Its name.
    pub name: String,
    /// Its hardware address (an IPoIB address is 20 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// The network namespace path it is in; absent for host interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<String>,
    /// (1.1.0) The PCI address of the device behind it.
    #[serde(rename = "pciID", default, skip_serializing_if = "Option::is_none")]
    pub pci_id: Option<String>,
}

/// One assigned address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpConfig {
    /// The address with its prefix.
    pub address: Cidr,
    /// The gateway, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    /// Index into `interfaces`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<usize>,
}

/// One route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// Destination.
    pub dst: Cidr,
    /// Next hop; absent = the IP config's gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gw: Option<IpAddr>,
}

/// DNS settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Dns {
    /// Name servers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nameservers: Vec<String>,
    /// Local domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Search domains.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub search: Vec<String>,
    /// Resolver options.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

impl Dns {
    /// Nothing set.
    pub fn is_empty(&self) -> bool {
        self.nameservers.is_empty()
            && self.domain.is_none()
            && self.search.is_empty()
            && self.options.is_empty()
    }
}

impl Result {
    /// The result as the JSON of `version`: before 1.0.0 every `ips[]` entry carries
    /// `"version": "4"|"6"`, and `interfaces[].pciID` exists only from 1.1.0.
    pub fn to_json(&self, version: Version) -> String {
        let mut r = self.clone();
        r.cni_version = version.to_string();
        if version < Version::V1_1_0 {
            for i in &mut r.interfaces {
                i.pci_id = None;
            }
        }
        let mut v = serde_json::to_value(&r).unwrap_or_default();
        if version < Version::V1_0_0 {
            if let Some(ips) = v.get_mut("ips").and_then(|i| i.as_array_mut()) {
                for (ip, cfg) in ips.iter_mut().zip(&r.ips) {
                    let fam = if cfg.address.addr.is_ipv4() { "4" } else { "6" };
                    ip["version"] = fam.into();
                }
            }
        }
        serde_json::to_string(&v).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST_LOCAL_040: &str = r#"{"cniVersion":"0.4.0","ips":[{"version":"4","address":"192.0.2.2/24","gateway":"192.0.2.1"}],"routes":[{"dst":"0.0.0.0/0"}],"dns":{}}"#;

    #[test]
    fn decodes_an_old_ipam_result_and_writes_both_shapes() {
        let mut r: Result = serde_json::from_str(HOST_LOCAL_040).unwrap();
        assert_eq!(r.ips[0].address.to_string(), "192.0.2.2/24");
        assert_eq!(r.ips[0].gateway, Some("192.0.2.1".parse().unwrap()));
        r.interfaces.push(Interface {
            name: "net1".into(),
            mac: Some("aa:bb".into()),
            sandbox: Some("/var/run/netns/p".into()),
            pci_id: Some("0000:03:00.2".into()),
        });
        r.ips[0].interface = Some(0);
        let new: serde_json::Value = serde_json::from_str(&r.to_json(Version::V1_1_0)).unwrap();
        assert_eq!(new["cniVersion"], "1.1.0");
        assert!(new["ips"][0].get("version").is_none());
        assert_eq!(new["ips"][0]["interface"], 0);
        assert_eq!(new["interfaces"][0]["pciID"], "0000:03:00.2");
        assert!(new.get("dns").is_none());
        let old: serde_json::Value = serde_json::from_str(&r.to_json(Version::V0_4_0)).unwrap();
        assert_eq!(old["ips"][0]["version"], "4");
        assert!(old["interfaces"][0].get("pciID").is_none());
        let v1: serde_json::Value = serde_json::from_str(&r.to_json(Version::V1_0_0)).unwrap();
        assert!(v1["interfaces"][0].get("pciID").is_none());
        assert_eq!(v1["routes"][0]["dst"], "0.0.0.0/0");
    }

    #[test]
    fn bad_addresses_fail_to_decode_naming_them() {
        let e = serde_json::from_str::<Result>(r#"{"ips":[{"address":"192.0.2.2"}]}"#).unwrap_err();
        assert!(e.to_string().contains("192.0.2.2"), "{e}");
    }
}
