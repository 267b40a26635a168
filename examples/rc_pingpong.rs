//! `rc_pingpong`: a wire- and output-compatible clone of rdma-core's `ibv_rc_pingpong`
//! (libibverbs/examples/rc_pingpong.c, rdma-core 44), written with the `rdma` crate's safe API.
//!
//! Two processes exchange `--iters` messages of `--size` bytes over a reliable-connected QP,
//! strictly alternating (ping, pong), and print the throughput and the time per iteration.
//! Either side may be the C tool: the TCP exchange (the 52-byte `LLLL:QQQQQQ:PPPPPP:<gid>`
//! address message both ways, then `done` from the client), the QP attributes, the message
//! sizes and the order of sends and receives are the C tool's, and so are the output lines, the
//! error messages and the exit status (0 on success, 1 on any error).
//!
//! ```text
//! server$ rc_pingpong -d rxe0 -g 1
//! client$ rc_pingpong -d rxe0 -g 1 198.18.0.1
//!
//! # against the C tool, in either role (here in the Soft-RoCE VM of scripts/rxe-vm):
//! scripts/rxe-vm -- sh -c 'ibv_rc_pingpong -d rxe0 -g 1 & sleep 1;
//!                          target/debug/rc_pingpong -d rxe0 -g 1 198.18.0.1; wait'
//! ```
//!
//! On RoCE (Soft-RoCE included) both sides need `-g` with a valid GID index, exactly as with the
//! C tool; on InfiniBand the LID is enough.
//!
//! # Memory
//!
//! The C tool posts all `--rx-depth` receives into one buffer of `--size` bytes and sends from
//! that same buffer, so a pong echoes the ping it answers. With the safe API a posted receive
//! owns its buffer until its completion is handed back, so each outstanding receive needs its
//! own piece: the program registers **one region of `(rx_depth + 1) * size` bytes** (2 MiB for
//! the defaults, against the C tool's `size`; lower `-r` for very large `-s`) and cuts it into
//! `rx_depth + 1` pieces. `rx_depth` of them are posted as receives. The C tool's buffer is
//! modelled by the "current" piece: the spare one at first (filled with `0x7b`, and with the
//! `-c` pattern on the client), then the piece of the last message received. Each send sends
//! the current piece (owning it until its completion returns it, or inline when the C tool's
//! rule says so), so pongs echo pings without a copy, exactly as on the wire of the C tool. A
//! piece whose receive or send completed goes back to the pool that reposts receives.
//!
//! # Work request ids and the main loop
//!
//! As in the C tool, receives use wr_id 1 and sends wr_id 2 (`PINGPONG_RECV_WRID` and
//! `PINGPONG_SEND_WRID`), which is what `Failed status ... for wr_id N` reports. The client
//! sends first; each side sends its next message only once its previous send has completed and
//! the peer's next message has arrived. Receives are topped up to `rx_depth` when only one is
//! left posted (`routs <= 1`), as in the C tool. Only when a top-up finds the piece being sent
//! and the one just received both still held does it post one receive fewer, and it posts that
//! one as soon as the send completion returns its piece. With `-e` the loop blocks on the CQ's
//! completion channel, re-arms it, then polls once; it acknowledges all events at the end.
//!
//! # Differences from the C tool
//!
//! - `--timeout SECONDS` (an extension, default 0 = wait forever like the C tool) bounds the TCP
//!   exchange (accept, connect, each message) and the wait for each completion.
//! - `-h`/`--help` prints the usage and exits 0 (the C tool rejects it, then prints the usage).
//! - Bad numbers are rejected with a message (the C tool's `strtoul` reads `abc` as 0), and so are
//!   `-s 0` (the C tool then fails with `Couldn't register MR`), `-r 0`, an SL above 15 and an
//!   IB port above 255. Numbers may be decimal, `0x` hex or `0` octal, as with `strtoul`.
//! - `-N` is accepted and changes nothing (the classic post-send API gives the same traffic);
//!   `-o`, `-O`, `-P`, `-t` and `-j` (ODP, prefetch, timestamps, device memory) are rejected.
//! - Where the C tool prints a fixed error message (`Failed to modify QP to RTR`, `Couldn't
//!   register MR`, ...), the same line is printed, followed by a line `rc_pingpong: <cause>`.
//! - A malformed address message from the peer is an error (the C tool's `sscanf` takes anything).
//! - Elapsed time comes from the monotonic clock (the C tool uses `gettimeofday`); the
//!   statistics are then computed and rounded exactly as the C tool does (f32 microseconds).
//! - stdout is line-buffered (C buffers it fully when it is not a terminal).
//! - Teardown errors are not reported (the crate releases resources on drop).

use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rdma::exchange::{
    ExchangeError, OobListener, OobStream, PingpongDest, DEFAULT_PORT, PINGPONG_MSG_LEN,
};
use rdma::{
    Access, CompletionQueue, ConnectOptions, DeviceList, Error, Gid, LinkLayer, MemoryRegion, Mtu,
    ProtectionDomain, QpCaps, QpState, QueuePair, RemoteQp, SendWr, WcStatus, WorkCompletion,
};

/// `PINGPONG_RECV_WRID` of the C tool.
const RECV_WRID: u64 = 1;
/// `PINGPONG_SEND_WRID` of the C tool.
const SEND_WRID: u64 = 2;
/// The byte the C tool fills its buffer with (`memset(buf, 0x7b, size)`).
const FILL: u8 = 0x7b;

// ---------------------------------------------------------------------------
// Command line (GNU getopt_long semantics, as the C tool)
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Id {
    Port,
    IbDev,
    IbPort,
    Size,
    Mtu,
    RxDepth,
    Iters,
    Sl,
    Events,
    GidIdx,
    Odp,
    Iodp,
    Prefetch,
    Ts,
    Chk,
    Dm,
    NewSend,
    Timeout,
    Help,
}

struct Spec {
    id: Id,
    short: Option<char>,
    long: &'static str,
    arg: bool,
}

const fn spec(id: Id, short: Option<char>, long: &'static str, arg: bool) -> Spec {
    Spec {
        id,
        short,
        long,
        arg,
    }
}

/// The C tool's `long_options`, plus `--timeout` and `--help`.
const SPECS: &[Spec] = &[
    spec(Id::Port, Some('p'), "port", true),
    spec(Id::IbDev, Some('d'), "ib-dev", true),
    spec(Id::IbPort, Some('i'), "ib-port", true),
    spec(Id::Size, Some('s'), "size", true),
    spec(Id::Mtu, Some('m'), "mtu", true),
    spec(Id::RxDepth, Some('r'), "rx-depth", true),
    spec(Id::Iters, Some('n'), "iters", true),
    spec(Id::Sl, Some('l'), "sl", true),
    spec(Id::Events, Some('e'), "events", false),
    spec(Id::GidIdx, Some('g'), "gid-idx", true),
    spec(Id::Odp, Some('o'), "odp", false),
    spec(Id::Iodp, Some('O'), "iodp", false),
    spec(Id::Prefetch, Some('P'), "prefetch", false),
    spec(Id::Ts, Some('t'), "ts", false),
    spec(Id::Chk, Some('c'), "chk", false),
    spec(Id::Dm, Some('j'), "dm", false),
    spec(Id::NewSend, Some('N'), "new_send", false),
    spec(Id::Timeout, None, "timeout", true),
    spec(Id::Help, Some('h'), "help", false),
];

/// The options, with the C tool's defaults.
#[derive(Debug)]
struct Opts {
    port: u16,
    ib_dev: Option<String>,
    ib_port: u8,
    size: u32,
    mtu: Mtu,
    rx_depth: u32,
    iters: u32,
    sl: u8,
    events: bool,
    /// `-g` as given: negative means no GID (LID addressing).
    gidx: i32,
    chk: bool,
    /// `None`: wait forever, as the C tool.
    timeout: Option<Duration>,
    servername: Option<String>,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            port: DEFAULT_PORT,
            ib_dev: None,
            ib_port: 1,
            size: 4096,
            mtu: Mtu::Mtu1024,
            rx_depth: 500,
            iters: 1000,
            sl: 0,
            events: false,
            gidx: -1,
            chk: false,
            timeout: None,
            servername: None,
        }
    }
}

fn usage(argv0: &str) -> String {
    format!(
        "\
Usage:
  {argv0}            start a server and wait for connection
  {argv0} <host>     connect to server at <host>

Options:
  -p, --port=<port>      listen on/connect to port <port> (default 18515)
  -d, --ib-dev=<dev>     use IB device <dev> (default first device found)
  -i, --ib-port=<port>   use port <port> of IB device (default 1)
  -s, --size=<size>      size of message to exchange (default 4096)
  -m, --mtu=<size>       path MTU (default 1024)
  -r, --rx-depth=<dep>   number of receives to post at a time (default 500)
  -n, --iters=<iters>    number of exchanges (default 1000)
  -l, --sl=<sl>          service level value (default 0)
  -e, --events           sleep on CQ events (default poll)
  -g, --gid-idx=<gid index> local port gid index (default none: LID only; RoCE needs one)
  -c, --chk              validate received buffer (default off)
  -N, --new_send         use new post send WR API (accepted, no effect: same traffic)

Extensions of this clone:
      --timeout=<secs>   give up after <secs> seconds without progress: accept, connect,
                         each exchange message, each completion (default 0: wait forever)
  -h, --help             print this help and exit

Not supported (rejected): -o/--odp, -O/--iodp, -P/--prefetch, -t/--ts, -j/--dm.
Memory: registers (rx-depth + 1) * size bytes (one piece per posted receive, one to send).
"
    )
}

/// A command-line error: an optional message (stderr), and whether to print the usage
/// (stdout) after it, as the C tool does after getopt's messages.
struct ArgError {
    msg: Option<String>,
    usage: bool,
}

enum Cmd {
    Run(Opts),
    Help,
}

/// Parses an integer as `strtol`/`strtoul` with base 0 read it (`0x` hex, `0` octal, decimal,
/// optional sign), but strictly: the whole argument must be a number.
fn parse_c_int(s: &str) -> Result<i128, &'static str> {
    let t = s.trim_start();
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (radix, digits) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (16, h)
    } else if t.len() > 1 && t.starts_with('0') {
        (8, &t[1..])
    } else {
        (10, t)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err("not a number");
    }
    let v = i128::from_str_radix(digits, radix).map_err(|_| "out of range")?;
    Ok(if neg { -v } else { v })
}

fn value_in<T: TryFrom<i128>>(s: &str, lo: i128, hi: i128, what: &str) -> Result<T, String> {
    let v = parse_c_int(s).map_err(|e| format!("{e} (expected {what})"))?;
    if v < lo || v > hi {
        return Err(format!("out of range (expected {what})"));
    }
    T::try_from(v).map_err(|_| format!("out of range (expected {what})"))
}

fn apply(o: &mut Opts, s: &Spec, val: Option<&str>, argv0: &str) -> Result<Option<Cmd>, ArgError> {
    let name = match s.short {
        Some(c) => format!("-{c}/--{}", s.long),
        None => format!("--{}", s.long),
    };
    let v = val.unwrap_or("");
    let bad = |why: String| ArgError {
        msg: Some(format!("{argv0}: invalid value '{v}' for {name}: {why}")),
        usage: true,
    };
    let unsupported = |what: &str| ArgError {
        msg: Some(format!(
            "{argv0}: {name} ({what}) is not supported by this clone of ibv_rc_pingpong"
        )),
        usage: false,
    };
    match s.id {
        Id::Port => o.port = value_in(v, 0, 65535, "a TCP port, 0 to 65535").map_err(bad)?,
        Id::IbDev => o.ib_dev = Some(v.to_string()),
        Id::IbPort => o.ib_port = value_in(v, 1, 255, "a port number, 1 to 255").map_err(bad)?,
        Id::Size => o.size = value_in(v, 1, u32::MAX as i128, "bytes, at least 1").map_err(bad)?,
        Id::Mtu => {
            let what = "256, 512, 1024, 2048 or 4096";
            let bytes: u32 = value_in(v, 0, u32::MAX as i128, what).map_err(bad)?;
            o.mtu = Mtu::from_bytes(bytes).ok_or_else(|| bad(format!("expected {what}")))?;
        }
        Id::RxDepth => {
            let what = "receives, 1 to 2147483646";
            o.rx_depth = value_in(v, 1, i32::MAX as i128 - 1, what).map_err(bad)?
        }
        Id::Iters => o.iters = value_in(v, 0, u32::MAX as i128, "a count").map_err(bad)?,
        Id::Sl => o.sl = value_in(v, 0, 15, "a service level, 0 to 15").map_err(bad)?,
        Id::GidIdx => {
            let what = "a GID index, or -1 for none";
            o.gidx = value_in(v, i32::MIN as i128, i32::MAX as i128, what).map_err(bad)?
        }
        Id::Timeout => {
            let secs: f64 = v
                .trim()
                .parse()
                .ok()
                .filter(|s: &f64| s.is_finite() && *s >= 0.0 && *s < 1e12)
                .ok_or_else(|| bad("expected seconds, 0 for none".into()))?;
            o.timeout = (secs > 0.0).then(|| Duration::from_secs_f64(secs));
        }
        Id::Events => o.events = true,
        Id::Chk => o.chk = true,
        Id::NewSend => {}
        Id::Odp => return Err(unsupported("on-demand paging")),
        Id::Iodp => return Err(unsupported("implicit on-demand paging")),
        Id::Prefetch => return Err(unsupported("ODP prefetch")),
        Id::Ts => return Err(unsupported("completion timestamps")),
        Id::Dm => return Err(unsupported("device memory")),
        Id::Help => return Ok(Some(Cmd::Help)),
    }
    Ok(None)
}

fn getopt_error(msg: String) -> ArgError {
    ArgError {
        msg: Some(msg),
        usage: true,
    }
}

/// Finds a long option by its exact name or an unambiguous prefix, as getopt_long does.
fn lookup_long<'a>(argv0: &str, name: &str, body: &str) -> Result<&'a Spec, ArgError> {
    if let Some(s) = SPECS.iter().find(|s| s.long == name) {
        return Ok(s);
    }
    let matches: Vec<&Spec> = SPECS.iter().filter(|s| s.long.starts_with(name)).collect();
    match matches.as_slice() {
        [one] if !name.is_empty() => Ok(one),
        [] | [_] => Err(getopt_error(format!(
            "{argv0}: unrecognized option '--{body}'"
        ))),
        many => {
            let list: String = many.iter().map(|s| format!(" '--{}'", s.long)).collect();
            Err(getopt_error(format!(
                "{argv0}: option '--{body}' is ambiguous; possibilities:{list}"
            )))
        }
    }
}

fn parse_args(argv0: &str, args: &[String]) -> Result<Cmd, ArgError> {
    let mut o = Opts::default();
    let mut positional = Vec::new();
    let mut i = 0;
    let mut help = false;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            positional.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(body) = a.strip_prefix("--") {
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            let s = lookup_long(argv0, name, body)?;
            let val = match (s.arg, inline) {
                (true, Some(v)) => Some(v),
                (true, None) if i < args.len() => {
                    i += 1;
                    Some(args[i - 1].as_str())
                }
                (true, None) => {
                    return Err(getopt_error(format!(
                        "{argv0}: option '--{}' requires an argument",
                        s.long
                    )))
                }
                (false, Some(_)) => {
                    return Err(getopt_error(format!(
                        "{argv0}: option '--{}' doesn't allow an argument",
                        s.long
                    )))
                }
                (false, None) => None,
            };
            help |= apply(&mut o, s, val, argv0)?.is_some();
        } else if a.len() > 1 && a.starts_with('-') {
            let cluster = &a[1..];
            for (at, c) in cluster.char_indices() {
                let Some(s) = SPECS.iter().find(|s| s.short == Some(c)) else {
                    return Err(getopt_error(format!("{argv0}: invalid option -- '{c}'")));
                };
                if !s.arg {
                    help |= apply(&mut o, s, None, argv0)?.is_some();
                    continue;
                }
                let rest = &cluster[at + c.len_utf8()..];
                let val = if !rest.is_empty() {
                    rest
                } else if i < args.len() {
                    i += 1;
                    args[i - 1].as_str()
                } else {
                    return Err(getopt_error(format!(
                        "{argv0}: option requires an argument -- '{c}'"
                    )));
                };
                help |= apply(&mut o, s, Some(val), argv0)?.is_some();
                break;
            }
        } else {
            positional.push(a.clone());
        }
    }
    if help {
        return Ok(Cmd::Help);
    }
    match positional.len() {
        0 => {}
        1 => o.servername = positional.pop(),
        n => {
            return Err(getopt_error(format!(
                "{argv0}: expected at most one <host>, got {n}: {}",
                positional.join(" ")
            )))
        }
    }
    if (o.rx_depth as u64) * (o.size as u64) > isize::MAX as u64 {
        return Err(ArgError {
            msg: Some(format!(
                "{argv0}: rx-depth * size = {} * {} bytes is too much memory",
                o.rx_depth, o.size
            )),
            usage: false,
        });
    }
    Ok(Cmd::Run(o))
}

// ---------------------------------------------------------------------------
// Output helpers
// ---------------------------------------------------------------------------

/// A failure whose message has been printed: exit status 1.
struct Failed;

/// Prints lines to stderr and fails.
macro_rules! fail {
    ($($line:expr),+ $(,)?) => {{
        let mut err = io::stderr().lock();
        $( let _ = writeln!(err, "{}", $line); )+
        Failed
    }};
}

/// Prints one line to stdout, ignoring a closed stdout (as C's printf does).
macro_rules! out {
    ($($arg:tt)*) => {{
        let _ = writeln!(io::stdout().lock(), $($arg)*);
    }};
}

/// The extra line that explains a failure the C tool reports with a fixed message.
fn detail(e: &dyn std::fmt::Display) -> String {
    format!("rc_pingpong: {e}")
}

/// `strerror`-like text of an I/O error (without Rust's " (os error N)" suffix).
fn strerror(e: &io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(at) => s[..at].to_string(),
        None => s,
    }
}

/// `%.2f` as glibc prints it (Rust already rounds exact ties to even; x86's 0/0 is `-nan`).
fn f2(x: f64) -> String {
    if x.is_nan() {
        "-nan".to_string()
    } else {
        format!("{x:.2}")
    }
}

/// `inet_ntop(AF_INET6)` as glibc writes it: like Rust's `Ipv6Addr` display, except that
/// glibc also writes IPv4-compatible addresses (`::a.b.c.d`) in dotted form.
fn ntop(gid: &Gid) -> String {
    let b = gid.0;
    if b[..12] == [0; 12] && b[12..14] != [0, 0] {
        return format!("::{}.{}.{}.{}", b[12], b[13], b[14], b[15]);
    }
    gid.to_string()
}

fn address_line(which: &str, d: &PingpongDest) {
    out!(
        "  {which} LID 0x{:04x}, QPN 0x{:06x}, PSN 0x{:06x}, GID {}",
        d.lid,
        d.qpn,
        d.psn,
        ntop(&d.gid)
    );
}

/// A random 24-bit PSN (the C tool's `lrand48() & 0xffffff`).
fn random_psn() -> u32 {
    let mut b = [0u8; 4];
    let ok = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_ok();
    if !ok {
        use std::hash::{BuildHasher, RandomState};
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        b = (RandomState::new().hash_one((std::process::id(), t)) as u32).to_ne_bytes();
    }
    u32::from_ne_bytes(b) & 0x00ff_ffff
}

/// The page size (`sysconf(_SC_PAGESIZE)`), from the auxiliary vector (AT_PAGESZ).
fn page_size() -> usize {
    const AT_PAGESZ: usize = 6;
    const W: usize = std::mem::size_of::<usize>();
    let Ok(auxv) = std::fs::read("/proc/self/auxv") else {
        return 4096;
    };
    let word = |c: &[u8]| usize::from_ne_bytes(c.try_into().expect("one word"));
    auxv.chunks_exact(2 * W)
        .find(|kv| word(&kv[..W]) == AT_PAGESZ)
        .map(|kv| word(&kv[W..]))
        .filter(|&p| p > 0)
        .unwrap_or(4096)
}

/// The pages of a received message whose first byte is not 0 (the C server's `-c` check:
/// `buf[i] != i / page_size % sizeof(char)`, and that is always 0).
fn bad_pages(buf: &[u8], page: usize) -> Vec<usize> {
    (0..buf.len())
        .step_by(page)
        .filter(|&i| buf[i] != 0)
        .map(|i| i / page)
        .collect()
}

// ---------------------------------------------------------------------------
// The ping-pong state and its completion handling (parse_single_wc)
// ---------------------------------------------------------------------------

struct Pingpong {
    qp: QueuePair,
    /// Pieces neither posted for a receive nor being sent.
    free: Vec<MemoryRegion>,
    /// What the C tool's single buffer holds: the last message received (or, before the first,
    /// the spare piece with the initial fill). The next send sends it, so a pong echoes the
    /// ping as in the C tool. `None` while a (non-inline) send owns it.
    current: Option<MemoryRegion>,
    inline: bool,
    rx_depth: u32,
    iters: u32,
    routs: i64,
    /// Receives a top-up could not post because their pieces were still held (the message
    /// being sent and the one just received): posted as soon as a piece comes back.
    deficit: u32,
    rcnt: u32,
    scnt: u32,
    pending: u64,
    /// The server's `-c` check: the page size, and the bad pages of the last message received.
    check: Option<(usize, Vec<usize>)>,
    /// Progress for the `--timeout` watchdog: `rcnt << 32 | scnt`.
    progress: Option<Arc<AtomicU64>>,
}

/// Posts up to `n` receives from the `free` pieces (`pp_post_recv`). Returns how many were
/// posted, and whether the verb failed (as opposed to running out of free pieces).
fn post_recv(qp: &mut QueuePair, free: &mut Vec<MemoryRegion>, n: u32) -> (u32, bool) {
    let mut posted = 0;
    while posted < n {
        let Some(piece) = free.pop() else { break };
        if let Err(e) = qp.post_recv(piece, RECV_WRID) {
            free.extend(e.returned);
            return (posted, true);
        }
        posted += 1;
    }
    (posted, false)
}

impl Pingpong {
    /// Posts one send of the current buffer (`pp_post_send`): inline when the C tool would.
    fn post_send(&mut self) -> bool {
        let result = if self.inline {
            match self.current.as_ref().and_then(|b| b.as_slice()) {
                Some(data) => self.qp.post_send(SendWr::send(data).wr_id(SEND_WRID)),
                None => return false,
            }
        } else {
            let Some(buf) = self.current.take() else {
                return false;
            };
            self.qp.post_send(SendWr::send(buf).wr_id(SEND_WRID))
        };
        match result {
            Ok(()) => true,
            Err(mut e) => {
                if let Some(buf) = e.returned.pop() {
                    self.current = Some(buf);
                }
                false
            }
        }
    }

    /// Posts up to `want` receives; false (after printing why) when the verb fails.
    fn top_up(&mut self, want: u32) -> bool {
        let (posted, failed) = post_recv(&mut self.qp, &mut self.free, want);
        self.routs += i64::from(posted);
        self.deficit = want - posted;
        if failed {
            let _ = fail!(format!("Couldn't post receive ({})", self.routs));
        }
        !failed
    }

    /// A piece is free again: back to the pool, and posted at once if a top-up lacked it.
    fn release(&mut self, piece: MemoryRegion) -> bool {
        self.free.push(piece);
        self.deficit == 0 || self.top_up(self.deficit)
    }

    /// `parse_single_wc`: false (after printing why) on failure.
    fn parse_single_wc(&mut self, wc: &WorkCompletion) -> bool {
        let c = match self.qp.complete(wc) {
            Ok(c) => c,
            Err(_) => {
                let _ = fail!(format!(
                    "Completion for unknown wr_id {}",
                    wc.raw_wr_id() as i32
                ));
                return false;
            }
        };
        if c.status != WcStatus::Success {
            let _ = fail!(format!(
                "Failed status {} ({}) for wr_id {}",
                c.status.as_str(),
                c.status.to_raw(),
                c.wr_id as i32
            ));
            return false;
        }
        match c.wr_id {
            SEND_WRID => {
                self.scnt += 1;
                if let Some(buf) = c.buf {
                    if !self.release(buf) {
                        return false;
                    }
                }
            }
            RECV_WRID => {
                if let Some(buf) = c.buf {
                    if let Some((page, bad)) = &mut self.check {
                        if self.rcnt + 1 == self.iters {
                            *bad = bad_pages(buf.as_slice().unwrap_or(&[]), *page);
                        }
                    }
                    if let Some(old) = self.current.replace(buf) {
                        self.free.push(old);
                    }
                }
                self.routs -= 1;
                if self.routs <= 1 {
                    let want = (i64::from(self.rx_depth) - self.routs).max(0) as u32;
                    if !self.top_up(want) {
                        return false;
                    }
                }
                self.rcnt += 1;
            }
            other => {
                let _ = fail!(format!("Completion for unknown wr_id {}", other as i32));
                return false;
            }
        }
        self.pending &= !c.wr_id;
        if self.scnt < self.iters && self.pending == 0 {
            if !self.post_send() {
                let _ = fail!("Couldn't post send");
                return false;
            }
            self.pending = RECV_WRID | SEND_WRID;
        }
        true
    }

    fn note_progress(&self) {
        if let Some(p) = &self.progress {
            p.store(
                (u64::from(self.rcnt) << 32) | u64::from(self.scnt),
                Ordering::Relaxed,
            );
        }
    }
}

/// Marks the end of the loop for the watchdog.
const WATCHDOG_DONE: u64 = u64::MAX;

/// With `--timeout`: a thread that ends the process (status 1) when neither count moved for
/// `timeout`. A thread, because `ibv_get_cq_event` blocks with no timeout of its own.
fn watchdog(timeout: Duration, iters: u32) -> Arc<AtomicU64> {
    let progress = Arc::new(AtomicU64::new(0));
    let p = progress.clone();
    thread::spawn(move || {
        let mut last = p.load(Ordering::Relaxed);
        let mut since = Instant::now();
        loop {
            thread::sleep(timeout.min(Duration::from_millis(50)));
            let now = p.load(Ordering::Relaxed);
            if now == WATCHDOG_DONE {
                return;
            }
            if now != last {
                last = now;
                since = Instant::now();
            } else if since.elapsed() >= timeout {
                let _ = fail!(format!(
                    "rc_pingpong: timed out: no completion for {:?} (received {} and sent {} of \
                     {iters} messages); the peer stopped, or its options (-s, -n) differ",
                    timeout,
                    now >> 32,
                    now & 0xffff_ffff
                ));
                std::process::exit(1);
            }
        }
    });
    progress
}

// ---------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------

fn exchange_timeout(o: &Opts) -> Duration {
    o.timeout.unwrap_or(Duration::MAX)
}

/// `pp_client_exch_dest`.
fn client_exchange(o: &Opts, host: &str, my: &PingpongDest) -> Result<PingpongDest, Failed> {
    let mut s = match OobStream::connect(host, o.port, exchange_timeout(o)) {
        Ok(s) => s,
        Err(ExchangeError::Resolve { source, .. }) => {
            let msg = strerror(&source);
            let msg = msg
                .strip_prefix("failed to lookup address information: ")
                .unwrap_or(&msg);
            return Err(fail!(format!("{msg} for {host}:{}", o.port)));
        }
        Err(e) => {
            return Err(fail!(
                format!("Couldn't connect to {host}:{}", o.port),
                detail(&e)
            ))
        }
    };
    if let Err(e) = s.send_pingpong(my) {
        return Err(fail!("Couldn't send local address", detail(&e)));
    }
    match s
        .recv_pingpong()
        .and_then(|rem| s.send_done().map(|()| rem))
    {
        Ok(rem) => Ok(rem),
        Err(e) => Err(fail!(
            format!("client read/write: {e}"),
            "Couldn't read/write remote address"
        )),
    }
}

/// `pp_connect_ctx`: RTR and RTS towards `rem` (the QP is in INIT).
fn connect_qp(
    qp: QueuePair,
    o: &Opts,
    my_psn: u32,
    rem: &PingpongDest,
) -> Result<QueuePair, Failed> {
    let remote = RemoteQp {
        qpn: rem.qpn,
        psn: rem.psn,
        lid: rem.lid,
        // The C tool adds a GRH only when the remote GID's interface id is not zero.
        gid: (rem.gid.0[8..] != [0; 8]).then_some(rem.gid),
    };
    let opts = ConnectOptions {
        port: o.ib_port,
        gid_index: u32::try_from(o.gidx).ok(),
        mtu: o.mtu,
        psn: my_psn,
        sl: o.sl,
        // The rest are ibv_rc_pingpong's values, which are ConnectOptions' defaults: no remote
        // access, P_Key index 0, hop limit 1, timeout 14, retry 7, RNR retry 7, RNR timer 12,
        // one outstanding read each way.
        ..ConnectOptions::default()
    };
    qp.connect(&remote, &opts).map_err(|e| {
        let step = if e.qp.state() == QpState::Rtr {
            "RTS"
        } else {
            "RTR"
        };
        fail!(format!("Failed to modify QP to {step}"), detail(&e.error))
    })
}

/// `pp_server_exch_dest`: also connects the QP before answering, as the C server does.
fn server_exchange(
    o: &Opts,
    qp: QueuePair,
    my: &PingpongDest,
) -> Result<(QueuePair, PingpongDest), Failed> {
    let listener = OobListener::bind(o.port)
        .map_err(|e| fail!(format!("Couldn't listen to port {}", o.port), detail(&e)))?;
    let accepted = listener.accept(exchange_timeout(o));
    drop(listener);
    let mut s = accepted.map_err(|e| fail!("accept() failed", detail(&e)))?;
    let rem = s.recv_pingpong().map_err(|e| {
        let n = match e {
            ExchangeError::PeerClosed { received, .. }
            | ExchangeError::Timeout { received, .. } => received as i64,
            ExchangeError::Parse { .. } => PINGPONG_MSG_LEN as i64,
            _ => -1,
        };
        fail!(
            format!("server read: {e}"),
            format!("{n}/52: Couldn't read remote address")
        )
    })?;
    let qp = connect_qp(qp, o, my.psn, &rem).inspect_err(|_| {
        let _ = fail!("Couldn't connect to remote QP");
    })?;
    // The C server reads 5 bytes and does not look at them.
    let mut done = [0u8; 5];
    if let Err(e) = s.send_pingpong(my).and_then(|()| s.recv_exact(&mut done)) {
        return Err(fail!("Couldn't send/recv local address", detail(&e)));
    }
    Ok((qp, rem))
}

fn run(o: &Opts) -> Result<(), Failed> {
    let page = page_size();
    let size = o.size as usize;

    let list = DeviceList::new().map_err(|e| match e {
        Error::Verb { source, .. } => fail!(format!(
            "Failed to get IB devices list: {}",
            strerror(&source)
        )),
        e => fail!("Failed to get IB devices list", detail(&e)),
    })?;
    let dev = list
        .find(o.ib_dev.as_deref())
        .map_err(|e| match &o.ib_dev {
            Some(name) => fail!(format!("IB device {name} not found"), detail(&e)),
            None => fail!("No IB devices found", detail(&e)),
        })?;
    let ctx = dev.open().map_err(|e| {
        fail!(
            format!("Couldn't get context for {}", dev.name()),
            detail(&e)
        )
    })?;

    let mut cq = CompletionQueue::builder(&ctx, o.rx_depth + 1);
    if o.events {
        cq = cq.with_channel();
    }
    let cq = cq.build().map_err(|e| {
        if e.verb() == Some("ibv_create_comp_channel") {
            fail!("Couldn't create completion channel", detail(&e))
        } else {
            fail!("Couldn't create CQ", detail(&e))
        }
    })?;
    let pd = ProtectionDomain::new(&ctx).map_err(|e| fail!("Couldn't allocate PD", detail(&e)))?;
    let register = |len: usize| {
        let mut mr = MemoryRegion::new(&pd, len, Access::LOCAL_WRITE)
            .map_err(|e| fail!("Couldn't register MR", detail(&e)))?;
        if let Some(bytes) = mr.as_mut_slice() {
            bytes.fill(FILL);
        }
        Ok::<_, Failed>(mr)
    };
    // One piece per posted receive, plus the spare that the client's first message is sent
    // from (see the module documentation).
    let mr = register((o.rx_depth as usize + 1) * size)?;

    let mut qp = QueuePair::builder(&pd, &cq, &cq)
        .caps(QpCaps {
            max_send_wr: 1,
            max_recv_wr: o.rx_depth,
            max_send_sge: 1,
            max_recv_sge: 1,
            max_inline_data: 0,
        })
        .build()
        .map_err(|e| fail!("Couldn't create QP", detail(&e)))?;
    // The C rule: inline when the QP's actual max_inline_data covers the message.
    let inline = qp.caps().max_inline_data >= o.size;
    qp.init(o.ib_port, 0, Access::NONE)
        .map_err(|e| fail!("Failed to modify QP to INIT", detail(&e)))?;

    let mut free = mr.chunks(size);
    let mut current = free.pop().expect("rx_depth + 1 pieces");
    free.reverse(); // post the pieces in address order (pop takes from the end)
    let (routs, _) = post_recv(&mut qp, &mut free, o.rx_depth);
    if routs < o.rx_depth {
        return Err(fail!(format!("Couldn't post receive ({routs})")));
    }
    if o.events {
        cq.req_notify(false)
            .map_err(|e| fail!("Couldn't request CQ notification", detail(&e)))?;
    }

    let port = ctx
        .query_port(o.ib_port)
        .map_err(|e| fail!("Couldn't get port info", detail(&e)))?;
    if port.link_layer() != LinkLayer::Ethernet && port.lid() == 0 {
        return Err(fail!("Couldn't get local LID"));
    }
    let gid = match u32::try_from(o.gidx) {
        Ok(idx) => ctx
            .query_gid(o.ib_port, idx)
            .map_err(|e| fail!(format!("can't read sgid of index {}", o.gidx), detail(&e)))?,
        Err(_) => Gid::ZERO,
    };
    let my = PingpongDest {
        lid: port.lid(),
        qpn: qp.qpn(),
        psn: random_psn(),
        gid,
    };
    address_line("local address: ", &my);

    let qp = match &o.servername {
        Some(host) => {
            let rem = client_exchange(o, host, &my)?;
            address_line("remote address:", &rem);
            connect_qp(qp, o, my.psn, &rem)?
        }
        None => {
            let (qp, rem) = server_exchange(o, qp, &my)?;
            address_line("remote address:", &rem);
            qp
        }
    };

    let mut check = None;
    if o.servername.is_some() && o.chk {
        if let Some(bytes) = current.as_mut_slice() {
            for i in (0..size).step_by(page) {
                bytes[i] = 0; // i / page_size % sizeof(char)
            }
        }
    } else if o.chk {
        // Before any message arrives the buffer holds the 0x7b fill: every page is "invalid".
        check = Some((page, (0..size).step_by(page).map(|i| i / page).collect()));
    }
    let mut pp = Pingpong {
        qp,
        free,
        current: Some(current),
        inline,
        rx_depth: o.rx_depth,
        iters: o.iters,
        routs: i64::from(routs),
        deficit: 0,
        rcnt: 0,
        scnt: 0,
        pending: RECV_WRID,
        check,
        progress: None,
    };
    if o.servername.is_some() {
        if !pp.post_send() {
            return Err(fail!("Couldn't post send"));
        }
        pp.pending |= SEND_WRID;
    }
    if let Some(t) = o.timeout {
        pp.progress = Some(watchdog(t, o.iters));
    }

    let start = Instant::now();
    let mut wcs = [WorkCompletion::default(); 2];
    while pp.rcnt < o.iters || pp.scnt < o.iters {
        if o.events {
            if cq.get_event().is_err() {
                return Err(fail!("Failed to get cq_event"));
            }
            if cq.req_notify(false).is_err() {
                return Err(fail!("Couldn't request CQ notification"));
            }
        }
        let ne = loop {
            match cq.poll(&mut wcs) {
                Ok(got) if o.events || !got.is_empty() => break got.len(),
                Ok(_) => {}
                Err(e) => {
                    let code = e.errno().map_or(-1, |n| -n);
                    return Err(fail!(format!("poll CQ failed {code}")));
                }
            }
        };
        for wc in &wcs[..ne] {
            if !pp.parse_single_wc(wc) {
                return Err(fail!(format!("parse WC failed {ne}")));
            }
        }
        pp.note_progress();
    }
    let elapsed = start.elapsed();
    if let Some(p) = &pp.progress {
        p.store(WATCHDOG_DONE, Ordering::Relaxed);
    }

    // As the C tool: integer microseconds held in a float.
    let usec = elapsed.as_micros() as i64 as f32;
    let bytes = i64::from(o.size) * i64::from(o.iters) * 2;
    let secs = f2(f64::from(usec) / 1_000_000.0);
    out!(
        "{bytes} bytes in {secs} seconds = {} Mbit/sec",
        f2(bytes as f64 * 8.0 / f64::from(usec))
    );
    out!(
        "{} iters in {secs} seconds = {} usec/iter",
        o.iters as i32,
        f2(f64::from(usec / o.iters as f32))
    );
    if let Some((_, bad)) = &pp.check {
        for p in bad {
            out!("invalid data in page {p}");
        }
    }
    cq.ack_events();
    Ok(())
}

fn main() -> ExitCode {
    let mut raw = std::env::args_os();
    let argv0 = raw.next().map_or_else(
        || "rc_pingpong".into(),
        |a| a.to_string_lossy().into_owned(),
    );
    let mut args = Vec::new();
    for a in raw {
        match a.into_string() {
            Ok(s) => args.push(s),
            Err(a) => {
                let _ = fail!(format!("{argv0}: argument {a:?} is not valid UTF-8"));
                return ExitCode::from(1);
            }
        }
    }
    let opts = match parse_args(&argv0, &args) {
        Ok(Cmd::Run(o)) => o,
        Ok(Cmd::Help) => {
            let _ = io::stdout().lock().write_all(usage(&argv0).as_bytes());
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            if let Some(msg) = e.msg {
                let _ = fail!(msg);
            }
            if e.usage {
                let _ = io::stdout().lock().write_all(usage(&argv0).as_bytes());
            }
            return ExitCode::from(1);
        }
    };
    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failed) => ExitCode::from(1),
    }
}
