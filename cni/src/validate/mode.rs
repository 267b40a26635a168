//! What the validation runs ([`Mode`]) and which link layer the port must have
//! ([`ExpectedLinkLayer`]): their config words, parsed strictly with errors that list the
//! allowed words.

use rdma_verbs::LinkLayer;
use std::fmt;
use std::str::FromStr;

/// How much the validation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// The device checks, then a loopback RC self-test (send/recv, RDMA write and read, bytes
    /// verified, latency measured). The default.
    #[default]
    Loopback,
    /// The device checks only (port, link layer, GID/LID, pkey, GUID, memlock).
    Port,
    /// Nothing: every check is reported as skipped.
    Off,
}

/// The link layer the port must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ExpectedLinkLayer {
    /// Native InfiniBand (an IB VF; addressed by LID).
    Infiniband,
    /// Ethernet, i.e. RoCE (addressed by GID).
    Ethernet,
    /// Either (the default of `rdma-validate`, which tests what it is given).
    #[default]
    Any,
}

/// A word that is not one of the allowed ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {word:?}: expected one of {allowed}")]
pub struct UnknownWord {
    /// What was being parsed ("validation mode", "link layer").
    pub what: &'static str,
    /// The word given.
    pub word: String,
    /// The allowed words, comma separated.
    pub allowed: &'static str,
}

impl Mode {
    /// The config word: `loopback`, `port` or `off`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Loopback => "loopback",
            Mode::Port => "port",
            Mode::Off => "off",
        }
    }

    /// True when the self-test runs.
    pub const fn runs_self_test(self) -> bool {
        matches!(self, Mode::Loopback)
    }
}

impl FromStr for Mode {
    type Err = UnknownWord;

    /// `loopback`, `port` or `off` (exactly, lower case).
    fn from_str(word: &str) -> Result<Self, UnknownWord> {
        match word {
            "loopback" => Ok(Mode::Loopback),
            "port" => Ok(Mode::Port),
            "off" => Ok(Mode::Off),
            _ => Err(UnknownWord {
                what: "validation mode",
                word: word.to_owned(),
                allowed: "loopback, port, off",
            }),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ExpectedLinkLayer {
    /// The config word: `infiniband`, `ethernet` or `any`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ExpectedLinkLayer::Infiniband => "infiniband",
            ExpectedLinkLayer::Ethernet => "ethernet",
            ExpectedLinkLayer::Any => "any",
        }
    }

    /// Whether a port with link layer `actual` is acceptable. A provider that does not report
    /// the link layer ([`LinkLayer::Unspecified`]) is InfiniBand, as libibverbs treats it.
    pub fn accepts(self, actual: LinkLayer) -> bool {
        match self {
            ExpectedLinkLayer::Any => true,
            ExpectedLinkLayer::Infiniband => {
                matches!(actual, LinkLayer::InfiniBand | LinkLayer::Unspecified)
            }
            ExpectedLinkLayer::Ethernet => actual == LinkLayer::Ethernet,
        }
    }

    /// How a message names it: `InfiniBand`, `Ethernet (RoCE)`, `any`.
    pub const fn describe(self) -> &'static str {
        match self {
            ExpectedLinkLayer::Infiniband => "InfiniBand",
            ExpectedLinkLayer::Ethernet => "Ethernet (RoCE)",
            ExpectedLinkLayer::Any => "any",
        }
    }
}

impl FromStr for ExpectedLinkLayer {
    type Err = UnknownWord;

    /// `infiniband`, `ethernet` or `any` (exactly, lower case).
    fn from_str(word: &str) -> Result<Self, UnknownWord> {
        match word {
            "infiniband" => Ok(ExpectedLinkLayer::Infiniband),
            "ethernet" => Ok(ExpectedLinkLayer::Ethernet),
            "any" => Ok(ExpectedLinkLayer::Any),
            _ => Err(UnknownWord {
                what: "link layer",
                word: word.to_owned(),
                allowed: "infiniband, ethernet, any",
            }),
        }
    }
}

impl fmt::Display for ExpectedLinkLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serde through the word forms, for both enums.
macro_rules! serde_by_word {
    ($t:ty) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

serde_by_word!(Mode);
serde_by_word!(ExpectedLinkLayer);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_words_round_trip_and_default_is_loopback() {
        for m in [Mode::Loopback, Mode::Port, Mode::Off] {
            assert_eq!(m.as_str().parse::<Mode>(), Ok(m));
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{m}\""));
            assert_eq!(serde_json::from_str::<Mode>(&json).unwrap(), m);
        }
        assert_eq!(Mode::default(), Mode::Loopback);
        assert!(Mode::Loopback.runs_self_test() && !Mode::Port.runs_self_test());
    }

    #[test]
    fn unknown_mode_lists_the_allowed_words() {
        let e = "Loopback".parse::<Mode>().unwrap_err();
        assert_eq!(e.word, "Loopback");
        let msg = serde_json::from_str::<Mode>("\"full\"")
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("\"full\"") && msg.contains("loopback, port, off"),
            "{msg}"
        );
        assert!(serde_json::from_str::<Mode>("3").is_err());
    }

    #[test]
    fn link_layer_words_and_acceptance() {
        for l in [
            ExpectedLinkLayer::Infiniband,
            ExpectedLinkLayer::Ethernet,
            ExpectedLinkLayer::Any,
        ] {
            assert_eq!(l.as_str().parse::<ExpectedLinkLayer>(), Ok(l));
            assert_eq!(
                serde_json::from_str::<ExpectedLinkLayer>(&serde_json::to_string(&l).unwrap())
                    .unwrap(),
                l
            );
        }
        let msg = serde_json::from_str::<ExpectedLinkLayer>("\"ib\"")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("infiniband, ethernet, any"), "{msg}");
        use ExpectedLinkLayer as E;
        assert!(E::Infiniband.accepts(LinkLayer::InfiniBand));
        assert!(E::Infiniband.accepts(LinkLayer::Unspecified));
        assert!(!E::Infiniband.accepts(LinkLayer::Ethernet));
        assert!(E::Ethernet.accepts(LinkLayer::Ethernet));
        assert!(!E::Ethernet.accepts(LinkLayer::InfiniBand));
        assert!(E::Any.accepts(LinkLayer::Ethernet) && E::Any.accepts(LinkLayer::InfiniBand));
    }
}
