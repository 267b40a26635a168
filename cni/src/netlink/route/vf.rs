//! What a PF sets on one of its VFs: the administrative link state and the InfiniBand GUIDs.

use std::fmt;
use std::str::FromStr;

/// A VF's administrative link state (`IFLA_VF_LINK_STATE`), spelled in the network config and
/// on the command line as `auto`, `enable` or `disable` (lower case, as the Go plugin takes
/// them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VfLinkState {
    /// `IFLA_VF_LINK_STATE_AUTO` (0): the VF follows the PF's physical link.
    Auto,
    /// `IFLA_VF_LINK_STATE_ENABLE` (1): up whatever the physical link does.
    Enable,
    /// `IFLA_VF_LINK_STATE_DISABLE` (2): down.
    Disable,
}

impl VfLinkState {
    /// The kernel's value (`IFLA_VF_LINK_STATE_*`).
    pub const fn as_u32(self) -> u32 {
        match self {
            VfLinkState::Auto => 0,
            VfLinkState::Enable => 1,
            VfLinkState::Disable => 2,
        }
    }

    /// The state of a kernel value; `None` for a value this crate does not know.
    pub const fn from_u32(value: u32) -> Option<Self> {
        match value {
            0 => Some(VfLinkState::Auto),
            1 => Some(VfLinkState::Enable),
            2 => Some(VfLinkState::Disable),
            _ => None,
        }
    }

    /// `auto`, `enable` or `disable`.
    pub const fn as_str(self) -> &'static str {
        match self {
            VfLinkState::Auto => "auto",
            VfLinkState::Enable => "enable",
            VfLinkState::Disable => "disable",
        }
    }
}

/// A VF link state word that is not `auto`, `enable` or `disable`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid VF link state {0:?}: expected \"auto\", \"enable\" or \"disable\"")]
pub struct ParseVfLinkStateError(pub String);

impl FromStr for VfLinkState {
    type Err = ParseVfLinkStateError;

    /// Exactly `auto`, `enable` or `disable`.
    fn from_str(word: &str) -> Result<Self, Self::Err> {
        match word {
            "auto" => Ok(VfLinkState::Auto),
            "enable" => Ok(VfLinkState::Enable),
            "disable" => Ok(VfLinkState::Disable),
            _ => Err(ParseVfLinkStateError(word.to_owned())),
        }
    }
}

impl fmt::Display for VfLinkState {
    /// `auto`, `enable` or `disable`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for VfLinkState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for VfLinkState {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Which of a VF's two InfiniBand GUIDs a request sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GuidKind {
    /// The node GUID (`IFLA_VF_IB_NODE_GUID`, 10).
    Node,
    /// The port GUID (`IFLA_VF_IB_PORT_GUID`, 11).
    Port,
}

impl GuidKind {
    /// The `IFLA_VF_*` attribute type that carries it.
    pub const fn attribute(self) -> u16 {
        match self {
            GuidKind::Node => 10,
            GuidKind::Port => 11,
        }
    }
}

impl fmt::Display for GuidKind {
    /// `node` or `port`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GuidKind::Node => "node",
            GuidKind::Port => "port",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_state_words_round_trip_and_match_the_kernel_values() {
        for (word, state, value) in [
            ("auto", VfLinkState::Auto, 0),
            ("enable", VfLinkState::Enable, 1),
            ("disable", VfLinkState::Disable, 2),
        ] {
            assert_eq!(word.parse::<VfLinkState>(), Ok(state));
            assert_eq!(state.to_string(), word);
            assert_eq!(state.as_u32(), value);
            assert_eq!(VfLinkState::from_u32(value), Some(state));
            let json = format!("\"{word}\"");
            assert_eq!(serde_json::to_string(&state).unwrap(), json);
            assert_eq!(serde_json::from_str::<VfLinkState>(&json).unwrap(), state);
        }
        assert_eq!(VfLinkState::from_u32(3), None);
    }

    #[test]
    fn bad_link_state_words_are_named_in_the_error() {
        for bad in ["Enable", "up", "", " auto"] {
            let e = bad.parse::<VfLinkState>().unwrap_err();
            assert_eq!(e, ParseVfLinkStateError(bad.into()));
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
        let e = serde_json::from_str::<VfLinkState>("\"on\"").unwrap_err();
        assert!(e.to_string().contains("\"on\""), "{e}");
    }

    #[test]
    fn guid_kinds_use_the_if_link_h_attribute_numbers() {
        assert_eq!(GuidKind::Node.attribute(), 10);
        assert_eq!(GuidKind::Port.attribute(), 11);
        assert_eq!(GuidKind::Port.to_string(), "port");
    }
}
