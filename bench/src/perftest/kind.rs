//! The six perftest tools rdma-perf is, by name.

use super::channel::Test;
use super::report::{TestKind, Verb};
use serde::Serialize;

/// The test, serialized as `write_bw`, `write_lat`, `send_bw`, `send_lat`,
/// `read_bw` or `read_lat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PerfTest {
    /// `ib_write_bw`.
    WriteBw,
    /// `ib_write_lat`.
    WriteLat,
    /// `ib_send_bw`.
    SendBw,
    /// `ib_send_lat`.
    SendLat,
    /// `ib_read_bw`.
    ReadBw,
    /// `ib_read_lat`.
    ReadLat,
}

impl PerfTest {
    /// The test of a verb and a kind.
    pub fn new(verb: Verb, kind: TestKind) -> PerfTest {
        match (verb, kind) {
            (Verb::Write, TestKind::Bw) => PerfTest::WriteBw,
            (Verb::Write, TestKind::Lat) => PerfTest::WriteLat,
            (Verb::Send, TestKind::Bw) => PerfTest::SendBw,
            (Verb::Send, TestKind::Lat) => PerfTest::SendLat,
            (Verb::Read, TestKind::Bw) => PerfTest::ReadBw,
            (Verb::Read, TestKind::Lat) => PerfTest::ReadLat,
        }
    }

    /// The name written in `test`.
    pub fn as_str(self) -> &'static str {
        match self {
            PerfTest::WriteBw => "write_bw",
            PerfTest::WriteLat => "write_lat",
            PerfTest::SendBw => "send_bw",
            PerfTest::SendLat => "send_lat",
            PerfTest::ReadBw => "read_bw",
            PerfTest::ReadLat => "read_lat",
        }
    }

    /// BW or latency.
    pub fn kind(self) -> TestKind {
        match self {
            PerfTest::WriteBw | PerfTest::SendBw | PerfTest::ReadBw => TestKind::Bw,
            PerfTest::WriteLat | PerfTest::SendLat | PerfTest::ReadLat => TestKind::Lat,
        }
    }

    /// Every test, in the order of the perftest tool list.
    pub const ALL: [PerfTest; 6] = [
        PerfTest::WriteBw,
        PerfTest::WriteLat,
        PerfTest::SendBw,
        PerfTest::SendLat,
        PerfTest::ReadBw,
        PerfTest::ReadLat,
    ];

    /// The operation measured.
    pub fn verb(self) -> Verb {
        match self {
            PerfTest::WriteBw | PerfTest::WriteLat => Verb::Write,
            PerfTest::SendBw | PerfTest::SendLat => Verb::Send,
            PerfTest::ReadBw | PerfTest::ReadLat => Verb::Read,
        }
    }

    /// Whether this is a bandwidth test.
    pub fn is_bw(self) -> bool {
        self.kind() == TestKind::Bw
    }

    /// The handshake sequence perftest follows for it (the read tests follow the write
    /// tests' sequences).
    pub fn sequence(self) -> Test {
        match self {
            PerfTest::WriteBw | PerfTest::ReadBw => Test::WriteBw,
            PerfTest::WriteLat | PerfTest::ReadLat => Test::WriteLat,
            PerfTest::SendBw => Test::SendBw,
            PerfTest::SendLat => Test::SendLat,
        }
    }

    /// The perftest tool: `ib_` and the name.
    pub fn tool(self) -> String {
        format!("ib_{}", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_kinds_and_serialization() {
        let all = [
            (Verb::Write, TestKind::Bw, "write_bw", Test::WriteBw),
            (Verb::Write, TestKind::Lat, "write_lat", Test::WriteLat),
            (Verb::Send, TestKind::Bw, "send_bw", Test::SendBw),
            (Verb::Send, TestKind::Lat, "send_lat", Test::SendLat),
            (Verb::Read, TestKind::Bw, "read_bw", Test::WriteBw),
            (Verb::Read, TestKind::Lat, "read_lat", Test::WriteLat),
        ];
        for (i, (verb, kind, name, seq)) in all.into_iter().enumerate() {
            let t = PerfTest::new(verb, kind);
            assert_eq!(PerfTest::ALL[i], t);
            assert_eq!(
                (t.as_str(), t.verb(), t.kind(), t.sequence()),
                (name, verb, kind, seq)
            );
            assert_eq!(t.tool(), format!("ib_{name}"));
            assert_eq!(
                serde_json::to_value(t).unwrap(),
                serde_json::Value::from(name)
            );
        }
    }
}
