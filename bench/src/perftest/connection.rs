//! perftest's connection types (`-c`, `connStr`) and how perftest 6.06 parses them
//! (`change_conn_type` in `src/perftest_parameters.c`): the name is compared exactly
//! (`strcmp`, so `uc` is not `UC`), and some refusals depend on the test's verb. rdma-perf
//! runs [`Connection::Rc`], [`Connection::Uc`] and, on the SEND tests, [`Connection::Ud`]
//! (over the Ethernet exchange; UD with `-R` is refused, see [`UD_RDMA_CM_REFUSAL`]).
//!
//! UD as perftest 6.06 runs it: the QPs take the Q_Key `0x11111111` (`DEF_QKEY`) in INIT,
//! go to RTR and (senders) RTS with their PSN; each sender makes an address handle of the
//! peer's keys message (LID, GID with the local GID index, `sl` 0, hop limit 0xFF) and QP
//! `i` sends to the peer's QP `i`. Messages are at most the agreed path MTU: a size left
//! at its default, and `-a`, are capped there (`-a` runs 2 to the MTU), a larger `-s` is
//! refused after the MTU exchange ([`ud_size`]). Receives take 40 bytes more for the GRH.
//! CQ moderation is not forced to 1 for large sizes, and an iterations run with the
//! default RX depth posts one receive per iteration (at most 16000), as for UC. `-I` above
//! 884 bytes (`MAX_INLINE_UD`) is lowered to it with perftest's message.

use super::test::Verb;

/// A connection type rdma-perf runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Connection {
    /// `RC`, reliable connected (perftest's default).
    #[default]
    Rc,
    /// `UC`, unreliable connected: SEND and RDMA WRITE only.
    Uc,
    /// `UD`, unreliable datagram: SEND only, messages of at most the path MTU.
    Ud,
}

/// Why a `-c` value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionRefusal {
    /// perftest 6.06 refuses it too: its message, as it prints it on stderr (its exit
    /// status is 1).
    Perftest(&'static str),
    /// perftest 6.06 runs it; rdma-perf does not. The message names the option and why.
    NotImplemented(String),
}

/// perftest's message for UC on a READ (or atomic) test.
pub const UC_READ_REFUSAL: &str = " UC connection not possible in READ/ATOMIC verbs\n";
/// perftest's message for UD on a test other than SEND.
pub const UD_NOT_SEND_REFUSAL: &str = " UD connection only possible in SEND verb\n";
/// perftest's message for SRD on a test other than SEND and READ.
pub const SRD_VERB_REFUSAL: &str = " SRD connection only possible in SEND/READ verbs\n";
/// perftest's message for a name it does not know.
pub const INVALID_REFUSAL: &str =
    " Invalid Connection type. Please choose from {RC,UC,UD,XRC,DC,SRD}\n";
/// perftest's message (on stdout, after a dash line) for UC with `-R`.
pub const UC_RDMA_CM_REFUSAL: &str = " UC is not supported in librdmacm\n";
/// rdma-perf's message for UD with `-R`, which perftest 6.06 runs and rdma-perf does not.
pub const UD_RDMA_CM_REFUSAL: &str = "-c UD with -R (perftest's UD over rdma_cm takes the \
     address handle, QP number and Q_Key from the CM's UD events; rdma-perf runs UD over \
     the Ethernet exchange: drop -R)";
/// perftest's largest inline UD message (`MAX_INLINE_UD`): a larger `-I` is lowered to it.
pub const MAX_INLINE_UD: u32 = 884;
/// perftest's message (on stderr, after a dash line on stdout) when it lowers `-I` for UD.
pub const UD_INLINE_WARNING: &str = "Setting inline size to 884 (Max inline size in UD)\n";
/// perftest's message (stderr) when UD caps the size at the path MTU (`%lu`: the MTU).
pub const UD_SIZE_CAPPED: &str = " Max msg size in UD is MTU {}\n Changing to this MTU\n";
/// perftest's text (stderr, then exit 1) for a UD `-s` above the path MTU: its check and
/// the caller's message.
pub const UD_SIZE_REFUSAL: &str =
    " Max message size in UD cannot be greater than MTU \n Couldn't get context for the device";

/// What UD does to the message sizes once the path MTU is agreed (perftest's `check_mtu`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UdSize {
    /// Every size fits.
    Fits,
    /// Sizes above the MTU dropped (`-a`) or the default size lowered to it: print
    /// [`UD_SIZE_CAPPED`] and run these sizes.
    Capped(Vec<u64>),
    /// `-s` above the MTU: [`UD_SIZE_REFUSAL`].
    Refused,
}

/// perftest's UD size rule for `sizes` (`all`: `-a`; `given`: `-s` was given) and a path
/// MTU of `mtu` bytes: `-a` runs 2 to the MTU, a default size becomes the MTU, a larger
/// `-s` is refused.
pub fn ud_size(sizes: &[u64], all: bool, given: bool, mtu: u64) -> UdSize {
    if sizes.iter().all(|&s| s <= mtu) {
        return UdSize::Fits;
    }
    if all {
        UdSize::Capped(sizes.iter().copied().filter(|&s| s <= mtu).collect())
    } else if !given {
        UdSize::Capped(vec![mtu])
    } else {
        UdSize::Refused
    }
}

impl Connection {
    /// The name perftest prints (`Connection type : UC`) and parses.
    pub fn as_str(self) -> &'static str {
        match self {
            Connection::Rc => "RC",
            Connection::Uc => "UC",
            Connection::Ud => "UD",
        }
    }

    /// The QP type of the test QPs.
    pub fn qp_type(self) -> rdma_verbs::QpType {
        match self {
            Connection::Rc => rdma_verbs::QpType::Rc,
            Connection::Uc => rdma_verbs::QpType::Uc,
            Connection::Ud => rdma_verbs::QpType::Ud,
        }
    }

    /// Parses `-c name` for a test of `verb` as perftest 6.06 does, refusing what perftest
    /// refuses with its own message and what rdma-perf does not run with a message of its own.
    pub fn parse(name: &str, verb: Verb) -> Result<Connection, ConnectionRefusal> {
        let not_implemented = |why: &str| {
            Err(ConnectionRefusal::NotImplemented(format!(
                "-c {name} ({why}; rdma-perf runs RC, UC and UD)"
            )))
        };
        match name {
            "RC" => Ok(Connection::Rc),
            "UC" if matches!(verb, Verb::Read | Verb::Atomic) => {
                Err(ConnectionRefusal::Perftest(UC_READ_REFUSAL))
            }
            "UC" => Ok(Connection::Uc),
            "UD" if verb != Verb::Send => Err(ConnectionRefusal::Perftest(UD_NOT_SEND_REFUSAL)),
            "UD" => Ok(Connection::Ud),
            "RawEth" => not_implemented("raw Ethernet"),
            "XRC" => not_implemented("extended reliable connected"),
            "DC" => not_implemented("dynamically connected, mlx5 only"),
            "SRD" if matches!(verb, Verb::Write | Verb::Atomic) => {
                Err(ConnectionRefusal::Perftest(SRD_VERB_REFUSAL))
            }
            "SRD" => not_implemented("scalable reliable datagram, EFA only"),
            _ => Err(ConnectionRefusal::Perftest(INVALID_REFUSAL)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rc_and_uc_parse_on_send_and_write() {
        for verb in [Verb::Send, Verb::Write] {
            assert_eq!(Connection::parse("RC", verb), Ok(Connection::Rc));
            assert_eq!(Connection::parse("UC", verb), Ok(Connection::Uc));
        }
        assert_eq!(Connection::parse("RC", Verb::Read), Ok(Connection::Rc));
        assert_eq!(Connection::Uc.as_str(), "UC");
        assert_eq!(Connection::Uc.qp_type(), rdma_verbs::QpType::Uc);
        assert_eq!(Connection::default(), Connection::Rc);
        assert_eq!(Connection::parse("UD", Verb::Send), Ok(Connection::Ud));
        assert_eq!(Connection::Ud.as_str(), "UD");
        assert_eq!(Connection::Ud.qp_type(), rdma_verbs::QpType::Ud);
    }

    #[test]
    fn ud_sizes_follow_perftests_check_mtu() {
        let all: Vec<u64> = (1..=23).map(|e| 1u64 << e).collect();
        assert_eq!(
            ud_size(&all, true, false, 1024),
            UdSize::Capped((1..=10).map(|e| 1u64 << e).collect())
        );
        assert_eq!(
            ud_size(&[65536], false, false, 1024),
            UdSize::Capped(vec![1024])
        );
        assert_eq!(ud_size(&[2048], false, true, 1024), UdSize::Refused);
        assert_eq!(ud_size(&[1024], false, true, 1024), UdSize::Fits);
        assert_eq!(ud_size(&[2], false, false, 256), UdSize::Fits);
        assert_eq!(
            UD_SIZE_CAPPED.replace("{}", "1024"),
            " Max msg size in UD is MTU 1024\n Changing to this MTU\n"
        );
    }

    #[test]
    fn perftest_refusals_keep_its_text() {
        assert_eq!(
            Connection::parse("UC", Verb::Atomic),
            Err(ConnectionRefusal::Perftest(UC_READ_REFUSAL))
        );
        assert_eq!(
            Connection::parse("SRD", Verb::Atomic),
            Err(ConnectionRefusal::Perftest(SRD_VERB_REFUSAL))
        );
        assert_eq!(Connection::parse("RC", Verb::Atomic), Ok(Connection::Rc));
        assert_eq!(
            Connection::parse("UC", Verb::Read),
            Err(ConnectionRefusal::Perftest(
                " UC connection not possible in READ/ATOMIC verbs\n"
            ))
        );
        for verb in [Verb::Write, Verb::Read, Verb::Atomic] {
            assert_eq!(
                Connection::parse("UD", verb),
                Err(ConnectionRefusal::Perftest(UD_NOT_SEND_REFUSAL))
            );
        }
        assert_eq!(
            Connection::parse("SRD", Verb::Write),
            Err(ConnectionRefusal::Perftest(SRD_VERB_REFUSAL))
        );
        // strcmp: the names are case-sensitive.
        for bad in ["uc", "rc", "", "FOO"] {
            assert_eq!(
                Connection::parse(bad, Verb::Send),
                Err(ConnectionRefusal::Perftest(INVALID_REFUSAL)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn types_perftest_runs_are_refused_by_name() {
        for (name, verb) in [
            ("XRC", Verb::Write),
            ("DC", Verb::Read),
            ("SRD", Verb::Send),
            ("RawEth", Verb::Write),
        ] {
            match Connection::parse(name, verb) {
                Err(ConnectionRefusal::NotImplemented(m)) => {
                    assert!(m.starts_with(&format!("-c {name} (")), "{m}");
                    assert!(m.ends_with("rdma-perf runs RC, UC and UD)"), "{m}");
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }
}
