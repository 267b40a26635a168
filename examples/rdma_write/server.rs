//! The server: exposes a target buffer and verifies what the client wrote into it.

use std::time::Duration;

use rdma_exchange::OobListener;
use rdma_verbs::{Access, MemoryRegion, RecvWr, WcOpcode};

use crate::args::Args;
use crate::completion::wait_completion;
use crate::output::{say, Doing, Failure};
use crate::pattern::fill_pattern;
use crate::setup::{open, remote_qp};

/// Bytes compared per step when the server verifies its buffer.
const VERIFY_BLOCK: usize = 64 * 1024;

/// The server: exposes a target buffer, waits for the client's writes and the
/// WRITE_WITH_IMM that ends them, and verifies the bytes.
pub(crate) fn server(args: &Args) -> Result<(), Failure> {
    let timeout = Duration::from_secs(args.timeout);
    let size = args.size as usize;
    let mut me = open(args)?;
    let target = MemoryRegion::new(&me.pd, size, Access::LOCAL_WRITE | Access::REMOTE_WRITE)?;
    // The WRITE_WITH_IMM consumes a receive; it carries no data, but a region has a byte at least.
    let notify = MemoryRegion::new(&me.pd, 64, Access::LOCAL_WRITE)?;
    let access = Access::REMOTE_WRITE;
    // A receive can be posted from INIT on; connect() goes on from there.
    me.qp.init(args.device.ib_port, 0, access)?;
    me.qp.post_recv(RecvWr::recv(notify))?;

    let listener = OobListener::bind(args.port)?;
    say!(
        "listening on TCP port {} for a client ({size}-byte buffer)",
        listener.local_port()
    );
    let mut stream = listener.accept(timeout).doing("waiting for a client")?;
    let peer = stream.recv_endpoint()?;
    let mine = me.endpoint(Some(target.remote()));
    let opts = me.options(args, &peer, access)?;
    me.show(args, &mine, &peer, &opts);
    // Connect before replying: the client may write as soon as it has our endpoint.
    let mut qp = me.qp.connect(&remote_qp(&peer), &opts)?;
    stream.send_endpoint(&mine)?;
    stream.recv_done()?;

    let done = wait_completion(&me.cq, &mut qp, timeout, "the client's RDMA WRITE_WITH_IMM")?;
    if done.opcode != WcOpcode::RecvRdmaWithImm {
        return Err(Failure(format!(
            "expected an RDMA WRITE_WITH_IMM from the client, got a {:?} completion",
            done.opcode
        )));
    }
    let Some(written) = done.imm_data else {
        return Err(Failure(
            "the client's RDMA WRITE_WITH_IMM carried no immediate data".into(),
        ));
    };
    if written as usize > size {
        return Err(Failure(format!(
            "the client reports {written} bytes written, but the buffer holds only {size}"
        )));
    }
    verify(&target, written as usize, args.seed)?;
    say!("received {written} bytes by RDMA WRITE, verified");
    Ok(())
}

/// Checks the first `len` bytes of `target` against the pattern of `seed`; the error names the
/// first differing offset, the expected and the received byte, and how many bytes differ.
fn verify(target: &MemoryRegion, len: usize, seed: u64) -> Result<(), Failure> {
    let mut got = vec![0u8; VERIFY_BLOCK.min(len)];
    let mut want = vec![0u8; got.len()];
    let mut first = None;
    let mut bad = 0usize;
    let mut off = 0;
    while off < len {
        let n = VERIFY_BLOCK.min(len - off);
        if !target.read_at(off, &mut got[..n]) {
            return Err(Failure(format!(
                "cannot read {n} bytes at offset {off} of the {}-byte buffer",
                target.len()
            )));
        }
        fill_pattern(seed, off as u64, &mut want[..n]);
        for (i, (g, w)) in got[..n].iter().zip(&want[..n]).enumerate() {
            if g != w {
                bad += 1;
                first.get_or_insert((off + i, *w, *g));
            }
        }
        off += n;
    }
    match first {
        None => Ok(()),
        Some((at, want, got)) => Err(Failure(format!(
            "data mismatch: {bad} of {len} bytes differ, the first at offset {at}: expected \
             {want:#04x}, got {got:#04x} (do both sides use the same --seed?)"
        ))),
    }
}
