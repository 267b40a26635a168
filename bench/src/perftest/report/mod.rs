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

mod banner;
mod extra;
mod rows;

pub use banner::{address, banner, BannerInfo, Side, RESULT_LINE, WAITING_FOR_CLIENT};
pub use extra::{
    counter_lines, cpu_util, parse_proc_stat, sample_lists, with_cpu_util_header,
    with_cpu_util_row, SampleLists,
};
pub use rows::{
    bw_header, bw_row, lat_dur_header, lat_dur_row, lat_header, lat_row, output_value,
    LatDurResult, LatResult, BW_HEADER_GB, BW_HEADER_MB, LAT_DUR_HEADER, LAT_HEADER,
};

#[cfg(test)]
mod tests;
