//! The success result of ADD (and the `prevResult` of CHECK/DEL).

use super::{Cidr, Version};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// A CNI result. Decoding accepts the 0.3.x/0.4.0 shape (`ips[].version` is ignored) and the
/// 0.1.0/0.2.0 one (`ip4`/`ip6` become `ips` and their `routes` the routes, as libcni converts
/// them); [`Result::to_json`] writes the shape of the version asked for.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", from = "Wire")]
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

/// Every shape a result is read in: the current fields and the 0.1.0/0.2.0 `ip4`/`ip6`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    #[serde(default)]
    cni_version: String,
    #[serde(default)]
    interfaces: Vec<Interface>,
    #[serde(default)]
    ips: Vec<IpConfig>,
    #[serde(default)]
    routes: Vec<Route>,
    #[serde(default)]
    dns: Dns,
    #[serde(default)]
    ip4: Option<Ip020>,
    #[serde(default)]
    ip6: Option<Ip020>,
}

/// A 0.1.0/0.2.0 `ip4` or `ip6`: one address, its gateway and the routes of its family.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Ip020 {
    ip: Cidr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gateway: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    routes: Vec<Route>,
}

/// A 0.1.0/0.2.0 result as libcni writes it (`dns` always present).
#[derive(Serialize)]
struct Result020<'a> {
    #[serde(rename = "cniVersion")]
    cni_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip4: Option<Ip020>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip6: Option<Ip020>,
    dns: &'a Dns,
}

impl From<Wire> for Result {
    fn from(w: Wire) -> Result {
        let mut r = Result {
            cni_version: w.cni_version,
            interfaces: w.interfaces,
            ips: w.ips,
            routes: w.routes,
            dns: w.dns,
        };
        for ip in [w.ip4, w.ip6].into_iter().flatten() {
            r.ips.push(IpConfig {
                address: ip.ip,
                gateway: ip.gateway,
                interface: None,
            });
            r.routes.extend(ip.routes);
        }
        r
    }
}

impl Result {
    /// The 0.1.0/0.2.0 shape, as libcni's `convertTo02x`: the first address of each family
    /// with its gateway, the routes split by the family of their destination (those of a
    /// family without an address dropped), no interfaces. `None` when there is no address,
    /// which that shape cannot express.
    fn to_020(&self, version: Version) -> Option<Result020<'_>> {
        let family = |v4: bool| {
            let ip = self.ips.iter().find(|ip| ip.address.addr.is_ipv4() == v4)?;
            Some(Ip020 {
                ip: ip.address,
                gateway: ip.gateway,
                routes: self
                    .routes
                    .iter()
                    .filter(|r| r.dst.addr.is_ipv4() == v4)
                    .cloned()
                    .collect(),
            })
        };
        let (ip4, ip6) = (family(true), family(false));
        if ip4.is_none() && ip6.is_none() {
            return None;
        }
        Some(Result020 {
            cni_version: version.to_string(),
            ip4,
            ip6,
            dns: &self.dns,
        })
    }

    /// Whether the result can be written as `version`: the 0.1.0/0.2.0 shape needs an address.
    pub fn fits(&self, version: Version) -> bool {
        version >= Version::V0_3_0 || !self.ips.is_empty()
    }

    /// The result as the JSON of `version`: before 0.3.0 the `ip4`/`ip6` shape (see
    /// [`Result::fits`]: without an address it holds only `cniVersion` and `dns`); before 1.0.0
    /// every `ips[]` entry carries `"version": "4"|"6"`; `interfaces[].pciID` exists only from
    /// 1.1.0.
    pub fn to_json(&self, version: Version) -> String {
        if version < Version::V0_3_0 {
            let r = self.to_020(version).unwrap_or(Result020 {
                cni_version: version.to_string(),
                ip4: None,
                ip6: None,
                dns: &self.dns,
            });
            return serde_json::to_string(&r).unwrap_or_default();
        }
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
    fn the_020_shape_is_read_and_written_as_libcni_converts_it() {
        // What host-local answers for a 0.2.0 config.
        let old = r#"{"cniVersion":"0.2.0","ip4":{"ip":"192.0.2.2/24","gateway":"192.0.2.1","routes":[{"dst":"0.0.0.0/0"}]},"ip6":{"ip":"2001:db8::2/64","routes":[{"dst":"::/0","gw":"2001:db8::1"}]},"dns":{"nameservers":["192.0.2.53"]}}"#;
        let r: Result = serde_json::from_str(old).unwrap();
        let ips: Vec<String> = r.ips.iter().map(|i| i.address.to_string()).collect();
        assert_eq!(ips, ["192.0.2.2/24", "2001:db8::2/64"]);
        assert_eq!(r.ips[0].gateway, Some("192.0.2.1".parse().unwrap()));
        let dsts: Vec<String> = r.routes.iter().map(|r| r.dst.to_string()).collect();
        assert_eq!(dsts, ["0.0.0.0/0", "::/0"]);
        assert_eq!(r.dns.nameservers, ["192.0.2.53"]);
        let again: serde_json::Value =
            serde_json::from_str(&r.to_json(Version::new(0, 2, 0))).unwrap();
        assert_eq!(
            again,
            serde_json::from_str::<serde_json::Value>(old).unwrap()
        );

        // Only the first address of each family; a family's routes go with its address.
        let mut many = r.clone();
        many.ips.insert(
            0,
            IpConfig {
                address: "198.51.100.7/24".parse().unwrap(),
                gateway: None,
                interface: Some(0),
            },
        );
        many.ips.retain(|i| i.address.addr.is_ipv4());
        many.interfaces.push(Interface::default());
        let v: serde_json::Value = serde_json::from_str(&many.to_json(Version::V0_1_0)).unwrap();
        assert_eq!(v["cniVersion"], "0.1.0");
        assert_eq!(v["ip4"]["ip"], "198.51.100.7/24");
        assert!(v["ip4"].get("gateway").is_none());
        assert_eq!(
            v["ip4"]["routes"],
            serde_json::json!([{"dst": "0.0.0.0/0"}])
        );
        assert!(v.get("ip6").is_none() && v.get("interfaces").is_none());
        assert!(many.fits(Version::V0_1_0));

        // No address: the old shape cannot carry the result.
        let none = Result::default();
        assert!(!none.fits(Version::new(0, 2, 0)) && none.fits(Version::V0_3_0));
        assert_eq!(
            none.to_json(Version::new(0, 2, 0)),
            r#"{"cniVersion":"0.2.0","dns":{}}"#
        );
    }

    #[test]
    fn bad_addresses_fail_to_decode_naming_them() {
        let e = serde_json::from_str::<Result>(r#"{"ips":[{"address":"192.0.2.2"}]}"#).unwrap_err();
        assert!(e.to_string().contains("192.0.2.2"), "{e}");
    }
}
