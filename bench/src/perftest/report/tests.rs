use super::*;
use crate::perftest::stats::{BwResult, BwUnit, LatStats};
use crate::perftest::transport::Role;
use crate::perftest::wire::{BwReportMsg, KeyMsg};
use crate::perftest::{PerfTest, Verb};

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
        atomic: None,
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
        exchange_cm: false,
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
    assert_eq!(out, include_str!("../../../tests/data/write_bw-client.txt"));
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
    assert_eq!(out, include_str!("../../../tests/data/write_bw-server.txt"));
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
        include_str!("../../../tests/data/write_bw-gbits-client.txt")
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
        include_str!("../../../tests/data/write_bw-gbits-server.txt")
    );
}

#[test]
fn write_bw_all_sizes_rows_match_capture() {
    // `-a -n 20`: TX depth and CQ moderation capped at the iterations.
    let text = include_str!("../../../tests/data/write_bw-a-client.txt");
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
        include_str!("../../../tests/data/write_lat-server.txt")
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
        include_str!("../../../tests/data/write_lat-client.txt")
    );
}

#[test]
fn write_lat_all_sizes_rows_match_capture() {
    let text = include_str!("../../../tests/data/write_lat-a-client.txt");
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
    assert_eq!(
        server,
        include_str!("../../../tests/data/read_bw-server.txt")
    );
    b.role = Role::Client;
    let client = RESULT_LINE.to_string()
        + &banner(&b)
        + &address(Side::Local, Verb::Read, &c)
        + &address(Side::Remote, Verb::Read, &s)
        + &tail;
    assert_eq!(
        client,
        include_str!("../../../tests/data/read_bw-client.txt")
    );
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
    assert_eq!(
        server,
        include_str!("../../../tests/data/read_lat-server.txt")
    );
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
    assert_eq!(
        client,
        include_str!("../../../tests/data/read_lat-client.txt")
    );
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
    assert_eq!(
        server,
        include_str!("../../../tests/data/send_bw-server.txt")
    );
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
    assert_eq!(
        client,
        include_str!("../../../tests/data/send_bw-client.txt")
    );
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
    assert_eq!(
        server,
        include_str!("../../../tests/data/send_lat-server.txt")
    );
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
    assert_eq!(
        client,
        include_str!("../../../tests/data/send_lat-client.txt")
    );
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

#[test]
fn atomic_lat_server_matches_capture() {
    // Captured: ib_atomic_lat -A CMP_AND_SWAP, the server (no table; addresses without
    // OUT, RKey and VAddr).
    let s = key(0x18, 0x4bad6d, 0, 0);
    let c = key(0x17, 0xe688cf, 0, 0);
    let mut b = info(PerfTest::AtomicLat, Role::Server);
    b.atomic = Some(crate::perftest::atomic::AtomicType::CmpAndSwap);
    b.out_reads = 128;
    let out = RESULT_LINE.to_string()
        + WAITING_FOR_CLIENT
        + &banner(&b)
        + &address(Side::Local, Verb::Atomic, &s)
        + &address(Side::Remote, Verb::Atomic, &c)
        + RESULT_LINE;
    assert_eq!(
        out,
        include_str!("../../../tests/data/atomic_lat-cas-server.txt")
    );
}

#[test]
fn atomic_bw_client_banner_matches_capture() {
    let mut b = info(PerfTest::AtomicBw, Role::Client);
    b.atomic = Some(crate::perftest::atomic::AtomicType::FetchAndAdd);
    b.out_reads = 128;
    b.cq_mod = 100;
    let text = include_str!("../../../tests/data/atomic_bw-faa-client.txt");
    // The capture starts with the dash line of the atomic and read tests.
    let expected = RESULT_LINE.to_string()
        + &banner(&b)
        + &address(Side::Local, Verb::Atomic, &key(0x11, 0x4c068e, 0, 0))
        + &address(Side::Remote, Verb::Atomic, &key(0x12, 0xf22b6e, 0, 0))
        + &bw_header(BwUnit::MBps);
    assert!(text.starts_with(&expected), "{expected}");
}
