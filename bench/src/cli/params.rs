//! The test parameters after perftest's defaults and adjustments.

use super::args::PerfArgs;
use rdma_bench::perftest::stats::BwUnit;
use std::time::Duration;

/// Which test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `ib_write_bw`.
    WriteBw,
    /// `ib_write_lat`.
    WriteLat,
}

/// Resolved parameters.
#[derive(Debug, Clone)]
pub struct Params {
    pub kind: Kind,
    pub host: Option<String>,
    pub device: Option<String>,
    pub ib_port: u8,
    pub gid_index: Option<u32>,
    pub size: u64,
    pub iters: u64,
    pub tx_depth: u32,
    pub cq_mod: u32,
    pub port: u16,
    pub mtu: Option<u32>,
    pub unit: BwUnit,
    pub timeout: Duration,
}

/// perftest's `CQ Moderation` is forced to 1 above this size unless `-Q` is given.
const CQ_MOD_SIZE_LIMIT: u64 = 8192;

impl Params {
    /// Applies perftest's defaults: size, iterations and TX depth per test; TX depth at
    /// most the iterations; CQ moderation at most the TX depth, and 1 for sizes above
    /// 8 KiB unless given.
    pub fn resolve(kind: Kind, a: &PerfArgs) -> Result<Params, String> {
        a.check_supported()?;
        let (def_size, def_iters, def_tx) = match kind {
            Kind::WriteBw => (65536, 5000, 128),
            Kind::WriteLat => (2, 1000, 1),
        };
        let size = a.size.unwrap_or(def_size);
        if size == 0 || size > (1 << 31) {
            return Err(format!("invalid message size {size}"));
        }
        let iters = a.iters.unwrap_or(def_iters);
        // perftest's latency statistics drop the last samples; it requires at least 5.
        if iters < 5 {
            return Err(format!("iterations must be at least 5 (got {iters})"));
        }
        let tx = a.tx_depth.unwrap_or(def_tx);
        if tx == 0 {
            return Err("TX depth must be positive".into());
        }
        let tx_depth = u64::from(tx).min(iters) as u32;
        let mut cq_mod = a.cq_mod.unwrap_or(100);
        if cq_mod == 0 {
            return Err("CQ moderation must be positive".into());
        }
        if a.cq_mod.is_none() && size > CQ_MOD_SIZE_LIMIT {
            cq_mod = 1;
        }
        cq_mod = cq_mod.min(tx_depth);
        if let Some(m) = a.mtu {
            if rdma::Mtu::from_bytes(m).is_none() {
                return Err(format!("invalid MTU {m}: 256, 512, 1024, 2048 or 4096"));
            }
        }
        if !(a.timeout.is_finite() && a.timeout > 0.0) {
            return Err(format!("invalid timeout {}", a.timeout));
        }
        Ok(Params {
            kind,
            host: a.host.clone(),
            device: a.device.clone(),
            ib_port: a.ib_port,
            gid_index: a.gid_index,
            size,
            iters,
            tx_depth,
            cq_mod,
            port: a.port,
            mtu: a.mtu,
            unit: if a.report_gbits {
                BwUnit::Gbps
            } else {
                BwUnit::MBps
            },
            timeout: Duration::from_secs_f64(a.timeout),
        })
    }
}
