//! Checks shared by the cargo-fuzz targets (`fuzz/fuzz_targets/cni_*.rs`) and the corpus replay
//! test (`cni/tests/fuzz_corpus.rs`): every parser of outside input (network config, `CNI_ARGS`,
//! GUID/pkey/PCI/CIDR/version text, sysfs text) must never panic, and what it accepts must
//! print back to text that parses to the same value.

use crate::args::CniArgs;
use crate::config::NetConf;
use crate::spec::{self, Cidr, Version};
use crate::sysfs::PciAddr;
use crate::{Guid, Pkey};

/// The network config: decoding, the ADD checks, and a `prevResult` decoded as a result.
pub fn check_config(data: &[u8]) {
    if let Ok(conf) = NetConf::parse(data) {
        let _ = conf.check_for_add();
        let _ = (conf.guid(), conf.ipam_type(), conf.validation.budget());
        if let Some(prev) = &conf.prev_result {
            if let Ok(r) = serde_json::from_value::<spec::Result>(prev.clone()) {
                for v in [Version::new(0, 3, 1), Version::V1_0_0, Version::V1_1_0] {
                    let again: spec::Result =
                        serde_json::from_str(&r.to_json(v)).expect("a result's JSON decodes again");
                    assert_eq!(again.ips, r.ips, "ips do not round-trip");
                }
            }
        }
    }
}

/// `CNI_ARGS`.
pub fn check_args(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(a) = CniArgs::parse(text) {
            assert!(
                a.ignore_unknown || a.unknown.is_empty(),
                "unknown keys kept without IgnoreUnknown"
            );
        }
    }
}

/// The small text parsers; the first byte picks which one gets the rest.
pub fn check_text(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match which % 6 {
        0 => {
            if let Ok(g) = text.parse::<Guid>() {
                assert_eq!(g.to_string().parse::<Guid>(), Ok(g));
                assert_eq!(Guid::parse_sysfs(&g.sysfs_form()), Ok(g));
            }
        }
        1 => {
            if let Ok(g) = Guid::parse_sysfs(text) {
                assert_eq!(g.to_string().parse::<Guid>(), Ok(g));
            }
        }
        2 => {
            if let Ok(p) = text.parse::<Pkey>() {
                assert_eq!(p.to_string().parse::<Pkey>(), Ok(p));
            }
        }
        3 => {
            if let Ok(p) = text.parse::<PciAddr>() {
                assert_eq!(p.as_str().parse::<PciAddr>(), Ok(p));
            }
        }
        4 => {
            if let Ok(c) = text.parse::<Cidr>() {
                assert_eq!(c.to_string().parse::<Cidr>(), Ok(c));
            }
        }
        _ => {
            if let Ok(v) = text.parse::<Version>() {
                assert_eq!(v.to_string().parse::<Version>(), Ok(v));
            }
        }
    }
}

/// Whether the parser [`check_text`] picks for `data` accepts it (the corpus seeds' names say
/// which should be).
pub fn text_accepted(data: &[u8]) -> bool {
    let Some((&which, rest)) = data.split_first() else {
        return false;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return false;
    };
    match which % 6 {
        0 => text.parse::<Guid>().is_ok(),
        1 => Guid::parse_sysfs(text).is_ok(),
        2 => text.parse::<Pkey>().is_ok(),
        3 => text.parse::<PciAddr>().is_ok(),
        4 => text.parse::<Cidr>().is_ok(),
        _ => text.parse::<Version>().is_ok(),
    }
}
