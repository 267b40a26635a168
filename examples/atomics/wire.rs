//! What the server and its clients agree on: the layout of the shared words, and the three
//! fixed-size messages that follow the `RDMA-EP/1` exchange on each TCP connection.
//!
//! Each message is an 8-byte tag followed by unsigned 64-bit fields, little-endian:
//!
//! | message  | direction        | tag        | fields                                     |
//! |----------|------------------|------------|--------------------------------------------|
//! | start    | server to client | `ATM1STRT` | client id, number of clients               |
//! | report   | client to server | `ATM1REPT` | adds, fetched first, last, sum (lo, hi), locks, retries, violations |
//! | verdict  | server to client | `ATM1VRDT` | passed (0 or 1), final counter             |

/// The most clients one server takes (each gets its own QP and TCP connection).
pub(crate) const MAX_CLIENTS: u32 = 64;

/// One 64-bit word of the server's region, at a fixed offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Word {
    /// The counter every client fetch-and-adds 1 on.
    Counter,
    /// The lock: 0 when free, else the id of the client holding it.
    Lock,
    /// Fetch-and-added 1 on entering the critical section and -1 on leaving it.
    Inside,
    /// Fetch-and-added 1 in every critical section: the number of entries.
    Entries,
    /// Incremented in the critical section by an RDMA READ then an RDMA WRITE, not atomically:
    /// two holders at once would lose increments.
    Guarded,
}

impl Word {
    /// Every word, in region order.
    pub(crate) const ALL: [Word; 5] = [
        Word::Counter,
        Word::Lock,
        Word::Inside,
        Word::Entries,
        Word::Guarded,
    ];

    /// The byte offset in the region (8-byte aligned, as atomics require).
    pub(crate) fn offset(self) -> u64 {
        8 * self as u64
    }

    /// The word's name in messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Word::Counter => "counter",
            Word::Lock => "lock",
            Word::Inside => "inside",
            Word::Entries => "entries",
            Word::Guarded => "guarded",
        }
    }
}

/// Bytes of the region the words take.
pub(crate) const REGION_LEN: u64 = 8 * Word::ALL.len() as u64;

/// The server's go-ahead, sent to every client once all have connected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Start {
    /// This client's id, `1..=clients`: the value it stores in the lock word.
    pub(crate) id: u64,
    /// How many clients share the words.
    pub(crate) clients: u64,
}

/// What a client did, sent to the server at the end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Report {
    /// Fetch-and-adds of 1 on the counter.
    pub(crate) adds: u64,
    /// The value the first fetch-and-add returned (0 without adds).
    pub(crate) first: u64,
    /// The value the last fetch-and-add returned (0 without adds).
    pub(crate) last: u64,
    /// The sum of all returned values, modulo 2^128.
    pub(crate) sum: u128,
    /// Critical sections entered and left.
    pub(crate) locks: u64,
    /// Compare-and-swaps that found the lock held.
    pub(crate) retries: u64,
    /// Times the client saw the lock or the inside word in a state that mutual exclusion
    /// rules out.
    pub(crate) violations: u64,
}

/// The server's result, sent to every client after the checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// True when every check passed.
    pub(crate) passed: bool,
    /// The counter's final value.
    pub(crate) counter: u64,
}

const START_TAG: &[u8; 8] = b"ATM1STRT";
const REPORT_TAG: &[u8; 8] = b"ATM1REPT";
const VERDICT_TAG: &[u8; 8] = b"ATM1VRDT";

/// Bytes of a start message.
pub(crate) const START_LEN: usize = 8 + 2 * 8;
/// Bytes of a report message.
pub(crate) const REPORT_LEN: usize = 8 + 8 * 8;
/// Bytes of a verdict message.
pub(crate) const VERDICT_LEN: usize = 8 + 2 * 8;

/// A message's tag and fields.
fn encode<const N: usize>(tag: &[u8; 8], fields: &[u64]) -> [u8; N] {
    let mut out = [0u8; N];
    out[..8].copy_from_slice(tag);
    for (chunk, f) in out[8..].chunks_exact_mut(8).zip(fields) {
        chunk.copy_from_slice(&f.to_le_bytes());
    }
    out
}

/// The fields of a message `what` after checking its tag.
fn decode<const F: usize>(what: &str, tag: &[u8; 8], msg: &[u8]) -> Result<[u64; F], String> {
    if msg.len() != 8 + 8 * F {
        return Err(format!(
            "the {what} message has {} bytes, expected {}",
            msg.len(),
            8 + 8 * F
        ));
    }
    if &msg[..8] != tag {
        return Err(format!(
            "expected a {what} message (tag {:?}), got tag \"{}\": is the peer an atomics {}?",
            String::from_utf8_lossy(tag),
            msg[..8].escape_ascii(),
            if what == "report" { "client" } else { "server" }
        ));
    }
    let mut fields = [0u64; F];
    for (f, chunk) in fields.iter_mut().zip(msg[8..].chunks_exact(8)) {
        *f = u64::from_le_bytes(chunk.try_into().expect("8-byte chunk"));
    }
    Ok(fields)
}

impl Start {
    /// The message's bytes.
    pub(crate) fn encode(&self) -> [u8; START_LEN] {
        encode(START_TAG, &[self.id, self.clients])
    }

    /// Parses a start message: the id must be `1..=clients`, at most [`MAX_CLIENTS`].
    pub(crate) fn decode(msg: &[u8]) -> Result<Start, String> {
        let [id, clients] = decode("start", START_TAG, msg)?;
        if clients == 0 || clients > u64::from(MAX_CLIENTS) {
            return Err(format!(
                "the server announces {clients} clients, expected 1 to {MAX_CLIENTS}"
            ));
        }
        if id == 0 || id > clients {
            return Err(format!(
                "the server gave this client id {id}, expected 1 to {clients}"
            ));
        }
        Ok(Start { id, clients })
    }
}

impl Report {
    /// The message's bytes.
    pub(crate) fn encode(&self) -> [u8; REPORT_LEN] {
        encode(
            REPORT_TAG,
            &[
                self.adds,
                self.first,
                self.last,
                self.sum as u64,
                (self.sum >> 64) as u64,
                self.locks,
                self.retries,
                self.violations,
            ],
        )
    }

    /// Parses a report: without adds the fetched values must be 0, with adds the first may not
    /// exceed the last (a client's fetched values only grow).
    pub(crate) fn decode(msg: &[u8]) -> Result<Report, String> {
        let [adds, first, last, lo, hi, locks, retries, violations] =
            decode("report", REPORT_TAG, msg)?;
        let sum = u128::from(lo) | (u128::from(hi) << 64);
        if adds == 0 && (first, last, sum) != (0, 0, 0) {
            return Err(format!(
                "the report has no adds but fetched values (first {first}, last {last}, sum \
                 {sum})"
            ));
        }
        if first > last {
            return Err(format!(
                "the report's first fetched value {first} exceeds its last {last}"
            ));
        }
        Ok(Report {
            adds,
            first,
            last,
            sum,
            locks,
            retries,
            violations,
        })
    }
}

impl Verdict {
    /// The message's bytes.
    pub(crate) fn encode(&self) -> [u8; VERDICT_LEN] {
        encode(VERDICT_TAG, &[u64::from(self.passed), self.counter])
    }

    /// Parses a verdict: `passed` must be 0 or 1.
    pub(crate) fn decode(msg: &[u8]) -> Result<Verdict, String> {
        let [passed, counter] = decode("verdict", VERDICT_TAG, msg)?;
        let passed = match passed {
            0 => false,
            1 => true,
            other => return Err(format!("the verdict's passed field is {other}, not 0 or 1")),
        };
        Ok(Verdict { passed, counter })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_aligned_and_distinct() {
        let offsets: Vec<u64> = Word::ALL.iter().map(|w| w.offset()).collect();
        assert_eq!(offsets, [0, 8, 16, 24, 32]);
        assert_eq!(REGION_LEN, 40);
    }

    #[test]
    fn messages_round_trip() {
        let s = Start { id: 3, clients: 4 };
        assert_eq!(Start::decode(&s.encode()), Ok(s));
        let r = Report {
            adds: 5,
            first: 2,
            last: 40,
            sum: (7u128 << 64) | 9,
            locks: 6,
            retries: 11,
            violations: 1,
        };
        let bytes = r.encode();
        assert_eq!(&bytes[..8], b"ATM1REPT");
        assert_eq!(bytes[8..16], 5u64.to_le_bytes());
        assert_eq!(Report::decode(&bytes), Ok(r));
        for v in [
            Verdict {
                passed: true,
                counter: 1400,
            },
            Verdict {
                passed: false,
                counter: 0,
            },
        ] {
            assert_eq!(Verdict::decode(&v.encode()), Ok(v));
        }
    }

    #[test]
    fn bad_messages_are_errors_naming_the_problem() {
        let err = |r: Result<Start, String>| r.unwrap_err();
        let mut msg = Start { id: 1, clients: 2 }.encode();
        assert!(err(Start::decode(&msg[..10])).contains("has 10 bytes, expected 24"));
        msg[..8].copy_from_slice(b"RDMA-EP/");
        let e = err(Start::decode(&msg));
        assert!(
            e.contains("expected a start message") && e.contains("RDMA-EP/"),
            "{e}"
        );
        let e = err(Start::decode(&Start { id: 0, clients: 2 }.encode()));
        assert!(e.contains("id 0, expected 1 to 2"), "{e}");
        let e = err(Start::decode(&Start { id: 3, clients: 2 }.encode()));
        assert!(e.contains("id 3, expected 1 to 2"), "{e}");
        let e = err(Start::decode(&Start { id: 1, clients: 65 }.encode()));
        assert!(e.contains("65 clients, expected 1 to 64"), "{e}");

        let e = Report::decode(&Start { id: 1, clients: 2 }.encode()).unwrap_err();
        assert!(e.contains("has 24 bytes, expected 72"), "{e}");
        let no_adds = Report {
            last: 3,
            ..Report::default()
        };
        let e = Report::decode(&no_adds.encode()).unwrap_err();
        assert!(e.contains("no adds but fetched values"), "{e}");
        let backwards = Report {
            adds: 2,
            first: 9,
            last: 3,
            ..Report::default()
        };
        let e = Report::decode(&backwards.encode()).unwrap_err();
        assert!(
            e.contains("first fetched value 9 exceeds its last 3"),
            "{e}"
        );

        let mut v = Verdict {
            passed: true,
            counter: 1,
        }
        .encode();
        v[8] = 2;
        let e = Verdict::decode(&v).unwrap_err();
        assert!(e.contains("passed field is 2, not 0 or 1"), "{e}");
    }
}
