//! Latency and bandwidth statistics, computed exactly as perftest 6.06 computes them
//! (`print_report_lat` and `print_report_bw` in `src/perftest_parameters.c`),
//! integer truncations included.
//!
//! # Clock
//!
//! perftest timestamps with `get_cycles()` (the TSC on x86-64) and converts with
//! `get_cpu_mhz()` (`src/get_clock.c`): it measures cycles per microsecond by a
//! linear regression of the TSC against `gettimeofday` over 200 busy-waits, reads
//! the `cpu MHz` of `/proc/cpuinfo`, and uses the `/proc` value unless the two
//! differ by more than 2% (then the measured one). When the regression is poor
//! (r² < 0.9, e.g. under emulation) it prints `Correlation coefficient r^2: …
//! < 0.9` to stderr and the frequency is 0: BW tests then exit with `Can't produce
//! a report`, latency tests print `inf`. `-F` only silences the "Conflicting CPU
//! frequency values" warning printed when the cores' `/proc` frequencies differ.
//!
//! `rdma-perf` timestamps with [`std::time::Instant`] (`CLOCK_MONOTONIC`, vDSO,
//! no system call) and passes nanoseconds: a "tick" is 1 ns, so `ticks_per_usec` =
//! 1000 ([`NS_TICKS_PER_USEC`]) and `ticks_per_sec` = 1e9. Every formula below
//! works on integer ticks as perftest does on cycles, so results are comparable:
//! the differences are the resolution (1 ns vs. 1/f, both far below the
//! microsecond values reported) and that no CPU frequency has to be guessed (no
//! frequency warnings, issue #372, and no failure under emulation).
//!
//! # Latency (`print_report_lat`)
//!
//! With `N` = iterations and `t` the `N` post timestamps: `delta[i] = t[i+1] - t[i]`
//! (`N - 1` samples), sorted ascending; `n = N - 3` (the two largest samples are
//! dropped, `LAT_MEASURE_TAIL`); `q = ticks_per_usec × rtt_factor` (2 for write and
//! send: a sample is a round trip; 1 for read and atomic).
//!
//! * `t_min = delta[0] / q`, `t_max = delta[n] / q` (note: index `n`, the largest
//!   sample kept is `delta[n - 1]`: perftest prints the third largest of all);
//! * `t_typical` = median of `delta[0..n]` in integer ticks (for even `n` the
//!   integer mean of the two middle samples), `/ q`;
//! * `t_avg` = mean of `delta[i] / q` over `i < n`;
//! * `t_stdev = sqrt(Σ (int)((double)(int)(t_avg - delta[i]/q))² / n)`: 6.06 (the
//!   Debian binary, checked in its machine code) truncates each deviation and each
//!   square to a 32-bit `int`, so deviations under 1 µs count as 0;
//! * 99% = `delta[ceil(n × 0.99)] / q`, 99.9% = `delta[ceil(n × 0.999)] / q`.
//!
//! # Bandwidth (`print_report_bw`)
//!
//! With `N` = iterations × QPs, `T = tcompleted[last] - tposted[0]` in ticks
//! (`last` = `N - 1`, or `0` without peak, where perftest stores the end time),
//! `f` = ticks per second, `ff` = 0x100000 (MB/s, really MiB/s) or 125000000
//! (`--report_gbits`, Gb/s):
//!
//! * `bw_avg = size · N · f / (T · ff)`, `msg_rate = N · f / (T · 10⁶)` (Mpps);
//! * `bw_peak = (size · (u64)f) / (opt_delta · ff)` where `opt_delta` is the
//!   smallest integer average `(tcompleted[j] - tposted[i]) / (j - i + 1)` over the
//!   posting starts `i` (step `post_list`) and the signaled completions `j` (every
//!   `cq_mod`-th, and the last); 0 when peak is off (iterations > 20000, `-N`, `-D`,
//!   and on the `ib_send_bw` server).

use super::wire::BwReportMsg;

/// Ticks per microsecond when timestamps are in nanoseconds.
pub const NS_TICKS_PER_USEC: f64 = 1000.0;

/// Above this many iterations perftest turns the BW peak off.
pub const MAX_ITERS_WITH_PEAK: u64 = 20000;

/// `LAT_MEASURE_TAIL`: the largest samples dropped.
pub const LAT_MEASURE_TAIL: usize = 2;

/// The latency statistics of one message size, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatStats {
    /// Smallest sample.
    pub t_min: f64,
    /// `delta[n]` (see the module docs).
    pub t_max: f64,
    /// Median.
    pub t_typical: f64,
    /// Mean.
    pub t_avg: f64,
    /// Standard deviation with perftest's integer truncations.
    pub t_stdev: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p99_9: f64,
}

/// Why statistics cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatsError {
    /// Too few timestamps (latency needs at least 4, perftest's minimum is 5).
    #[error("need at least {need} timestamps, got {got}")]
    TooFewSamples {
        /// Required.
        need: usize,
        /// Given.
        got: usize,
    },
    /// A parameter is out of range.
    #[error("invalid parameter: {0}")]
    Invalid(&'static str),
}

/// x86 `cvttsd2si` to a 32-bit register: truncation toward zero, and the "integer
/// indefinite" `i32::MIN` for NaN and out-of-range values (what C's `(int)` of a
/// double compiles to).
fn cvt_i32(x: f64) -> i32 {
    if x.is_nan() || x >= 2_147_483_648.0 || x <= -2_147_483_649.0 {
        i32::MIN
    } else {
        x as i32
    }
}

/// `sqrt` as glibc on x86-64 computes it: the square root of a negative number is
/// the default NaN, whose sign bit is set (printed `-nan`). A negative variance
/// happens in perftest when a deviation exceeds 46340 µs: its square overflows the
/// `int` (to `INT_MIN`), as captured in `ib_send_lat -a` over Soft-RoCE.
fn sqrt_x86(x: f64) -> f64 {
    if x < 0.0 {
        f64::from_bits(0xfff8_0000_0000_0000)
    } else {
        x.sqrt()
    }
}

/// Latency statistics from the post timestamps of a latency test (one per
/// iteration, in ticks), as `print_report_lat` computes them. `rtt_factor`: 2 for
/// write and send latency, 1 for read and atomic.
pub fn latency(
    tposted: &[u64],
    ticks_per_usec: f64,
    rtt_factor: u32,
) -> Result<LatStats, StatsError> {
    if tposted.len() < LAT_MEASURE_TAIL + 2 {
        return Err(StatsError::TooFewSamples {
            need: LAT_MEASURE_TAIL + 2,
            got: tposted.len(),
        });
    }
    if ticks_per_usec.is_nan() || ticks_per_usec <= 0.0 || rtt_factor == 0 {
        return Err(StatsError::Invalid(
            "ticks_per_usec and rtt_factor must be positive",
        ));
    }
    let mut delta: Vec<u64> = tposted
        .windows(2)
        .map(|w| w[1].wrapping_sub(w[0]))
        .collect();
    delta.sort_unstable();
    let n = delta.len() - LAT_MEASURE_TAIL;
    let median = if !(n - 1).is_multiple_of(2) {
        delta[n / 2].wrapping_add(delta[n / 2 - 1]) / 2
    } else {
        delta[n / 2]
    };
    let q = ticks_per_usec * f64::from(rtt_factor);
    let mut average_sum = 0.0;
    for d in &delta[..n] {
        average_sum += *d as f64 / q;
    }
    let average = average_sum / n as f64;
    let mut stdev_sum = 0.0;
    for d in &delta[..n] {
        let temp_var = cvt_i32(average - *d as f64 / q);
        let t = f64::from(temp_var);
        let pow_var = cvt_i32(t * t);
        stdev_sum += f64::from(pow_var);
    }
    let iters_99 = (n as f64 * 0.99).ceil() as usize;
    let iters_99_9 = (n as f64 * 0.999).ceil() as usize;
    Ok(LatStats {
        t_min: delta[0] as f64 / q,
        t_max: delta[n] as f64 / q,
        t_typical: median as f64 / q,
        t_avg: average,
        t_stdev: sqrt_x86(stdev_sum / n as f64),
        p99: delta[iters_99] as f64 / q,
        p99_9: delta[iters_99_9] as f64 / q,
    })
}

/// One row of a BW table: what `xchg_bw_reports` carries and
/// [`bandwidth`] computes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BwResult {
    /// Message size.
    pub size: u64,
    /// Iterations counted (times QPs, except in duration mode).
    pub iters: u64,
    /// Peak bandwidth in the unit (0 without peak).
    pub bw_peak: f64,
    /// Average bandwidth in the unit.
    pub bw_avg: f64,
    /// Message rate in Mpps.
    pub msg_rate: f64,
}

impl BwResult {
    /// `-b`: perftest prints the sum of both sides' peak, average and rate (size
    /// and iterations are ours).
    pub fn plus(&self, remote: &BwResult) -> BwResult {
        BwResult {
            size: self.size,
            iters: self.iters,
            bw_peak: self.bw_peak + remote.bw_peak,
            bw_avg: self.bw_avg + remote.bw_avg,
            msg_rate: self.msg_rate + remote.msg_rate,
        }
    }
}

impl From<BwReportMsg> for BwResult {
    fn from(m: BwReportMsg) -> Self {
        BwResult {
            size: m.size,
            iters: m.iters,
            bw_peak: m.bw_peak,
            bw_avg: m.bw_avg,
            msg_rate: m.msg_rate,
        }
    }
}

impl From<BwResult> for BwReportMsg {
    fn from(r: BwResult) -> Self {
        BwReportMsg {
            size: r.size,
            iters: r.iters,
            bw_peak: r.bw_peak,
            bw_avg: r.bw_avg,
            msg_rate: r.msg_rate,
        }
    }
}

/// Report unit of a BW test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BwUnit {
    /// `MB/sec` (2^20 bytes per second; perftest's default).
    #[default]
    MBps,
    /// `Gb/sec` (10^9 bits per second, `--report_gbits`).
    Gbps,
}

impl BwUnit {
    /// perftest's `format_factor`.
    pub fn format_factor(self) -> u64 {
        match self {
            BwUnit::MBps => 0x10_0000,
            BwUnit::Gbps => 125_000_000,
        }
    }
}

/// The inputs of [`bandwidth`].
#[derive(Debug, Clone, Copy)]
pub struct BwInput<'a> {
    /// Post timestamp of each iteration (all QPs, in posting order), in ticks.
    pub tposted: &'a [u64],
    /// Completion timestamp of each iteration, in ticks: only the signaled ones
    /// (`cq_mod - 1`, `2 cq_mod - 1`, …, and the last) are read. Without peak only
    /// `[0]` is read, and it must hold the time of the last completion (perftest
    /// stores it there).
    pub tcompleted: &'a [u64],
    /// Message size in bytes.
    pub size: u64,
    /// Iterations per QP (with `duration`: the total count of messages).
    pub iters: u64,
    /// Number of QPs.
    pub num_qps: u64,
    /// Post list size (`-l`, default 1).
    pub post_list: u64,
    /// CQ moderation (completions per signaled WR).
    pub cq_mod: u64,
    /// Peak measurement off.
    pub no_peak: bool,
    /// Duration mode (`-D`): `iters` is not multiplied by the QP count.
    pub duration: bool,
    /// Ticks per second (perftest: `get_cpu_mhz() * 1000000`; 1e9 with a ns clock).
    pub ticks_per_sec: f64,
    /// Report unit.
    pub unit: BwUnit,
}

fn round_up(value: u64, alignment: u64) -> u64 {
    if value.is_multiple_of(alignment) {
        value
    } else {
        alignment * (value / alignment + 1)
    }
}

/// Bandwidth statistics as `print_report_bw` computes them (unidirectional; for
/// `-b` perftest adds the peer's report to ours before printing).
pub fn bandwidth(input: &BwInput<'_>) -> Result<BwResult, StatsError> {
    let qps = input.num_qps;
    if qps == 0 || input.post_list == 0 || input.cq_mod == 0 {
        return Err(StatsError::Invalid(
            "num_qps, post_list and cq_mod must be positive",
        ));
    }
    if input.ticks_per_sec.is_nan() || input.ticks_per_sec <= 0.0 {
        return Err(StatsError::Invalid("ticks_per_sec must be positive"));
    }
    let total = input
        .iters
        .checked_mul(qps)
        .ok_or(StatsError::Invalid("iterations overflow"))?;
    let need = if input.no_peak { 1 } else { total as usize };
    if need == 0 || input.tposted.len() < need || input.tcompleted.len() < need {
        return Err(StatsError::TooFewSamples {
            need: need.max(1),
            got: input.tposted.len().min(input.tcompleted.len()),
        });
    }
    let tp = input.tposted;
    let tc = input.tcompleted;
    // perftest starts from `tcompleted[0] - tposted[0]`; with CQ moderation slot 0
    // is never written (fresh zeroed memory), so the start is effectively "no
    // bound", which is what we use whenever the peak is measured.
    let mut opt_delta = if input.no_peak {
        tc[0].wrapping_sub(tp[0])
    } else {
        u64::MAX
    };
    if !input.no_peak {
        let mut i = 0;
        while i < total {
            let mut j = round_up(i + 1, input.cq_mod) - 1;
            while j < total {
                let t = tc[j as usize].wrapping_sub(tp[i as usize]) / (j - i + 1);
                opt_delta = opt_delta.min(t);
                j += input.cq_mod;
            }
            if total % input.cq_mod != 0 {
                let j = total - 1;
                let t = tc[j as usize].wrapping_sub(tp[i as usize]) / (j - i + 1);
                opt_delta = opt_delta.min(t);
            }
            i += input.post_list;
        }
    }
    let cycles_to_units = input.ticks_per_sec;
    let n = if input.duration { input.iters } else { total };
    let location = if input.no_peak { 0 } else { (n - 1) as usize };
    let ff = input.unit.format_factor();
    let sum = tc[location].wrapping_sub(tp[0]) as f64;
    let bw_avg = ((input.size as f64) * (n as f64) * cycles_to_units) / (sum * ff as f64);
    let msg_rate = ((n as f64) * cycles_to_units * 1.0) / (sum * 1_000_000.0);
    let peak_up = if input.no_peak {
        0
    } else {
        input.size.wrapping_mul(cycles_to_units as u64)
    };
    let peak_down = opt_delta.wrapping_mul(ff);
    Ok(BwResult {
        size: input.size,
        iters: n,
        bw_peak: peak_up as f64 / peak_down as f64,
        bw_avg,
        msg_rate,
    })
}

/// The statistics of a latency `-D` run (`print_report_lat_duration`): the mean latency in
/// microseconds over the sample (`sample_ns` long, `iters` round trips; halved unless
/// `rtt_factor` is 1, as for READ) and the round trips per second.
pub fn latency_duration(
    sample_ns: u64,
    iters: u64,
    rtt_factor: u32,
) -> Result<(f64, f64), StatsError> {
    if iters == 0 || sample_ns == 0 {
        return Err(StatsError::Invalid(
            "no round trip completed within the sample (is -D long enough for --margin?)",
        ));
    }
    if rtt_factor == 0 {
        return Err(StatsError::Invalid("rtt_factor must be positive"));
    }
    let sample_us = sample_ns as f64 / NS_TICKS_PER_USEC;
    let t_avg = sample_us / f64::from(rtt_factor) / iters as f64;
    let tps = iters as f64 / (sample_us / 1e6);
    Ok((t_avg, tps))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_hand_computed() {
        // 8 timestamps -> 7 deltas (ticks = ns): 2000, 4000, 3000, 9000, 2000, 5000, 100000
        let t = [0u64, 2000, 6000, 9000, 18000, 20000, 25000, 125000];
        let s = latency(&t, NS_TICKS_PER_USEC, 2).unwrap();
        // sorted: 2000 2000 3000 4000 5000 9000 100000; n = 5; q = 2000
        assert_eq!(s.t_min, 1.0);
        assert_eq!(s.t_max, 4.5); // delta[5] = 9000
        assert_eq!(s.t_typical, 1.5); // n odd: delta[2] = 3000
                                      // mean of 1, 1, 1.5, 2, 2.5 = 1.6
        assert!((s.t_avg - 1.6).abs() < 1e-12);
        // deviations (int)(1.6 - x): 0, 0, 0, 0, 0 (|dev| < 1) -> stdev 0
        assert_eq!(s.t_stdev, 0.0);
        // ceil(5*0.99) = 5, ceil(5*0.999) = 5
        assert_eq!(s.p99, 4.5);
        assert_eq!(s.p99_9, 4.5);
    }

    #[test]
    fn latency_even_median_and_integer_stdev() {
        // 7 timestamps -> 6 deltas: 10000, 1000, 1000, 1001, 50000, 60000 ticks
        let t = [0u64, 10000, 11000, 12000, 13001, 63001, 123001];
        let s = latency(&t, 1000.0, 1).unwrap();
        // sorted: 1000 1000 1001 10000 50000 60000; n = 4 (even)
        // median = (delta[2] + delta[1]) / 2 = (1001 + 1000) / 2 = 1000 (integer)
        assert_eq!(s.t_typical, 1.0);
        assert_eq!(s.t_min, 1.0);
        assert_eq!(s.t_max, 50.0);
        // mean = (1 + 1 + 1.001 + 10) / 4 = 3.25025
        assert!((s.t_avg - 3.25025).abs() < 1e-12);
        // devs: (int)2.25025=2, 2, (int)2.24925=2, (int)-6.74975=-6 -> 4+4+4+36 = 48
        assert!((s.t_stdev - (48.0f64 / 4.0).sqrt()).abs() < 1e-12);
        // ceil(4*0.99)=4 -> delta[4]
        assert_eq!(s.p99, 50.0);
    }

    #[test]
    fn latency_matches_captured_shape() {
        // perftest -n 20 (captured `ib_write_lat -a -n 20`): n = 17, 99% and 99.9%
        // both index 17 = t_max.
        let t: Vec<u64> = (0..20u64).map(|i| i * 1000 + i * i).collect();
        let s = latency(&t, 1000.0, 2).unwrap();
        assert_eq!(s.p99, s.t_max);
        assert_eq!(s.p99_9, s.t_max);
    }

    #[test]
    fn latency_overflowing_deviation_gives_negative_nan() {
        // deltas (µs with q = 1000): 1, 1, 200000, 200000, then two dropped ones
        let t = [
            0u64,
            1000,
            2000,
            200_002_000,
            400_002_000,
            700_002_000,
            1_000_002_000,
        ];
        let s = latency(&t, 1000.0, 1).unwrap();
        // n = 4, mean 100000.5; every |deviation| is 99999: its square overflows the
        // int to INT_MIN, the sum is negative
        assert!(s.t_stdev.is_nan() && s.t_stdev.is_sign_negative());
        assert_eq!(
            crate::perftest::cfmt::float_left(s.t_stdev, 7, 2),
            "-nan   "
        );
    }

    #[test]
    fn latency_rejects_short_input() {
        assert!(latency(&[1, 2, 3], 1000.0, 2).is_err());
        assert!(latency(&[1, 2, 3, 4], 0.0, 2).is_err());
    }

    #[test]
    fn cvt_matches_x86() {
        assert_eq!(cvt_i32(2.9), 2);
        assert_eq!(cvt_i32(-2.9), -2);
        assert_eq!(cvt_i32(3e9), i32::MIN);
        assert_eq!(cvt_i32(f64::NAN), i32::MIN);
    }

    #[test]
    fn bandwidth_hand_computed() {
        // 4 iterations of 1 MiB, cq_mod 2, ns ticks.
        let tposted = [0u64, 100, 200, 300];
        let tcompleted = [0u64, 1_000_000, 0, 1_500_000];
        let input = BwInput {
            tposted: &tposted,
            tcompleted: &tcompleted,
            size: 1 << 20,
            iters: 4,
            num_qps: 1,
            post_list: 1,
            cq_mod: 2,
            no_peak: false,
            duration: false,
            ticks_per_sec: 1e9,
            unit: BwUnit::MBps,
        };
        let s = bandwidth(&input).unwrap();
        // T = 1.5 ms for 4 MiB -> 2666.67 MiB/s; 4 msgs / 1.5ms = 0.002667 Mpps
        assert!((s.bw_avg - 4.0 / 0.0015).abs() < 1e-6);
        assert!((s.msg_rate - 4.0 / 1500.0).abs() < 1e-12);
        // opt_delta: i=0: j=1: 1e6/2=500000, j=3: 1.5e6/4=375000; i=1: j=1: 999900/1,
        // j=3: 1499900/3=499966; i=2: j=3: 1499800/2; i=3: j=3: 1499700 -> 375000
        // peak = 2^20 * 1e9 / (375000 * 2^20) = 2666.666...
        assert!((s.bw_peak - 1e9 / 375000.0).abs() < 1e-9);
        assert_eq!(s.iters, 4);

        let g = bandwidth(&BwInput {
            unit: BwUnit::Gbps,
            ..input
        })
        .unwrap();
        // 4 MiB in 1.5 ms = 22.369621 Gb/s
        assert!((g.bw_avg - (4.0 * 1048576.0 * 8.0 / 0.0015 / 1e9)).abs() < 1e-9);
    }

    #[test]
    fn bandwidth_without_peak_uses_slot_zero() {
        let tposted = [1000u64];
        let tcompleted = [2_001_000u64];
        let s = bandwidth(&BwInput {
            tposted: &tposted,
            tcompleted: &tcompleted,
            size: 65536,
            iters: 100,
            num_qps: 1,
            post_list: 1,
            cq_mod: 1,
            no_peak: true,
            duration: false,
            ticks_per_sec: 1e9,
            unit: BwUnit::MBps,
        })
        .unwrap();
        assert_eq!(s.bw_peak, 0.0);
        // 100 × 64 KiB in 2 ms = 3125 MiB/s
        assert!((s.bw_avg - 3125.0).abs() < 1e-9);
        assert!((s.msg_rate - 0.05).abs() < 1e-12);
    }

    #[test]
    fn duration_latency_as_perftest_reports_it() {
        // ib_write_lat -D 5: 17609 round trips in a 3.0048 s sample.
        let (avg, tps) = latency_duration(3_004_800_000, 17609, 2).unwrap();
        assert!((avg - 85.32).abs() < 0.01, "{avg}");
        assert!((tps - 5860.2).abs() < 0.5, "{tps}");
        let (avg, _) = latency_duration(3_004_800_000, 17609, 1).unwrap();
        assert!((avg - 170.64).abs() < 0.02, "READ is not halved: {avg}");
        assert!(latency_duration(0, 5, 2).is_err());
        assert!(latency_duration(1000, 0, 2).is_err());
    }
}
