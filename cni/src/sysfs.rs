//! Everything the plugin reads from (and the two driver files it writes to in) sysfs, under one
//! root.
//!
//! The root is `/sys` unless `$IB_SRIOV_SYSFS_ROOT` names another directory: tests point it at a
//! fixture tree that maps a fake VF PCI address to a real netdev and RDMA device. Paths used,
//! relative to the root (the same as the Go plugin):
//!
//! | what | path |
//! |---|---|
//! | the PCI device | `bus/pci/devices/<pci>` |
//! | it is a VF | `…/<pci>/physfn` exists (a link to the PF's PCI device) |
//! | PF netdev | first entry of `…/<pci>/physfn/net/` |
//! | VF index N | the `…/<pci>/physfn/virtfnN` link whose target is `<pci>` |
//! | VF netdev | first entry of `…/<pci>/net/` |
//! | VF RDMA device | entries of `…/<pci>/infiniband/` |
//! | rebind | write `<pci>` to `…/<pci>/driver/unbind`, then to `<that driver>/bind` |
//! | RDMA device of a software netdev | `class/infiniband/<dev>/parent` (rxe, siw) |

mod pci;

pub use pci::{PciAddr, PciAddrError};

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The environment variable that moves the sysfs root (tests, debugging).
pub const ROOT_ENV: &str = "IB_SRIOV_SYSFS_ROOT";

/// What went wrong reading sysfs.
#[derive(Debug, thiserror::Error)]
pub enum SysfsError {
    /// The PCI address text is malformed.
    #[error(transparent)]
    Pci(#[from] PciAddrError),
    /// No PCI device with this address.
    #[error("no PCI device {pci} ({path} does not exist): check deviceID")]
    NoPciDevice {
        /// The address asked for.
        pci: PciAddr,
        /// The directory that is missing.
        path: PathBuf,
    },
    /// The device exists but is not an SR-IOV virtual function.
    #[error("PCI device {pci} is not an SR-IOV VF (no {path}): deviceID must name a VF")]
    NotAVf {
        /// The address asked for.
        pci: PciAddr,
        /// The `physfn` link that is missing.
        path: PathBuf,
    },
    /// The PF has no network interface.
    #[error("the PF of VF {pci} has no network interface (nothing in {path})")]
    NoPfNetdev {
        /// The VF.
        pci: PciAddr,
        /// The PF's `net` directory.
        path: PathBuf,
    },
    /// No `virtfnN` link of the PF points at the VF.
    #[error("no virtfnN link in {path} points at VF {pci}")]
    NoVfIndex {
        /// The VF.
        pci: PciAddr,
        /// The PF's device directory.
        path: PathBuf,
    },
    /// No netdev of that name.
    #[error("no network interface {name} ({path} does not exist)")]
    NoNetdev {
        /// The interface name.
        name: String,
        /// The directory that is missing.
        path: PathBuf,
    },
    /// The device has no driver bound, so it cannot be rebound.
    #[error("PCI device {pci} has no driver bound ({path}): cannot rebind it")]
    NoDriver {
        /// The VF.
        pci: PciAddr,
        /// The `driver` link that is missing.
        path: PathBuf,
    },
    /// A rebind finished but the VF's netdev did not come back in time.
    #[error("VF {pci} has no network interface {waited:?} after rebinding its driver")]
    NetdevNotBack {
        /// The VF.
        pci: PciAddr,
        /// How long we waited.
        waited: Duration,
    },
    /// Any other I/O error, with the path.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
}

impl SysfsError {
    fn io(path: &Path) -> impl FnOnce(io::Error) -> SysfsError + '_ {
        move |source| SysfsError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// A VF as sysfs describes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VfInfo {
    /// The VF's PCI address.
    pub pci: PciAddr,
    /// The PF's network interface (the one rtnetlink VF requests go to).
    pub pf_netdev: String,
    /// The VF's index on its PF (N of `virtfnN`).
    pub vf_index: u32,
    /// The VF's network interface, if its driver made one.
    pub netdev: Option<String>,
    /// The VF's RDMA devices (normally exactly one).
    pub rdma_devices: Vec<String>,
}

/// A sysfs tree: `/sys`, or a fixture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysRoot {
    root: PathBuf,
}

impl SysRoot {
    /// The tree rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        SysRoot { root: root.into() }
    }

    /// `$IB_SRIOV_SYSFS_ROOT` if set and non-empty, else `/sys`.
    pub fn system() -> Self {
        match std::env::var_os(ROOT_ENV) {
            Some(r) if !r.is_empty() => SysRoot::new(r),
            _ => SysRoot::new("/sys"),
        }
    }

    /// The root directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    fn pci_dir(&self, pci: &PciAddr) -> PathBuf {
        self.root.join("bus/pci/devices").join(pci.as_str())
    }

    fn existing_pci_dir(&self, pci: &PciAddr) -> Result<PathBuf, SysfsError> {
        let dir = self.pci_dir(pci);
        if !dir.exists() {
            return Err(SysfsError::NoPciDevice {
                pci: pci.clone(),
                path: dir,
            });
        }
        Ok(dir)
    }

    /// Whether `pci` is an SR-IOV VF (has a `physfn` link).
    pub fn is_vf(&self, pci: &PciAddr) -> bool {
        self.pci_dir(pci).join("physfn").exists()
    }

    /// Everything about VF `pci`: PF netdev, VF index, VF netdev, RDMA devices.
    pub fn vf(&self, pci: &PciAddr) -> Result<VfInfo, SysfsError> {
        let dir = self.existing_pci_dir(pci)?;
        let physfn = dir.join("physfn");
        if !physfn.exists() {
            return Err(SysfsError::NotAVf {
                pci: pci.clone(),
                path: physfn,
            });
        }
        let pf_net = physfn.join("net");
        let pf_netdev =
            sorted_entries(&pf_net)?
                .into_iter()
                .next()
                .ok_or_else(|| SysfsError::NoPfNetdev {
                    pci: pci.clone(),
                    path: pf_net.clone(),
                })?;
        let vf_index = self.vf_index(pci, &physfn)?;
        Ok(VfInfo {
            pci: pci.clone(),
            pf_netdev,
            vf_index,
            netdev: self.netdevs_of_pci(pci)?.into_iter().next(),
            rdma_devices: self.rdma_devices_of_pci(pci.as_str())?,
        })
    }

    fn vf_index(&self, pci: &PciAddr, physfn: &Path) -> Result<u32, SysfsError> {
        let not_found = || SysfsError::NoVfIndex {
            pci: pci.clone(),
            path: physfn.to_owned(),
        };
        for name in sorted_entries(physfn)? {
            let Some(n) = name.strip_prefix("virtfn") else {
                continue;
            };
            let Ok(index) = n.parse::<u32>() else {
                continue;
            };
            let link = physfn.join(&name);
            let target = fs::read_link(&link).map_err(SysfsError::io(&link))?;
            if target.file_name().and_then(|f| f.to_str()) == Some(pci.as_str()) {
                return Ok(index);
            }
        }
        Err(not_found())
    }

    /// The PCI address of VF `vf` of the PF whose netdev is `pf_netdev`
    /// (`class/net/<pf>/device/virtfn<vf>`).
    pub fn vf_pci(&self, pf_netdev: &str, vf: u32) -> Result<PciAddr, SysfsError> {
        let net = self.root.join("class/net");
        if !is_plain_name(pf_netdev) || !net.join(pf_netdev).exists() {
            return Err(SysfsError::NoNetdev {
                name: pf_netdev.to_owned(),
                path: net.join(pf_netdev),
            });
        }
        let link = net.join(pf_netdev).join(format!("device/virtfn{vf}"));
        let target = fs::read_link(&link).map_err(SysfsError::io(&link))?;
        let name = target
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or_default();
        Ok(name.parse()?)
    }

    /// The network interfaces of PCI device `pci` (sorted; empty if it has none).
    pub fn netdevs_of_pci(&self, pci: &PciAddr) -> Result<Vec<String>, SysfsError> {
        let dir = self.existing_pci_dir(pci)?;
        entries_if_present(&dir.join("net"))
    }

    /// The RDMA devices of PCI device `pci` (sorted; empty if it has none).
    pub fn rdma_devices_of_pci(&self, pci: &str) -> Result<Vec<String>, SysfsError> {
        let pci: PciAddr = pci.parse()?;
        let dir = self.existing_pci_dir(&pci)?;
        entries_if_present(&dir.join("infiniband"))
    }

    /// The RDMA devices of network interface `ifname`: those of its PCI device, or, for a
    /// software device (rxe, siw) on a virtual netdev, those whose `parent` is `ifname`.
    pub fn rdma_devices_of_netdev(&self, ifname: &str) -> Result<Vec<String>, SysfsError> {
        if !is_plain_name(ifname) {
            return Err(SysfsError::NoNetdev {
                name: ifname.to_owned(),
                path: self.root.join("class/net"),
            });
        }
        let net = self.root.join("class/net").join(ifname);
        if !net.exists() {
            return Err(SysfsError::NoNetdev {
                name: ifname.to_owned(),
                path: net,
            });
        }
        let mut found = entries_if_present(&net.join("device/infiniband"))?;
        if found.is_empty() {
            let class = self.root.join("class/infiniband");
            for dev in entries_if_present(&class)? {
                let parent = class.join(&dev).join("parent");
                match fs::read_to_string(&parent) {
                    Ok(p) if p.trim() == ifname => found.push(dev),
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(SysfsError::io(&parent)(e)),
                }
            }
        }
        Ok(found)
    }

    /// Unbinds VF `pci` from its driver and binds it again (what makes a new GUID take
    /// effect), then waits up to `wait` for its netdev to reappear and returns its name.
    pub fn rebind(&self, pci: &PciAddr, wait: Duration) -> Result<Option<String>, SysfsError> {
        let dir = self.existing_pci_dir(pci)?;
        let had_netdev = !self.netdevs_of_pci(pci)?.is_empty();
        let link = dir.join("driver");
        let driver = fs::canonicalize(&link).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => SysfsError::NoDriver {
                pci: pci.clone(),
                path: link.clone(),
            },
            _ => SysfsError::io(&link)(e),
        })?;
        let unbind = driver.join("unbind");
        fs::write(&unbind, pci.as_str()).map_err(SysfsError::io(&unbind))?;
        let bind = driver.join("bind");
        fs::write(&bind, pci.as_str()).map_err(SysfsError::io(&bind))?;
        if !had_netdev {
            return Ok(None);
        }
        let start = Instant::now();
        loop {
            if let Some(n) = self.netdevs_of_pci(pci)?.into_iter().next() {
                return Ok(Some(n));
            }
            if start.elapsed() >= wait {
                return Err(SysfsError::NetdevNotBack {
                    pci: pci.clone(),
                    waited: wait,
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A single path component: no `/`, not `.`/`..`, not empty, no NUL.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

/// The entry names of `dir`, sorted; an error if it cannot be read.
fn sorted_entries(dir: &Path) -> Result<Vec<String>, SysfsError> {
    let mut names = Vec::new();
    for e in fs::read_dir(dir).map_err(SysfsError::io(dir))? {
        let e = e.map_err(SysfsError::io(dir))?;
        if let Some(n) = e.file_name().to_str() {
            names.push(n.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// Like [`sorted_entries`], but a missing directory is empty.
fn entries_if_present(dir: &Path) -> Result<Vec<String>, SysfsError> {
    match sorted_entries(dir) {
        Err(SysfsError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            Ok(Vec::new())
        }
        r => r,
    }
}

#[cfg(test)]
mod tests;
