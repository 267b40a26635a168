//! What comes before the results: the "waiting" box, the banner (`ctx_print_test_info`)
//! and the address lines (`ctx_print_pingpong_data`).

use crate::perftest::atomic::AtomicType;
use crate::perftest::cfmt::hex_alt;
use crate::perftest::transport::Role;
use crate::perftest::wire::KeyMsg;
use crate::perftest::{Measure, PerfTest, Verb};

/// `RESULT_LINE`: 87 dashes and a newline.
pub const RESULT_LINE: &str =
    "---------------------------------------------------------------------------------------\n";

/// What the server prints before accepting the connection.
pub const WAITING_FOR_CLIENT: &str = "\n************************************\n* Waiting for client to connect... *\n************************************\n";

/// Everything [`banner`] prints (plain data; the caller fills it from its
/// parameters and the device).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BannerInfo {
    /// The test: its verb and whether it measures bandwidth or latency.
    pub test: PerfTest,
    /// This side.
    pub role: Role,
    /// The atomic tests' operation, named in the title after `Atomic` (`None` for the
    /// other tests).
    pub atomic: Option<AtomicType>,
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
    /// Outstanding reads (read and atomic tests print this instead of the inline size).
    pub out_reads: u32,
    /// `-R`: QPs connected with rdma_cm (`rdma_cm QPs : ON`).
    pub rdma_cm: bool,
    /// `-z` or `-R`: the data exchange runs over rdma_cm (`Data ex. method : rdma_cm`).
    pub exchange_cm: bool,
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
    if let Some(a) = b.atomic {
        s.push_str(a.as_str());
        s.push(' ');
    }
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
    if matches!(verb, Verb::Read | Verb::Atomic) {
        s.push_str(&format!(" Outstand reads  : {}\n", b.out_reads));
    } else {
        s.push_str(&format!(" Max inline data : {}[B]\n", b.max_inline));
    }
    s.push_str(&format!(" rdma_cm QPs\t : {}\n", on_off(b.rdma_cm)));
    s.push_str(&format!(
        " Data ex. method : {}\n",
        if b.exchange_cm || b.rdma_cm {
            "rdma_cm"
        } else {
            "Ethernet"
        }
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
/// add `RKey`/`VAddr` (read also `OUT`); the atomic tests print neither, as the send tests.
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
    if matches!(verb, Verb::Write | Verb::Read) {
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
