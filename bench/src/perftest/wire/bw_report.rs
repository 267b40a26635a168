//! The BW report ([`BwReportMsg`], 5 × 8 bytes): the client's result, which the server
//! prints.

use super::error::WireError;

/// Size of one BW report message.
pub const BW_REPORT_FIELD_LEN: usize = 8;

/// Size of the five BW report messages together.
pub const BW_REPORT_LEN: usize = 5 * BW_REPORT_FIELD_LEN;

/// `xchg_bw_reports`: five 8-byte exchanges, in this order. Unidirectional
/// `ib_write_bw`: the client sends its result and the server prints it; the server's
/// own report is uninitialized stack memory in 6.06 (captured: garbage), so what a
/// client receives must not be trusted. Any 40 bytes decode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BwReportMsg {
    /// Message size in bytes (`unsigned long`, BE).
    pub size: u64,
    /// Iterations (times QPs) (`uint64_t`, BE).
    pub iters: u64,
    /// Peak bandwidth (BE `double`) in the report unit (MB/s or Gb/s).
    pub bw_peak: f64,
    /// Average bandwidth (BE `double`).
    pub bw_avg: f64,
    /// Message rate in Mpps (BE `double`).
    pub msg_rate: f64,
}

const BW_REPORT: &str = "bw report";

impl BwReportMsg {
    /// The five messages, in exchange order.
    pub fn fields(&self) -> [[u8; BW_REPORT_FIELD_LEN]; 5] {
        [
            self.size.to_be_bytes(),
            self.iters.to_be_bytes(),
            self.bw_peak.to_bits().to_be_bytes(),
            self.bw_avg.to_bits().to_be_bytes(),
            self.msg_rate.to_bits().to_be_bytes(),
        ]
    }

    /// The five messages, concatenated.
    pub fn encode(&self) -> [u8; BW_REPORT_LEN] {
        let mut out = [0u8; BW_REPORT_LEN];
        for (i, f) in self.fields().iter().enumerate() {
            out[i * 8..(i + 1) * 8].copy_from_slice(f);
        }
        out
    }

    /// From the five received messages.
    pub fn from_fields(f: &[[u8; BW_REPORT_FIELD_LEN]; 5]) -> BwReportMsg {
        BwReportMsg {
            size: u64::from_be_bytes(f[0]),
            iters: u64::from_be_bytes(f[1]),
            bw_peak: f64::from_bits(u64::from_be_bytes(f[2])),
            bw_avg: f64::from_bits(u64::from_be_bytes(f[3])),
            msg_rate: f64::from_bits(u64::from_be_bytes(f[4])),
        }
    }

    /// Parses the five messages, concatenated (40 bytes).
    pub fn parse(bytes: &[u8]) -> Result<BwReportMsg, WireError> {
        if bytes.len() != BW_REPORT_LEN {
            return Err(WireError::Length {
                msg: BW_REPORT,
                expected: "40",
                got: bytes.len(),
            });
        }
        let mut f = [[0u8; 8]; 5];
        for (i, chunk) in bytes.chunks_exact(8).enumerate() {
            f[i].copy_from_slice(chunk);
        }
        Ok(Self::from_fields(&f))
    }

    /// Bitwise equality (NaNs included), for round-trip checks.
    pub fn bits_eq(&self, other: &BwReportMsg) -> bool {
        self.encode() == other.encode()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bw_report_captured() {
        // The client's report of the captured ib_write_bw run (65536 B, 200 iters).
        let hex =
            "0000000000010000 00000000000000c8 404139feb9375539 40409e39270961e1 3f416ce05bc9f0c5";
        let bytes: Vec<u8> = hex
            .split(' ')
            .flat_map(|w| u64::from_str_radix(w, 16).unwrap().to_be_bytes())
            .collect();
        let r = BwReportMsg::parse(&bytes).unwrap();
        assert_eq!(r.size, 65536);
        assert_eq!(r.iters, 200);
        assert_eq!(crate::perftest::cfmt::float(r.bw_peak, 2), "34.45");
        assert_eq!(crate::perftest::cfmt::float(r.bw_avg, 2), "33.24");
        assert_eq!(crate::perftest::cfmt::float(r.msg_rate, 6), "0.000532");
        assert_eq!(r.encode().to_vec(), bytes);
        assert!(BwReportMsg::parse(&bytes[..39]).is_err());
    }
}
