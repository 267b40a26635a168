//! The command line, parsed with GNU `getopt_long` semantics as the C tool parses it.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use rdma_exchange::DEFAULT_PORT;
use rdma_verbs::Mtu;

use crate::output::fail;
use crate::variant::{Tool, Variant};

/// What an option sets.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Id {
    Port,
    IbDev,
    IbPort,
    Size,
    Mtu,
    NumQp,
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

/// One option: what it sets, its names, whether it takes an argument, and the C tools that
/// have it.
struct Spec {
    id: Id,
    short: Option<char>,
    long: &'static str,
    arg: bool,
    tools: &'static [Tool],
}

/// Every tool.
const ALL: &[Tool] = &[Tool::Rc, Tool::Uc, Tool::Srq, Tool::Ud];

const fn spec(id: Id, short: Option<char>, long: &'static str, arg: bool) -> Spec {
    Spec {
        id,
        short,
        long,
        arg,
        tools: ALL,
    }
}

/// An option that only `ibv_rc_pingpong` has (the other tools' getopt does not know it).
const fn rc_only(id: Id, short: char, long: &'static str) -> Spec {
    Spec {
        id,
        short: Some(short),
        long,
        arg: false,
        tools: &[Tool::Rc],
    }
}

/// The C tools' `long_options` (`ibv_uc_pingpong`'s are `ibv_rc_pingpong`'s without the
/// rc-only ones; `ibv_srq_pingpong`'s add `--num-qp` and keep `--odp`; `ibv_ud_pingpong`'s are
/// `ibv_uc_pingpong`'s without `--mtu`), plus `--timeout` and `--help`.
const SPECS: &[Spec] = &[
    spec(Id::Port, Some('p'), "port", true),
    spec(Id::IbDev, Some('d'), "ib-dev", true),
    spec(Id::IbPort, Some('i'), "ib-port", true),
    spec(Id::Size, Some('s'), "size", true),
    Spec {
        id: Id::Mtu,
        short: Some('m'),
        long: "mtu",
        arg: true,
        tools: &[Tool::Rc, Tool::Uc, Tool::Srq],
    },
    Spec {
        id: Id::NumQp,
        short: Some('q'),
        long: "num-qp",
        arg: true,
        tools: &[Tool::Srq],
    },
    spec(Id::RxDepth, Some('r'), "rx-depth", true),
    spec(Id::Iters, Some('n'), "iters", true),
    spec(Id::Sl, Some('l'), "sl", true),
    spec(Id::Events, Some('e'), "events", false),
    spec(Id::GidIdx, Some('g'), "gid-idx", true),
    Spec {
        id: Id::Odp,
        short: Some('o'),
        long: "odp",
        arg: false,
        tools: &[Tool::Rc, Tool::Srq],
    },
    rc_only(Id::Iodp, 'O', "iodp"),
    rc_only(Id::Prefetch, 'P', "prefetch"),
    rc_only(Id::Ts, 't', "ts"),
    spec(Id::Chk, Some('c'), "chk", false),
    rc_only(Id::Dm, 'j', "dm"),
    rc_only(Id::NewSend, 'N', "new_send"),
    spec(Id::Timeout, None, "timeout", true),
    spec(Id::Help, Some('h'), "help", false),
];

/// The options `v`'s C tool knows (with ours), in table order.
fn specs(v: &Variant) -> impl Iterator<Item = &'static Spec> + '_ {
    SPECS.iter().filter(move |s| s.tools.contains(&v.tool))
}

/// The options, with the C tool's defaults.
#[derive(Debug)]
pub(crate) struct Opts {
    /// Which tool this is.
    pub(crate) variant: &'static Variant,
    pub(crate) port: u16,
    pub(crate) ib_dev: Option<String>,
    pub(crate) ib_port: u8,
    pub(crate) size: u32,
    /// `-m`: the path MTU of the connected QPs (`ud_pingpong` has no `-m`).
    pub(crate) mtu: Mtu,
    /// `-q`: the QPs of `srq_pingpong` (the other tools have one).
    pub(crate) num_qp: u32,
    pub(crate) rx_depth: u32,
    pub(crate) iters: u32,
    pub(crate) sl: u8,
    pub(crate) events: bool,
    /// `-g` as given: negative means no GID (LID addressing).
    pub(crate) gidx: i32,
    pub(crate) chk: bool,
    /// `-N`: post sends with the extended API (`ibv_wr_*`).
    pub(crate) new_send: bool,
    /// `None`: wait forever, as the C tool.
    pub(crate) timeout: Option<Duration>,
    pub(crate) servername: Option<String>,
}

impl Opts {
    /// The C tool's defaults.
    fn new(variant: &'static Variant) -> Self {
        Opts {
            variant,
            port: DEFAULT_PORT,
            ib_dev: None,
            ib_port: 1,
            size: variant.tool.default_size(),
            mtu: Mtu::Mtu1024,
            num_qp: 16,
            rx_depth: 500,
            iters: 1000,
            sl: 0,
            events: false,
            gidx: -1,
            chk: false,
            new_send: false,
            timeout: None,
            servername: None,
        }
    }
}

/// The usage text (stdout), after a command-line error or for `--help`.
pub(crate) fn usage(v: &Variant, argv0: &str) -> String {
    let (qp_options, options) = (v.usage_qp_options, v.usage_options);
    let (notes, memory) = (v.usage_notes, v.usage_memory);
    let size = v.tool.default_size();
    let mtu = if specs(v).any(|s| s.id == Id::Mtu) {
        "  -m, --mtu=<size>       path MTU (default 1024)\n"
    } else {
        ""
    };
    format!(
        "\
Usage:
  {argv0}            start a server and wait for connection
  {argv0} <host>     connect to server at <host>

Options:
  -p, --port=<port>      listen on/connect to port <port> (default 18515)
  -d, --ib-dev=<dev>     use IB device <dev> (default first device found)
  -i, --ib-port=<port>   use port <port> of IB device (default 1)
  -s, --size=<size>      size of message to exchange (default {size})
{mtu}{qp_options}  -r, --rx-depth=<dep>   number of receives to post at a time (default 500)
  -n, --iters=<iters>    number of exchanges (default 1000)
  -l, --sl=<sl>          service level value (default 0)
  -e, --events           sleep on CQ events (default poll)
  -g, --gid-idx=<gid index> local port gid index (default none: LID only; RoCE needs one)
  -c, --chk              validate received buffer (default off)
{options}
Extensions of this clone:
      --timeout=<secs>   give up after <secs> seconds without progress: accept, connect,
                         each exchange message, each completion (default 0: wait forever)
  -h, --help             print this help and exit

{notes}Memory: registers {memory}.
"
    )
}

/// A command-line error: an optional message (stderr), and whether to print the usage
/// (stdout) after it, as the C tool does after getopt's messages.
pub(crate) struct ArgError {
    pub(crate) msg: Option<String>,
    pub(crate) usage: bool,
}

/// What the command line asks for.
pub(crate) enum Cmd {
    /// Run the ping-pong with these options.
    Run(Opts),
    /// Print the usage and exit 0.
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
            "{argv0}: {name} ({what}) is not supported by this clone of {}",
            o.variant.c_tool
        )),
        usage: false,
    };
    match s.id {
        Id::Port => o.port = value_in(v, 0, 65535, "a TCP port, 0 to 65535").map_err(bad)?,
        Id::IbDev => o.ib_dev = Some(v.to_string()),
        Id::IbPort => o.ib_port = value_in(v, 1, 255, "a port number, 1 to 255").map_err(bad)?,
        Id::Size => {
            let min = o.variant.tool.min_size();
            let what = format!("bytes, at least {min}");
            o.size = value_in(v, min.into(), u32::MAX as i128, &what).map_err(bad)?
        }
        Id::Mtu => {
            let what = "256, 512, 1024, 2048 or 4096";
            let bytes: u32 = value_in(v, 0, u32::MAX as i128, what).map_err(bad)?;
            o.mtu = Mtu::from_bytes(bytes).ok_or_else(|| bad(format!("expected {what}")))?;
        }
        Id::NumQp => {
            o.num_qp =
                value_in(v, 1, u32::MAX as i128, "a number of QPs, at least 1").map_err(bad)?
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
        Id::NewSend => o.new_send = true,
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
fn lookup_long(
    v: &Variant,
    argv0: &str,
    name: &str,
    body: &str,
) -> Result<&'static Spec, ArgError> {
    if let Some(s) = specs(v).find(|s| s.long == name) {
        return Ok(s);
    }
    let matches: Vec<&Spec> = specs(v).filter(|s| s.long.starts_with(name)).collect();
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

/// Parses `args` (without `argv0`) for the tool `v`.
pub(crate) fn parse_args(
    v: &'static Variant,
    argv0: &str,
    args: &[String],
) -> Result<Cmd, ArgError> {
    let mut o = Opts::new(v);
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
            let s = lookup_long(v, argv0, name, body)?;
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
                let Some(s) = specs(v).find(|s| s.short == Some(c)) else {
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

/// Reads the command line of the tool `v`: the options to run with, or (after printing the
/// usage or what is wrong) the exit status to end with, as the C tool's getopt loop does.
pub(crate) fn from_env(v: &'static Variant) -> Result<Opts, ExitCode> {
    let mut raw = std::env::args_os();
    let argv0 = raw
        .next()
        .map_or_else(|| v.name.into(), |a| a.to_string_lossy().into_owned());
    let mut args = Vec::new();
    for a in raw {
        match a.into_string() {
            Ok(s) => args.push(s),
            Err(a) => {
                let _ = fail!(format!("{argv0}: argument {a:?} is not valid UTF-8"));
                return Err(ExitCode::from(1));
            }
        }
    }
    match parse_args(v, &argv0, &args) {
        Ok(Cmd::Run(o)) => Ok(o),
        Ok(Cmd::Help) => {
            let _ = io::stdout().lock().write_all(usage(v, &argv0).as_bytes());
            Err(ExitCode::SUCCESS)
        }
        Err(e) => {
            if let Some(msg) = e.msg {
                let _ = fail!(msg);
            }
            if e.usage {
                let _ = io::stdout().lock().write_all(usage(v, &argv0).as_bytes());
            }
            Err(ExitCode::from(1))
        }
    }
}
