//! Raw FFI to the system's libibverbs: bindgen output plus the header's `static inline`
//! verbs re-implemented in Rust. Nothing here is safe to call without reading verbs(3).
//!
//! The safe API lives in the sibling modules; this module holds no logic of its own beyond
//! mirroring `<infiniband/verbs.h>`.
#![allow(
    non_upper_case_globals,
    non_camel_case_types,
    non_snake_case,
    dead_code,
    missing_docs,
    clippy::all,
    unsafe_op_in_unsafe_fn,
    rustdoc::all
)]

/// The bindgen output, whose generated unsafe blocks carry no SAFETY comments (the other
/// lints are allowed for the whole module, above).
#[allow(clippy::undocumented_unsafe_blocks)]
mod bindings {
    include!(concat!(env!("OUT_DIR"), "/verbs.rs"));
}
pub use bindings::*;

mod inline;
pub use inline::*;

mod cq_ex;
pub use cq_ex::*;

mod providers;
pub use providers::register_static_providers;

/// The signature of the verbs that destroy an object (`ibv_close_device`, `ibv_dealloc_pd`,
/// `ibv_destroy_cq`, `ibv_dereg_mr`, `ibv_destroy_qp`): what the safe types made from raw
/// parts call when dropped.
pub type DestroyFn<T> = unsafe extern "C" fn(*mut T) -> std::ffi::c_int;

/// Raw FFI to the system's librdmacm (`<rdma/rdma_cma.h>`), feature `cm`. The `ibv_*` types
/// it refers to are the verbs bindings of the parent module (one definition of each).
#[cfg(feature = "cm")]
pub mod cm {
    #![allow(
        non_upper_case_globals,
        non_camel_case_types,
        non_snake_case,
        dead_code
    )]
    #![allow(missing_docs, clippy::all, unsafe_op_in_unsafe_fn, rustdoc::all)]
    #![allow(clippy::undocumented_unsafe_blocks)]
    use super::*;
    include!(concat!(env!("OUT_DIR"), "/rdmacm.rs"));
}
