//! The client: writes the pattern into the server's buffer by RDMA WRITE.

use std::time::{Duration, Instant};

use rdma_exchange::OobStream;
use rdma_verbs::{Access, CompletionQueue, Local, MemoryRegion, QueuePair, RemoteBuf, SendWr};

use crate::args::Args;
use crate::completion::wait_completion;
use crate::output::{say, Doing, Failure};
use crate::pattern::fill_pattern;
use crate::setup::{open, remote_qp, Side};

/// Most RDMA WRITEs posted with one doorbell (one `send_batch`).
const BATCH: usize = 16;

/// The client: writes `--size` pattern bytes into the server's buffer in `--chunk` pieces,
/// then a zero-length WRITE_WITH_IMM that tells the server how many bytes landed.
pub(crate) fn client(args: &Args, host: &str) -> Result<(), Failure> {
    let timeout = Duration::from_secs(args.timeout);
    let size = u64::from(args.size);
    let me = open(args)?;
    let max_msg = match me.port.max_msg_sz() {
        0 => u32::MAX,
        m => m,
    };
    let chunk = match args.chunk {
        Some(c) if c > max_msg => {
            return Err(Failure(format!(
                "--chunk {c} exceeds the largest message port {} of {} sends ({max_msg} bytes)",
                args.device.ib_port,
                me.ctx.name()
            )))
        }
        Some(c) => u64::from(c).min(size),
        None => size.min(u64::from(max_msg)),
    };
    let mut src = MemoryRegion::new(&me.pd, args.size as usize, Access::LOCAL_WRITE)?;
    let bytes = src
        .as_mut_slice()
        .ok_or_else(|| Failure("the source buffer is not locally writable".into()))?;
    fill_pattern(args.seed, 0, bytes);

    let mut stream = OobStream::connect(host, args.port, timeout)?;
    let mine = me.endpoint(None);
    stream.send_endpoint(&mine)?;
    let peer = stream.recv_endpoint()?;
    stream.send_done()?;
    let Some(remote) = peer.remote_buffer else {
        return Err(Failure(
            "the server offered no buffer to write to (is it an rdma_write server?)".into(),
        ));
    };
    if remote.len < size {
        return Err(Failure(format!(
            "the server's buffer is {} bytes, smaller than --size {size}: give the server a \
             larger --size or the client a smaller one",
            remote.len
        )));
    }
    let opts = me.options(args, &peer, Access::NONE)?;
    me.show(args, &mine, &peer, &opts);
    let Side { cq, qp, .. } = me;
    let mut qp = qp.connect(&remote_qp(&peer), &opts)?;

    let writes = size.div_ceil(chunk);
    let start = Instant::now();
    write_all(&mut qp, &cq, src, remote, size, chunk, timeout)?;
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    say!(
        "wrote {size} bytes in {writes} RDMA WRITE{} + WRITE_WITH_IMM, {:.2} MB/s",
        if writes == 1 { "" } else { "s" },
        size as f64 / secs / 1e6
    );
    Ok(())
}

/// Posts the data writes and the final WRITE_WITH_IMM, and waits for its completion.
///
/// `src` is shared with the QP, so it can be the source of many unsignaled writes at once. The
/// writes go out in batches of up to [`BATCH`] per doorbell. Unsignaled requests keep their
/// send-queue slots until a later signaled one completes, so when many chunks would overflow
/// the queue, the last write of a batch is signaled now and then, and the loop waits for such
/// a completion whenever the queue lacks room (always keeping one slot for the final write).
fn write_all(
    qp: &mut QueuePair,
    cq: &CompletionQueue,
    src: MemoryRegion,
    remote: RemoteBuf,
    size: u64,
    chunk: u64,
    timeout: Duration,
) -> Result<(), Failure> {
    let writes = size.div_ceil(chunk);
    let depth = u64::from(qp.caps().max_send_wr).max(2);
    let batch_max = (BATCH as u64).min(depth - 1);
    // Fewer unsignaled writes in a row than are outstanding whenever the queue lacks room, so
    // one of those outstanding is signaled and waiting for it frees slots.
    let signal_every = (depth / 4).min(depth - batch_max - 1).max(1);
    let shared = qp.share(src);
    let mut unsignaled = 0u64;
    let mut next = 0u64;
    while next < writes {
        let n = batch_max.min(writes - next);
        while qp.send_outstanding() + n + 1 > depth {
            wait_completion(cq, qp, timeout, "an RDMA WRITE")?;
        }
        let signal = unsignaled + n >= signal_every && next + n < writes;
        let mut batch = qp.send_batch::<BATCH>();
        for i in next..next + n {
            let off = i * chunk;
            let len = chunk.min(size - off);
            let dst = remote.slice(off, len).ok_or_else(|| {
                Failure(format!(
                    "chunk {off}..{} is outside the server's {}-byte buffer",
                    off + len,
                    remote.len
                ))
            })?;
            let wr = SendWr::write(shared, dst)
                .range(off as usize, len as usize)
                .wr_id(i)
                .signaled(signal && i + 1 == next + n);
            batch.push(wr).doing("posting an RDMA WRITE")?;
        }
        batch.post().doing("posting RDMA WRITEs")?;
        unsignaled = if signal { 0 } else { unsignaled + n };
        next += n;
    }
    let imm = u32::try_from(size).map_err(|_| Failure(format!("{size} bytes exceed 32 bits")))?;
    let empty = remote
        .slice(0, 0)
        .ok_or_else(|| Failure("the server's buffer has no valid address".into()))?;
    qp.post_send(SendWr::write(Local::Empty, empty).imm(imm).wr_id(writes))
        .doing("posting the RDMA WRITE_WITH_IMM")?;
    loop {
        let done = wait_completion(cq, qp, timeout, "the RDMA WRITEs")?;
        if done.wr_id == writes {
            return Ok(());
        }
    }
}
