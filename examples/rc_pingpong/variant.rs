//! What differs between the ping-pong tools this code implements: `rc_pingpong` (a drop-in for
//! `ibv_rc_pingpong`) and `uc_pingpong` (for `ibv_uc_pingpong`). Each binary's `main.rs`
//! defines its `Variant` and hands it to [`crate::run::main`]; every other module of
//! `examples/rc_pingpong/` is shared by both binaries.

use rdma_verbs::QpType;

/// One tool: its transport, its names and the parts of its command line and output that the
/// C tools do not share.
#[derive(Debug)]
pub(crate) struct Variant {
    /// This program's name (`rc_pingpong`), which prefixes our own explanatory lines.
    pub(crate) name: &'static str,
    /// The C tool it replaces (`ibv_rc_pingpong`), named when an option is not supported.
    pub(crate) c_tool: &'static str,
    /// The QP type the C tool creates (`IBV_QPT_RC` or `IBV_QPT_UC`).
    pub(crate) qp_type: QpType,
    /// Usage lines of the variant's own options, printed after `-c, --chk` (with newlines).
    pub(crate) usage_options: &'static str,
    /// Usage lines printed before the closing `Memory:` line (with newlines).
    pub(crate) usage_notes: &'static str,
    /// Whether a failed completion is followed by `parse WC failed <ne>`, as
    /// `ibv_rc_pingpong`'s `parse_single_wc` caller prints (`ibv_uc_pingpong` does not).
    pub(crate) parse_wc_failed_line: bool,
}

impl Variant {
    /// The extra line that explains a failure the C tool reports with a fixed message.
    pub(crate) fn detail(&self, e: &dyn std::fmt::Display) -> String {
        format!("{}: {e}", self.name)
    }
}
