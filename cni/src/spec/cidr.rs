//! `address/prefix` as CNI results write IP addresses and routes.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An IP address with a prefix length, e.g. `192.0.2.5/24` (the host bits are kept: a result's
/// `address` is the interface's own address, not the network).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cidr {
    /// The address.
    pub addr: IpAddr,
    /// The prefix length (≤ 32 for IPv4, ≤ 128 for IPv6).
    pub prefix: u8,
}

/// Text that is not `address/prefix`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an address/prefix like 192.0.2.5/24 or 2001:db8::5/64")]
pub struct CidrError(pub String);

impl FromStr for Cidr {
    type Err = CidrError;
    fn from_str(text: &str) -> Result<Self, CidrError> {
        let bad = || CidrError(text.to_owned());
        let (a, p) = text.split_once('/').ok_or_else(bad)?;
        let addr: IpAddr = a.parse().map_err(|_| bad())?;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let prefix: u8 = p.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(bad());
        }
        Ok(Cidr { addr, prefix })
    }
}

impl TryFrom<String> for Cidr {
    type Error = CidrError;
    fn try_from(s: String) -> Result<Self, CidrError> {
        s.parse()
    }
}

impl From<Cidr> for String {
    fn from(c: Cidr) -> String {
        c.to_string()
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_and_v6() {
        let c: Cidr = "192.0.2.5/24".parse().unwrap();
        assert_eq!((c.addr.to_string(), c.prefix), ("192.0.2.5".into(), 24));
        assert_eq!(
            "2001:db8::5/64".parse::<Cidr>().unwrap().to_string(),
            "2001:db8::5/64"
        );
    }

    #[test]
    fn bad_text_is_refused() {
        for bad in [
            "192.0.2.5",
            "192.0.2.5/33",
            "2001:db8::/129",
            "x/24",
            "192.0.2.5/",
            "192.0.2.5/+4",
            "1.2.3.4/0024",
        ] {
            assert_eq!(bad.parse::<Cidr>(), Err(CidrError(bad.into())), "{bad}");
        }
    }
}
