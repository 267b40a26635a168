//! The CNI protocol, spec 1.0.0 and 1.1.0, and the older versions runtimes still send (0.4.0,
//! 0.3.x, and 0.1.0/0.2.0 with their `ip4`/`ip6` results): the command and its environment, the
//! versions, results and the error object.
//!
//! A plugin reads the network config on stdin and `CNI_*` variables, prints a result (ADD),
//! nothing (DEL, CHECK, STATUS, GC) or a version object (VERSION) on stdout, and on failure
//! prints an [`Error`] object and exits non-zero.

mod cidr;
mod command;
pub mod env;
mod error;
mod result;
mod version;

pub use cidr::{Cidr, CidrError};
pub use command::Command;
pub use env::{Env, EnvError};
pub use error::{Code, Error};
pub use result::{Dns, Interface, IpConfig, Result, Route};
pub use version::{Version, VersionError, SUPPORTED_VERSIONS};
