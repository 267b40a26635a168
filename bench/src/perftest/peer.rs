//! rdma-perf's own step, between two rdma-perf peers only: after the preamble, each side sends
//! the options that both sides must share, and both refuse to run when they differ, naming
//! the options and both values.
//!
//! perftest 6.06 has no such step: with mismatched options its sides desynchronise and hang
//! or print nonsense. The step runs only when both version messages carry the
//! [`RDMA_PERF_MARKER`](super::wire::RDMA_PERF_MARKER), so a C perftest peer never sees it.
//!
//! The message is [`PEER_PARAMS_LEN`] bytes of ASCII, `key=value` pairs separated by single
//! spaces, NUL padded, e.g. `test=send_bw size=65536 iters=1000 qps=1 bidir=0 dur=0`.
//! A UC or UD test adds `conn=UC` or `conn=UD`; without `conn` the connection is RC, so an RC message is the
//! same as before UC existed.

use super::connection::Connection;
use super::test::{PerfTest, Verb};
use super::wire::WireError;

/// Size of the options message.
pub const PEER_PARAMS_LEN: usize = 128;

const MSG: &str = "rdma-perf options";

/// The options both sides of a test must agree on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerParams {
    /// The test (`write_bw`, …).
    pub test: String,
    /// Message size; 0 for `-a` (every size).
    pub size: u64,
    /// Iterations per QP.
    pub iters: u64,
    /// Number of QPs.
    pub qps: u32,
    /// `-b`.
    pub bidirectional: bool,
    /// `-D` in seconds; 0 without.
    pub duration: u64,
    /// `-c`.
    pub connection: Connection,
}

impl PeerParams {
    /// The message on the wire.
    pub fn encode(&self) -> Result<[u8; PEER_PARAMS_LEN], WireError> {
        check_test_name(&self.test)?;
        let text = format!(
            "test={} size={} iters={} qps={} bidir={} dur={}",
            self.test,
            self.size,
            self.iters,
            self.qps,
            u8::from(self.bidirectional),
            self.duration
        );
        let text = match self.connection {
            Connection::Rc => text,
            uc => format!("{text} conn={}", uc.as_str()),
        };
        if text.len() >= PEER_PARAMS_LEN {
            return Err(field("test", "too long"));
        }
        let mut out = [0u8; PEER_PARAMS_LEN];
        out[..text.len()].copy_from_slice(text.as_bytes());
        Ok(out)
    }

    /// Parses the message: the pairs above in any order, each exactly once, then NULs.
    pub fn parse(bytes: &[u8]) -> Result<PeerParams, WireError> {
        if bytes.len() != PEER_PARAMS_LEN {
            return Err(WireError::Length {
                msg: MSG,
                expected: "128",
                got: bytes.len(),
            });
        }
        let end = bytes
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| field("terminator", "no NUL"))?;
        if bytes[end..].iter().any(|&b| b != 0) {
            return Err(field("padding", "non-NUL byte after the text"));
        }
        let text = std::str::from_utf8(&bytes[..end]).map_err(|_| field("text", "not ASCII"))?;
        let (mut test, mut size, mut iters, mut qps, mut bidir, mut dur) =
            (None, None, None, None, None, None);
        let mut conn = None;
        for pair in text.split(' ') {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| field("text", format!("`{pair}` is not key=value")))?;
            let dup = match k {
                "test" => test.replace(v.to_string()).is_some(),
                "size" => size.replace(number("size", v)?).is_some(),
                "iters" => iters.replace(number("iters", v)?).is_some(),
                "qps" => qps.replace(number("qps", v)?).is_some(),
                "bidir" => bidir.replace(number("bidir", v)?).is_some(),
                "dur" => dur.replace(number("dur", v)?).is_some(),
                "conn" => conn.replace(connection(v)?).is_some(),
                _ => return Err(field("text", format!("unknown key `{k}`"))),
            };
            if dup {
                return Err(field("text", format!("key `{k}` given twice")));
            }
        }
        let missing = |k: &str| field("text", format!("key `{k}` missing"));
        let test = test.ok_or_else(|| missing("test"))?;
        check_test_name(&test)?;
        let qps = qps.ok_or_else(|| missing("qps"))?;
        let bidir = bidir.ok_or_else(|| missing("bidir"))?;
        if bidir > 1 {
            return Err(field("bidir", "must be 0 or 1"));
        }
        Ok(PeerParams {
            test,
            size: size.ok_or_else(|| missing("size"))?,
            iters: iters.ok_or_else(|| missing("iters"))?,
            qps: u32::try_from(qps).map_err(|_| field("qps", "out of range"))?,
            bidirectional: bidir == 1,
            duration: dur.ok_or_else(|| missing("dur"))?,
            connection: conn.unwrap_or_default(),
        })
    }

    /// The differences that stop the test, as `"-s 65536 here, 4096 on the peer"` items;
    /// empty when the two sides can run together. Iterations matter only where both sides
    /// count them (every test but the passive server of `write_bw`/`read_bw`).
    pub fn mismatches(&self, peer: &PeerParams) -> Vec<String> {
        let mut out = Vec::new();
        let mut diff = |opt: &str, here: String, there: String| {
            if here != there {
                out.push(format!("{opt} {here} here, {there} on the peer"));
            }
        };
        diff("test", self.test.clone(), peer.test.clone());
        let size = |s: u64| {
            if s == 0 {
                "all (-a)".to_string()
            } else {
                s.to_string()
            }
        };
        diff("-s", size(self.size), size(peer.size));
        diff("-q", self.qps.to_string(), peer.qps.to_string());
        diff(
            "-b",
            on(self.bidirectional).into(),
            on(peer.bidirectional).into(),
        );
        let dur = |d: u64| {
            if d == 0 {
                "off".to_string()
            } else {
                format!("{d} s")
            }
        };
        diff("-D", dur(self.duration), dur(peer.duration));
        diff(
            "-c",
            self.connection.as_str().into(),
            peer.connection.as_str().into(),
        );
        let one_sided = PerfTest::from_name(&self.test)
            .is_some_and(|t| t.is_bw() && t.verb() != Verb::Send)
            && !self.bidirectional;
        if !one_sided && self.duration == 0 {
            diff("-n", self.iters.to_string(), peer.iters.to_string());
        }
        out
    }
}

/// A test name is 1 or more printable ASCII characters without `=` (what `encode` can write
/// and `parse` can read back).
fn check_test_name(name: &str) -> Result<(), WireError> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b'=') {
        return Err(field(
            "test",
            "must be printable ASCII without spaces or '='",
        ));
    }
    Ok(())
}

fn on(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

fn connection(v: &str) -> Result<Connection, WireError> {
    match v {
        "RC" => Ok(Connection::Rc),
        "UC" => Ok(Connection::Uc),
        "UD" => Ok(Connection::Ud),
        _ => Err(field("conn", format!("`{v}` is not RC, UC or UD"))),
    }
}

fn number(key: &'static str, v: &str) -> Result<u64, WireError> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(field(key, format!("`{v}` is not a decimal number")));
    }
    v.parse().map_err(|_| field(key, "out of range"))
}

fn field(field: &'static str, problem: impl Into<String>) -> WireError {
    WireError::Field {
        msg: MSG,
        field,
        problem: problem.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> PeerParams {
        PeerParams {
            test: "send_bw".into(),
            size: 65536,
            iters: 1000,
            qps: 2,
            bidirectional: false,
            duration: 0,
            connection: Connection::Rc,
        }
    }

    #[test]
    fn round_trip() {
        let w = p().encode().unwrap();
        assert!(w.starts_with(b"test=send_bw size=65536 iters=1000 qps=2 bidir=0 dur=0\0"));
        assert_eq!(PeerParams::parse(&w).unwrap(), p());
    }

    #[test]
    fn uc_is_carried_and_a_different_type_is_named() {
        let mut u = p();
        u.connection = Connection::Uc;
        let w = u.encode().unwrap();
        assert!(w.starts_with(b"test=send_bw size=65536 iters=1000 qps=2 bidir=0 dur=0 conn=UC\0"));
        assert_eq!(PeerParams::parse(&w).unwrap(), u);
        assert_eq!(p().mismatches(&u), ["-c RC here, UC on the peer"]);
        let mut d = p();
        d.connection = Connection::Ud;
        let w = d.encode().unwrap();
        assert!(w.starts_with(b"test=send_bw size=65536 iters=1000 qps=2 bidir=0 dur=0 conn=UD\0"));
        assert_eq!(PeerParams::parse(&w).unwrap(), d);
        assert_eq!(u.mismatches(&d), ["-c UC here, UD on the peer"]);
        let t = b"test=a size=1 iters=1 qps=1 bidir=0 dur=0 conn=XRC";
        let mut w = [0u8; PEER_PARAMS_LEN];
        w[..t.len()].copy_from_slice(t);
        let e = PeerParams::parse(&w).unwrap_err().to_string();
        assert!(
            e.contains("conn") && e.contains("`XRC` is not RC, UC or UD"),
            "{e}"
        );
    }

    #[test]
    fn mismatches_name_option_and_both_values() {
        let mut q = p();
        q.size = 4096;
        q.qps = 1;
        let m = p().mismatches(&q);
        assert_eq!(
            m,
            [
                "-s 65536 here, 4096 on the peer",
                "-q 2 here, 1 on the peer"
            ]
        );
        assert!(p().mismatches(&p()).is_empty());
        let mut w = p();
        w.test = "write_bw".into();
        let mut w2 = w.clone();
        w2.iters = 5;
        assert!(
            w.mismatches(&w2).is_empty(),
            "write_bw's server does not count"
        );
        q = p();
        q.size = 0;
        assert_eq!(p().mismatches(&q), ["-s 65536 here, all (-a) on the peer"]);
    }

    #[test]
    fn bad_messages_are_errors() {
        let mut w = p().encode().unwrap();
        assert!(PeerParams::parse(&w[..10]).is_err());
        w[5] = b' ';
        assert!(PeerParams::parse(&w).is_err());
        let mut w = [0u8; PEER_PARAMS_LEN];
        w[..7].copy_from_slice(b"test=x ");
        assert!(PeerParams::parse(&w).is_err(), "empty pair");
        let t = b"test=a size=1 iters=1 qps=1 bidir=2 dur=0";
        let mut w = [0u8; PEER_PARAMS_LEN];
        w[..t.len()].copy_from_slice(t);
        assert!(PeerParams::parse(&w).is_err(), "bidir 2");
        let t = b"test=a size=1 size=1 iters=1 qps=1 bidir=0 dur=0";
        let mut w = [0u8; PEER_PARAMS_LEN];
        w[..t.len()].copy_from_slice(t);
        assert!(PeerParams::parse(&w).is_err(), "duplicate");
        let t = b"test=a size=99999999999999999999999 iters=1 qps=1 bidir=0 dur=0";
        let mut w = [0u8; PEER_PARAMS_LEN];
        w[..t.len()].copy_from_slice(t);
        assert!(PeerParams::parse(&w).is_err(), "overflow");
        assert!(PeerParams::parse(&[0xff; PEER_PARAMS_LEN]).is_err());
        // Found by cargo-fuzz: a test name with control characters parsed but did not encode.
        let t = b"test=\x01\nite_bw size=0 iters=5 qps=2 bidir=1 dur=0";
        let mut w = [0u8; PEER_PARAMS_LEN];
        w[..t.len()].copy_from_slice(t);
        assert!(
            PeerParams::parse(&w).is_err(),
            "control characters in the test name"
        );
        let t = b"test=a=b size=0 iters=5 qps=2 bidir=1 dur=0";
        let mut w = [0u8; PEER_PARAMS_LEN];
        w[..t.len()].copy_from_slice(t);
        assert!(PeerParams::parse(&w).is_err(), "'=' in the test name");
    }
}
