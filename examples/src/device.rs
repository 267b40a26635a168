//! The device options the examples share (`-d`, `-i`, `-g`, as `ibv_rc_pingpong` spells them)
//! and opening that device's port: ACTIVE, with a valid MTU, and the GID to address it by.

use clap::Args;
use rdma_verbs::gid::Gid;
use rdma_verbs::{Context, Mtu, PortAttr};

use crate::output::Failure;

/// Which device and port to use, and how to address it.
#[derive(Args, Debug, Clone)]
pub struct DeviceArgs {
    /// RDMA device to use [default: the first one]
    #[arg(short = 'd', long = "ib-dev", value_name = "DEVICE")]
    pub ib_dev: Option<String>,

    /// Port of the RDMA device
    #[arg(short = 'i', long = "ib-port", value_name = "PORT", default_value_t = 1,
          value_parser = clap::value_parser!(u8).range(1..))]
    pub ib_port: u8,

    /// GID index [default: the best RoCE v2 GID as perftest picks it; none on InfiniBand]
    #[arg(short = 'g', long = "gid-idx", value_name = "INDEX")]
    pub gid_idx: Option<u32>,
}

/// An opened device with its port checked and its address chosen.
pub struct OpenPort {
    /// The device.
    pub ctx: Context,
    /// The port number.
    pub num: u8,
    /// The port's attributes (ACTIVE).
    pub attr: PortAttr,
    /// Its active MTU.
    pub mtu: Mtu,
    /// The GID index to address the port by (`None`: LID addressing, InfiniBand only).
    pub gid_index: Option<u32>,
    /// That GID (zero with LID addressing).
    pub gid: Gid,
}

impl DeviceArgs {
    /// Opens the device and checks the port: it must exist and be ACTIVE with a valid MTU;
    /// the GID index is the one asked for (which must exist) or the perftest-like default.
    pub fn open(&self) -> Result<OpenPort, Failure> {
        let ctx = Context::open(self.ib_dev.as_deref())?;
        let ports = ctx.query_device()?.phys_port_cnt();
        if self.ib_port > ports {
            return Err(Failure(format!(
                "{} has no port {} (its ports are 1..={ports})",
                ctx.name(),
                self.ib_port
            )));
        }
        let attr = ctx.active_port(self.ib_port)?;
        let mtu = attr.active_mtu().ok_or_else(|| {
            Failure(format!(
                "port {} of {} reports no valid active MTU",
                self.ib_port,
                ctx.name()
            ))
        })?;
        let gid_index = match self.gid_idx {
            Some(i) => {
                // Fails with a message naming the table size when the entry is absent or empty.
                ctx.gid_entry(self.ib_port, i)?;
                Some(i)
            }
            None => ctx.default_gid_index(self.ib_port)?,
        };
        let gid = match gid_index {
            Some(i) => ctx.query_gid(self.ib_port, i)?,
            None => Gid::ZERO,
        };
        Ok(OpenPort {
            ctx,
            num: self.ib_port,
            attr,
            mtu,
            gid_index,
            gid,
        })
    }
}

impl OpenPort {
    /// `GID index N`, or `LID addressing`.
    pub fn addressing(&self) -> String {
        self.gid_index
            .map_or("LID addressing".into(), |i| format!("GID index {i}"))
    }
}
