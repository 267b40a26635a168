//! perftest's options beyond the core set (events, post lists, QP attributes, report
//! variants, limits, counters, run forever, the post API), resolved with perftest 6.06's
//! rules and refusal texts (`src/perftest_parameters.c`: the option parser and
//! `force_dependecies`).

use super::args::PerfArgs;
use super::params::Refusal;
use rdma_bench::perftest::atomic::PARSER_ERROR;
use rdma_bench::perftest::report::{SampleLists, RESULT_LINE};
use rdma_bench::perftest::{PerfTest, Verb};
use std::path::PathBuf;
use std::time::Duration;

/// perftest's file name of `--out_json` without `--out_json_file`.
pub const DEFAULT_JSON_FILE: &str = "perftest_out.json";
/// perftest's `MAX_SL`.
const MAX_SL: u8 = 15;
/// perftest's default QP timeout exponent (`DEF_QP_TIME`).
pub const DEF_QP_TIME: u8 = 14;
/// Largest IB timeout exponent (a 5-bit field).
const MAX_QP_TIME: u8 = 31;
/// perftest's default `-D` of `--run_infinitely` (`DEF_DURATION`).
pub const DEF_DURATION_SECS: u64 = 5;

/// The latency report's variants (`-C`, `-H`, `-U`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LatReport {
    /// `-C`: times in CPU cycles.
    pub cycles: bool,
    /// `-H` and `-U`: the samples listed before the row.
    pub lists: SampleLists,
}

/// `--output`: print one number instead of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputOnly {
    /// `bandwidth`: the average bandwidth.
    Bandwidth,
    /// `message_rate`: the message rate.
    MessageRate,
    /// `latency`: the average latency.
    Latency,
}

/// The resolved options of this module.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Extras {
    /// `-e`: sleep on CQ events.
    pub events: bool,
    /// `-X`: the CQs' completion vector.
    pub comp_vector: Option<i32>,
    /// `-l`: sends posted per doorbell.
    pub post_list: u32,
    /// `-u`: the QP timeout exponent.
    pub qp_timeout: u8,
    /// `-S`: the service level.
    pub sl: u8,
    /// `--pkey_index`.
    pub pkey_index: u16,
    /// `-z` (or `-R`): the data exchange runs over rdma_cm.
    pub exchange_cm: bool,
    /// `-C`, `-H`, `-U`.
    pub lat_report: LatReport,
    /// `-N`: no peak bandwidth.
    pub no_peak: bool,
    /// `--cpu_util` in a `-D` run.
    pub cpu_util: bool,
    /// `-w`: least average bandwidth.
    pub limit_bw: Option<f64>,
    /// `-y`: least message rate.
    pub limit_msgrate: Option<f64>,
    /// `-W`: port counters to report, relative to the port's sysfs directory.
    pub counters: Vec<String>,
    /// `--run_infinitely`.
    pub run_infinitely: bool,
    /// `--use_old_post_send`.
    pub old_post_send: bool,
    /// `--output`.
    pub output: Option<OutputOnly>,
    /// `--wait_destroy`.
    pub wait_destroy: Duration,
    /// PCIe relaxed ordering (off with `--disable_pcie_relaxed`).
    pub pcie_relaxed: bool,
    /// What perftest prints and goes on after (each: stdout part, stderr part).
    pub notices: Vec<(String, String)>,
}

/// perftest's parser refusal: `why` on stderr, then its parser error, exit status 1.
fn parser(why: impl Into<String>) -> Refusal {
    Refusal::Perftest {
        text: format!("{}{PARSER_ERROR}", why.into()),
        stdout: false,
    }
}

/// perftest's `force_dependecies` refusal: a dash line on stdout, `why` on stderr.
fn dependency(why: &str) -> Refusal {
    Refusal::Split {
        out: RESULT_LINE.into(),
        err: why.into(),
    }
}

/// perftest's `CHECK_VALUE` of an integer option: `strtol(optarg, &end, 0)` with nothing
/// after the number, else ` <name> argument <value> should be <type>`.
fn integer(v: &str, name: &str, ty: &str) -> Result<i64, Refusal> {
    let bad = || parser(format!(" {name} argument {v} should be {ty}\n"));
    let t = v.trim_start();
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (radix, digits) = if let Some(h) = t.strip_prefix("0x").or(t.strip_prefix("0X")) {
        (16, h)
    } else if t.len() > 1 && t.starts_with('0') {
        (8, &t[1..])
    } else {
        (10, t)
    };
    let n = i64::from_str_radix(digits, radix).map_err(|_| bad())?;
    Ok(if neg { -n } else { n })
}

/// A non-negative float (`strtof`, perftest refuses a negative limit).
fn limit(v: &str, what: &str) -> Result<f64, Refusal> {
    match v.trim().parse::<f64>() {
        Ok(x) if x >= 0.0 && x.is_finite() => Ok(x),
        _ => Err(parser(format!(" Invalid {what} limit: {v}\n"))),
    }
}

impl Extras {
    /// Resolves the options of `a` for `test`, refusing as perftest refuses. The `-D` margin
    /// is resolved by [`margin`], the post list's CQ moderation by
    /// [`post_list_cq_mod`](Self::post_list_cq_mod).
    pub fn resolve(test: PerfTest, a: &PerfArgs) -> Result<Extras, Refusal> {
        let bw = test.is_bw();
        let verb = test.verb();
        let mut notices = Vec::new();
        if (a.events || a.vector.is_some()) && verb == Verb::Write {
            return Err(parser(" Events feature not available on WRITE verb\n"));
        }
        if a.report_cycles && bw {
            return Err(parser(" Available only on Latency tests\n"));
        }
        if a.histogram && bw {
            return Err(parser(" Available only on Latency tests\n"));
        }
        if a.unsorted && bw {
            return Err(parser(" is Available only on Latency tests\n"));
        }
        if a.no_peak && !bw {
            return Err(parser(" NoPeak only valid for BW tests\n"));
        }
        let qp_timeout = match &a.qp_timeout {
            None => DEF_QP_TIME,
            Some(v) => {
                let n = integer(v, "QP Timeout", "uint8_t")?;
                match u8::try_from(n) {
                    Ok(t) if t <= MAX_QP_TIME => t,
                    _ => {
                        return Err(Refusal::Usage(format!(
                            "-u {v}: the QP timeout is an exponent from 0 to {MAX_QP_TIME}"
                        )))
                    }
                }
            }
        };
        let sl = match &a.sl {
            None => 0,
            Some(v) => match u8::try_from(integer(v, "Service Level", "uint8_t")?) {
                Ok(s) if s <= MAX_SL => s,
                _ => return Err(parser(format!(" Only {MAX_SL} Service levels\n"))),
            },
        };
        let pkey_index = match &a.pkey_index {
            None => 0,
            Some(v) => u16::try_from(integer(v, "PKey index", "int")?).map_err(|_| {
                Refusal::Usage(format!("--pkey_index {v}: an index from 0 to 65535"))
            })?,
        };
        let comp_vector = match &a.vector {
            None => None,
            Some(v) => Some(
                i32::try_from(integer(v, "EQN", "int")?)
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| Refusal::Usage(format!("-X {v}: a vector from 0")))?,
            ),
        };
        if comp_vector.is_some() && !a.events {
            return Err(Refusal::Perftest {
                text: " Events must be enabled to select a completion vector\n".into(),
                stdout: false,
            });
        }
        let post_list = match &a.post_list {
            None => 1,
            Some(v) => {
                let n = integer(v, "Send Post List size", "int")?;
                u32::try_from(n).ok().filter(|n| *n >= 1).ok_or_else(|| {
                    Refusal::Usage(format!("-l {v}: the post list has at least 1 request"))
                })?
            }
        };
        if post_list > 1 && !bw {
            return Err(Refusal::Usage(
                "-l is for the BW tests (perftest's latency tests post one at a time)".into(),
            ));
        }
        let run_infinitely = a.run_infinitely;
        if run_infinitely {
            if a.events {
                return Err(dependency(
                    " run_infinitely does not support events feature yet.\n",
                ));
            }
            if !bw {
                return Err(dependency(
                    " run_infinitely exists only in BW tests for now.\n",
                ));
            }
            if a.bidirectional && verb == Verb::Send {
                return Err(dependency(
                    " run_infinitely mode is not supported in SEND Bidirectional BW test\n",
                ));
            }
            if a.all {
                return Err(dependency(
                    "Duration mode currently doesn't support running on all sizes.\n",
                ));
            }
            if a.bidirectional {
                return Err(Refusal::Usage(
                    "--run_infinitely with -b is not implemented".into(),
                ));
            }
        }
        let duration_mode = a.duration.is_some() || run_infinitely;
        let cpu_util = a.cpu_util && duration_mode;
        if a.cpu_util && !duration_mode {
            notices.push((
                RESULT_LINE.to_string(),
                " CPU Utilization works only with Duration mode.\n".to_string(),
            ));
        }
        let limit_bw = a.limit_bw.as_deref().map(|v| limit(v, "BW")).transpose()?;
        let limit_msgrate = a
            .limit_msgrate
            .as_deref()
            .map(|v| limit(v, "msgrate"))
            .transpose()?;
        if (limit_bw.is_some() || limit_msgrate.is_some()) && !bw {
            return Err(Refusal::Usage(
                "-w and -y check a BW test's result, not a latency test's".into(),
            ));
        }
        let counters: Vec<String> = match &a.counters {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect(),
        };
        if let Some(bad) = counters
            .iter()
            .find(|c| c.split('/').any(|part| part == ".." || part.is_empty()))
        {
            return Err(Refusal::Usage(format!(
                "-W {bad}: a counter is a path inside the port's sysfs directory"
            )));
        }
        let output = match a.output.as_deref() {
            None => None,
            Some("bandwidth") => Some(OutputOnly::Bandwidth),
            Some("message_rate") => Some(OutputOnly::MessageRate),
            Some("latency") => Some(OutputOnly::Latency),
            Some(_) => {
                return Err(parser(
                    " Invalid verbosity level output flag. Please use bandwidth, latency, message_rate\n",
                ))
            }
        };
        match output {
            Some(OutputOnly::Latency) if bw => {
                return Err(dependency(
                    " Output verbosity level for BW can be: bandwidth, message_rate\n",
                ))
            }
            Some(OutputOnly::Bandwidth | OutputOnly::MessageRate) if !bw => {
                return Err(dependency(
                    " Output verbosity level for LAT can be: latency\n",
                ))
            }
            _ => {}
        }
        let wait_destroy = match &a.wait_destroy {
            None => Duration::ZERO,
            Some(v) => Duration::from_secs(
                u64::try_from(integer(v, "wait_destroy", "int")?)
                    .map_err(|_| Refusal::Usage(format!("--wait_destroy {v}: seconds from 0")))?,
            ),
        };
        Ok(Extras {
            events: a.events,
            comp_vector,
            post_list,
            qp_timeout,
            sl,
            pkey_index,
            exchange_cm: a.comm_rdma_cm || a.rdma_cm,
            lat_report: LatReport {
                cycles: a.report_cycles,
                lists: SampleLists {
                    histogram: a.histogram,
                    unsorted: a.unsorted,
                },
            },
            no_peak: a.no_peak,
            cpu_util,
            limit_bw,
            limit_msgrate,
            counters,
            run_infinitely,
            old_post_send: a.use_old_post_send,
            output,
            wait_destroy,
            pcie_relaxed: !a.disable_pcie_relaxed,
            notices,
        })
    }

    /// perftest's post-list rule for the CQ moderation: without `-Q` it becomes the list's
    /// size (with a notice); with `-Q` the list must be a multiple of it; with iterations,
    /// they must be a multiple of the list.
    pub fn post_list_cq_mod(
        &mut self,
        iters: Option<u64>,
        cq_mod: Option<u32>,
    ) -> Result<Option<u32>, Refusal> {
        if self.post_list <= 1 {
            return Ok(cq_mod);
        }
        let l = self.post_list;
        if iters.is_some_and(|i| !i.is_multiple_of(u64::from(l))) {
            return Err(dependency(
                "Number of iterations must be a multiple of post list size\n",
            ));
        }
        match cq_mod {
            None => {
                self.notices.push((
                    format!(
                        "{RESULT_LINE}Post List requested - CQ moderation will be the size of the post list\n"
                    ),
                    String::new(),
                ));
                Ok(Some(l))
            }
            Some(q) if q == 0 || !l.is_multiple_of(q) => Err(dependency(
                "Post list size must be a multiple of CQ moderation\n",
            )),
            Some(q) => Ok(Some(q)),
        }
    }
}

/// The file of `--out_json`: `--out_json=FILE`, else `--out_json_file`, else perftest's
/// `perftest_out.json`; `None` without `--out_json`.
pub fn json_file(a: &PerfArgs) -> Option<PathBuf> {
    match (&a.out_json, &a.out_json_file) {
        (None, _) => None,
        (Some(f), _) if !f.is_empty() => Some(PathBuf::from(f)),
        (Some(_), Some(f)) => Some(f.clone()),
        (Some(_), None) => Some(PathBuf::from(DEFAULT_JSON_FILE)),
    }
}

/// perftest's `-D` margin: `-f` as given, else a quarter of the duration (perftest's
/// `DEF_INIT_MARGIN` rule); the duration (5 s when not in duration mode, perftest's
/// default) must be more than twice the margin.
pub fn margin(duration: Option<u64>, given: Option<u64>) -> Result<u64, Refusal> {
    let d = duration.unwrap_or(DEF_DURATION_SECS);
    let m = match (given, duration) {
        (Some(m), _) => m,
        (None, Some(d)) => d / 4,
        (None, None) => 0,
    };
    if d <= m.saturating_mul(2) {
        return Err(dependency("please check that DURATION > 2*MARGIN\n"));
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::{effective_args, Cli};
    use crate::cli::params::Params;
    use clap::Parser;

    fn resolve(v: &[&str]) -> Result<Params, Refusal> {
        let c = Cli::try_parse_from(effective_args(
            v.iter().map(std::ffi::OsString::from).collect(),
        ))
        .unwrap();
        Params::resolve(c.cmd.test, &c.cmd.args)
    }

    fn parser_err(why: &str) -> Refusal {
        parser(why)
    }

    #[test]
    fn margin_is_a_quarter_of_the_duration_unless_given() {
        let m = |v: &[&str]| resolve(v).unwrap().margin.as_secs();
        assert_eq!(m(&["ib_write_bw", "-D", "5"]), 1);
        assert_eq!(
            m(&["ib_write_bw", "-D", "2"]),
            0,
            "perftest runs -D 2 unmargined"
        );
        assert_eq!(m(&["ib_write_bw", "-D", "10", "-f", "3"]), 3);
        let want = dependency("please check that DURATION > 2*MARGIN\n");
        assert_eq!(
            resolve(&["ib_write_bw", "-D", "4", "-f", "2"]).unwrap_err(),
            want
        );
        // Without -D perftest still compares its default 5 s with the margin.
        assert_eq!(resolve(&["ib_write_bw", "-f", "3"]).unwrap_err(), want);
    }

    #[test]
    fn post_list_sets_the_cq_moderation_as_perftest() {
        let p = resolve(&["ib_write_bw", "-l", "4", "-n", "200"]).unwrap();
        assert_eq!((p.x.post_list, p.cq_mod), (4, 4));
        assert_eq!(
            p.x.notices,
            vec![(
                format!(
                    "{RESULT_LINE}Post List requested - CQ moderation will be the size of the post list\n"
                ),
                String::new()
            )]
        );
        let p = resolve(&["ib_write_bw", "-l", "4", "-Q", "2", "-n", "200"]).unwrap();
        assert_eq!(p.cq_mod, 2);
        assert_eq!(
            resolve(&["ib_write_bw", "-l", "4", "-Q", "3", "-n", "200"]).unwrap_err(),
            dependency("Post list size must be a multiple of CQ moderation\n")
        );
        assert_eq!(
            resolve(&["ib_write_bw", "-l", "3", "-n", "200"]).unwrap_err(),
            dependency("Number of iterations must be a multiple of post list size\n")
        );
        assert_eq!(
            resolve(&["ib_write_bw", "-l", "x"]).unwrap_err(),
            parser_err(" Send Post List size argument x should be int\n")
        );
    }

    #[test]
    fn parser_refusals_are_perftests() {
        let cases: [(&[&str], Refusal); 8] = [
            (
                &["ib_write_bw", "-e"],
                parser_err(" Events feature not available on WRITE verb\n"),
            ),
            (
                &["ib_write_lat", "-X", "1"],
                parser_err(" Events feature not available on WRITE verb\n"),
            ),
            (
                &["ib_send_bw", "-C"],
                parser_err(" Available only on Latency tests\n"),
            ),
            (
                &["ib_send_bw", "-U"],
                parser_err(" is Available only on Latency tests\n"),
            ),
            (
                &["ib_send_lat", "-N"],
                parser_err(" NoPeak only valid for BW tests\n"),
            ),
            (
                &["ib_send_lat", "-S", "16"],
                parser_err(" Only 15 Service levels\n"),
            ),
            (
                &["ib_send_lat", "-u", "1x"],
                parser_err(" QP Timeout argument 1x should be uint8_t\n"),
            ),
            (
                &["ib_send_bw", "--output=latency"],
                dependency(" Output verbosity level for BW can be: bandwidth, message_rate\n"),
            ),
        ];
        for (argv, want) in cases {
            assert_eq!(resolve(argv).unwrap_err(), want, "{argv:?}");
        }
        assert_eq!(
            resolve(&["ib_send_lat", "-X", "0"]).unwrap_err(),
            Refusal::Perftest {
                text: " Events must be enabled to select a completion vector\n".into(),
                stdout: false
            }
        );
    }

    #[test]
    fn run_infinitely_is_a_duration_run_of_the_bw_tests() {
        let p = resolve(&["ib_write_bw", "--run_infinitely"]).unwrap();
        assert!(p.x.run_infinitely);
        assert_eq!(p.duration, Some(Duration::from_secs(5)));
        assert_eq!(p.margin, Duration::from_secs(1));
        assert_eq!(
            resolve(&["ib_send_lat", "--run_infinitely"]).unwrap_err(),
            dependency(" run_infinitely exists only in BW tests for now.\n")
        );
        assert_eq!(
            resolve(&["ib_send_bw", "--run_infinitely", "-e"]).unwrap_err(),
            dependency(" run_infinitely does not support events feature yet.\n")
        );
        assert_eq!(
            resolve(&["ib_send_bw", "--run_infinitely", "-b"]).unwrap_err(),
            dependency(" run_infinitely mode is not supported in SEND Bidirectional BW test\n")
        );
    }

    #[test]
    fn the_rest_resolves() {
        let p = resolve(&[
            "ib_send_lat",
            "-e",
            "-X",
            "0",
            "-u",
            "0x10",
            "-S",
            "3",
            "--pkey_index",
            "0",
            "-C",
            "-H",
            "-z",
            "--output=latency",
            "--wait_destroy",
            "1",
        ])
        .unwrap();
        let x = &p.x;
        assert!(x.events && x.exchange_cm && x.lat_report.cycles && x.lat_report.lists.histogram);
        assert_eq!((x.comp_vector, x.qp_timeout, x.sl), (Some(0), 16, 3));
        assert_eq!(x.output, Some(OutputOnly::Latency));
        assert_eq!(x.wait_destroy, Duration::from_secs(1));
        let p = resolve(&["ib_write_bw", "--cpu_util"]).unwrap();
        assert!(!p.x.cpu_util, "only in duration mode");
        assert_eq!(
            p.x.notices[0].1,
            " CPU Utilization works only with Duration mode.\n"
        );
        assert!(
            resolve(&["ib_write_bw", "--cpu_util", "-D", "4"])
                .unwrap()
                .x
                .cpu_util
        );
        let p = resolve(&["ib_write_bw", "--out_json"]).unwrap();
        assert_eq!(p.out_json, Some(PathBuf::from(DEFAULT_JSON_FILE)));
        let p = resolve(&["ib_write_bw", "--out_json", "--out_json_file", "a.json"]).unwrap();
        assert_eq!(p.out_json, Some(PathBuf::from("a.json")));
        assert!(
            resolve(&["ib_write_bw", "--use_old_post_send"])
                .unwrap()
                .x
                .old_post_send
        );
        assert!(matches!(
            resolve(&["ib_write_bw", "-u", "40"]).unwrap_err(),
            Refusal::Usage(m) if m.contains("-u 40")
        ));
        assert!(matches!(
            resolve(&["ib_write_bw", "-W", "../../x"]).unwrap_err(),
            Refusal::Usage(m) if m.contains("-W")
        ));
        assert!(matches!(
            resolve(&["ib_write_bw", "--odp"]).unwrap_err(),
            Refusal::Usage(m) if m == "not supported: --odp (on-demand paging is not implemented)"
        ));
    }
}
