//! DEL: undo what ADD saved, last step first. Idempotent: no state (never added, or already
//! deleted) is success, and so is a pod namespace that is gone.
//!
//! A step that cannot be undone fails DEL and stays in the state file, so the runtime's retry
//! continues where this one stopped instead of repeating (or forgetting) the rest.

use super::lock::Lock;
use super::state::State;
use super::undo::{undo_all, Scope};
use super::{fail, Context};
use crate::netns::NetNs;
use crate::spec::{Code, Env, Error};

/// Runs DEL from the saved state alone: the network config is not needed (the state keeps the
/// one ADD got, for IPAM DEL), so a config that never produced an attachment cannot fail DEL.
pub fn del(ctx: &Context, env: &Env) -> Result<(), Error> {
    let Some(mut state) = State::load(&ctx.state_dir, &env.container_id, &env.ifname)? else {
        // An ADD killed during its first journal write leaves only the temporary file: it had
        // changed nothing yet.
        return State::remove(&ctx.state_dir, &env.container_id, &env.ifname);
    };
    delete_attachment(ctx, env, &mut state)
}

/// Undoes one saved attachment and removes its state (also used by GC).
pub(super) fn delete_attachment(ctx: &Context, env: &Env, state: &mut State) -> Result<(), Error> {
    // The pod's namespace may be gone already: then its devices are back on the host.
    let pod_path = env.netns.clone().unwrap_or_else(|| state.netns.clone());
    let pod = NetNs::open(&pod_path).ok();
    let host = NetNs::current().map_err(fail::netns)?;
    let scope = Scope {
        ctx,
        env,
        config: state.config.as_bytes(),
        host: &host,
        pod: pod.as_ref(),
        pci: &state.pci,
    };
    let failed = {
        let _lock = Lock::acquire(&ctx.lock_file)?;
        undo_all(&state.steps, &scope)
    };
    if failed.is_empty() {
        return State::remove(&ctx.state_dir, &state.container_id, &state.ifname);
    }
    let first = failed[0].1.clone();
    state.steps = failed.into_iter().map(|(s, _)| s).collect();
    state.save(&ctx.state_dir)?;
    Err(Error::new(
        first.code,
        format!(
            "DEL of {}/{} incomplete: {}",
            state.container_id, state.ifname, first.msg
        ),
    )
    .with_details(format!(
        "{} step(s) left in the state file; DEL can be retried",
        state.steps.len()
    )))
}

/// What CHECK says when there is nothing to check.
pub(super) fn no_state(env: &Env) -> Error {
    Error::new(
        Code::UnknownContainer,
        format!(
            "no attachment {}/{} is known to ib-sriov (no state file)",
            env.container_id, env.ifname
        ),
    )
}
