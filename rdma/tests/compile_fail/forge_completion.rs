//! Completions come from the device only: a WorkCompletion with chosen contents (say, the
//! wr_id of a receive still in flight) cannot be built to trick a QP into returning a buffer.
use rdma_verbs::{sys, WorkCompletion};

fn forge() -> WorkCompletion {
    WorkCompletion(sys::ibv_wc {
        wr_id: 1 << 63 | 1,
        ..Default::default()
    })
}

fn main() {}
