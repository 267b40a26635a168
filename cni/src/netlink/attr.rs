//! Netlink attributes (`struct nlattr`: u16 length, u16 type, value, padding to 4 bytes):
//! a checked walker for replies and appenders for hand-encoded requests. Native byte order,
//! as the kernel uses for everything here.

/// `NLA_F_NESTED`: set in the type of attributes that contain attributes (when the sender
/// chooses to say so; the kernel reads the nested attributes of rtnetlink without it).
pub const NLA_F_NESTED: u16 = 0x8000;
/// `NLA_F_NET_BYTEORDER`.
pub const NLA_F_NET_BYTEORDER: u16 = 0x4000;
/// Length of `struct nlattr`.
pub const NLA_HDRLEN: usize = 4;

/// Rounds up to the 4-byte netlink alignment (saturating: never overflows).
pub const fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

/// One attribute of a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr<'a> {
    /// The type without the `NLA_F_NESTED` / `NLA_F_NET_BYTEORDER` bits.
    pub kind: u16,
    /// The value (without padding).
    pub value: &'a [u8],
}

/// Walks the attributes in `bytes`; an attribute whose length is below 4 or runs past the
/// end is an error naming its offset (and ends the walk).
pub fn attrs(bytes: &[u8]) -> Attrs<'_> {
    Attrs {
        bytes,
        offset: 0,
        failed: false,
    }
}

/// The iterator [`attrs`] returns.
#[derive(Debug, Clone)]
pub struct Attrs<'a> {
    bytes: &'a [u8],
    offset: usize,
    failed: bool,
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<Attr<'a>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.offset >= self.bytes.len() {
            return None;
        }
        let rest = &self.bytes[self.offset..];
        let at = self.offset;
        if rest.len() < NLA_HDRLEN {
            self.failed = true;
            return Some(Err(format!(
                "{} stray bytes at offset {at} where an attribute header (4 bytes) should be",
                rest.len()
            )));
        }
        let len = usize::from(u16::from_ne_bytes([rest[0], rest[1]]));
        let kind = u16::from_ne_bytes([rest[2], rest[3]]) & !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);
        if len < NLA_HDRLEN || len > rest.len() {
            self.failed = true;
            return Some(Err(format!(
                "attribute {kind} at offset {at} has length {len} but {} bytes remain",
                rest.len()
            )));
        }
        self.offset += align4(len).min(rest.len());
        Some(Ok(Attr {
            kind,
            value: &rest[NLA_HDRLEN..len],
        }))
    }
}

impl Attr<'_> {
    /// The value as exactly `N` bytes, else an error naming the attribute.
    pub fn fixed<const N: usize>(&self, name: &str) -> Result<[u8; N], String> {
        self.value
            .try_into()
            .map_err(|_| format!("{name} has {} bytes, expected {N}", self.value.len()))
    }

    /// A `u8` value.
    pub fn u8(&self, name: &str) -> Result<u8, String> {
        self.fixed::<1>(name).map(|b| b[0])
    }

    /// A native-endian `u32` value.
    pub fn u32(&self, name: &str) -> Result<u32, String> {
        self.fixed::<4>(name).map(u32::from_ne_bytes)
    }

    /// A string value: up to the first NUL (the kernel sends NUL-terminated strings), bytes
    /// that are not UTF-8 replaced.
    pub fn string(&self) -> String {
        let end = self
            .value
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.value.len());
        String::from_utf8_lossy(&self.value[..end]).into_owned()
    }
}

/// Appends an attribute with `value`, padded with zeros to 4 bytes.
pub fn put(buf: &mut Vec<u8>, kind: u16, value: &[u8]) {
    let len = u16::try_from(NLA_HDRLEN + value.len()).expect("netlink attribute over 64 KiB");
    buf.extend_from_slice(&len.to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(value);
    buf.resize(align4(buf.len()), 0);
}

/// Appends a `u8` attribute (5 bytes plus 3 of padding).
pub fn put_u8(buf: &mut Vec<u8>, kind: u16, value: u8) {
    put(buf, kind, &[value]);
}

/// Appends a native-endian `u32` attribute.
pub fn put_u32(buf: &mut Vec<u8>, kind: u16, value: u32) {
    put(buf, kind, &value.to_ne_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_padded_attributes_and_strips_flags() {
        let mut b = Vec::new();
        put_u8(&mut b, 66, 1);
        put(&mut b, 2 | NLA_F_NESTED, b"rxe0\0");
        put_u32(&mut b, 1, 7);
        assert_eq!(b.len(), 8 + 12 + 8);
        let got: Vec<_> = attrs(&b).collect::<Result<_, _>>().unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!((got[0].kind, got[0].u8("mode")), (66, Ok(1)));
        assert_eq!(got[1].kind, 2);
        assert_eq!(got[1].string(), "rxe0");
        assert_eq!(got[2].u32("index"), Ok(7));
    }

    #[test]
    fn last_attribute_may_lack_its_padding() {
        let b = [5u8, 0, 66, 0, 1];
        let got: Vec<_> = attrs(&b).collect::<Result<_, _>>().unwrap();
        assert_eq!(got[0].value, &[1]);
    }

    #[test]
    fn bad_lengths_are_errors_naming_the_offset() {
        // Length 3 (< header).
        let e = attrs(&[3, 0, 1, 0]).next().unwrap().unwrap_err();
        assert!(e.contains("offset 0") && e.contains("length 3"), "{e}");
        // Length past the end, after a good attribute.
        let mut b = Vec::new();
        put_u32(&mut b, 1, 7);
        b.extend_from_slice(&[12, 0, 2, 0, 0]);
        let mut it = attrs(&b);
        assert!(it.next().unwrap().is_ok());
        let e = it.next().unwrap().unwrap_err();
        assert!(e.contains("offset 8") && e.contains("length 12"), "{e}");
        assert!(it.next().is_none(), "the walk ends at the first error");
        // Stray bytes shorter than a header.
        let e = attrs(&[8, 0]).next().unwrap().unwrap_err();
        assert!(e.contains("stray"), "{e}");
    }

    #[test]
    fn wrong_value_sizes_are_errors_naming_the_attribute() {
        let b = [7u8, 0, 1, 0, 1, 2, 3, 0];
        let a = attrs(&b).next().unwrap().unwrap();
        assert_eq!(
            a.u32("RDMA_NLDEV_ATTR_DEV_INDEX"),
            Err("RDMA_NLDEV_ATTR_DEV_INDEX has 3 bytes, expected 4".into())
        );
    }
}
