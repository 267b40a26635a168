//! The CNI error object and its codes.

use serde::Serialize;
use std::fmt;

/// A CNI error code: the spec's (1–99) and this plugin's own (100+).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// 1: incompatible CNI version.
    IncompatibleVersion,
    /// 2: unsupported field in the network configuration.
    UnsupportedField,
    /// 3: container unknown or does not exist.
    UnknownContainer,
    /// 4: invalid necessary environment variables.
    InvalidEnv,
    /// 5: I/O failure.
    Io,
    /// 6: failed to decode content.
    Decode,
    /// 7: invalid network config.
    InvalidConfig,
    /// 11: try again later.
    TryAgain,
    /// 50 (1.1.0): the plugin is not available (STATUS).
    NotAvailable,
    /// 100: the VF cannot be found or described (sysfs).
    Device,
    /// 101: a netlink request failed (link, VF link state, GUID, RDMA device namespace).
    Netlink,
    /// 102: the container's network namespace cannot be entered or used.
    Netns,
    /// 103: the delegated IPAM plugin failed.
    Ipam,
    /// 104: the RDMA validation of the attached device failed.
    Validation,
    /// 105: the plugin's saved state cannot be written or read.
    State,
}

impl Code {
    /// The number in the error object.
    pub fn number(self) -> u32 {
        match self {
            Code::IncompatibleVersion => 1,
            Code::UnsupportedField => 2,
            Code::UnknownContainer => 3,
            Code::InvalidEnv => 4,
            Code::Io => 5,
            Code::Decode => 6,
            Code::InvalidConfig => 7,
            Code::TryAgain => 11,
            Code::NotAvailable => 50,
            Code::Device => 100,
            Code::Netlink => 101,
            Code::Netns => 102,
            Code::Ipam => 103,
            Code::Validation => 104,
            Code::State => 105,
        }
    }
}

/// A failed CNI command: printed as `{"cniVersion","code","msg","details"}` on stdout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The code.
    pub code: Code,
    /// One line: what failed and, where known, how to fix it.
    pub msg: String,
    /// More context (may be empty).
    pub details: String,
}

impl Error {
    /// An error with a message and no details.
    pub fn new(code: Code, msg: impl Into<String>) -> Self {
        Error {
            code,
            msg: msg.into(),
            details: String::new(),
        }
    }

    /// Adds details.
    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = details.into();
        self
    }

    /// The JSON object, for `cniVersion` (the config's, or the newest supported when the
    /// config could not be read).
    pub fn to_json(&self, cni_version: &str) -> String {
        #[derive(Serialize)]
        struct Wire<'a> {
            #[serde(rename = "cniVersion")]
            cni_version: &'a str,
            code: u32,
            msg: &'a str,
            #[serde(skip_serializing_if = "str::is_empty")]
            details: &'a str,
        }
        let w = Wire {
            cni_version,
            code: self.code.number(),
            msg: &self.msg,
            details: &self.details,
        };
        // A struct of strings and a number always serializes.
        serde_json::to_string(&w).unwrap_or_else(|_| String::from("{}"))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.msg)?;
        if !self.details.is_empty() {
            write!(f, " ({})", self.details)?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_json_has_the_spec_fields() {
        let e = Error::new(Code::InvalidConfig, "pkey \"x\" is bad").with_details("config line");
        let v: serde_json::Value = serde_json::from_str(&e.to_json("1.0.0")).unwrap();
        assert_eq!(v["cniVersion"], "1.0.0");
        assert_eq!(v["code"], 7);
        assert_eq!(v["msg"], "pkey \"x\" is bad");
        assert_eq!(v["details"], "config line");
        let v: serde_json::Value =
            serde_json::from_str(&Error::new(Code::Decode, "m").to_json("1.1.0")).unwrap();
        assert_eq!(v["code"], 6);
        assert!(v.get("details").is_none());
    }

    #[test]
    fn codes_match_the_spec_numbers() {
        let pairs = [
            (Code::IncompatibleVersion, 1),
            (Code::UnsupportedField, 2),
            (Code::UnknownContainer, 3),
            (Code::InvalidEnv, 4),
            (Code::Io, 5),
            (Code::Decode, 6),
            (Code::InvalidConfig, 7),
            (Code::TryAgain, 11),
            (Code::NotAvailable, 50),
        ];
        for (c, n) in pairs {
            assert_eq!(c.number(), n, "{c:?}");
        }
        assert!(Code::Device.number() >= 100 && Code::State.number() >= 100);
    }
}
