//! `loopback_write [DEVICE]`: one RDMA WRITE between two queue pairs of one device.
//! QP A writes a pattern into memory that B lets its peer write; then every byte is checked.

use rdma_verbs::{Access, CompletionQueue, ConnectOptions, Context, MemoryRegion};
use rdma_verbs::{ProtectionDomain, QueuePair, SendWr, WorkCompletion};
use std::time::{Duration, Instant};

const LEN: usize = 4096;
const PORT: u8 = 1;

fn main() {
    if let Err(e) = run() {
        eprintln!("loopback_write: {e}"); // e.g. no device: what to do about it
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let ctx = Context::open(std::env::args().nth(1).as_deref())?; // None: the first device
    let pd = ProtectionDomain::new(&ctx)?;
    let cq = CompletionQueue::new(&ctx, 16)?;
    let a = QueuePair::builder(&pd, &cq, &cq).build()?;
    let b = QueuePair::builder(&pd, &cq, &cq).build()?;

    // Connect A and B to each other. B lets its peer write its memory.
    ctx.active_port(PORT)?; // a clear error when the link is down
    let gid_index = ctx.default_gid_index(PORT)?; // RoCE needs a GID; None on InfiniBand
    let opts = |psn, access| ConnectOptions {
        port: PORT,
        gid_index,
        psn,
        access,
        ..Default::default()
    };
    let (opts_a, opts_b) = (opts(1, Access::NONE), opts(2, Access::REMOTE_WRITE));
    // Between two hosts, each side sends its address to the other out of band.
    let (to_a, to_b) = (a.address(&opts_a)?, b.address(&opts_b)?);
    let mut a = a.connect(&to_b, &opts_a)?;
    let b = b.connect(&to_a, &opts_b)?;

    // The source holds a pattern. Peers may write the destination, so it has no slice.
    let pattern = |i: usize| (i % 251) as u8;
    let mut src = MemoryRegion::new(&pd, LEN, Access::LOCAL_WRITE)?;
    for (i, byte) in src.as_mut_slice().ok_or("no slice")?.iter_mut().enumerate() {
        *byte = pattern(i);
    }
    let dst = MemoryRegion::new(&pd, LEN, Access::LOCAL_WRITE | Access::REMOTE_WRITE)?;

    // A owns `src` from the post until the completion hands it back.
    a.post_send(SendWr::write(src, dst.remote()))?;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut wcs = [WorkCompletion::default(); 1];
    let done = loop {
        if let Some(wc) = cq.poll(&mut wcs)?.first() {
            break a.complete(wc)?;
        }
        if Instant::now() > deadline {
            return Err("no completion within 5 s".into());
        }
        std::thread::yield_now();
    };
    done.result()?; // a failed write is a typed CompletionError
    let _src: MemoryRegion = done.buf.ok_or("no buffer came back")?;

    // Volatile reads: the only way to look at memory that peers may write.
    for i in 0..LEN {
        let byte = dst.load(i).ok_or("the destination is too short")?;
        if byte != pattern(i) {
            return Err(format!("byte {i} is {byte:#04x}, not {:#04x}", pattern(i)).into());
        }
    }
    let (from, into, dev) = (a.qpn(), b.qpn(), ctx.name());
    println!("wrote {LEN} bytes from QP {from:#x} to QP {into:#x} on {dev}: verified");
    Ok(())
}
