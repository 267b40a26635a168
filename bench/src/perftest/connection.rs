//! perftest's connection types (`-c`, `connStr`) and how perftest 6.06 parses them
//! (`change_conn_type` in `src/perftest_parameters.c`): the name is compared exactly
//! (`strcmp`, so `uc` is not `UC`), and some refusals depend on the test's verb. rdma-perf
//! runs [`Connection::Rc`] and [`Connection::Uc`].

use super::test::Verb;

/// A connection type rdma-perf runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Connection {
    /// `RC`, reliable connected (perftest's default).
    #[default]
    Rc,
    /// `UC`, unreliable connected: SEND and RDMA WRITE only.
    Uc,
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

impl Connection {
    /// The name perftest prints (`Connection type : UC`) and parses.
    pub fn as_str(self) -> &'static str {
        match self {
            Connection::Rc => "RC",
            Connection::Uc => "UC",
        }
    }

    /// The QP type of the test QPs.
    pub fn qp_type(self) -> rdma_verbs::QpType {
        match self {
            Connection::Rc => rdma_verbs::QpType::Rc,
            Connection::Uc => rdma_verbs::QpType::Uc,
        }
    }

    /// Parses `-c name` for a test of `verb` as perftest 6.06 does, refusing what perftest
    /// refuses with its own message and what rdma-perf does not run with a message of its own.
    pub fn parse(name: &str, verb: Verb) -> Result<Connection, ConnectionRefusal> {
        let not_implemented = |why: &str| {
            Err(ConnectionRefusal::NotImplemented(format!(
                "-c {name} ({why}; rdma-perf runs RC and UC)"
            )))
        };
        match name {
            "RC" => Ok(Connection::Rc),
            "UC" if matches!(verb, Verb::Read | Verb::Atomic) => {
                Err(ConnectionRefusal::Perftest(UC_READ_REFUSAL))
            }
            "UC" => Ok(Connection::Uc),
            "UD" if verb != Verb::Send => Err(ConnectionRefusal::Perftest(UD_NOT_SEND_REFUSAL)),
            "UD" => not_implemented("unreliable datagram"),
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
            ("UD", Verb::Send),
            ("XRC", Verb::Write),
            ("DC", Verb::Read),
            ("SRD", Verb::Send),
            ("RawEth", Verb::Write),
        ] {
            match Connection::parse(name, verb) {
                Err(ConnectionRefusal::NotImplemented(m)) => {
                    assert!(m.starts_with(&format!("-c {name} (")), "{m}");
                    assert!(m.ends_with("rdma-perf runs RC and UC)"), "{m}");
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }
}
