//! The kernel's rules for network interface names (`dev_valid_name` in net/core/dev.c),
//! checked before a request so a bad name gets a clear error instead of a bare `EINVAL`.

use crate::netlink::NetlinkError;

/// Longest name: `IFNAMSIZ` (16) minus the terminating NUL.
pub const IFNAME_MAX: usize = 15;

/// Checks that `name` can name a network interface: 1 to 15 bytes, not `.` or `..`, no `/`,
/// `:`, NUL or whitespace.
pub fn validate_ifname(name: &str) -> Result<(), NetlinkError> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > IFNAME_MAX {
        Some("it is longer than 15 bytes")
    } else if name == "." || name == ".." {
        Some("\".\" and \"..\" are not interface names")
    } else if name.contains('/') {
        Some("it contains '/'")
    } else if name.contains(':') {
        Some("it contains ':'")
    } else if name.contains(char::is_whitespace) {
        Some("it contains whitespace")
    } else if name.contains('\0') {
        Some("it contains a NUL byte")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(NetlinkError::InvalidName {
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_name_rules() {
        for good in ["net1", "ib0.8001", "a", "abcdefghijklmno", "eth-1_x@y"] {
            assert!(validate_ifname(good).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("", "empty"),
            ("abcdefghijklmnop", "longer than 15"),
            (".", "not interface names"),
            ("..", "not interface names"),
            ("a/b", "'/'"),
            ("a:b", "':'"),
            ("a b", "whitespace"),
            ("a\tb", "whitespace"),
            ("a\0", "NUL"),
        ] {
            match validate_ifname(bad) {
                Err(NetlinkError::InvalidName { name, reason }) => {
                    assert_eq!(name, bad);
                    assert!(reason.contains(why), "{bad:?}: {reason}");
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        // 15 bytes of UTF-8 in fewer characters still counts bytes.
        assert!(validate_ifname("ééééééééé").is_err());
    }
}
