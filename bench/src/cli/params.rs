//! The test parameters after perftest's defaults and adjustments.

use super::args::PerfArgs;
use super::extras::{self, Extras};
use rdma_bench::perftest::atomic::{
    AtomicType, ATOMIC_SIZE, INLINE_REFUSAL, NOT_ATOMIC_TEST_REFUSAL, OUT_READS_REFUSAL,
    PARSER_ERROR, SIZE_REFUSAL,
};
use rdma_bench::perftest::connection::{
    ConnectionRefusal, MAX_INLINE_UD, UC_RDMA_CM_REFUSAL, UD_RDMA_CM_REFUSAL,
};
use rdma_bench::perftest::report::RESULT_LINE;
use rdma_bench::perftest::stats::BwUnit;
use rdma_bench::perftest::{Connection, PerfTest, Verb};
use std::path::PathBuf;
use std::time::Duration;

/// Resolved parameters.
#[derive(Debug, Clone)]
pub struct Params {
    pub test: PerfTest,
    pub host: Option<String>,
    pub device: Option<String>,
    pub ib_port: u8,
    pub gid_index: Option<u32>,
    /// The message sizes, in run order (one, or 2..2^23 with `-a`).
    pub sizes: Vec<u64>,
    pub all: bool,
    pub iters: u64,
    /// `-D`: the run length; `iters` is then unused.
    pub duration: Option<Duration>,
    pub margin: Duration,
    pub qps: u32,
    pub bidirectional: bool,
    pub tx_depth: u32,
    pub rx_depth: u32,
    pub inline_size: u32,
    pub cq_mod: u32,
    pub port: u16,
    pub mtu: Option<u32>,
    pub unit: BwUnit,
    pub timeout: Duration,
    pub out_json: Option<PathBuf>,
    pub plot: Option<PathBuf>,
    /// `-R`: QPs connected with rdma_cm, the exchange over rdma_cm too.
    pub rdma_cm: bool,
    /// `-c`: the test QPs' connection type.
    pub connection: Connection,
    /// `-A`: the atomic tests' operation.
    pub atomic: AtomicType,
    /// `-o` as given (read and atomic tests; resolved against the device by
    /// [`outstanding`](rdma_bench::perftest::atomic::outstanding)).
    pub out_reads: Option<i64>,
    /// The other perftest options ([`Extras`]).
    pub x: Extras,
    /// `-s` was given (UD refuses a given size above the MTU, caps a default one).
    pub size_given: bool,
    /// UD lowered `-I` to perftest's `MAX_INLINE_UD` (perftest says so first).
    pub ud_inline_lowered: bool,
}

/// Why the command line was refused, and how to say it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// rdma-perf's own message: printed as `rdma-perf: <message>` on stderr, exit status 2.
    Usage(String),
    /// perftest's refusal, reproduced: `text` exactly as perftest prints it, on stdout or
    /// stderr, exit status 1 (perftest's `exit(1)`).
    Perftest {
        /// The text, newlines included.
        text: String,
        /// Printed on stdout (else stderr).
        stdout: bool,
    },
    /// perftest's refusal printed in two parts, as perftest does for the checks after
    /// parsing: `out` on stdout (a dash line), then `err` on stderr; exit status 1.
    Split {
        /// The stdout part.
        out: String,
        /// The stderr part.
        err: String,
    },
}

impl From<String> for Refusal {
    fn from(m: String) -> Refusal {
        Refusal::Usage(m)
    }
}

/// perftest's `CQ Moderation` is forced to 1 above this size unless `-Q` or `-a` is given.
const CQ_MOD_SIZE_LIMIT: u64 = 8192;
/// `-a` runs sizes 2^1 ..= 2^23.
const ALL_SIZES_MAX_EXP: u32 = 23;
/// perftest's default receive depth of the SEND tests.
const DEFAULT_RX_DEPTH: u32 = 512;
/// perftest's `UC_MAX_RX`: a UC iterations run with the default RX depth posts this many
/// receives at most (all of them when fewer iterations), since UC drops a SEND that finds
/// no receive.
const UC_MAX_RX: u32 = 16000;

/// perftest's default size, iterations and TX depth of `test`.
fn defaults(test: PerfTest) -> (u64, u64, u32) {
    match test {
        PerfTest::WriteBw => (65536, 5000, 128),
        PerfTest::SendBw | PerfTest::ReadBw => (65536, 1000, 128),
        PerfTest::WriteLat | PerfTest::SendLat | PerfTest::ReadLat => (2, 1000, 1),
        PerfTest::AtomicBw => (ATOMIC_SIZE, 1000, 128),
        PerfTest::AtomicLat => (ATOMIC_SIZE, 1000, 1),
    }
}

impl Params {
    /// Applies perftest's defaults: size, iterations and TX depth per test; TX and RX depth at
    /// most the iterations; CQ moderation at most the TX depth, and 1 for sizes above 8 KiB
    /// unless given; UC's RX depth. Refuses `-c` values as perftest does (first, as perftest
    /// refuses them while parsing), then combinations perftest refuses, naming the options.
    pub fn resolve(test: PerfTest, a: &PerfArgs) -> Result<Params, Refusal> {
        let connection = match Connection::parse(&a.connection, test.verb()) {
            Ok(c) => c,
            Err(ConnectionRefusal::Perftest(text)) => {
                return Err(Refusal::Perftest {
                    text: text.into(),
                    stdout: false,
                })
            }
            Err(ConnectionRefusal::NotImplemented(why)) => {
                return Err(Refusal::Usage(format!("not supported: {why}")))
            }
        };
        if connection == Connection::Uc && a.rdma_cm {
            return Err(Refusal::Perftest {
                text: format!("{RESULT_LINE}{UC_RDMA_CM_REFUSAL}"),
                stdout: true,
            });
        }
        if connection == Connection::Ud && a.rdma_cm {
            return Err(Refusal::Usage(format!(
                "not supported: {UD_RDMA_CM_REFUSAL}"
            )));
        }
        let atomic = Self::atomic_options(test, a)?;
        if !a.refused.is_empty() {
            return Err(Refusal::Usage(format!(
                "not supported: {}",
                a.refused.join(", ")
            )));
        }
        let mut x = Extras::resolve(test, a)?;
        if connection == Connection::Ud && x.post_list > 1 {
            return Err(Refusal::Usage(
                "not supported: -l with -c UD (post lists of UD SENDs are not implemented)".into(),
            ));
        }
        // --run_infinitely is perftest's duration mode, of -D or 5 s.
        let duration = match (a.duration, x.run_infinitely) {
            (None, true) => Some(extras::DEF_DURATION_SECS),
            (d, _) => d,
        };
        let margin = extras::margin(duration, a.margin)?;
        let iters = duration
            .is_none()
            .then(|| a.iters.unwrap_or(defaults(test).1));
        let cq_mod = x.post_list_cq_mod(iters, a.cq_mod)?;
        let mut p = Self::resolve_options(test, a, connection, duration, cq_mod, margin)?;
        p.atomic = atomic;
        p.out_json = extras::json_file(a);
        p.x = x;
        Ok(p)
    }

    /// perftest's refusals of `-A`, `-I`, `-o` and `-s`/`-a` that depend on the test being
    /// atomic, with its texts; the `-A` operation.
    fn atomic_options(test: PerfTest, a: &PerfArgs) -> Result<AtomicType, Refusal> {
        let parser = |why: &str| Refusal::Perftest {
            text: format!("{why}{PARSER_ERROR}"),
            stdout: false,
        };
        let atomic = test.verb() == Verb::Atomic;
        let kind = match &a.atomic_type {
            Some(_) if !atomic => return Err(parser(NOT_ATOMIC_TEST_REFUSAL)),
            Some(name) => AtomicType::parse(name).map_err(|text| Refusal::Perftest {
                text: text.into(),
                stdout: false,
            })?,
            None => AtomicType::default(),
        };
        if atomic && a.inline_size.is_some() {
            return Err(parser(INLINE_REFUSAL));
        }
        if a.out_reads.is_some() && !matches!(test.verb(), Verb::Read | Verb::Atomic) {
            return Err(parser(OUT_READS_REFUSAL));
        }
        if atomic && (a.all || a.size.is_some_and(|s| s != ATOMIC_SIZE)) {
            return Err(Refusal::Perftest {
                text: format!("{RESULT_LINE}{SIZE_REFUSAL}"),
                stdout: true,
            });
        }
        Ok(kind)
    }

    /// [`Params::resolve`] after the connection type.
    fn resolve_options(
        test: PerfTest,
        a: &PerfArgs,
        connection: Connection,
        duration: Option<u64>,
        cq_mod_given: Option<u32>,
        margin: u64,
    ) -> Result<Params, String> {
        let bw = test.is_bw();
        let (def_size, def_iters, def_tx) = defaults(test);
        if a.all && a.size.is_some() {
            return Err("-a runs every size: do not give -s with it".into());
        }
        let sizes: Vec<u64> = if a.all {
            (1..=ALL_SIZES_MAX_EXP).map(|e| 1u64 << e).collect()
        } else {
            vec![a.size.unwrap_or(def_size)]
        };
        let size = sizes[sizes.len() - 1];
        if sizes[0] == 0 || size > (1 << 31) {
            return Err(format!("invalid message size {size}: 1 to 2^31 bytes"));
        }
        let duration = match duration {
            None => None,
            Some(_) if a.all => return Err("-D and -a cannot be combined".into()),
            Some(d) => Some(Duration::from_secs(d)),
        };
        let margin = Duration::from_secs(margin);
        let iters = a.iters.unwrap_or(def_iters);
        // perftest's latency statistics drop the last samples; it requires at least 5.
        if iters < 5 && duration.is_none() {
            return Err(format!("iterations must be at least 5 (-n {iters})"));
        }
        let qps = a.qps.unwrap_or(1);
        if qps == 0 {
            return Err("-q must be at least 1".into());
        }
        if qps > 1 && !bw {
            return Err(format!("-q > 1 is for the BW tests, not {}", test.as_str()));
        }
        if a.bidirectional && !bw {
            return Err(format!("-b is for the BW tests, not {}", test.as_str()));
        }
        let tx = a.tx_depth.unwrap_or(def_tx);
        if tx == 0 {
            return Err("TX depth (-t) must be positive".into());
        }
        let cap = if duration.is_some() { u64::MAX } else { iters };
        let tx_depth = u64::from(tx).min(cap) as u32;
        let rx = a.rx_depth.unwrap_or(DEFAULT_RX_DEPTH);
        if rx == 0 {
            return Err("RX depth (-r) must be positive".into());
        }
        let mut rx_depth = u64::from(rx).min(cap) as u32;
        // perftest: a UC or UD iterations run whose RX depth is still 512 posts one receive
        // per iteration, at most UC_MAX_RX.
        let unreliable = matches!(connection, Connection::Uc | Connection::Ud);
        if unreliable && duration.is_none() && rx_depth == DEFAULT_RX_DEPTH {
            rx_depth = u64::from(UC_MAX_RX).min(iters) as u32;
        }
        let mut cq_mod = cq_mod_given.unwrap_or(100);
        if cq_mod == 0 {
            return Err("CQ moderation (-Q) must be positive".into());
        }
        // Not for UD, whose messages never get that large (perftest's force_dependecies).
        let ud = connection == Connection::Ud;
        if cq_mod_given.is_none() && !a.all && size > CQ_MOD_SIZE_LIMIT && !ud {
            cq_mod = 1;
        }
        if !bw {
            cq_mod = 1;
        }
        cq_mod = cq_mod.min(tx_depth);
        let mut inline_size = a.inline_size.unwrap_or(0);
        let ud_inline_lowered = ud && inline_size > MAX_INLINE_UD;
        if ud_inline_lowered {
            inline_size = MAX_INLINE_UD;
        }
        if inline_size > 0 && test.verb() == Verb::Read {
            return Err("-I: RDMA READs cannot carry inline data".into());
        }
        if inline_size as usize > rdma_bench::run::MAX_INLINE {
            return Err(format!(
                "-I {inline_size}: at most {} bytes",
                rdma_bench::run::MAX_INLINE
            ));
        }
        if let Some(m) = a.mtu {
            if rdma_verbs::Mtu::from_bytes(m).is_none() {
                return Err(format!("invalid MTU {m}: 256, 512, 1024, 2048 or 4096"));
            }
        }
        if !(a.timeout.is_finite() && a.timeout > 0.0) {
            return Err(format!("invalid timeout {}", a.timeout));
        }
        if a.plot.is_some() && !(a.all && bw) {
            return Err("--plot draws a -a run of a BW test: add -a".into());
        }
        Ok(Params {
            test,
            host: a.host.clone(),
            device: a.device.clone(),
            ib_port: a.ib_port,
            gid_index: a.gid_index,
            sizes,
            all: a.all,
            iters,
            duration,
            margin,
            qps,
            bidirectional: a.bidirectional,
            tx_depth,
            rx_depth,
            inline_size,
            cq_mod,
            port: a.port,
            mtu: a.mtu,
            unit: if a.report_gbits {
                BwUnit::Gbps
            } else {
                BwUnit::MBps
            },
            timeout: Duration::from_secs_f64(a.timeout),
            out_json: None,
            plot: a.plot.clone(),
            rdma_cm: a.rdma_cm,
            connection,
            atomic: AtomicType::default(),
            out_reads: a.out_reads,
            x: Extras::default(),
            size_given: a.size.is_some(),
            ud_inline_lowered,
        })
    }

    /// How long each run lasts: `-n` iterations, or `-D` with its margins.
    pub fn span(&self) -> rdma_bench::run::Span {
        match self.duration {
            Some(total) => rdma_bench::run::Span::Duration {
                total,
                margin: self.margin,
            },
            None => rdma_bench::run::Span::Iters(self.iters),
        }
    }

    /// Receives a SEND test keeps posted per QP: `-r`, at most the iterations (all of `-r`
    /// in a duration run).
    pub fn receives_ahead(&self) -> u64 {
        let rx = u64::from(self.rx_depth);
        match self.duration {
            Some(_) => rx,
            None => rx.min(self.iters),
        }
    }

    /// The largest message size of the run.
    pub fn max_size(&self) -> u64 {
        self.sizes.iter().copied().max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::{effective_args, Cli};
    use clap::Parser;

    fn resolve(v: &[&str]) -> Result<Params, Refusal> {
        let c = Cli::try_parse_from(effective_args(
            v.iter().map(std::ffi::OsString::from).collect(),
        ))
        .unwrap();
        Params::resolve(c.cmd.test, &c.cmd.args)
    }

    #[test]
    fn uc_runs_the_send_and_write_tests() {
        for t in ["send_bw", "send_lat", "write_bw", "write_lat"] {
            let p = resolve(&["rdma-perf", t, "-c", "UC"]).unwrap();
            assert_eq!(p.connection, Connection::Uc, "{t}");
            let p = resolve(&["rdma-perf", t, "--connection=UC"]).unwrap();
            assert_eq!(p.connection, Connection::Uc, "{t}");
            assert_eq!(
                resolve(&["rdma-perf", t]).unwrap().connection,
                Connection::Rc
            );
        }
    }

    #[test]
    fn uc_on_read_is_perftests_refusal() {
        for t in ["ib_read_bw", "ib_read_lat"] {
            assert_eq!(
                resolve(&[t, "-c", "UC", "host"]).unwrap_err(),
                Refusal::Perftest {
                    text: " UC connection not possible in READ/ATOMIC verbs\n".into(),
                    stdout: false
                }
            );
        }
        // perftest refuses -c while parsing: before the options it would refuse later.
        let e = resolve(&["ib_read_bw", "-c", "UC", "-e", "-a", "-s", "8"]).unwrap_err();
        assert!(matches!(e, Refusal::Perftest { .. }), "{e:?}");
    }

    #[test]
    fn uc_with_rdma_cm_is_perftests_refusal() {
        let e = resolve(&["ib_send_bw", "-c", "UC", "-R"]).unwrap_err();
        assert_eq!(
            e,
            Refusal::Perftest {
                text: format!("{RESULT_LINE} UC is not supported in librdmacm\n"),
                stdout: true
            }
        );
    }

    #[test]
    fn other_types_are_refused_naming_the_option() {
        let e = resolve(&["ib_write_bw", "-c", "XRC"]).unwrap_err();
        assert!(matches!(&e, Refusal::Usage(m) if m.starts_with("not supported: -c XRC (")));
        let e = resolve(&["ib_write_lat", "-c", "uc"]).unwrap_err();
        assert_eq!(
            e,
            Refusal::Perftest {
                text: " Invalid Connection type. Please choose from {RC,UC,UD,XRC,DC,SRD}\n".into(),
                stdout: false
            }
        );
    }

    #[test]
    fn uc_rx_depth_is_perftests() {
        let rx = |v: &[&str]| resolve(v).unwrap().rx_depth;
        // Default 512 becomes the iterations, at most 16000.
        assert_eq!(rx(&["ib_send_bw", "-c", "UC"]), 1000);
        assert_eq!(rx(&["ib_send_bw", "-c", "UC", "-n", "20000"]), 16000);
        assert_eq!(
            rx(&["ib_send_bw", "-c", "UC", "-r", "512", "-n", "3000"]),
            3000
        );
        // Fewer iterations than 512: capped as on RC.
        assert_eq!(rx(&["ib_send_lat", "-c", "UC", "-n", "100"]), 100);
        // Another depth, or a duration run, is left alone.
        assert_eq!(rx(&["ib_send_bw", "-c", "UC", "-r", "64"]), 64);
        assert_eq!(rx(&["ib_send_bw", "-c", "UC", "-D", "4"]), 512);
        assert_eq!(rx(&["ib_send_bw", "-n", "3000"]), 512, "RC keeps 512");
    }

    #[test]
    fn ud_runs_the_send_tests_with_perftests_adjustments() {
        let p = resolve(&["ib_send_bw", "-c", "UD"]).unwrap();
        assert_eq!(p.connection, Connection::Ud);
        // 64 KiB is above 8 KiB, yet UD keeps CQ moderation (RC drops it to 1).
        assert_eq!(
            (p.sizes.clone(), p.cq_mod, p.rx_depth),
            (vec![65536], 100, 1000)
        );
        assert!(!p.size_given && !p.ud_inline_lowered);
        assert_eq!(resolve(&["ib_send_bw"]).unwrap().cq_mod, 1);
        let p = resolve(&[
            "rdma-perf",
            "send_lat",
            "-c",
            "UD",
            "-s",
            "512",
            "-n",
            "100",
        ])
        .unwrap();
        assert_eq!(
            (p.connection, p.rx_depth, p.size_given),
            (Connection::Ud, 100, true)
        );
        assert_eq!(
            resolve(&["ib_send_bw", "-c", "UD", "-n", "20000"])
                .unwrap()
                .rx_depth,
            16000
        );
        let p = resolve(&["ib_send_lat", "-c", "UD", "-I", "900"]).unwrap();
        assert_eq!((p.inline_size, p.ud_inline_lowered), (884, true));
        let p = resolve(&["ib_send_lat", "-c", "UD", "-I", "884"]).unwrap();
        assert_eq!((p.inline_size, p.ud_inline_lowered), (884, false));
        let p = resolve(&["ib_send_lat", "-I", "900"]).unwrap();
        assert_eq!(
            (p.inline_size, p.ud_inline_lowered),
            (900, false),
            "RC keeps -I"
        );
    }

    #[test]
    fn ud_with_rdma_cm_is_refused_naming_both_options() {
        match resolve(&["ib_send_bw", "-c", "UD", "-R"]).unwrap_err() {
            Refusal::Usage(m) => {
                assert!(m.starts_with("not supported: -c UD with -R ("), "{m}");
                assert!(m.ends_with("drop -R)"), "{m}");
            }
            e => panic!("{e:?}"),
        }
        // Off SEND, perftest's own refusal comes first.
        assert_eq!(
            resolve(&["ib_write_bw", "-c", "UD", "-R"]).unwrap_err(),
            Refusal::Perftest {
                text: " UD connection only possible in SEND verb\n".into(),
                stdout: false
            }
        );
    }

    #[test]
    fn ud_with_a_post_list_is_refused_naming_both_options() {
        assert_eq!(
            resolve(&["ib_send_bw", "-c", "UD", "-l", "4"]).unwrap_err(),
            Refusal::Usage(
                "not supported: -l with -c UD (post lists of UD SENDs are not implemented)".into()
            )
        );
        assert!(resolve(&["ib_send_bw", "-c", "UD", "-l", "1"]).is_ok());
    }

    #[test]
    fn atomic_tests_default_to_fetch_and_add_on_8_bytes() {
        let p = resolve(&["ib_atomic_bw"]).unwrap();
        assert_eq!(p.test, PerfTest::AtomicBw);
        assert_eq!((p.sizes.clone(), p.iters, p.tx_depth), (vec![8], 1000, 128));
        assert_eq!(
            (p.atomic, p.out_reads, p.cq_mod),
            (AtomicType::FetchAndAdd, None, 100)
        );
        let p = resolve(&["rdma-perf", "atomic_lat", "-A", "CMP_AND_SWAP", "-o", "4"]).unwrap();
        assert_eq!((p.sizes.clone(), p.tx_depth), (vec![8], 1));
        assert_eq!((p.atomic, p.out_reads), (AtomicType::CmpAndSwap, Some(4)));
        let p = resolve(&["ib_atomic_bw", "--atomic_type=CMP_AND_SWAP", "-s", "8"]).unwrap();
        assert_eq!(p.atomic, AtomicType::CmpAndSwap);
        // -o 0 and negative values are perftest's "the device's maximum".
        assert_eq!(
            resolve(&["ib_atomic_bw", "-o", "-1"]).unwrap().out_reads,
            Some(-1)
        );
        assert_eq!(
            resolve(&["ib_read_bw", "--outs", "2"]).unwrap().out_reads,
            Some(2)
        );
    }

    #[test]
    fn atomic_refusals_are_perftests() {
        let err = |text: &str, stdout| Refusal::Perftest {
            text: text.into(),
            stdout,
        };
        let parser = " Parser function exited with Error\n";
        let size = format!("{RESULT_LINE}Message size cannot be changed for Atomic tests \n");
        let cases: [(&[&str], Refusal); 8] = [
            (
                &["ib_atomic_bw", "-c", "UC"],
                err(" UC connection not possible in READ/ATOMIC verbs\n", false),
            ),
            (&["ib_atomic_bw", "-s", "16"], err(&size, true)),
            (&["ib_atomic_lat", "-a"], err(&size, true)),
            (
                &["ib_atomic_lat", "-A", "cmp_and_swap"],
                err(
                    " Invalid Atomic type! please choose from {CMP_AND_SWAP,FETCH_AND_ADD}\n",
                    false,
                ),
            ),
            (
                &["ib_atomic_bw", "-I", "0"],
                err(
                    &format!(" Inline feature not available on READ/Atomic verbs\n{parser}"),
                    false,
                ),
            ),
            (
                &["ib_write_bw", "-A", "FETCH_AND_ADD"],
                err(
                    &format!(
                        " You are not running the atomic_lat/bw test!\n To change the atomic \
                         action type, you must run one of the atomic tests\n{parser}"
                    ),
                    false,
                ),
            ),
            (
                &["ib_send_lat", "-o", "4"],
                err(
                    &format!(" Setting Outstanding reads only available on READ verb\n{parser}"),
                    false,
                ),
            ),
            // -c is refused while parsing, before the size.
            (
                &["ib_atomic_bw", "-s", "16", "-c", "UC"],
                err(" UC connection not possible in READ/ATOMIC verbs\n", false),
            ),
        ];
        for (argv, want) in cases {
            assert_eq!(resolve(argv).unwrap_err(), want, "{argv:?}");
        }
    }
}
