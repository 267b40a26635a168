//! The name of a perftest test: [`PerfTest`], one of the eight tools rdma-perf is. Its verb
//! ([`Verb`]) and what it measures ([`Measure`]) are properties of it, not names of their own.

use serde::Serialize;

/// A perftest test: the tool (`ib_write_bw`, …), the `rdma-perf` subcommand (`write_bw`, …)
/// and the `test` of `--out_json`, serialized as `write_bw`, `write_lat`, `send_bw`,
/// `send_lat`, `read_bw`, `read_lat`, `atomic_bw` or `atomic_lat`.
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
    /// `ib_atomic_bw`.
    AtomicBw,
    /// `ib_atomic_lat`.
    AtomicLat,
}

/// The operation a test measures (perftest's `testsStr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// `Send`.
    Send,
    /// `RDMA_Write`.
    Write,
    /// `RDMA_Read`.
    Read,
    /// `Atomic` (compare-and-swap or fetch-and-add, 8 bytes).
    Atomic,
}

/// What a test measures: bandwidth or latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// `... BW Test`.
    Bw,
    /// `... Latency Test`.
    Lat,
}

impl PerfTest {
    /// Every test, in the order of the perftest tool list.
    pub const ALL: [PerfTest; 8] = [
        PerfTest::WriteBw,
        PerfTest::WriteLat,
        PerfTest::SendBw,
        PerfTest::SendLat,
        PerfTest::ReadBw,
        PerfTest::ReadLat,
        PerfTest::AtomicBw,
        PerfTest::AtomicLat,
    ];

    /// The test of a verb and a measure.
    pub fn new(verb: Verb, measure: Measure) -> PerfTest {
        match (verb, measure) {
            (Verb::Write, Measure::Bw) => PerfTest::WriteBw,
            (Verb::Write, Measure::Lat) => PerfTest::WriteLat,
            (Verb::Send, Measure::Bw) => PerfTest::SendBw,
            (Verb::Send, Measure::Lat) => PerfTest::SendLat,
            (Verb::Read, Measure::Bw) => PerfTest::ReadBw,
            (Verb::Read, Measure::Lat) => PerfTest::ReadLat,
            (Verb::Atomic, Measure::Bw) => PerfTest::AtomicBw,
            (Verb::Atomic, Measure::Lat) => PerfTest::AtomicLat,
        }
    }

    /// The test named `name` (`write_bw`, …), if any.
    pub fn from_name(name: &str) -> Option<PerfTest> {
        PerfTest::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The name: `write_bw`, `write_lat`, `send_bw`, `send_lat`, `read_bw`, `read_lat`,
    /// `atomic_bw` or `atomic_lat`.
    pub fn as_str(self) -> &'static str {
        match self {
            PerfTest::WriteBw => "write_bw",
            PerfTest::WriteLat => "write_lat",
            PerfTest::SendBw => "send_bw",
            PerfTest::SendLat => "send_lat",
            PerfTest::ReadBw => "read_bw",
            PerfTest::ReadLat => "read_lat",
            PerfTest::AtomicBw => "atomic_bw",
            PerfTest::AtomicLat => "atomic_lat",
        }
    }

    /// The operation measured.
    pub fn verb(self) -> Verb {
        match self {
            PerfTest::WriteBw | PerfTest::WriteLat => Verb::Write,
            PerfTest::SendBw | PerfTest::SendLat => Verb::Send,
            PerfTest::ReadBw | PerfTest::ReadLat => Verb::Read,
            PerfTest::AtomicBw | PerfTest::AtomicLat => Verb::Atomic,
        }
    }

    /// Bandwidth or latency.
    pub fn measure(self) -> Measure {
        match self {
            PerfTest::WriteBw | PerfTest::SendBw | PerfTest::ReadBw | PerfTest::AtomicBw => {
                Measure::Bw
            }
            PerfTest::WriteLat | PerfTest::SendLat | PerfTest::ReadLat | PerfTest::AtomicLat => {
                Measure::Lat
            }
        }
    }

    /// Whether this is a bandwidth test.
    pub fn is_bw(self) -> bool {
        self.measure() == Measure::Bw
    }

    /// The perftest tool: `ib_` and the name.
    pub fn tool(self) -> String {
        format!("ib_{}", self.as_str())
    }
}

impl Verb {
    /// The name perftest prints in the banner.
    pub fn name(self) -> &'static str {
        match self {
            Verb::Send => "Send",
            Verb::Write => "RDMA_Write",
            Verb::Read => "RDMA_Read",
            Verb::Atomic => "Atomic",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_verbs_measures_and_serialization() {
        let all = [
            (Verb::Write, Measure::Bw, "write_bw"),
            (Verb::Write, Measure::Lat, "write_lat"),
            (Verb::Send, Measure::Bw, "send_bw"),
            (Verb::Send, Measure::Lat, "send_lat"),
            (Verb::Read, Measure::Bw, "read_bw"),
            (Verb::Read, Measure::Lat, "read_lat"),
            (Verb::Atomic, Measure::Bw, "atomic_bw"),
            (Verb::Atomic, Measure::Lat, "atomic_lat"),
        ];
        for (i, (verb, measure, name)) in all.into_iter().enumerate() {
            let t = PerfTest::new(verb, measure);
            assert_eq!(PerfTest::ALL[i], t);
            assert_eq!((t.as_str(), t.verb(), t.measure()), (name, verb, measure));
            assert_eq!(t.is_bw(), measure == Measure::Bw);
            assert_eq!(PerfTest::from_name(name), Some(t));
            assert_eq!(t.tool(), format!("ib_{name}"));
            assert_eq!(
                serde_json::to_value(t).unwrap(),
                serde_json::Value::from(name)
            );
        }
        assert_eq!(PerfTest::from_name("atomic"), None);
        assert_eq!(Verb::Atomic.name(), "Atomic");
        assert_eq!(PerfTest::from_name("ib_write_bw"), None);
    }
}
