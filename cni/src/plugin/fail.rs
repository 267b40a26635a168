//! Turning the lower layers' errors into CNI errors with this plugin's codes.

use crate::netlink::NetlinkError;
use crate::netns::NetnsError;
use crate::spec::{Code, Error};
use crate::sysfs::SysfsError;

/// A sysfs failure: code 100 (device).
pub fn sysfs(e: SysfsError) -> Error {
    Error::new(Code::Device, e.to_string())
}

/// A netlink failure: code 101, with what was being done.
pub fn netlink(doing: &str, e: NetlinkError) -> Error {
    Error::new(Code::Netlink, format!("{doing}: {e}"))
}

/// A namespace failure: code 102.
pub fn netns(e: NetnsError) -> Error {
    Error::new(Code::Netns, e.to_string())
}
