//! What the optional perftest options add around a run: the port counters of `-W`, the CPU
//! reading of `--cpu_util`, the CPU frequency of `-C`, the limits of `-w`/`-y`, the single
//! number of `--output`, and the quiet report that goes with it.

use super::out::Res;
use crate::cli::extras::OutputOnly;
use crate::cli::params::Params;
use rdma_bench::perftest::report::{counter_lines, cpu_util, parse_proc_stat};
use rdma_bench::perftest::stats::BwResult;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

/// perftest's sysfs directory of a port's counters.
fn port_dir(device: &str, port: u8) -> PathBuf {
    PathBuf::from(format!("/sys/class/infiniband/{device}/ports/{port}"))
}

/// The `-W` counters, open from before the connection to the end, each with its last value.
#[derive(Debug)]
pub struct Counters {
    files: Vec<(String, File, u64)>,
}

/// One counter's value: the decimal number at the start of the file.
fn read_value(f: &mut File) -> std::io::Result<u64> {
    let mut s = String::new();
    f.seek(SeekFrom::Start(0))?;
    f.read_to_string(&mut s)?;
    s.trim()
        .parse()
        .map_err(|_| std::io::Error::other(format!("not a number: {:?}", s.trim())))
}

impl Counters {
    /// Opens the counters of `names` on `device`'s `port` and reads them once. A counter that
    /// cannot be read is perftest's ` Unable to access performance counters`, with the
    /// counter and why.
    pub fn open(device: &str, port: u8, names: &[String]) -> Res<Counters> {
        let dir = port_dir(device, port);
        let mut files = Vec::with_capacity(names.len());
        for name in names {
            let path = dir.join(name);
            let opened = File::open(&path).and_then(|mut f| read_value(&mut f).map(|v| (f, v)));
            match opened {
                Ok((f, v)) => files.push((name.clone(), f, v)),
                Err(e) => {
                    return Err(format!(
                        " Unable to access performance counters ({}: {e})",
                        path.display()
                    )
                    .into())
                }
            }
        }
        Ok(Counters { files })
    }

    /// Reads every counter again and returns perftest's lines of what changed since the
    /// last reading.
    pub fn report(&mut self) -> Res<String> {
        let mut changes = Vec::with_capacity(self.files.len());
        for (name, f, last) in &mut self.files {
            let now = read_value(f).map_err(|e| format!("reading counter {name}: {e}"))?;
            changes.push((name.clone(), now.wrapping_sub(*last)));
            *last = now;
        }
        Ok(counter_lines(&changes))
    }
}

/// `/proc/stat`'s `cpu` user and idle ticks, for `--cpu_util`.
pub fn cpu_reading() -> Res<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/stat")?;
    Ok(parse_proc_stat(&text).ok_or("/proc/stat has no cpu line")?)
}

/// `--cpu_util`: the `/proc/stat` reading at the start of a run (perftest reads it at the
/// start and end of the `-D` sample; rdma-perf around the whole run, margins included).
pub struct CpuWindow(Option<(u64, u64)>);

impl CpuWindow {
    /// Reads `/proc/stat` when `--cpu_util` is on.
    pub fn start(p: &Params) -> Res<CpuWindow> {
        Ok(CpuWindow(if p.x.cpu_util {
            Some(cpu_reading()?)
        } else {
            None
        }))
    }

    /// The CPU utilization since [`start`](Self::start), in percent (`None` without
    /// `--cpu_util`).
    pub fn finish(&self) -> Res<Option<f64>> {
        match self.0 {
            Some(before) => Ok(Some(cpu_util(before, cpu_reading()?))),
            None => Ok(None),
        }
    }
}

/// The CPU frequency in MHz that perftest reads (`/proc/cpuinfo`'s first `cpu MHz`), for
/// `-C`: times in nanoseconds become cycles at this rate.
pub fn cpu_mhz() -> Res<f64> {
    let text = std::fs::read_to_string("/proc/cpuinfo")?;
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim() == "cpu MHz")
        .and_then(|(_, v)| v.trim().parse::<f64>().ok())
        .filter(|m| *m > 0.0)
        .ok_or_else(|| "-C: /proc/cpuinfo gives no CPU MHz to count cycles with".into())
}

/// perftest's `-w`/`-y` verdict on the rows this side printed: an error with perftest's text
/// when no row reaches the average bandwidth limit, or no row the message rate limit
/// (perftest passes a limit when any row passes it).
pub fn check_limits(p: &Params, rows: &[BwResult]) -> Res<()> {
    if p.x
        .limit_bw
        .is_some_and(|l| !rows.iter().any(|r| r.bw_avg >= l))
    {
        return Err("Error: BW result is below bw limit".into());
    }
    if p.x
        .limit_msgrate
        .is_some_and(|l| !rows.iter().any(|r| r.msg_rate >= l))
    {
        return Err("Error: Msg rate  is below msg_rate limit".into());
    }
    Ok(())
}

/// The single number of `--output` for a BW row (`%lf`).
pub fn output_bw(which: OutputOnly, row: &BwResult) -> String {
    match which {
        OutputOnly::MessageRate => format!("{:.6}\n", row.msg_rate),
        _ => format!("{:.6}\n", row.bw_avg),
    }
}
