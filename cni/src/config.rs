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
//! Decoded as the Go plugin's `encoding/json` structs are: unknown top-level fields are ignored
//! (runtimes add their own, e.g. `capabilities`, `dns`, the Go test config's `vf`), a missing
//! field and `null` both mean "not given", `""` is "not given" for the Go plugin's string fields
//! (`deviceID`, `pkey`, `link_state`, the GUIDs), and a missing or empty `cniVersion` is 0.1.0
//! (libcni's `DecodeVersion`). Unknown fields inside `validation` (ours) are refused, so a typo
//! there does not silently change what is checked. Every error names the field.

mod decode;

use crate::netlink::VfLinkState;
use crate::spec::{Code, Error, Version};
use crate::sysfs::PciAddr;
use crate::validate::{ExpectedLinkLayer, Mode};
use crate::{Guid, Pkey};
use decode::{kind, FieldError, Obj};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::time::Duration;

/// The whole network configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct NetConf {
    /// `cniVersion`; `"0.1.0"` when the config has none (or `""`, or `null`).
    pub cni_version: String,
    /// `name` of the network.
    pub name: String,
    /// `type` (the plugin's file name).
    pub plugin_type: String,
    /// `deviceID`: the VF's PCI address (Multus fills it in from the device plugin).
    pub device_id: Option<PciAddr>,
    /// `pkey`: the partition the VF must be a member of (checked by the validation).
    pub pkey: Option<Pkey>,
    /// `link_state`: the VF's administrative link state, set through the PF.
    pub link_state: Option<VfLinkState>,
    /// `rdmaIsolation`: move the VF's RDMA device into the pod's network namespace (needs the
    /// RDMA subsystem in `exclusive` netns mode).
    pub rdma_isolation: bool,
    /// `ibKubernetesEnabled`: ib-kubernetes assigns GUIDs, so one must be given.
    pub ib_kubernetes_enabled: bool,
    /// `runtimeConfig`.
    pub runtime_config: RuntimeConfig,
    /// `args` (the `args.cni` convention).
    pub args: ConfArgs,
    /// `ipam` (an object), passed as a whole to the IPAM plugin named by its `type`.
    pub ipam: Option<Value>,
    /// `prevResult` (an object; CHECK, DEL, chained ADD).
    pub prev_result: Option<Value>,
    /// `validation`: what proves the device works before ADD succeeds.
    pub validation: Validation,
}

/// `runtimeConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// `infinibandGUID` (from the `infiniband-guid` capability); empty = not given.
    pub infiniband_guid: Option<Guid>,
}

/// `args`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfArgs {
    /// `args.cni`.
    pub cni: CniConfArgs,
}

/// `args.cni`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CniConfArgs {
    /// `args.cni.guid`; empty = not given.
    pub guid: Option<Guid>,
}

/// `validation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    /// `loopback` (checks and an RC self-test, the default), `port` (checks only) or `off`.
    pub mode: Mode,
    /// The time the whole validation may take, in milliseconds (default 10000).
    pub timeout_ms: u64,
    /// The link layer the port must have: `infiniband` (default), `ethernet` (RoCE) or `any`.
    pub link_layer: ExpectedLinkLayer,
    /// The port to check (default 1; a VF has one).
    pub port: u8,
}

impl Default for Validation {
    fn default() -> Self {
        Validation {
            mode: Mode::default(),
            timeout_ms: 10_000,
            link_layer: ExpectedLinkLayer::Infiniband,
            port: 1,
        }
    }
}

impl Validation {
    /// The time budget.
    pub fn budget(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// `validation` (`None`: missing or `null`, the defaults).
    fn read(o: Option<Obj>) -> Result<Validation, FieldError> {
        let mut v = Validation::default();
        let Some(o) = o else {
            return Ok(v);
        };
        o.deny_unknown(&["mode", "timeoutMs", "linkLayer", "port"])?;
        if let Some(m) = o.text("mode", false)? {
            v.mode = m;
        }
        if let Some(t) = o.unsigned("timeoutMs", "a number of milliseconds (0 or more)")? {
            v.timeout_ms = t;
        }
        if let Some(l) = o.text("linkLayer", false)? {
            v.link_layer = l;
        }
        if let Some(p) = o.unsigned("port", "a port number (1-255)")? {
            v.port = p;
        }
        Ok(v)
    }
}

/// The `cniVersion` to answer with when the config could not be read.
pub const FALLBACK_VERSION: &str = "1.1.0";

/// The largest network config read (1 MiB; real ones are a few KiB): a larger stdin is refused
/// before it is decoded.
pub const MAX_CONFIG_BYTES: usize = 1 << 20;

/// The version a config without `cniVersion` (or with `""`) speaks.
const NO_VERSION: &str = "0.1.0";

/// The config's `cniVersion` text: `"0.1.0"` when missing, `null` or `""`; `Err` when it is
/// not a string.
fn version_text(top: &Obj) -> Result<String, FieldError> {
    Ok(match top.string("cniVersion")? {
        None | Some("") => NO_VERSION.to_owned(),
        Some(v) => v.to_owned(),
    })
}

impl NetConf {
    /// Decodes the config. Input that is not JSON, or not a JSON object, or larger than
    /// [`MAX_CONFIG_BYTES`] is CNI code 6 (decode); a field of the wrong type or with a bad
    /// value (GUID, pkey, PCI address, link state, validation) is code 7; an unsupported
    /// `cniVersion` is code 1. The message names the field.
    pub fn parse(bytes: &[u8]) -> Result<NetConf, Error> {
        if bytes.len() > MAX_CONFIG_BYTES {
            return Err(Error::new(
                Code::Decode,
                format!(
                    "network config is larger than {MAX_CONFIG_BYTES} bytes: not decoded (a network config is a few KiB)"
                ),
            ));
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(Error::new(
                Code::Decode,
                "network config is empty: the runtime must write it on stdin",
            ));
        }
        let v: Value = serde_json::from_slice(bytes).map_err(|e| {
            Error::new(
                Code::Decode,
                format!("network config is not valid JSON: {e}"),
            )
        })?;
        Self::from_value(&v)
    }

    /// Decodes a config already read as JSON (see [`NetConf::parse`] for the codes).
    pub fn from_value(v: &Value) -> Result<NetConf, Error> {
        let Value::Object(map) = v else {
            return Err(Error::new(
                Code::Decode,
                format!("network config is {}, not a JSON object", kind(v)),
            ));
        };
        let top = Obj::top(map);
        let field = |e: FieldError| {
            Error::new(
                Code::InvalidConfig,
                format!("network config: {}: {}", e.field, e.msg),
            )
        };
        // The version first, as libcni's skel checks it before the plugin reads the rest.
        let version = version_text(&top).map_err(field)?;
        Version::supported(&version)
            .map_err(|e| Error::new(Code::IncompatibleVersion, e.to_string()))?;
        Self::read(&top, version).map_err(field)
    }

    fn read(top: &Obj, cni_version: String) -> Result<NetConf, FieldError> {
        let guid_of = |o: Option<Obj>, key: &str| -> Result<Option<Guid>, FieldError> {
            o.map_or(Ok(None), |o| o.text(key, true))
        };
        let args_cni = top.object("args")?.map(|a| a.object("cni")).transpose()?;
        if let Some(ipam) = top.object("ipam")? {
            ipam.string("type")?;
        }
        top.object("prevResult")?;
        let text = |key: &str| -> Result<String, FieldError> {
            Ok(top.string(key)?.unwrap_or_default().to_owned())
        };
        Ok(NetConf {
            cni_version,
            name: text("name")?,
            plugin_type: text("type")?,
            device_id: top.text("deviceID", true)?,
            pkey: top.text("pkey", true)?,
            link_state: top.text("link_state", true)?,
            rdma_isolation: top.boolean("rdmaIsolation")?.unwrap_or_default(),
            ib_kubernetes_enabled: top.boolean("ibKubernetesEnabled")?.unwrap_or_default(),
            runtime_config: RuntimeConfig {
                infiniband_guid: guid_of(top.object("runtimeConfig")?, "infinibandGUID")?,
            },
            args: ConfArgs {
                cni: CniConfArgs {
                    guid: guid_of(args_cni.flatten(), "guid")?,
                },
            },
            ipam: top.get("ipam").cloned(),
            prev_result: top.get("prevResult").cloned(),
            validation: Validation::read(top.object("validation")?)?,
        })
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
                // `{}` or only nulls (`{"type": null}`): no IPAM, as in the Go plugin.
                None if ipam
                    .as_object()
                    .is_some_and(|o| o.values().all(Value::is_null)) => {}
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

/// Through [`NetConf::from_value`], so a config embedded in other JSON decodes the same way.
impl<'de> Deserialize<'de> for NetConf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        NetConf::from_value(&v).map_err(|e| serde::de::Error::custom(e.msg))
    }
}

#[cfg(test)]
mod tests;
