//! ADD's journal: the attachment's state file, written before ADD changes anything and again
//! before each step, so that whatever kills the plugin, DEL finds every step that may have
//! started (see [`super::state`]).

use super::state::{self, State, Step};
use crate::spec::{self, Code, Error};
use std::path::Path;

/// An open journal: the state of one attachment while ADD runs.
#[derive(Debug)]
pub struct Journal<'a> {
    dir: &'a Path,
    state: State,
}

impl<'a> Journal<'a> {
    /// Claims `state.pci` for the attachment and writes the journal with no step yet. Refused
    /// when another attachment holds the VF, or this attachment exists already. The caller
    /// holds the node lock, so no other ADD can claim the VF meanwhile.
    pub fn begin(dir: &'a Path, state: State) -> Result<Journal<'a>, Error> {
        if let Some(h) = State::holder_of(dir, &state.pci, &state.container_id, &state.ifname) {
            return Err(Error::new(
                Code::Device,
                format!(
                    "VF {} is in use by attachment {}/{} (network {:?}, pod namespace {}): the device plugin gave one VF to two pods, or that pod was never deleted",
                    state.pci,
                    h.container_id,
                    h.ifname,
                    h.network,
                    h.netns.display()
                ),
            ));
        }
        if State::load(dir, &state.container_id, &state.ifname)?.is_some() {
            return Err(Error::new(
                Code::State,
                format!(
                    "attachment {}/{} exists already ({}): DEL it before adding it again",
                    state.container_id,
                    state.ifname,
                    state::path_of(dir, &state.container_id, &state.ifname).display()
                ),
            ));
        }
        let journal = Journal { dir, state };
        journal.state.save(dir)?;
        Ok(journal)
    }

    /// Writes `step` to the journal before it starts. On failure the step is not listed (and
    /// must not start).
    pub fn record(&mut self, step: Step) -> Result<(), Error> {
        self.state.steps.push(step);
        if let Err(e) = self.state.save(self.dir) {
            self.state.steps.pop();
            return Err(e);
        }
        Ok(())
    }

    /// The steps begun so far, in order.
    pub fn steps(&self) -> &[Step] {
        &self.state.steps
    }

    /// Marks the state complete with `result` and writes it for DEL and CHECK. On failure
    /// the file on disk still lists every step, not complete.
    pub fn complete(&mut self, result: &spec::Result) -> Result<(), Error> {
        self.state.complete = true;
        self.state.result = result.clone();
        self.state.save(self.dir).map(drop).inspect_err(|_| {
            self.state.complete = false;
        })
    }

    /// After ADD's rollback: the journal goes when every step was undone; else it keeps the
    /// steps that were not, for DEL to retry. Returns why the journal could not be updated.
    pub fn rolled_back(mut self, failed: &[(Step, Error)]) -> Option<Error> {
        let st = &self.state;
        if failed.is_empty() {
            return State::remove(self.dir, &st.container_id, &st.ifname).err();
        }
        self.state.steps = failed.iter().map(|(s, _)| s.clone()).collect();
        self.state.save(self.dir).err()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::VfLinkState;

    fn state(container: &str, pci: &str) -> State {
        State {
            version: state::STATE_VERSION,
            network: "ib-net".into(),
            container_id: container.into(),
            ifname: "net1".into(),
            netns: "/run/netns/p".into(),
            pci: pci.parse().unwrap(),
            rdma_device: None,
            config: "{}".into(),
            steps: vec![],
            complete: false,
            result: spec::Result::default(),
        }
    }

    fn link_state() -> Step {
        Step::LinkState {
            pf: "ib0".into(),
            vf: 1,
            before: VfLinkState::Auto,
        }
    }

    #[test]
    fn each_step_is_on_disk_before_it_starts() {
        let d = tempfile::tempdir().unwrap();
        let mut j = Journal::begin(d.path(), state("c1", "0000:03:00.2")).unwrap();
        let on_disk = || State::load(d.path(), "c1", "net1").unwrap().unwrap();
        assert!(on_disk().steps.is_empty() && !on_disk().complete);
        j.record(link_state()).unwrap();
        assert_eq!(on_disk().steps, [link_state()]);
        j.complete(&spec::Result::default()).unwrap();
        assert!(on_disk().complete);
    }

    #[test]
    fn a_held_vf_and_an_existing_attachment_are_refused_naming_them() {
        let d = tempfile::tempdir().unwrap();
        let _held = Journal::begin(d.path(), state("c1", "0000:03:00.2")).unwrap();
        let e = Journal::begin(d.path(), state("c2", "0000:03:00.2")).unwrap_err();
        assert_eq!(e.code, Code::Device);
        assert!(
            e.msg
                .contains("VF 0000:03:00.2 is in use by attachment c1/net1"),
            "{}",
            e.msg
        );
        assert!(
            State::load(d.path(), "c2", "net1").unwrap().is_none(),
            "nothing written for the refused ADD"
        );
        let e = Journal::begin(d.path(), state("c1", "0000:03:00.2")).unwrap_err();
        assert_eq!(e.code, Code::State);
        assert!(e.msg.contains("exists already"), "{}", e.msg);
        Journal::begin(d.path(), state("c3", "0000:03:00.3")).unwrap();
    }

    #[test]
    fn a_rollback_removes_the_journal_or_keeps_what_it_could_not_undo() {
        let d = tempfile::tempdir().unwrap();
        let mut j = Journal::begin(d.path(), state("c1", "0000:03:00.2")).unwrap();
        j.record(link_state()).unwrap();
        assert!(j.rolled_back(&[]).is_none());
        assert!(State::load(d.path(), "c1", "net1").unwrap().is_none());
        let mut j = Journal::begin(d.path(), state("c1", "0000:03:00.2")).unwrap();
        j.record(link_state()).unwrap();
        j.record(Step::Ipam {
            plugin: "host-local".into(),
        })
        .unwrap();
        let failed = [(link_state(), Error::new(Code::Netlink, "no"))];
        assert!(j.rolled_back(&failed).is_none());
        let left = State::load(d.path(), "c1", "net1").unwrap().unwrap();
        assert_eq!(left.steps, [link_state()]);
        assert!(!left.complete);
    }
}
