//! CNI spec versions.

use std::fmt;
use std::str::FromStr;

/// The versions this plugin speaks, oldest first (what VERSION prints): all that libcni knows,
/// as the Go plugin declares (`version.All`).
pub const SUPPORTED_VERSIONS: &[&str] = &[
    "0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0",
];

/// A `cniVersion`, `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Major.
    pub major: u16,
    /// Minor.
    pub minor: u16,
    /// Patch.
    pub patch: u16,
}

/// A `cniVersion` that is malformed or not one this plugin speaks (CNI error code 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// Not `N.N.N`.
    #[error("cniVersion {0:?} is not a version like 1.0.0")]
    Format(String),
    /// Well formed but not supported.
    #[error("cniVersion {0} is not supported (supported: {list})", list = SUPPORTED_VERSIONS.join(", "))]
    Unsupported(String),
}

impl Version {
    /// 0.1.0: what a config without `cniVersion` means (libcni's `DecodeVersion`).
    pub const V0_1_0: Version = Version::new(0, 1, 0);
    /// 0.3.0: results with `interfaces` and `ips` (before it: `ip4`/`ip6`).
    pub const V0_3_0: Version = Version::new(0, 3, 0);
    /// 0.4.0: the first with CHECK.
    pub const V0_4_0: Version = Version::new(0, 4, 0);
    /// 1.0.0: results without `ips[].version`.
    pub const V1_0_0: Version = Version::new(1, 0, 0);
    /// 1.1.0: STATUS and GC.
    pub const V1_1_0: Version = Version::new(1, 1, 0);

    /// `major.minor.patch`.
    pub const fn new(major: u16, minor: u16, patch: u16) -> Self {
        Version {
            major,
            minor,
            patch,
        }
    }

    /// Parses and checks that the version is one of [`SUPPORTED_VERSIONS`].
    pub fn supported(text: &str) -> Result<Version, VersionError> {
        let v: Version = text.parse()?;
        if SUPPORTED_VERSIONS.contains(&v.to_string().as_str()) {
            Ok(v)
        } else {
            Err(VersionError::Unsupported(text.to_owned()))
        }
    }
}

impl FromStr for Version {
    type Err = VersionError;

    fn from_str(text: &str) -> Result<Self, VersionError> {
        let bad = || VersionError::Format(text.to_owned());
        let mut it = text.split('.');
        let mut num = || -> Result<u16, VersionError> {
            let p = it.next().ok_or_else(bad)?;
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            p.parse().map_err(|_| bad())
        };
        let v = Version::new(num()?, num()?, num()?);
        if it.next().is_some() {
            return Err(bad());
        }
        Ok(v)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_versions_parse_and_order() {
        for s in SUPPORTED_VERSIONS {
            assert_eq!(Version::supported(s).unwrap().to_string(), *s);
        }
        assert!(Version::supported("0.3.1").unwrap() < Version::V0_4_0);
        assert!(Version::V1_0_0 < Version::V1_1_0);
    }

    #[test]
    fn the_legacy_versions_are_supported() {
        assert_eq!(Version::supported("0.1.0"), Ok(Version::V0_1_0));
        assert!(Version::supported("0.2.0").unwrap() < Version::V0_3_0);
        assert_eq!(SUPPORTED_VERSIONS.len(), 7);
    }

    #[test]
    fn unsupported_and_malformed_are_told_apart() {
        let e = Version::supported("0.5.0").unwrap_err();
        assert_eq!(e, VersionError::Unsupported("0.5.0".into()));
        assert!(
            e.to_string()
                .contains("0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0"),
            "{e}"
        );
        assert_eq!(
            Version::supported("2.0.0"),
            Err(VersionError::Unsupported("2.0.0".into()))
        );
        for bad in [
            "",
            "1.0",
            "1.0.0.0",
            "v1.0.0",
            "1.-1.0",
            "1.0.x",
            "99999999.0.0",
        ] {
            assert_eq!(
                Version::supported(bad),
                Err(VersionError::Format(bad.into())),
                "{bad}"
            );
        }
    }
}
