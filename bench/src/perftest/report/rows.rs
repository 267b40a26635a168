//! The result tables: the BW and latency headers and rows (`print_full_bw_report`,
//! `print_report_lat`, `print_report_lat_duration`), and the `--output` value.

use super::banner::RESULT_LINE;
use crate::perftest::cfmt::{float, float_left};
use crate::perftest::stats::{BwResult, BwUnit, LatStats};

/// `RESULT_FMT` (MB/sec, which is MiB/s) with its newline.
pub const BW_HEADER_MB: &str =
    " #bytes     #iterations    BW peak[MB/sec]    BW average[MB/sec]   MsgRate[Mpps]\n";

/// `RESULT_FMT_G` (`--report_gbits`) with its newline.
pub const BW_HEADER_GB: &str =
    " #bytes     #iterations    BW peak[Gb/sec]    BW average[Gb/sec]   MsgRate[Mpps]\n";

/// `RESULT_FMT_LAT` with its newline (note the trailing space).
pub const LAT_HEADER: &str = " #bytes #iterations    t_min[usec]    t_max[usec]  t_typical[usec]    t_avg[usec]    t_stdev[usec]   99% percentile[usec]   99.9% percentile[usec] \n";

/// The BW table header: [`RESULT_LINE`] and the column titles.
pub fn bw_header(unit: BwUnit) -> String {
    let titles = match unit {
        BwUnit::MBps => BW_HEADER_MB,
        BwUnit::Gbps => BW_HEADER_GB,
    };
    format!("{RESULT_LINE}{titles}")
}

/// One BW row (`REPORT_FMT`, or `REPORT_FMT_EXT` with 6 decimals when the average
/// is below 0.1 Gb/s with `--report_gbits`).
pub fn bw_row(r: &BwResult, unit: BwUnit) -> String {
    if unit == BwUnit::Gbps && r.bw_avg < 0.1 {
        format!(
            " {:<7}    {}           {}            {}            {}\n",
            r.size,
            r.iters,
            float_left(r.bw_peak, 7, 6),
            float_left(r.bw_avg, 7, 6),
            float_left(r.msg_rate, 7, 6)
        )
    } else {
        format!(
            " {:<7}    {:<10}       {}            {}\t\t   {}\n",
            r.size,
            r.iters,
            float_left(r.bw_peak, 7, 2),
            float_left(r.bw_avg, 7, 2),
            float_left(r.msg_rate, 7, 6)
        )
    }
}

/// One row of a latency table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatResult {
    /// Message size.
    pub size: u64,
    /// Iterations (`-n`, as given: not the number of samples kept).
    pub iters: u64,
    /// The statistics ([`latency`](crate::perftest::stats::latency)).
    pub stats: LatStats,
}

/// The latency table header: [`RESULT_LINE`] and the column titles.
pub fn lat_header() -> String {
    format!("{RESULT_LINE}{LAT_HEADER}")
}

/// One latency row (`REPORT_FMT_LAT`; 6.06 prints the iterations with `%lu`).
pub fn lat_row(r: &LatResult) -> String {
    let s = &r.stats;
    format!(
        " {:<7} {}          {}        {}      {}  \t       {}     \t{}\t\t{} \t\t{}\n",
        r.size,
        r.iters,
        float_left(s.t_min, 7, 2),
        float_left(s.t_max, 7, 2),
        float_left(s.t_typical, 7, 2),
        float_left(s.t_avg, 7, 2),
        float_left(s.t_stdev, 7, 2),
        float_left(s.p99, 7, 2),
        float_left(s.p99_9, 7, 2)
    )
}

/// `RESULT_FMT_LAT_DUR` with its newline: the latency header of a `-D` run.
pub const LAT_DUR_HEADER: &str = " #bytes        #iterations       t_avg[usec]    tps average\n";

/// One row of a latency table of a `-D` run (`print_report_lat_duration`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatDurResult {
    /// Message size.
    pub size: u64,
    /// Round trips completed within the sample.
    pub iters: u64,
    /// Mean latency in microseconds (half the round trip, except for READ).
    pub t_avg: f64,
    /// Round trips per second.
    pub tps: f64,
}

/// The latency header of a `-D` run: [`RESULT_LINE`] and the column titles.
pub fn lat_dur_header() -> String {
    format!("{RESULT_LINE}{LAT_DUR_HEADER}")
}

/// One latency row of a `-D` run (`REPORT_FMT_LAT_DUR` as 6.06 prints it, with the
/// transactions per second).
pub fn lat_dur_row(r: &LatDurResult) -> String {
    format!(
        " {:<7}       {}            {}        {}\n",
        r.size,
        r.iters,
        float_left(r.t_avg, 7, 2),
        float_left(r.tps, 7, 2)
    )
}

/// `printf("%lf\n", x)`, what `--output=bandwidth|message_rate|latency` prints.
pub fn output_value(x: f64) -> String {
    format!("{}\n", float(x, 6))
}
