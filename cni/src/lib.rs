//! InfiniBand SR-IOV CNI plugin (`ib-sriov`), the `rdma-validate` operator tool and the `ib-vf`
//! GUID tool, over the `rdma` verbs library.
//!
//! What the Go `ib-sriov-cni` does (same network config, same ADD/DEL steps), plus a validation
//! step: before ADD succeeds, a thread that entered the pod's network namespace opens the VF's
//! RDMA device, checks port, GIDs/LID, pkey, GUID and memlock, and runs a loopback RC self-test
//! (send/recv, RDMA write and read, bytes verified).
//!
//! Layout: [`spec`] is the CNI protocol (commands, environment, results, errors); [`config`] and
//! [`args`] the network config and `CNI_ARGS`; [`sysfs`] VF discovery under a configurable root;
//! [`netlink`] rtnetlink and RDMA netlink requests; [`netns`] running code inside a network
//! namespace; [`validate`] the checks and self-test; [`plugin`] ADD/DEL/CHECK/STATUS/GC.

pub mod args;
pub mod config;
/// Checks for the fuzz targets and their corpus replay (`fuzz/`): built only with `--cfg
/// fuzzing`, which cargo-fuzz and `fuzz/.cargo/config.toml` set.
#[cfg(fuzzing)]
pub mod fuzzing;
pub mod guid;
pub mod netlink;
pub mod netns;
pub mod pkey;
pub mod plugin;
pub mod spec;
pub mod sysfs;
mod text_type;
pub mod validate;

pub use guid::Guid;
pub use pkey::Pkey;
