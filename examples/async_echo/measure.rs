//! `--json`: what one run cost, as one JSON line after the summary: the process's CPU time
//! (user and system, from /proc/self/stat), the whole machine's busy CPU time (from
//! /proc/stat: every process, kernel thread and softirq, so also the device driver's work
//! where it is software, as Soft-RoCE is), and the client's round-trip latencies.
//!
//! The keys are those of `rdma_bench::scale::record::EchoPoint`.

use std::fs;

/// Clock ticks per second of /proc's CPU times (`USER_HZ`, 100 on every Linux ABI).
const TICKS_PER_S: f64 = 100.0;

/// CPU seconds used so far.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Cpu {
    /// This process, user mode.
    pub(crate) user_s: f64,
    /// This process, kernel mode.
    pub(crate) sys_s: f64,
    /// The whole machine, busy (not idle, not waiting for I/O); `None` if unreadable.
    pub(crate) machine_s: Option<f64>,
}

/// utime and stime (fields 14 and 15) of a /proc/PID/stat line, in seconds.
fn process_times(stat: &str) -> Option<(f64, f64)> {
    // The command name (field 2) is in parentheses and may contain spaces: skip past it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let user: f64 = fields.next()?.parse().ok()?;
    let sys: f64 = fields.next()?.parse().ok()?;
    Some((user / TICKS_PER_S, sys / TICKS_PER_S))
}

/// Busy seconds of all CPUs from the `cpu` line of /proc/stat.
fn machine_busy(stat: &str) -> Option<f64> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal [guest guest_nice, already in user].
    let busy: f64 = v.iter().take(8).sum::<f64>() - v.get(3)? - v.get(4).unwrap_or(&0.0);
    Some(busy / TICKS_PER_S)
}

impl Cpu {
    /// The times now (zeros where /proc/self/stat cannot be read).
    pub(crate) fn now() -> Cpu {
        let (user_s, sys_s) = fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|s| process_times(&s))
            .unwrap_or_default();
        let machine_s = fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|s| machine_busy(&s));
        Cpu {
            user_s,
            sys_s,
            machine_s,
        }
    }

    /// What was used from `earlier` to `self`.
    pub(crate) fn since(self, earlier: Cpu) -> Cpu {
        Cpu {
            user_s: self.user_s - earlier.user_s,
            sys_s: self.sys_s - earlier.sys_s,
            machine_s: self.machine_s.zip(earlier.machine_s).map(|(a, b)| a - b),
        }
    }
}

/// Mean, median, 99th percentile and maximum of round trips in nanoseconds, in µs (sorts
/// `ns`); `None` without any.
pub(crate) fn rtt_stats(ns: &mut [u64]) -> Option<[f64; 4]> {
    if ns.is_empty() {
        return None;
    }
    ns.sort_unstable();
    let at = |q: f64| ns[((ns.len() - 1) as f64 * q).round() as usize] as f64 / 1e3;
    let mean = ns.iter().map(|&v| v as f64).sum::<f64>() / ns.len() as f64 / 1e3;
    Some([mean, at(0.5), at(0.99), at(1.0)])
}

/// What the JSON line reports.
pub(crate) struct Line<'a> {
    pub(crate) role: &'a str,
    pub(crate) qps: u32,
    pub(crate) threads: u32,
    pub(crate) size: u32,
    pub(crate) mode: &'a str,
    pub(crate) messages: u64,
    pub(crate) wall_s: f64,
    pub(crate) cpu: Cpu,
    pub(crate) rtt: Option<[f64; 4]>,
}

fn opt(v: Option<f64>) -> String {
    v.filter(|v| v.is_finite())
        .map_or("null".into(), |v| format!("{v}"))
}

impl std::fmt::Display for Line<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = |k: usize| opt(self.rtt.map(|r| r[k]));
        write!(
            f,
            "{{\"tool\":\"async_echo\",\"role\":\"{}\",\"qps\":{},\"threads\":{},\"size\":{},\
             \"mode\":\"{}\",\"messages\":{},\"wall_s\":{},\"cpu_user_s\":{},\"cpu_sys_s\":{},\
             \"machine_cpu_s\":{},\"rtt_avg_us\":{},\"rtt_p50_us\":{},\"rtt_p99_us\":{},\
             \"rtt_max_us\":{}}}",
            self.role,
            self.qps,
            self.threads,
            self.size,
            self.mode,
            self.messages,
            opt(Some(self.wall_s)),
            opt(Some(self.cpu.user_s)),
            opt(Some(self.cpu.sys_s)),
            opt(self.cpu.machine_s),
            r(0),
            r(1),
            r(2),
            r(3)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proc_times() {
        let stat = "42 (a) b) S 1 42 42 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 1 0 5 0 0";
        assert_eq!(process_times(stat), Some((2.5, 0.75)));
        assert_eq!(process_times("42 (x"), None);
        let proc_stat = "cpu  100 5 50 1000 20 3 7 0 0 0\ncpu0 1 1 1 1 1 1 1 1 1 1\n";
        assert_eq!(machine_busy(proc_stat), Some(1.65));
        assert_eq!(machine_busy("intr 5\n"), None);
        let now = Cpu::now();
        assert!(now.machine_s.is_some() && now.user_s >= 0.0);
        assert!(Cpu::now().since(now).user_s >= 0.0);
    }

    #[test]
    fn rtt_stats_and_the_line_parse() {
        assert_eq!(rtt_stats(&mut []), None);
        let mut ns: Vec<u64> = (1..=100).rev().map(|v| v * 1000).collect();
        assert_eq!(rtt_stats(&mut ns), Some([50.5, 51.0, 99.0, 100.0]));
        let line = Line {
            role: "client",
            qps: 4,
            threads: 1,
            size: 64,
            mode: "event",
            messages: 400,
            wall_s: 0.5,
            cpu: Cpu {
                user_s: 0.1,
                sys_s: 0.2,
                machine_s: None,
            },
            rtt: Some([50.5, 51.0, 99.0, f64::NAN]),
        }
        .to_string();
        assert_eq!(
            line,
            "{\"tool\":\"async_echo\",\"role\":\"client\",\"qps\":4,\"threads\":1,\"size\":64,\
             \"mode\":\"event\",\"messages\":400,\"wall_s\":0.5,\"cpu_user_s\":0.1,\
             \"cpu_sys_s\":0.2,\"machine_cpu_s\":null,\"rtt_avg_us\":50.5,\"rtt_p50_us\":51,\
             \"rtt_p99_us\":99,\"rtt_max_us\":null}"
        );
    }
}
