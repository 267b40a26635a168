//! The network configuration on stdin: the Go `ib-sriov-cni` fields with the same meaning, plus
//! a `validation` section.
//!
//! ```json
//! {"cniVersion":"1.0.0","name":"ib-net","type":"ib-sriov",
//!  "deviceID":"0000:03:02.0","pkey":"0x5","link_state":"enable",
//!  "rdmaIsolation":true,"ibKubernetesEnabled":false,
//!  "runtimeConfig":{"infinibandGUID":"02:00:00:00:00:00:00:05"},
//!  "args":{"cni":{"guid":"02:00:00:00:00:00:00:05"}},
//!  "ipam":{"type":"host-local","subnet":"192.0.2.0/24"},
//!  "validation":{"mode":"loopback","timeoutMs":10000,"linkLayer":"infiniband","port":1}}
//! ```
//!
//! Unknown top-level fields are ignored (runtimes add their own); unknown fields inside
//! `validation` are refused, so a typo there does not silently change what is checked.

use crate::netlink::VfLinkState;
use crate::spec::{Code, Error, Version};
use crate::sysfs::PciAddr;
use crate::validate::{ExpectedLinkLayer, Mode};
use crate::{Guid, Pkey};
use serde::{Deserialize, Deserializer};
use std::time::Duration;

/// The whole network configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetConf {
    /// `cniVersion`, as given.
    pub cni_version: String,
    /// `name` of the network.
    #[serde(default)]
    pub name: String,
    /// `type` (the plugin's file name).
    #[serde(rename = "type", default)]
    pub plugin_type: String,
    /// `deviceID`: the VF's PCI address (Multus fills it in from the device plugin).
    #[serde(rename = "deviceID", default)]
    pub device_id: Option<PciAddr>,
    /// `pkey`: the partition the VF must be a member of (checked by the validation).
    #[serde(default, deserialize_with = "empty_is_none")]
    pub pkey: Option<Pkey>,
    /// `link_state`: the VF's administrative link state, set through the PF.
    #[serde(rename = "link_state", default)]
    pub link_state: Option<VfLinkState>,
    /// `rdmaIsolation`: move the VF's RDMA device into the pod's network namespace (needs the
    /// RDMA subsystem in `exclusive` netns mode).
    #[serde(default)]
    pub rdma_isolation: bool,
    /// `ibKubernetesEnabled`: ib-kubernetes assigns GUIDs, so one must be given.
    #[serde(default)]
    pub ib_kubernetes_enabled: bool,
    /// `runtimeConfig`.
    #[serde(default)]
    pub runtime_config: RuntimeConfig,
    /// `args` (the `args.cni` convention).
    #[serde(default)]
    pub args: ConfArgs,
    /// `ipam`, passed as a whole to the IPAM plugin named by its `type`.
    #[serde(default)]
    pub ipam: Option<serde_json::Value>,
    /// `prevResult` (CHECK, DEL, chained ADD).
    #[serde(default)]
    pub prev_result: Option<serde_json::Value>,
    /// `validation`: what proves the device works before ADD succeeds.
    #[serde(default)]
    pub validation: Validation,
}

/// `runtimeConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RuntimeConfig {
    /// `infinibandGUID` (from the `infiniband-guid` capability); empty = not given.
    #[serde(rename = "infinibandGUID", default, deserialize_with = "empty_is_none")]
    pub infiniband_guid: Option<Guid>,
}

/// `args`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ConfArgs {
    /// `args.cni`.
    #[serde(default)]
    pub cni: CniConfArgs,
}

/// `args.cni`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CniConfArgs {
    /// `args.cni.guid`; empty = not given.
    #[serde(default, deserialize_with = "empty_is_none")]
    pub guid: Option<Guid>,
}

/// `validation`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Validation {
    /// `loopback` (checks and an RC self-test, the default), `port` (checks only) or `off`.
    #[serde(default)]
    pub mode: Mode,
    /// The time the whole validation may take, in milliseconds (default 10000).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// The link layer the port must have: `infiniband` (default), `ethernet` (RoCE) or `any`.
    #[serde(default = "default_link_layer")]
    pub link_layer: ExpectedLinkLayer,
    /// The port to check (default 1; a VF has one).
    #[serde(default = "default_port")]
    pub port: u8,
}

fn default_timeout_ms() -> u64 {
    10_000
}
fn default_link_layer() -> ExpectedLinkLayer {
    ExpectedLinkLayer::Infiniband
}
fn default_port() -> u8 {
    1
}

impl Default for Validation {
    fn default() -> Self {
        Validation {
            mode: Mode::default(),
            timeout_ms: default_timeout_ms(),
            link_layer: default_link_layer(),
            port: default_port(),
        }
    }
}

impl Validation {
    /// The time budget.
    pub fn budget(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

/// `""` (the Go plugin's "unset") and `null` are `None`; anything else must parse.
fn empty_is_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    match Option::<std::borrow::Cow<'de, str>>::deserialize(d)? {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => s.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

/// The `cniVersion` to answer with when the config could not be read.
pub const FALLBACK_VERSION: &str = "1.1.0";

impl NetConf {
    /// Decodes the config. Malformed JSON is CNI code 6 (decode); a well-formed config with a
    /// bad value (GUID, pkey, PCI address, link state, validation) is code 7; an unsupported
    /// `cniVersion` is code 1.
    pub fn parse(bytes: &[u8]) -> Result<NetConf, Error> {
        let conf: NetConf = serde_json::from_slice(bytes).map_err(|e| {
            let code = match e.classify() {
                serde_json::error::Category::Data => Code::InvalidConfig,
                _ => Code::Decode,
            };
            Error::new(code, format!("network config: {e}"))
        })?;
        conf.version()?;
        Ok(conf)
    }

    /// The checked `cniVersion`.
    pub fn version(&self) -> Result<Version, Error> {
        Version::supported(&self.cni_version)
            .map_err(|e| Error::new(Code::IncompatibleVersion, e.to_string()))
    }

    /// The GUID to give the VF: `runtimeConfig.infinibandGUID`, else `args.cni.guid`.
    pub fn guid(&self) -> Option<Guid> {
        self.runtime_config.infiniband_guid.or(self.args.cni.guid)
    }

    /// `ipam.type`, if there is an `ipam` section.
    pub fn ipam_type(&self) -> Option<&str> {
        self.ipam.as_ref()?.get("type")?.as_str()
    }

    /// What ADD and CHECK need beyond decoding: a `deviceID`; a GUID when
    /// `ibKubernetesEnabled`; an `ipam` section with a plain `type` that is not `dhcp`; a
    /// non-zero GUID; a positive timeout.
    pub fn check_for_add(&self) -> Result<&PciAddr, Error> {
        let invalid = |m: String| Error::new(Code::InvalidConfig, m);
        let pci = self.device_id.as_ref().ok_or_else(|| {
            invalid("deviceID is missing: it names the VF's PCI address (Multus fills it in from the device plugin's resource)".into())
        })?;
        if self.ib_kubernetes_enabled && self.guid().is_none() {
            return Err(invalid(
                "ibKubernetesEnabled is true but no GUID was given (runtimeConfig.infinibandGUID): ib-kubernetes has not assigned one yet".into(),
            ));
        }
        if let Some(g) = self.guid() {
            if !g.is_assigned() {
                return Err(invalid(format!(
                    "GUID {g} is not valid: all-zero and all-ones GUIDs cannot be assigned"
                )));
            }
        }
        if let Some(ipam) = &self.ipam {
            match self.ipam_type() {
                None if ipam.as_object().is_some_and(|o| o.is_empty()) => {}
                None => {
                    return Err(invalid(
                        "ipam has no \"type\" naming the IPAM plugin".into(),
                    ))
                }
                Some("dhcp") => {
                    return Err(invalid(
                        "ipam type dhcp is not supported on InfiniBand (use host-local, whereabouts or static)".into(),
                    ))
                }
                Some(t) if t.is_empty() || t.contains('/') || t == "." || t == ".." => {
                    return Err(invalid(format!("ipam type {t:?} is not a plugin file name")))
                }
                Some(_) => {}
            }
        }
        if self.validation.mode != Mode::Off && self.validation.timeout_ms == 0 {
            return Err(invalid(
                "validation.timeoutMs is 0: give the validation time (or set mode off)".into(),
            ));
        }
        if self.validation.port == 0 {
            return Err(invalid(
                "validation.port is 0: ports are numbered from 1".into(),
            ));
        }
        Ok(pci)
    }
}

#[cfg(test)]
mod tests;
