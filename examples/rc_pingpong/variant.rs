//! What differs between the ping-pong tools this code implements: `rc_pingpong` (a drop-in for
//! `ibv_rc_pingpong`), `uc_pingpong` (for `ibv_uc_pingpong`), `srq_pingpong` (for
//! `ibv_srq_pingpong`) and `ud_pingpong` (for `ibv_ud_pingpong`). Each binary's `main.rs`
//! defines its `Variant`; `rc_pingpong` and `uc_pingpong` hand it to [`crate::run::main`],
//! `srq_pingpong` and `ud_pingpong` to their own loops. The command line, the output helpers
//! and the watchdog of `examples/rc_pingpong/` serve all four.

use rdma_verbs::QpType;

/// Which C tool's command line a variant has: each knows its own set of options.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Tool {
    /// `ibv_rc_pingpong`.
    Rc,
    /// `ibv_uc_pingpong`.
    Uc,
    /// `ibv_srq_pingpong`.
    Srq,
    /// `ibv_ud_pingpong`.
    Ud,
}

impl Tool {
    /// The C tool's default `--size`: 1024 for `ibv_ud_pingpong` (whose usage text says
    /// 2048), 4096 for the others.
    pub(crate) fn default_size(self) -> u32 {
        match self {
            Tool::Ud => 1024,
            Tool::Rc | Tool::Uc | Tool::Srq => 4096,
        }
    }

    /// The smallest `--size` accepted: 0 for `ibv_ud_pingpong` (which registers `size + 40`
    /// bytes, so zero-length messages work), 1 for the others (their C tools fail to register
    /// a zero-byte buffer).
    pub(crate) fn min_size(self) -> u32 {
        match self {
            Tool::Ud => 0,
            Tool::Rc | Tool::Uc | Tool::Srq => 1,
        }
    }
}

/// One tool: its transport, its names and the parts of its command line and output that the
/// C tools do not share.
#[derive(Debug)]
pub(crate) struct Variant {
    /// This program's name (`rc_pingpong`), which prefixes our own explanatory lines.
    pub(crate) name: &'static str,
    /// The C tool it replaces (`ibv_rc_pingpong`), named when an option is not supported.
    pub(crate) c_tool: &'static str,
    /// Whose options it takes.
    pub(crate) tool: Tool,
    /// The QP type the C tool creates (`IBV_QPT_RC`, `IBV_QPT_UC` or `IBV_QPT_UD`).
    pub(crate) qp_type: QpType,
    /// Usage lines of options printed after `-m, --mtu` (with newlines).
    pub(crate) usage_qp_options: &'static str,
    /// Usage lines of the variant's own options, printed after `-c, --chk` (with newlines).
    pub(crate) usage_options: &'static str,
    /// Usage lines printed before the closing `Memory:` line (with newlines).
    pub(crate) usage_notes: &'static str,
    /// What the closing `Memory: registers ...` line says is registered.
    pub(crate) usage_memory: &'static str,
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
