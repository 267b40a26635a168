//! Opening the device the options name, with the C tools' messages.

use rdma_verbs::{Context, DeviceList, Error};

use crate::args::Opts;
use crate::output::{fail, strerror, Failed};

/// `ibv_get_device_list`, the `-d` device (or the first) and `ibv_open_device`, as the C
/// tools' `main` and `pp_init_ctx` do them.
pub(crate) fn open_device(o: &Opts) -> Result<Context, Failed> {
    let v = o.variant;
    let list = DeviceList::new().map_err(|e| match e {
        Error::Verb { source, .. } => fail!(format!(
            "Failed to get IB devices list: {}",
            strerror(&source)
        )),
        e => fail!("Failed to get IB devices list", v.detail(&e)),
    })?;
    let dev = list
        .find(o.ib_dev.as_deref())
        .map_err(|e| match &o.ib_dev {
            Some(name) => fail!(format!("IB device {name} not found"), v.detail(&e)),
            None => fail!("No IB devices found", v.detail(&e)),
        })?;
    dev.open().map_err(|e| {
        fail!(
            format!("Couldn't get context for {}", dev.name()),
            v.detail(&e)
        )
    })
}
