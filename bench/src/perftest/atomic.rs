//! perftest's atomic tests' own options, as perftest 6.06 parses them
//! (`src/perftest_parameters.c`): `-A` picks the operation ([`AtomicType`], `atomicTypesStr`,
//! compared exactly with `strcmp`), `-o` the outstanding reads/atomics
//! ([`outstanding`], `ctx_set_out_reads`), and the message size is fixed at 8 bytes
//! ([`ATOMIC_SIZE`], `DEF_SIZE_ATOMIC`).

/// The one message size of the atomic tests (`DEF_SIZE_ATOMIC`).
pub const ATOMIC_SIZE: u64 = 8;

/// The bytes of the peer's buffer a perftest atomic BW client moves along, a cache line (64
/// bytes) per atomic, before starting over (`cycle_buffer`: the page size, 4096 on x86-64):
/// a server must register at least this much per QP (`increase_rem_addr`).
pub const ATOMIC_CYCLE_BUFFER: u64 = 4096;

/// perftest's message (stderr, exit status 1) for an `-A` value it does not know.
pub const INVALID_ATOMIC_REFUSAL: &str =
    " Invalid Atomic type! please choose from {CMP_AND_SWAP,FETCH_AND_ADD}\n";
/// perftest's message (stderr) for `-A` on a test that is not atomic; the parser then
/// prints [`PARSER_ERROR`] and the tool exits with status 1.
pub const NOT_ATOMIC_TEST_REFUSAL: &str = " You are not running the atomic_lat/bw test!\n To change the atomic action type, you must run one of the atomic tests\n";
/// What perftest's tools print on stderr when the parser returns an error.
pub const PARSER_ERROR: &str = " Parser function exited with Error\n";
/// perftest's message (stdout, after a dash line; exit status 1) for `-s` other than 8.
pub const SIZE_REFUSAL: &str = "Message size cannot be changed for Atomic tests \n";
/// perftest's message (stderr; then [`PARSER_ERROR`], exit status 1) for `-I` on a READ or
/// atomic test.
pub const INLINE_REFUSAL: &str = " Inline feature not available on READ/Atomic verbs\n";
/// perftest's message (stderr; then [`PARSER_ERROR`], exit status 1) for `-o` on a test
/// that neither reads nor runs atomics.
pub const OUT_READS_REFUSAL: &str = " Setting Outstanding reads only available on READ verb\n";

/// The atomic operation of `ib_atomic_bw` and `ib_atomic_lat` (`-A`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AtomicType {
    /// `CMP_AND_SWAP`: compare-and-swap.
    CmpAndSwap,
    /// `FETCH_AND_ADD`: fetch-and-add (perftest's default).
    #[default]
    FetchAndAdd,
}

impl AtomicType {
    /// The name perftest parses and prints in the banner title.
    pub fn as_str(self) -> &'static str {
        match self {
            AtomicType::CmpAndSwap => "CMP_AND_SWAP",
            AtomicType::FetchAndAdd => "FETCH_AND_ADD",
        }
    }

    /// Parses `-A name` as perftest does: the exact name (case-sensitive), or perftest's
    /// refusal text ([`INVALID_ATOMIC_REFUSAL`]).
    pub fn parse(name: &str) -> Result<AtomicType, &'static str> {
        match name {
            "CMP_AND_SWAP" => Ok(AtomicType::CmpAndSwap),
            "FETCH_AND_ADD" => Ok(AtomicType::FetchAndAdd),
            _ => Err(INVALID_ATOMIC_REFUSAL),
        }
    }
}

/// The outstanding reads/atomics perftest uses (`ctx_set_out_reads`): `-o` when it is
/// positive and at most the device's `max_qp_rd_atom`; the device's value when `-o` is
/// missing, zero or negative; the device's value, with a warning, above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outstanding {
    /// The value used (and sent to the peer in the keys).
    pub value: u32,
    /// `-o` was above the device's maximum: perftest then prints a dash line on stdout and
    /// [`Outstanding::warning`] on stderr.
    pub clamped: bool,
}

impl Outstanding {
    /// perftest's stderr text when `-o` was clamped to `max`.
    pub fn warning(max: u32) -> String {
        format!(" Number of outstanding reads is above max = {max}\n Changing to that max value\n")
    }
}

/// `ctx_set_out_reads` for `-o requested` on a device whose `max_qp_rd_atom` is `device_max`.
pub fn outstanding(requested: Option<i64>, device_max: u32) -> Outstanding {
    match requested {
        Some(n) if n > i64::from(device_max) => Outstanding {
            value: device_max,
            clamped: true,
        },
        Some(n) if n > 0 => Outstanding {
            value: n as u32,
            clamped: false,
        },
        _ => Outstanding {
            value: device_max,
            clamped: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_types_parse_exactly() {
        assert_eq!(
            AtomicType::parse("CMP_AND_SWAP"),
            Ok(AtomicType::CmpAndSwap)
        );
        assert_eq!(
            AtomicType::parse("FETCH_AND_ADD"),
            Ok(AtomicType::FetchAndAdd)
        );
        assert_eq!(AtomicType::default(), AtomicType::FetchAndAdd);
        for t in [AtomicType::CmpAndSwap, AtomicType::FetchAndAdd] {
            assert_eq!(AtomicType::parse(t.as_str()), Ok(t));
        }
        // strcmp: no case folding, no prefixes, no spaces.
        for bad in ["cmp_and_swap", "FETCH", "FETCH_AND_ADD ", "", "CAS"] {
            assert_eq!(
                AtomicType::parse(bad),
                Err(" Invalid Atomic type! please choose from {CMP_AND_SWAP,FETCH_AND_ADD}\n"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn outstanding_follows_ctx_set_out_reads() {
        let o = |r, m| outstanding(r, m);
        assert_eq!(o(None, 128).value, 128, "default: the device's maximum");
        assert_eq!(o(Some(0), 128).value, 128, "0: the device's maximum");
        assert_eq!(o(Some(-3), 16).value, 16, "negative: the device's maximum");
        assert_eq!(
            o(Some(4), 128),
            Outstanding {
                value: 4,
                clamped: false
            }
        );
        assert_eq!(
            o(Some(128), 128),
            Outstanding {
                value: 128,
                clamped: false
            }
        );
        assert_eq!(
            o(Some(1000), 128),
            Outstanding {
                value: 128,
                clamped: true
            }
        );
        assert_eq!(
            Outstanding::warning(128),
            " Number of outstanding reads is above max = 128\n Changing to that max value\n"
        );
    }

    #[test]
    fn names_are_the_ones_perftest_prints() {
        // Captured from perftest 6.06 on rxe: the banner title names the operation.
        let captures = [
            (
                AtomicType::FetchAndAdd,
                "BW",
                include_str!("../../tests/data/atomic_bw-faa-client.txt"),
            ),
            (
                AtomicType::CmpAndSwap,
                "BW",
                include_str!("../../tests/data/atomic_bw-cas-server.txt"),
            ),
            (
                AtomicType::FetchAndAdd,
                "Latency",
                include_str!("../../tests/data/atomic_lat-faa-server.txt"),
            ),
            (
                AtomicType::CmpAndSwap,
                "Latency",
                include_str!("../../tests/data/atomic_lat-cas-client.txt"),
            ),
        ];
        for (t, measure, text) in captures {
            let title = format!("                    Atomic {} {measure} Test\n", t.as_str());
            assert!(text.contains(&title), "{title:?}");
            // The ib_atomic_lat server prints no table; every table has the one 8-byte row.
            if text.contains(" #bytes") {
                assert!(
                    text.contains(&format!("\n {ATOMIC_SIZE}  ")),
                    "the 8-byte row"
                );
            }
        }
    }
}
