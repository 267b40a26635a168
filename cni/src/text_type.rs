//! One definition of how the small text types (GUID, pkey, PCI address) show themselves:
//! `Debug` as `Name(text)`, and serde as their text form, through `Display` and `FromStr`
//! (so a bad value in a config is refused with the parser's own message).

/// Implements `Debug` (`Name(text)`), `Serialize` (the `Display` text) and `Deserialize`
/// (through `FromStr`, whose error message becomes serde's) for `$t`.
macro_rules! text_type {
    ($t:ident) => {
        impl ::std::fmt::Debug for $t {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, concat!(stringify!($t), "({})"), self)
            }
        }

        impl ::serde::Serialize for $t {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $t {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(::serde::de::Error::custom)
            }
        }
    };
}

pub(crate) use text_type;
