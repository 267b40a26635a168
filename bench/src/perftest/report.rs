//! The text perftest 6.06 prints: the "waiting" box, the banner
//! (`ctx_print_test_info`), the address lines (`ctx_print_pingpong_data`) and the
//! result tables (`print_full_bw_report`, `print_report_lat`). Every function
//! returns exactly the bytes perftest writes, newlines included; the unit tests
//! compare them with output captured from Debian's binaries (`bench/tests/data/`).
//!
//! What each side prints, in order (captured):
//!
//! * READ tests only: a [`RESULT_LINE`] first (with `Device not recognized to implement
//!   inline feature. Disabling it` on stderr);
//! * server: [`WAITING_FOR_CLIENT`]; then both sides: [`banner`], the local and the
//!   remote [`address`], the table header ([`bw_header`] / [`lat_header`]);
//! * `ib_write_bw`, `ib_read_bw`: the client prints one [`bw_row`] per size; the server
//!   prints one row, the client's report of its last size; then both [`RESULT_LINE`];
//!   with `-b` both print the sum of both sides' rows;
//! * `ib_send_bw`: each side prints its own row per size (the server's peak is
//!   `0.00`: perftest never measures it there);
//! * latency tests: each side prints its own [`lat_row`] per size, then
//!   [`RESULT_LINE`]; the `ib_read_lat` server prints no table, only the
//!   [`RESULT_LINE`].
//!
//! Values seen on Soft-RoCE (rxe) with 6.06, for [`BannerInfo`]: transport `IB`,
//! link `Ethernet`, `Max inline data : 0[B]` in the write and send tests (`Outstand reads :
//! 128` in the read tests), `ibv_wr* API : OFF`,
//! `PCIe relax order` `ON` in `ib_write_bw`, `ib_send_bw`, `ib_send_lat` and `OFF`
//! in `ib_write_lat`; `GID index : 1` with and without `-x 1` (auto-selection).

use super::cfmt::{float, float_left, hex_alt};
use super::stats::{BwUnit, LatStats};
use super::test::{Measure, PerfTest, Verb};
use super::transport::Role;
use super::wire::KeyMsg;

/// `RESULT_LINE`: 87 dashes and a newline.
pub const RESULT_LINE: &str =
    "---------------------------------------------------------------------------------------\n";

/// What the server prints before accepting the connection.
pub const WAITING_FOR_CLIENT: &str = "\n************************************\n* Waiting for client to connect... *\n************************************\n";

/// `RESULT_FMT` (MB/sec, which is MiB/s) with its newline.
pub const BW_HEADER_MB: &str =
    " #bytes     #iterations    BW peak[MB/sec]    BW average[MB/sec]   MsgRate[Mpps]\n";

/// `RESULT_FMT_G` (`--report_gbits`) with its newline.
pub const BW_HEADER_GB: &str =
    " #bytes     #iterations    BW peak[Gb/sec]    BW average[Gb/sec]   MsgRate[Mpps]\n";

/// `RESULT_FMT_LAT` with its newline (note the trailing space).
pub const LAT_HEADER: &str = " #bytes #iterations    t_min[usec]    t_max[usec]  t_typical[usec]    t_avg[usec]    t_stdev[usec]   99% percentile[usec]   99.9% percentile[usec] \n";

/// Everything [`banner`] prints (plain data; the caller fills it from its
/// parameters and the device).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BannerInfo {
    /// The test: its verb and whether it measures bandwidth or latency.
    pub test: PerfTest,
    /// This side.
    pub role: Role,
    /// `-b`: prints `Bidirectional ` in the title, and TX/RX depth on both sides.
    pub duplex: bool,
    /// `-l`: `Post List ` in the title and a `Post List` line when > 1.
    pub post_list: u32,
    /// `--recv_post_list`: a line when > 1.
    pub recv_post_list: u32,
    /// `-e`: `Some(eq_num)` prints ` Test with events. Using <dev>_comp<eq>`.
    pub events: Option<u32>,
    /// `-O`.
    pub dual_port: bool,
    /// Device name (`-d`).
    pub device: String,
    /// Number of QPs.
    pub num_qps: u32,
    /// Transport type (`transport_str`: `IB`, `IWARP`, ...).
    pub transport: String,
    /// Connection type (`RC`, `UC`, `UD`, ...).
    pub connection: String,
    /// `--use-srq`.
    pub use_srq: bool,
    /// PCIe relaxed ordering (`ON` unless `--disable_pcie_relaxed`).
    pub pcie_relax_order: bool,
    /// Print perftest's two "CPU is not PCIe relaxed ordering compliant" warnings.
    pub pcie_ro_warning: bool,
    /// `ibv_wr* API` (`OFF` when perftest uses the old post_send, as on rxe).
    pub ibv_wr_api: bool,
    /// TX depth (printed by the client, or with `-b`).
    pub tx_depth: u32,
    /// RX depth (printed by the server of a send test, or with `-b`).
    pub rx_depth: u32,
    /// CQ moderation (printed in BW tests).
    pub cq_mod: u32,
    /// Path MTU in bytes.
    pub mtu_bytes: u32,
    /// Link layer (`IB`, `Ethernet`).
    pub link_type: String,
    /// GID index, printed when set.
    pub gid_index: Option<i32>,
    /// Max inline data (write and send tests).
    pub max_inline: u32,
    /// Outstanding reads (read tests print this instead of the inline size).
    pub out_reads: u32,
    /// `-R`: QPs connected with rdma_cm (`rdma_cm QPs : ON`, and
    /// `Data ex. method : rdma_cm`).
    pub rdma_cm: bool,
}

fn on_off(b: bool) -> &'static str {
    if b {
        "ON"
    } else {
        "OFF"
    }
}

/// `ctx_print_test_info`: from the first [`RESULT_LINE`] to the second, included.
pub fn banner(b: &BannerInfo) -> String {
    let mut s = String::new();
    s.push_str(RESULT_LINE);
    s.push_str("                    ");
    let verb = b.test.verb();
    s.push_str(verb.name());
    s.push(' ');
    match b.test.measure() {
        Measure::Bw => {
            if b.duplex {
                s.push_str("Bidirectional ");
            }
            if b.post_list > 1 {
                s.push_str("Post List ");
            }
            s.push_str("BW ");
        }
        Measure::Lat => s.push_str("Latency "),
    }
    s.push_str("Test\n");
    if let Some(eq) = b.events {
        s.push_str(&format!(" Test with events. Using {}_comp{eq}\n", b.device));
    }
    s.push_str(&format!(
        " Dual-port       : {}\t\tDevice         : {}\n",
        on_off(b.dual_port),
        b.device
    ));
    s.push_str(&format!(
        " Number of qps   : {}\t\tTransport type : {}\n",
        b.num_qps, b.transport
    ));
    s.push_str(&format!(
        " Connection type : {}\t\tUsing SRQ      : {}\n",
        b.connection,
        on_off(b.use_srq)
    ));
    s.push_str(&format!(
        " PCIe relax order: {}\n",
        on_off(b.pcie_relax_order)
    ));
    if b.pcie_ro_warning && b.pcie_relax_order {
        s.push_str(" WARNING: CPU is not PCIe relaxed ordering compliant.\n");
        s.push_str(" WARNING: You should disable PCIe RO with `--disable_pcie_relaxed` for both server and client.\n");
    }
    s.push_str(&format!(" ibv_wr* API     : {}\n", on_off(b.ibv_wr_api)));
    if b.role == Role::Client || b.duplex {
        s.push_str(&format!(" TX depth        : {}\n", b.tx_depth));
    }
    if b.post_list > 1 {
        s.push_str(&format!(" Post List       : {}\n", b.post_list));
    }
    if b.recv_post_list > 1 {
        s.push_str(&format!(" Recv Post List  : {}\n", b.recv_post_list));
    }
    if verb == Verb::Send && (b.role == Role::Server || b.duplex) {
        s.push_str(&format!(" RX depth        : {}\n", b.rx_depth));
    }
    if b.test.is_bw() {
        s.push_str(&format!(" CQ Moderation   : {}\n", b.cq_mod));
    }
    s.push_str(&format!(" Mtu             : {}[B]\n", b.mtu_bytes));
    s.push_str(&format!(" Link type       : {}\n", b.link_type));
    if let Some(g) = b.gid_index {
        s.push_str(&format!(" GID index       : {g}\n"));
    }
    if verb == Verb::Read {
        s.push_str(&format!(" Outstand reads  : {}\n", b.out_reads));
    } else {
        s.push_str(&format!(" Max inline data : {}[B]\n", b.max_inline));
    }
    s.push_str(&format!(" rdma_cm QPs\t : {}\n", on_off(b.rdma_cm)));
    s.push_str(&format!(
        " Data ex. method : {}\n",
        if b.rdma_cm { "rdma_cm" } else { "Ethernet" }
    ));
    s.push_str(RESULT_LINE);
    s
}

/// Which address [`address`] prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// `local address`.
    Local,
    /// `remote address`.
    Remote,
}

/// `ctx_print_pingpong_data`: the address line of one QP, plus its `GID:` line
/// when the keys carry a GID (GID bytes in decimal, `%02d`). Write and read tests
/// add `RKey`/`VAddr` (read also `OUT`).
pub fn address(side: Side, verb: Verb, key: &KeyMsg) -> String {
    let mut s = format!(
        " {} address: LID {} QPN {} PSN {}",
        match side {
            Side::Local => "local",
            Side::Remote => "remote",
        },
        hex_alt(u64::from(key.lid), 4),
        hex_alt(u64::from(key.qpn), 6),
        hex_alt(u64::from(key.psn), 6)
    );
    if verb == Verb::Read {
        s.push_str(&format!(" OUT {}", hex_alt(u64::from(key.out_reads), 4)));
    }
    if verb != Verb::Send {
        s.push_str(&format!(
            " RKey {} VAddr {}",
            hex_alt(u64::from(key.rkey), 8),
            hex_alt(key.vaddr, 16)
        ));
    }
    s.push('\n');
    if let Some(gid) = &key.gid {
        let parts: Vec<String> = gid.iter().map(|b| format!("{b:02}")).collect();
        s.push_str(&format!(" GID: {}\n", parts.join(":")));
    }
    s
}

/// One row of a BW table: what `xchg_bw_reports` carries and
/// [`bandwidth`](super::stats::bandwidth) computes.
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

impl From<super::wire::BwReportMsg> for BwResult {
    fn from(m: super::wire::BwReportMsg) -> Self {
        BwResult {
            size: m.size,
            iters: m.iters,
            bw_peak: m.bw_peak,
            bw_avg: m.bw_avg,
            msg_rate: m.msg_rate,
        }
    }
}

impl From<BwResult> for super::wire::BwReportMsg {
    fn from(r: BwResult) -> Self {
        super::wire::BwReportMsg {
            size: r.size,
            iters: r.iters,
            bw_peak: r.bw_peak,
            bw_avg: r.bw_avg,
            msg_rate: r.msg_rate,
        }
    }
}

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
    /// The statistics ([`latency`](super::stats::latency)).
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perftest::wire::BwReportMsg;

    const RXE_GID: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 1];

    fn key(qpn: u32, psn: u32, rkey: u32, vaddr: u64) -> KeyMsg {
        KeyMsg {
            lid: 0,
            out_reads: 1,
            qpn,
            psn,
            rkey,
            vaddr,
            gid: Some(RXE_GID),
            srqn: 0,
        }
    }

    fn info(test: PerfTest, role: Role) -> BannerInfo {
        BannerInfo {
            test,
            role,
            duplex: false,
            post_list: 1,
            recv_post_list: 1,
            events: None,
            dual_port: false,
            device: "rxe0".into(),
            num_qps: 1,
            transport: "IB".into(),
            connection: "RC".into(),
            use_srq: false,
            pcie_relax_order: true,
            pcie_ro_warning: false,
            ibv_wr_api: false,
            tx_depth: 128,
            rx_depth: 200,
            cq_mod: 1,
            mtu_bytes: 1024,
            link_type: "Ethernet".into(),
            gid_index: Some(1),
            max_inline: 0,
            out_reads: 1,
            rdma_cm: false,
        }
    }

    /// A result row: a space then the size.
    fn is_row(l: &str) -> bool {
        l.len() > 1 && l.as_bytes()[0] == b' ' && l.as_bytes()[1].is_ascii_digit()
    }

    fn bits(hex: &str) -> f64 {
        f64::from_bits(u64::from_str_radix(hex, 16).unwrap())
    }

    /// The client's report of the captured `ib_write_bw -x 1 -n 200` (exact bits from
    /// the TCP capture): both sides print it.
    fn write_bw_report() -> BwResult {
        BwResult::from(BwReportMsg {
            size: 65536,
            iters: 200,
            bw_peak: bits("404139feb9375539"),
            bw_avg: bits("40409e39270961e1"),
            msg_rate: bits("3f416ce05bc9f0c5"),
        })
    }

    fn write_bw_keys() -> (KeyMsg, KeyMsg) {
        (
            key(0x11, 0x1794de, 0x363, 0x56037ecc8000),
            key(0x12, 0xa0ed3, 0x205, 0x558d4ff71000),
        )
    }

    #[test]
    fn write_bw_client_matches_capture() {
        let (c, s) = write_bw_keys();
        let out = banner(&info(PerfTest::WriteBw, Role::Client))
            + &address(Side::Local, Verb::Write, &c)
            + &address(Side::Remote, Verb::Write, &s)
            + &bw_header(BwUnit::MBps)
            + &bw_row(&write_bw_report(), BwUnit::MBps)
            + RESULT_LINE;
        assert_eq!(out, include_str!("../../tests/data/write_bw-client.txt"));
    }

    #[test]
    fn write_bw_server_matches_capture() {
        let (c, s) = write_bw_keys();
        let out = WAITING_FOR_CLIENT.to_string()
            + &banner(&info(PerfTest::WriteBw, Role::Server))
            + &address(Side::Local, Verb::Write, &s)
            + &address(Side::Remote, Verb::Write, &c)
            + &bw_header(BwUnit::MBps)
            + &bw_row(&write_bw_report(), BwUnit::MBps)
            + RESULT_LINE;
        assert_eq!(out, include_str!("../../tests/data/write_bw-server.txt"));
    }

    #[test]
    fn write_bw_gbits_matches_capture() {
        let c = key(0x15, 0xf1d320, 0x738, 0x55f9401a0000);
        let s = key(0x16, 0x78ca1e, 0x6ef, 0x55956dd84000);
        let rep = BwResult::from(BwReportMsg {
            size: 65536,
            iters: 200,
            bw_peak: bits("3fd2b60abeaa9d19"),
            bw_avg: bits("3fd1b62a13812574"),
            msg_rate: bits("3f414be5170c1e93"),
        });
        let client = banner(&info(PerfTest::WriteBw, Role::Client))
            + &address(Side::Local, Verb::Write, &c)
            + &address(Side::Remote, Verb::Write, &s)
            + &bw_header(BwUnit::Gbps)
            + &bw_row(&rep, BwUnit::Gbps)
            + RESULT_LINE;
        assert_eq!(
            client,
            include_str!("../../tests/data/write_bw-gbits-client.txt")
        );
        let server = WAITING_FOR_CLIENT.to_string()
            + &banner(&info(PerfTest::WriteBw, Role::Server))
            + &address(Side::Local, Verb::Write, &s)
            + &address(Side::Remote, Verb::Write, &c)
            + &bw_header(BwUnit::Gbps)
            + &bw_row(&rep, BwUnit::Gbps)
            + RESULT_LINE;
        assert_eq!(
            server,
            include_str!("../../tests/data/write_bw-gbits-server.txt")
        );
    }

    #[test]
    fn write_bw_all_sizes_rows_match_capture() {
        // `-a -n 20`: TX depth and CQ moderation capped at the iterations.
        let text = include_str!("../../tests/data/write_bw-a-client.txt");
        let mut b = info(PerfTest::WriteBw, Role::Client);
        b.tx_depth = 20;
        b.cq_mod = 20;
        assert!(text.starts_with(&banner(&b)));
        // Re-print each row from its own printed values.
        for line in text.lines().filter(|l| is_row(l)) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let r = BwResult {
                size: f[0].parse().unwrap(),
                iters: f[1].parse().unwrap(),
                bw_peak: f[2].parse().unwrap(),
                bw_avg: f[3].parse().unwrap(),
                msg_rate: f[4].parse().unwrap(),
            };
            assert_eq!(bw_row(&r, BwUnit::MBps), format!("{line}\n"));
        }
        assert_eq!(text.lines().filter(|l| is_row(l)).count(), 23);
    }

    #[test]
    fn bw_row_small_gbits_uses_six_decimals() {
        let r = BwResult {
            size: 2,
            iters: 20,
            bw_peak: 0.000336,
            bw_avg: 0.000188,
            msg_rate: 0.011742,
        };
        assert_eq!(
            bw_row(&r, BwUnit::Gbps),
            " 2          20           0.000336            0.000188            0.011742\n"
        );
    }

    fn lat(size: u64, iters: u64, v: [f64; 7]) -> LatResult {
        LatResult {
            size,
            iters,
            stats: LatStats {
                t_min: v[0],
                t_max: v[1],
                t_typical: v[2],
                t_avg: v[3],
                t_stdev: v[4],
                p99: v[5],
                p99_9: v[6],
            },
        }
    }

    #[test]
    fn write_lat_both_sides_match_capture() {
        let s = key(0x13, 0xc5d7c1, 0x469, 0x560a3e02e000);
        let c = key(0x14, 0x145e0e, 0x5d5, 0x55f1063fd000);
        let mut b = info(PerfTest::WriteLat, Role::Server);
        b.pcie_relax_order = false;
        let server = WAITING_FOR_CLIENT.to_string()
            + &banner(&b)
            + &address(Side::Local, Verb::Write, &s)
            + &address(Side::Remote, Verb::Write, &c)
            + &lat_header()
            + &lat_row(&lat(
                2,
                200,
                [18.27, 223.61, 18.62, 23.14, 17.20, 176.18, 223.61],
            ))
            + RESULT_LINE;
        assert_eq!(
            server,
            include_str!("../../tests/data/write_lat-server.txt")
        );
        b.role = Role::Client;
        b.tx_depth = 1;
        let client = banner(&b)
            + &address(Side::Local, Verb::Write, &c)
            + &address(Side::Remote, Verb::Write, &s)
            + &lat_header()
            + &lat_row(&lat(
                2,
                200,
                [18.26, 239.05, 18.62, 22.57, 17.01, 191.11, 239.05],
            ))
            + RESULT_LINE;
        assert_eq!(
            client,
            include_str!("../../tests/data/write_lat-client.txt")
        );
    }

    #[test]
    fn write_lat_all_sizes_rows_match_capture() {
        let text = include_str!("../../tests/data/write_lat-a-client.txt");
        let mut n = 0;
        for line in text.lines().filter(|l| is_row(l)) {
            let f: Vec<f64> = line
                .split_whitespace()
                .map(|w| w.parse().unwrap())
                .collect();
            let r = lat(
                f[0] as u64,
                f[1] as u64,
                [f[2], f[3], f[4], f[5], f[6], f[7], f[8]],
            );
            assert_eq!(lat_row(&r), format!("{line}\n"));
            n += 1;
        }
        assert_eq!(n, 23);
    }

    #[test]
    fn lat_row_with_negative_nan_stdev_matches_capture() {
        // `ib_send_lat -a -n 20` over emulated Soft-RoCE: the deviations overflow
        // perftest's int arithmetic and the stdev prints as -nan.
        let mut r = lat(
            4194304,
            20,
            [
                357093.63, 787324.22, 577890.05, 577129.93, 0.0, 787324.22, 787324.22,
            ],
        );
        r.stats.t_stdev = f64::from_bits(0xfff8_0000_0000_0000);
        assert_eq!(
            lat_row(&r),
            " 4194304 20          357093.63        787324.22      577890.05  \t       577129.93     \t-nan   \t\t787324.22 \t\t787324.22\n"
        );
    }

    fn read_key(qpn: u32, psn: u32, rkey: u32, vaddr: u64) -> KeyMsg {
        KeyMsg {
            out_reads: 128,
            ..key(qpn, psn, rkey, vaddr)
        }
    }

    #[test]
    fn read_bw_both_sides_match_capture() {
        // perftest 6.06's READ tests print a RESULT_LINE first (and a warning on stderr).
        let s = read_key(0x12, 0x23f563, 0x2b2, 0x563ca180a000);
        let c = read_key(0x11, 0x268cdd, 0x389, 0x558f73cfd000);
        let mut b = info(PerfTest::ReadBw, Role::Server);
        b.out_reads = 128;
        let row = BwResult {
            size: 65536,
            iters: 200,
            bw_peak: 29.62,
            bw_avg: 22.94,
            msg_rate: 0.000367,
        };
        let tail = bw_header(BwUnit::MBps) + &bw_row(&row, BwUnit::MBps) + RESULT_LINE;
        let server = RESULT_LINE.to_string()
            + WAITING_FOR_CLIENT
            + &banner(&b)
            + &address(Side::Local, Verb::Read, &s)
            + &address(Side::Remote, Verb::Read, &c)
            + &tail;
        assert_eq!(server, include_str!("../../tests/data/read_bw-server.txt"));
        b.role = Role::Client;
        let client = RESULT_LINE.to_string()
            + &banner(&b)
            + &address(Side::Local, Verb::Read, &c)
            + &address(Side::Remote, Verb::Read, &s)
            + &tail;
        assert_eq!(client, include_str!("../../tests/data/read_bw-client.txt"));
    }

    #[test]
    fn read_lat_both_sides_match_capture() {
        let s = read_key(0x14, 0x32783c, 0x408, 0x55749f46b000);
        let c = read_key(0x13, 0xfbc2fd, 0x5a7, 0x55d7d3e04000);
        let mut b = info(PerfTest::ReadLat, Role::Server);
        b.out_reads = 128;
        let server = RESULT_LINE.to_string()
            + WAITING_FOR_CLIENT
            + &banner(&b)
            + &address(Side::Local, Verb::Read, &s)
            + &address(Side::Remote, Verb::Read, &c)
            + RESULT_LINE;
        assert_eq!(server, include_str!("../../tests/data/read_lat-server.txt"));
        b.role = Role::Client;
        b.tx_depth = 1;
        let client = RESULT_LINE.to_string()
            + &banner(&b)
            + &address(Side::Local, Verb::Read, &c)
            + &address(Side::Remote, Verb::Read, &s)
            + &lat_header()
            + &lat_row(&lat(
                2,
                200,
                [63.63, 14336.54, 78.89, 328.49, 1185.65, 10995.57, 14336.54],
            ))
            + RESULT_LINE;
        assert_eq!(client, include_str!("../../tests/data/read_lat-client.txt"));
    }

    #[test]
    fn duration_latency_rows_match_capture() {
        // ib_write_lat -D 5 and ib_read_lat -D 5 over Soft-RoCE (6.06).
        assert_eq!(
            lat_dur_header(),
            format!("{RESULT_LINE} #bytes        #iterations       t_avg[usec]    tps average\n")
        );
        let w = LatDurResult {
            size: 2,
            iters: 17609,
            t_avg: 85.32,
            tps: 5860.41,
        };
        assert_eq!(
            lat_dur_row(&w),
            " 2             17609            85.32          5860.41\n"
        );
        let r = LatDurResult {
            iters: 31336,
            t_avg: 95.97,
            tps: 10420.29,
            ..w
        };
        assert_eq!(
            lat_dur_row(&r),
            " 2             31336            95.97          10420.29\n"
        );
    }

    #[test]
    fn send_bw_both_sides_match_capture() {
        let c = key(0x15, 0x7630c9, 0, 0);
        let s = key(0x16, 0xe6aa3a, 0, 0);
        let server = WAITING_FOR_CLIENT.to_string()
            + &banner(&info(PerfTest::SendBw, Role::Server))
            + &address(Side::Local, Verb::Send, &s)
            + &address(Side::Remote, Verb::Send, &c)
            + &bw_header(BwUnit::MBps)
            + &bw_row(
                &BwResult {
                    size: 65536,
                    iters: 200,
                    bw_peak: 0.0,
                    bw_avg: 13.30,
                    msg_rate: 0.000213,
                },
                BwUnit::MBps,
            )
            + RESULT_LINE;
        assert_eq!(server, include_str!("../../tests/data/send_bw-server.txt"));
        let client = banner(&info(PerfTest::SendBw, Role::Client))
            + &address(Side::Local, Verb::Send, &c)
            + &address(Side::Remote, Verb::Send, &s)
            + &bw_header(BwUnit::MBps)
            + &bw_row(
                &BwResult {
                    size: 65536,
                    iters: 200,
                    bw_peak: 30.55,
                    bw_avg: 13.17,
                    msg_rate: 0.000211,
                },
                BwUnit::MBps,
            )
            + RESULT_LINE;
        assert_eq!(client, include_str!("../../tests/data/send_bw-client.txt"));
    }

    #[test]
    fn send_lat_both_sides_match_capture() {
        let s = key(0x17, 0x5aa6c5, 0, 0);
        let c = key(0x18, 0x4fa70, 0, 0);
        let server = WAITING_FOR_CLIENT.to_string()
            + &banner(&info(PerfTest::SendLat, Role::Server))
            + &address(Side::Local, Verb::Send, &s)
            + &address(Side::Remote, Verb::Send, &c)
            + &lat_header()
            + &lat_row(&lat(
                2,
                200,
                [19.08, 2151.84, 19.70, 39.33, 167.57, 2101.55, 2151.84],
            ))
            + RESULT_LINE;
        assert_eq!(server, include_str!("../../tests/data/send_lat-server.txt"));
        let mut b = info(PerfTest::SendLat, Role::Client);
        b.tx_depth = 1;
        let client = banner(&b)
            + &address(Side::Local, Verb::Send, &c)
            + &address(Side::Remote, Verb::Send, &s)
            + &lat_header()
            + &lat_row(&lat(
                2,
                200,
                [19.00, 2178.82, 19.67, 48.82, 220.08, 2121.46, 2178.82],
            ))
            + RESULT_LINE;
        assert_eq!(client, include_str!("../../tests/data/send_lat-client.txt"));
    }

    #[test]
    fn banner_options() {
        let mut b = info(PerfTest::ReadBw, Role::Server);
        b.duplex = true;
        b.post_list = 4;
        b.events = Some(0);
        b.gid_index = None;
        b.out_reads = 16;
        let t = banner(&b);
        assert!(t.contains("                    RDMA_Read Bidirectional Post List BW Test\n"));
        assert!(t.contains(" Test with events. Using rxe0_comp0\n"));
        assert!(t.contains(" TX depth        : 128\n Post List       : 4\n CQ Moderation"));
        assert!(t.contains(" Outstand reads  : 16\n"));
        assert!(!t.contains("GID index"));
        let k = KeyMsg {
            lid: 0x1234,
            out_reads: 16,
            gid: None,
            ..key(1, 2, 3, 4)
        };
        assert_eq!(
            address(Side::Local, Verb::Read, &k),
            " local address: LID 0x1234 QPN 0x0001 PSN 0x0002 OUT 0x10 RKey 0x000003 VAddr 0x00000000000004\n"
        );
    }
}
