//! The report's optional parts: the latency samples of `-H` and `-U`, the `CPU_Util[%]`
//! column of `--cpu_util` and the counter lines of `-W` (`print_report_lat`,
//! `print_report_bw`, `counters_print` of perftest 6.06).

use super::banner::RESULT_LINE;
use super::rows::lat_header;
use crate::perftest::cfmt::{float_left, general};
use crate::perftest::stats::LAT_MEASURE_TAIL;

/// Which sample lists a latency row is preceded by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SampleLists {
    /// `-U`: every sample in the order measured.
    pub unsorted: bool,
    /// `-H`: the samples sorted, without the largest [`LAT_MEASURE_TAIL`].
    pub histogram: bool,
}

/// The sample lists of a latency run as perftest prints them between the table header and
/// the row: `#, <unit>` then `<n>, <value>` lines (`%g`), for `-U` in order, for `-H` sorted;
/// after them the dash line and the table header again. `tposted` are the post times in
/// ticks; a sample is the gap between two posts over `ticks_per_unit * rtt_factor`. Empty
/// when neither list is asked for or there are too few samples.
pub fn sample_lists(
    tposted: &[u64],
    ticks_per_unit: f64,
    rtt_factor: u32,
    unit: &str,
    lists: SampleLists,
) -> String {
    if !(lists.unsorted || lists.histogram) || tposted.len() < LAT_MEASURE_TAIL + 2 {
        return String::new();
    }
    let q = ticks_per_unit * f64::from(rtt_factor);
    let mut delta: Vec<u64> = tposted
        .windows(2)
        .map(|w| w[1].wrapping_sub(w[0]))
        .collect();
    let mut s = String::new();
    let list = |s: &mut String, d: &[u64]| {
        s.push_str(&format!("#, {unit}\n"));
        for (i, v) in d.iter().enumerate() {
            s.push_str(&format!("{}, {}\n", i + 1, general(*v as f64 / q)));
        }
    };
    if lists.unsorted {
        list(&mut s, &delta);
    }
    delta.sort_unstable();
    if lists.histogram {
        list(&mut s, &delta[..delta.len() - LAT_MEASURE_TAIL]);
    }
    s.push_str(RESULT_LINE);
    s.push_str(&lat_header());
    s
}

/// A table header with the `CPU_Util[%]` column (`RESULT_EXT_CPU_UTIL`).
pub fn with_cpu_util_header(header: &str) -> String {
    format!("{}    CPU_Util[%]\n", header.trim_end_matches('\n'))
}

/// A row with its CPU utilization in percent (`REPORT_EXT_CPU_UTIL`: `\t    %-3.2f`).
pub fn with_cpu_util_row(row: &str, percent: f64) -> String {
    format!(
        "{}\t    {}\n",
        row.trim_end_matches('\n'),
        float_left(percent, 3, 2)
    )
}

/// perftest's CPU utilization between two readings of `/proc/stat`'s `cpu` line, each
/// `(user, idle)` in clock ticks: `user / (user + idle) * 100`, 0 when nothing elapsed.
pub fn cpu_util(before: (u64, u64), after: (u64, u64)) -> f64 {
    let user = after.0.saturating_sub(before.0);
    let idle = after.1.saturating_sub(before.1);
    if user + idle == 0 {
        0.0
    } else {
        // perftest computes it in `float`.
        ((user as f32 / (user + idle) as f32) * 100.0) as f64
    }
}

/// The `user` and `idle` fields of `/proc/stat`'s first (`cpu`) line, as perftest reads them
/// (the first and fourth numbers); `None` when the text has no such line.
pub fn parse_proc_stat(text: &str) -> Option<(u64, u64)> {
    let line = text.lines().next()?;
    let mut f = line.split_whitespace();
    if f.next()? != "cpu" {
        return None;
    }
    let user = f.next()?.parse().ok()?;
    let _nice = f.next()?;
    let _system = f.next()?;
    let idle = f.next()?.parse().ok()?;
    Some((user, idle))
}

/// The counter lines of `-W`: `\t<name>=<change>` each, then an empty line.
pub fn counter_lines(changes: &[(String, u64)]) -> String {
    let mut s = String::new();
    for (name, d) in changes {
        s.push_str(&format!("\t{name}={d}\n"));
    }
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_perftests() {
        // Gaps of 4, 2, 6, 8, 10 ns; rtt 2 at 1 ns per unit: 2, 1, 3, 4, 5.
        let posted = [0, 4, 6, 12, 20, 30];
        let both = SampleLists {
            unsorted: true,
            histogram: true,
        };
        let s = sample_lists(&posted, 1.0, 2, "usec", both);
        let want = format!(
            "#, usec\n1, 2\n2, 1\n3, 3\n4, 4\n5, 5\n#, usec\n1, 1\n2, 2\n3, 3\n{RESULT_LINE}{}",
            lat_header()
        );
        assert_eq!(s, want);
        let h = sample_lists(
            &posted,
            1.0,
            2,
            "cycles",
            SampleLists {
                histogram: true,
                ..SampleLists::default()
            },
        );
        assert!(h.starts_with("#, cycles\n1, 1\n2, 2\n3, 3\n-"), "{h}");
        assert_eq!(
            sample_lists(&posted, 1.0, 2, "usec", SampleLists::default()),
            ""
        );
    }

    #[test]
    fn cpu_util_column_matches_the_capture() {
        // Captured from ib_write_bw --cpu_util -D 4 (6.06) on rxe.
        let header =
            " #bytes     #iterations    BW peak[MB/sec]    BW average[MB/sec]   MsgRate[Mpps]\n";
        assert_eq!(
            with_cpu_util_header(header),
            " #bytes     #iterations    BW peak[MB/sec]    BW average[MB/sec]   MsgRate[Mpps]    CPU_Util[%]\n"
        );
        let row = " 65536      1648             0.00               51.47  \t\t   0.000823\n";
        assert_eq!(
            with_cpu_util_row(row, 0.5),
            " 65536      1648             0.00               51.47  \t\t   0.000823\t    0.50\n"
        );
    }

    #[test]
    fn cpu_util_is_user_over_user_and_idle() {
        let stat = "cpu  100 5 50 900 7 0 0 0 0 0\ncpu0 50 2 25 450 3 0 0 0 0 0\n";
        assert_eq!(parse_proc_stat(stat), Some((100, 900)));
        assert_eq!(parse_proc_stat("intr 1 2\n"), None);
        assert_eq!(parse_proc_stat(""), None);
        assert_eq!(parse_proc_stat("cpu 1 x"), None);
        assert!((cpu_util((100, 900), (150, 1050)) - 25.0).abs() < 1e-6);
        assert_eq!(cpu_util((1, 1), (1, 1)), 0.0);
    }

    #[test]
    fn counters_print_as_perftest() {
        let c = vec![("hw_counters/sent_pkts".to_string(), 42)];
        assert_eq!(counter_lines(&c), "\thw_counters/sent_pkts=42\n\n");
    }
}
