//! `rdma_write`: a one-sided RDMA WRITE demo between two hosts.
//!
//! Run it without a host to be the **server**, with the server's host name or address to be
//! the **client**:
//!
//! ```text
//! server$ rdma_write -d rxe0
//! client$ rdma_write -d rxe0 198.18.0.1
//! ```
//!
//! The server registers a target buffer of `--size` bytes that peers may write
//! (`LOCAL_WRITE | REMOTE_WRITE`), posts one receive, and waits for a client on TCP port
//! `--port`. The two sides exchange their queue-pair addresses as `RDMA-EP/1` lines
//! ([`rdma::exchange`]): the client sends its [`Endpoint`] first; the server connects its QP
//! (so it is ready to receive before the client can write) and answers with its own endpoint,
//! which also carries the target buffer's address, rkey and length; the client ends the
//! exchange with `done`.
//!
//! The client fills a source buffer with a pattern derived from `--seed` and the byte offset,
//! pins it to its QP, and writes it into the server's buffer in `--chunk`-sized unsignaled
//! RDMA WRITEs (up to 16 per doorbell), followed by one zero-length signaled
//! RDMA WRITE_WITH_IMM whose immediate data is the number of bytes written. Its completion
//! retires all the writes before it. The immediate consumes the server's receive, which tells
//! the server that the data has landed; the server then checks every byte against the same
//! pattern.
//!
//! Output on success: the server prints `received N bytes by RDMA WRITE, verified`, the client
//! `wrote N bytes in K RDMA WRITEs + WRITE_WITH_IMM, X.XX MB/s`. On any error the program prints
//! `rdma_write: <what went wrong>` to stderr and exits with status 1 (2 for a bad command
//! line). Every wait is bounded by `--timeout`: connecting or accepting, each exchange
//! message, on the client each completion (a stalled transfer), on the server the whole
//! transfer (it cannot see one-sided writes until the WRITE_WITH_IMM arrives, so raise the
//! timeout for very large buffers on slow links).
//!
//! The program uses the rdma crate's ownership model as intended: the source buffer is pinned
//! to the client's QP for the many unsignaled writes, the server's receive buffer moves into
//! the QP at post and comes back from `QueuePair::complete`, and the remote-writable target is
//! read only through `MemoryRegion::read_at`. There is no `unsafe` code.

#![forbid(unsafe_code)]

use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::io::{self, Write};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use rdma::exchange::{Endpoint, OobListener, OobStream, PingpongDest};
use rdma::gid::Gid;
use rdma::{
    Access, Completion, CompletionQueue, ConnectOptions, Context, Local, MemoryRegion, Mtu,
    PortAttr, ProtectionDomain, QpCaps, QueuePair, RemoteBuf, RemoteQp, SendWr, WcOpcode, WcStatus,
    WorkCompletion,
};

/// Most RDMA WRITEs posted with one doorbell (one `send_batch`).
const BATCH: usize = 16;
/// Send queue depth asked for (less if the device allows fewer).
const SQ_DEPTH: u32 = 256;
/// Bytes compared per step when the server verifies its buffer.
const VERIFY_BLOCK: usize = 64 * 1024;

const EXAMPLES: &str = "\
Examples:
  rdma_write -d rxe0                         # server: wait for one client, verify its data
  rdma_write -d rxe0 198.18.0.1              # client: write 64 KiB in one RDMA WRITE
  rdma_write -s 16M -c 64K -S 7 server-host  # client: 256 writes of 64 KiB, pattern seed 7

Both sides must use the same --port and --seed; the client's --size must not exceed the
server's.";

/// One-sided RDMA WRITE demo: the client writes a pattern into the server's memory, the
/// server verifies it.
#[derive(Parser, Debug)]
#[command(name = "rdma_write", version, after_help = EXAMPLES)]
struct Args {
    /// Server to connect to (name or address); without it, run as the server
    host: Option<String>,

    /// RDMA device to use [default: the first one]
    #[arg(short = 'd', long = "ib-dev", value_name = "DEVICE")]
    ib_dev: Option<String>,

    /// Port of the RDMA device
    #[arg(short = 'i', long = "ib-port", value_name = "PORT", default_value_t = 1,
          value_parser = clap::value_parser!(u8).range(1..))]
    ib_port: u8,

    /// GID index [default: the best RoCE v2 GID as perftest picks it; none on InfiniBand]
    #[arg(short = 'g', long = "gid-idx", value_name = "INDEX")]
    gid_idx: Option<u32>,

    /// TCP port of the out-of-band exchange
    #[arg(short = 'p', long, value_name = "PORT", default_value_t = 18516)]
    port: u16,

    /// Bytes to transfer (server: its buffer size); K, M, G suffixes are powers of 1024
    #[arg(short = 's', long, value_name = "BYTES", default_value = "65536", value_parser = parse_size)]
    size: u32,

    /// Bytes per RDMA WRITE (client) [default: the whole buffer, up to the port's message limit]
    #[arg(short = 'c', long, value_name = "BYTES", value_parser = parse_size)]
    chunk: Option<u32>,

    /// Seed of the data pattern; both sides must agree
    #[arg(short = 'S', long, value_name = "SEED", default_value_t = 1)]
    seed: u64,

    /// Seconds to wait for the peer: to connect or accept, for each exchange message, for each
    /// completion (client), for the whole transfer (server)
    #[arg(short = 't', long, value_name = "SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    timeout: u64,
}

/// Parses a byte count: decimal digits with an optional `K`, `M` or `G` suffix (powers of 1024),
/// from 1 byte to `u32::MAX` (the immediate data carries the byte count in 32 bits).
fn parse_size(text: &str) -> Result<u32, String> {
    let t = text.trim();
    let (digits, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        None => (t, 1u64),
        Some((i, _)) => {
            let unit = match t[i..].to_ascii_lowercase().as_str() {
                "k" | "kib" => 1 << 10,
                "m" | "mib" => 1 << 20,
                "g" | "gib" => 1 << 30,
                _ => {
                    return Err(format!(
                        "{text:?} is not a size: expected a number of bytes, optionally with \
                         K, M or G"
                    ))
                }
            };
            (&t[..i], unit)
        }
    };
    let value: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size: expected a number of bytes"))?;
    let bytes = value
        .checked_mul(unit)
        .filter(|&b| b <= u64::from(u32::MAX))
        .ok_or_else(|| {
            format!(
                "{text:?} is too large: at most {} bytes (4 GiB - 1)",
                u32::MAX
            )
        })?;
    if bytes == 0 {
        return Err("must be at least 1 byte".into());
    }
    Ok(bytes as u32)
}

/// A fatal error: the message printed after `rdma_write: `.
///
/// Any error type converts into it (so `?` works on the rdma crate's and the exchange's
/// errors, whose messages already say what to do); it deliberately does not implement
/// `std::error::Error` itself, which would make that blanket conversion overlap.
struct Failure(String);

impl<E: std::error::Error> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Adds what was being done in front of an error's message.
trait Doing<T> {
    /// `what: <error>` on failure.
    fn doing(self, what: &str) -> Result<T, Failure>;
}

impl<T, E: fmt::Display> Doing<T> for Result<T, E> {
    fn doing(self, what: &str) -> Result<T, Failure> {
        self.map_err(|e| Failure(format!("{what}: {e}")))
    }
}

/// Prints one line to stdout, ignoring a closed stdout (the result is in the exit status).
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(io::stdout().lock(), $($arg)*);
    }};
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match &args.host {
        None => server(&args),
        Some(host) => client(&args, host),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(io::stderr().lock(), "rdma_write: {e}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------
// The data pattern
// ---------------------------------------------------------------------------

/// The pattern's 64-bit word number `word` for `seed` (splitmix64 of both): every byte of the
/// buffer depends on its offset, so a chunk written to the wrong place is caught too.
fn pattern_word(seed: u64, word: u64) -> u64 {
    let mut x = seed
        .wrapping_mul(0xbf58_476d_1ce4_e5b9)
        .wrapping_add(word.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Fills `out` with the pattern bytes at offsets `start..start + out.len()`: byte `off` is byte
/// `off % 8` (little-endian) of word `off / 8`.
fn fill_pattern(seed: u64, start: u64, out: &mut [u8]) {
    // Bytes up to the next word boundary, then whole words, then the tail.
    let head = (start.wrapping_neg() % 8) as usize;
    let (first, rest) = out.split_at_mut(head.min(out.len()));
    for (off, byte) in (start..).zip(first.iter_mut()) {
        *byte = pattern_word(seed, off / 8).to_le_bytes()[(off % 8) as usize];
    }
    let mut word = (start + first.len() as u64) / 8;
    let mut words = rest.chunks_exact_mut(8);
    for chunk in &mut words {
        chunk.copy_from_slice(&pattern_word(seed, word).to_le_bytes());
        word += 1;
    }
    let tail = words.into_remainder();
    let bytes = pattern_word(seed, word).to_le_bytes();
    tail.copy_from_slice(&bytes[..tail.len()]);
}

// ---------------------------------------------------------------------------
// Setup shared by both roles
// ---------------------------------------------------------------------------

/// The opened device and the resources both roles create the same way.
struct Side {
    ctx: Context,
    port: PortAttr,
    gid_index: Option<u32>,
    gid: Gid,
    mtu: Mtu,
    pd: ProtectionDomain,
    cq: CompletionQueue,
    qp: QueuePair,
    psn: u32,
}

/// Opens the device, checks the port is ACTIVE, picks the GID index (the given one, which
/// must exist, or the perftest-like default), and creates a PD, a CQ and an RC QP.
fn open(args: &Args) -> Result<Side, Failure> {
    let ctx = Context::open(args.ib_dev.as_deref())?;
    let dev = ctx.query_device()?;
    if args.ib_port > dev.phys_port_cnt() {
        return Err(Failure(format!(
            "{} has no port {} (its ports are 1..={})",
            ctx.name(),
            args.ib_port,
            dev.phys_port_cnt()
        )));
    }
    let port = ctx.active_port(args.ib_port)?;
    let mtu = port.active_mtu().ok_or_else(|| {
        Failure(format!(
            "port {} of {} reports no valid active MTU",
            args.ib_port,
            ctx.name()
        ))
    })?;
    let gid_index = match args.gid_idx {
        Some(i) => {
            // Fails with a message naming the table size when the entry is absent or empty.
            ctx.gid_entry(args.ib_port, i)?;
            Some(i)
        }
        None => ctx.default_gid_index(args.ib_port)?,
    };
    let gid = match gid_index {
        Some(i) => ctx.query_gid(args.ib_port, i)?,
        None => Gid::ZERO,
    };
    let depth = SQ_DEPTH.min(dev.max_qp_wr()).max(2);
    let pd = ProtectionDomain::new(&ctx)?;
    let cq = CompletionQueue::new(&ctx, depth + 1)?;
    let qp = QueuePair::builder(&pd, &cq, &cq)
        .caps(QpCaps {
            max_send_wr: depth,
            max_recv_wr: 1,
            max_send_sge: 1,
            max_recv_sge: 1,
            max_inline_data: 0,
        })
        .build()?;
    Ok(Side {
        ctx,
        port,
        gid_index,
        gid,
        mtu,
        pd,
        cq,
        qp,
        psn: random_psn(),
    })
}

/// A random 24-bit starting PSN (from the standard library's randomly keyed hasher).
fn random_psn() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let h = RandomState::new().hash_one((std::process::id(), nanos));
    (h & u64::from(rdma::exchange::MAX_24_BIT)) as u32
}

impl Side {
    /// Our endpoint as sent to the peer, with `buffer` if the peer may access one.
    fn endpoint(&self, buffer: Option<RemoteBuf>) -> Endpoint {
        Endpoint {
            lid: self.port.lid(),
            qpn: self.qp.qpn(),
            psn: self.psn,
            gid: self.gid,
            mtu: self.mtu.to_raw() as u8,
            remote_buffer: buffer,
        }
    }

    /// Connection options towards `peer`: path MTU the smaller of both sides' active MTUs.
    fn options(
        &self,
        args: &Args,
        peer: &Endpoint,
        access: Access,
    ) -> Result<ConnectOptions, Failure> {
        let peer_mtu = Mtu::from_raw(u32::from(peer.mtu))
            .ok_or_else(|| Failure(format!("the peer sent an invalid MTU {}", peer.mtu)))?;
        Ok(ConnectOptions {
            port: args.ib_port,
            gid_index: self.gid_index,
            mtu: self.mtu.min(peer_mtu),
            psn: self.psn,
            access,
            ..ConnectOptions::default()
        })
    }

    /// Prints the device, our address and the peer's.
    fn show(&self, args: &Args, mine: &Endpoint, peer: &Endpoint, opts: &ConnectOptions) {
        let gid = match self.gid_index {
            Some(i) => format!("GID index {i}"),
            None => "LID addressing".into(),
        };
        say!(
            "device {} port {}, {gid}, path MTU {}",
            self.ctx.name(),
            args.ib_port,
            opts.mtu
        );
        say!("  local address:  {}", PingpongDest::from(mine));
        say!("  remote address: {}", PingpongDest::from(peer));
    }
}

/// The peer as [`QueuePair::connect`] wants it (an all-zero GID means LID addressing).
fn remote_qp(peer: &Endpoint) -> RemoteQp {
    RemoteQp {
        qpn: peer.qpn,
        psn: peer.psn,
        lid: peer.lid,
        gid: (!peer.gid.is_zero()).then_some(peer.gid),
    }
}

/// Polls `cq` until one completion of `qp` arrives or `timeout` passes, and hands it to the
/// QP. A completion with an error status is a failure naming `what` and the status. Spins
/// (yielding the CPU) for the first millisecond, then sleeps briefly between polls.
fn wait_completion(
    cq: &CompletionQueue,
    qp: &mut QueuePair,
    timeout: Duration,
    what: &str,
) -> Result<Completion, Failure> {
    let mut wcs = [WorkCompletion::default(); 1];
    let start = Instant::now();
    let deadline = start + timeout;
    loop {
        if let Some(wc) = cq.poll(&mut wcs)?.first() {
            let done = qp.complete(wc)?;
            if let Err(e) = done.result() {
                return Err(Failure(format!(
                    "{what} did not complete: {e}{}",
                    hint(e.status)
                )));
            }
            return Ok(done);
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(Failure(format!(
                "timed out after {}s waiting for {what}",
                timeout.as_secs()
            )));
        }
        if now - start < Duration::from_millis(1) {
            thread::yield_now();
        } else {
            thread::sleep(Duration::from_micros(200));
        }
    }
}

/// Advice for the completion errors a user of this tool is likely to meet.
fn hint(status: WcStatus) -> &'static str {
    match status {
        WcStatus::RetryExceeded => " (the peer does not answer: did it exit?)",
        WcStatus::RemoteAccess => {
            " (the peer refused the access: a wrong rkey or range, or the peer exited)"
        }
        WcStatus::RnrRetryExceeded => " (the peer had no receive posted)",
        _ => "",
    }
}

// ---------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------

/// The server: exposes a target buffer, waits for the client's writes and the
/// WRITE_WITH_IMM that ends them, and verifies the bytes.
fn server(args: &Args) -> Result<(), Failure> {
    let timeout = Duration::from_secs(args.timeout);
    let size = args.size as usize;
    let mut me = open(args)?;
    let target = MemoryRegion::new(&me.pd, size, Access::LOCAL_WRITE | Access::REMOTE_WRITE)?;
    // The WRITE_WITH_IMM consumes a receive; it carries no data, but a region has a byte at least.
    let notify = MemoryRegion::new(&me.pd, 64, Access::LOCAL_WRITE)?;
    let access = Access::REMOTE_WRITE;
    // A receive can be posted from INIT on; connect() goes on from there.
    me.qp.init(args.ib_port, 0, access)?;
    me.qp.post_recv(notify, 0)?;

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

// ---------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------

/// The client: writes `--size` pattern bytes into the server's buffer in `--chunk` pieces,
/// then a zero-length WRITE_WITH_IMM that tells the server how many bytes landed.
fn client(args: &Args, host: &str) -> Result<(), Failure> {
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
                args.ib_port,
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
/// `src` is pinned to the QP, so it can be the source of many unsignaled writes at once. The
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
    let pin = qp.pin(src);
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
            let wr = SendWr::write(pin, dst)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_suffixes_and_bounds() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("64kib"), Ok(65536));
        assert_eq!(parse_size("3M"), Ok(3 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("4294967295"), Ok(u32::MAX));
        for bad in [
            "0",
            "0K",
            "",
            "K",
            "-1",
            "1.5M",
            "12q",
            "4G",
            "4294967296",
            "99999999999G",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn pattern_at_any_offset_matches_the_whole_buffer() {
        let mut whole = vec![0u8; 100];
        fill_pattern(7, 0, &mut whole);
        for start in 0..20 {
            for len in 0..30 {
                let mut part = vec![0u8; len];
                fill_pattern(7, start as u64, &mut part);
                assert_eq!(part, whole[start..start + len], "start {start} len {len}");
            }
        }
        let mut other = vec![0u8; 100];
        fill_pattern(8, 0, &mut other);
        assert!(whole.iter().zip(&other).filter(|(a, b)| a == b).count() < 10);
        // Not periodic in the chunk sizes a user is likely to pick.
        assert_ne!(whole[..8], whole[8..16]);
    }

    #[test]
    fn arguments_parse() {
        let a = Args::try_parse_from(["rdma_write", "-s", "10000", "-c", "3000", "host"]).unwrap();
        assert_eq!(
            (a.size, a.chunk, a.host.as_deref()),
            (10000, Some(3000), Some("host"))
        );
        assert_eq!((a.ib_port, a.port, a.seed, a.timeout), (1, 18516, 1, 30));
        assert!(Args::try_parse_from(["rdma_write", "-i", "0"]).is_err());
        assert!(Args::try_parse_from(["rdma_write", "-t", "0"]).is_err());
        assert!(Args::try_parse_from(["rdma_write", "a", "b"]).is_err());
    }
}
