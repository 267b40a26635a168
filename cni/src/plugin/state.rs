//! What ADD did, saved for DEL (and CHECK): one JSON file per attachment,
//! `<state dir>/<containerID>-<ifname>`, mode 0600, written atomically.
//!
//! The file is ADD's journal: it is written before ADD changes anything (which also claims the
//! VF), and again before each step, so a step is on disk before it starts. DEL undoes the
//! listed steps in reverse, which is also what ADD does itself when a later step fails; every
//! undo also holds for a step that had not started, so a plugin killed anywhere leaves a file
//! from which DEL restores the node. `complete` is set once ADD has succeeded.

use crate::guid::Guid;
use crate::netlink::VfLinkState;
use crate::spec::{self, Code, Error};
use crate::sysfs::PciAddr;
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// One completed step of ADD, with what its undo needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// The VF's link state was set through the PF; undo sets it back.
    LinkState {
        /// PF netdev.
        pf: String,
        /// VF index.
        vf: u32,
        /// The state before (the Go plugin restores `auto`; we restore what was there when
        /// the kernel reported it).
        before: VfLinkState,
    },
    /// Node and port GUID were set and the VF rebound; undo restores the saved GUID.
    Guid {
        /// PF netdev.
        pf: String,
        /// VF index.
        vf: u32,
        /// VF PCI address (to rebind).
        pci: PciAddr,
        /// The GUID before, if it was known.
        before: Option<Guid>,
    },
    /// The VF's RDMA device was moved into the pod's network namespace.
    RdmaMoved {
        /// RDMA device name.
        device: String,
        /// Its RDMA netlink index (stable across namespaces).
        index: u32,
    },
    /// The VF netdev was moved into the pod and renamed.
    NetdevMoved {
        /// Its name on the host.
        original: String,
        /// Its name in the pod (`CNI_IFNAME`).
        ifname: String,
        /// Whether it was administratively up on the host (undo sets it up again).
        #[serde(default)]
        was_up: bool,
    },
    /// The IPAM plugin allocated addresses.
    Ipam {
        /// The plugin's file name.
        plugin: String,
    },
}

/// The saved state of one attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// Format version of this file.
    pub version: u32,
    /// The network's `name` (GC matches attachments by it).
    pub network: String,
    /// `CNI_CONTAINERID`.
    pub container_id: String,
    /// `CNI_IFNAME`.
    pub ifname: String,
    /// `CNI_NETNS` at ADD.
    pub netns: PathBuf,
    /// The VF.
    pub pci: PciAddr,
    /// The RDMA device validated (if any).
    pub rdma_device: Option<String>,
    /// The network config ADD got (IPAM DEL needs it).
    pub config: String,
    /// The steps begun, in order (each is written before it starts).
    pub steps: Vec<Step>,
    /// Whether ADD succeeded; `false` while it runs, and after it was killed or failed with
    /// steps it could not undo.
    #[serde(default = "complete_by_default")]
    pub complete: bool,
    /// The result ADD printed (empty until ADD succeeded).
    #[serde(default)]
    pub result: spec::Result,
}

/// Files written before the journal existed were written only by a successful ADD.
fn complete_by_default() -> bool {
    true
}

/// The current format version.
pub const STATE_VERSION: u32 = 1;

/// The file of attachment (`container_id`, `ifname`) in `dir`.
pub fn path_of(dir: &Path, container_id: &str, ifname: &str) -> PathBuf {
    dir.join(format!("{container_id}-{ifname}"))
}

/// The temporary file a save writes before renaming it over [`path_of`]: hidden (a container
/// ID never starts with '.'), so no attachment's name can collide with it.
fn tmp_of(dir: &Path, container_id: &str, ifname: &str) -> PathBuf {
    dir.join(format!(".{container_id}-{ifname}.tmp"))
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::new(
        Code::State,
        format!("cannot {what} state file {}: {e}", path.display()),
    )
}

impl State {
    /// Writes the state (temporary file, fsync, rename), mode 0600.
    pub fn save(&self, dir: &Path) -> Result<PathBuf, Error> {
        fs::create_dir_all(dir).map_err(|e| io_error("create the directory of the", dir, e))?;
        let path = path_of(dir, &self.container_id, &self.ifname);
        let tmp = tmp_of(dir, &self.container_id, &self.ifname);
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::new(Code::State, format!("cannot encode state: {e}")))?;
        let write = || -> std::io::Result<()> {
            let mut f = fs::OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&json)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io_error("write", &path, e)
        })?;
        Ok(path)
    }

    /// Reads the state of an attachment; `Ok(None)` when there is none.
    pub fn load(dir: &Path, container_id: &str, ifname: &str) -> Result<Option<State>, Error> {
        Self::load_path(&path_of(dir, container_id, ifname))
    }

    /// Reads a state file; `Ok(None)` when it does not exist.
    pub fn load_path(path: &Path) -> Result<Option<State>, Error> {
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error("read", path, e)),
        };
        let state: State = serde_json::from_slice(&bytes).map_err(|e| {
            Error::new(
                Code::State,
                format!("state file {} is corrupt: {e}", path.display()),
            )
        })?;
        if state.version != STATE_VERSION {
            return Err(Error::new(
                Code::State,
                format!(
                    "state file {} has format version {}, this plugin reads {STATE_VERSION}",
                    path.display(),
                    state.version
                ),
            ));
        }
        Ok(Some(state))
    }

    /// Removes the state file, and the temporary file of a save that was cut short (absent
    /// is fine).
    pub fn remove(dir: &Path, container_id: &str, ifname: &str) -> Result<(), Error> {
        for path in [
            tmp_of(dir, container_id, ifname),
            path_of(dir, container_id, ifname),
        ] {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error("remove", &path, e)),
            }
        }
        Ok(())
    }

    /// The attachment other than (`container_id`, `ifname`) whose state names VF `pci`, if
    /// any: ADD must not touch a VF another pod holds. A state file that cannot be read counts
    /// as holding nothing (GC and DEL report it).
    pub fn holder_of(dir: &Path, pci: &PciAddr, container_id: &str, ifname: &str) -> Option<State> {
        State::all(dir).into_iter().find_map(|(_, s)| {
            s.ok()
                .filter(|s| s.pci == *pci && (s.container_id != container_id || s.ifname != ifname))
        })
    }

    /// Every state file in `dir` (for GC); unreadable ones are returned as errors.
    pub fn all(dir: &Path) -> Vec<(PathBuf, Result<State, Error>)> {
        let Ok(rd) = fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for e in rd.flatten() {
            let p = e.path();
            let hidden = p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if hidden || !p.is_file() {
                continue;
            }
            match State::load_path(&p) {
                Ok(Some(s)) => out.push((p, Ok(s))),
                Ok(None) => {}
                Err(err) => out.push((p, Err(err))),
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn sample() -> State {
        State {
            version: STATE_VERSION,
            network: "ib-net".into(),
            container_id: "c1".into(),
            ifname: "net1".into(),
            netns: "/run/netns/p".into(),
            pci: "0000:03:00.2".parse().unwrap(),
            rdma_device: Some("mlx5_3".into()),
            config: "{}".into(),
            steps: vec![
                Step::LinkState {
                    pf: "ib0".into(),
                    vf: 1,
                    before: VfLinkState::Auto,
                },
                Step::Guid {
                    pf: "ib0".into(),
                    vf: 1,
                    pci: "0000:03:00.2".parse().unwrap(),
                    before: Some("02:00:00:00:00:00:00:01".parse().unwrap()),
                },
                Step::RdmaMoved {
                    device: "mlx5_3".into(),
                    index: 4,
                },
                Step::NetdevMoved {
                    original: "ib1".into(),
                    ifname: "net1".into(),
                    was_up: true,
                },
                Step::Ipam {
                    plugin: "host-local".into(),
                },
            ],
            complete: true,
            result: spec::Result::default(),
        }
    }

    #[test]
    fn saves_privately_and_loads_back() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("state");
        let p = sample().save(&dir).unwrap();
        assert_eq!(p, dir.join("c1-net1"));
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(State::load(&dir, "c1", "net1").unwrap(), Some(sample()));
        assert_eq!(State::all(&dir).len(), 1);
        State::remove(&dir, "c1", "net1").unwrap();
        State::remove(&dir, "c1", "net1").unwrap();
        assert_eq!(State::load(&dir, "c1", "net1").unwrap(), None);
    }

    #[test]
    fn corrupt_or_foreign_files_are_errors_naming_the_file() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("c1-net1"), "{").unwrap();
        let e = State::load(d.path(), "c1", "net1").unwrap_err();
        assert_eq!(e.code, Code::State);
        assert!(
            e.msg.contains("c1-net1") && e.msg.contains("corrupt"),
            "{}",
            e.msg
        );
        let mut s = sample();
        s.version = 99;
        fs::write(d.path().join("c1-net1"), serde_json::to_vec(&s).unwrap()).unwrap();
        let e = State::load(d.path(), "c1", "net1").unwrap_err();
        assert!(e.msg.contains("format version 99"), "{}", e.msg);
    }

    #[test]
    fn a_file_from_before_the_journal_is_complete() {
        let d = tempfile::tempdir().unwrap();
        let mut v = serde_json::to_value(sample()).unwrap();
        v.as_object_mut().unwrap().remove("complete");
        v["steps"][3].as_object_mut().unwrap().remove("was_up");
        fs::write(d.path().join("c1-net1"), v.to_string()).unwrap();
        let s = State::load(d.path(), "c1", "net1").unwrap().unwrap();
        assert!(s.complete);
        assert!(matches!(
            s.steps[3],
            Step::NetdevMoved { was_up: false, .. }
        ));
    }

    #[test]
    fn remove_takes_a_cut_short_save_with_it_and_listing_skips_it() {
        let d = tempfile::tempdir().unwrap();
        // A container ID with a dot: its temporary file must not be another attachment's.
        let mut s = sample();
        s.container_id = "pod.1".into();
        s.save(d.path()).unwrap();
        fs::write(d.path().join(".pod.1-net1.tmp"), "{").unwrap();
        fs::write(d.path().join(".pod.2-net1.tmp"), "{").unwrap();
        assert_eq!(
            State::all(d.path()).len(),
            1,
            "hidden files are not attachments"
        );
        State::remove(d.path(), "pod.1", "net1").unwrap();
        let left: Vec<_> = fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, [".pod.2-net1.tmp"]);
    }

    #[test]
    fn the_holder_of_a_vf_is_another_attachment_naming_it() {
        let d = tempfile::tempdir().unwrap();
        let s = sample();
        s.save(d.path()).unwrap();
        let pci: PciAddr = "0000:03:00.2".parse().unwrap();
        let other: PciAddr = "0000:03:00.3".parse().unwrap();
        let holder = State::holder_of(d.path(), &pci, "c2", "net1").unwrap();
        assert_eq!(
            (holder.container_id.as_str(), holder.ifname.as_str()),
            ("c1", "net1")
        );
        assert!(
            State::holder_of(d.path(), &pci, "c1", "net1").is_none(),
            "itself"
        );
        assert!(State::holder_of(d.path(), &other, "c2", "net1").is_none());
        assert!(State::holder_of(d.path(), &pci, "c1", "net2").is_some());
    }
}
