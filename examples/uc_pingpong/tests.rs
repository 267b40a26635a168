//! The command line of `uc_pingpong`: `ibv_uc_pingpong`'s options, and `ibv_rc_pingpong`'s
//! others refused as `ibv_uc_pingpong`'s getopt refuses them (message, usage, status 1).

use crate::args::{parse_args, usage, ArgError, Cmd, Opts};
use crate::UC;

fn parse(args: &[&str]) -> Result<Cmd, ArgError> {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    parse_args(&UC, "ibv_uc_pingpong", &args)
}

fn run_opts(args: &[&str]) -> Opts {
    match parse(args) {
        Ok(Cmd::Run(o)) => o,
        Ok(Cmd::Help) => panic!("{args:?}: help, expected a run"),
        Err(e) => panic!("{args:?} refused: {:?}", e.msg),
    }
}

fn refused(args: &[&str]) -> String {
    match parse(args) {
        Err(e) => {
            assert!(
                e.usage,
                "{args:?}: the usage follows, as after getopt's message"
            );
            e.msg.expect("a message")
        }
        Ok(_) => panic!("{args:?} accepted"),
    }
}

#[test]
fn the_c_tools_options_and_defaults() {
    let o = run_opts(&[]);
    assert_eq!(
        (o.port, o.ib_port, o.size, o.rx_depth, o.iters, o.sl, o.gidx),
        (18515, 1, 4096, 500, 1000, 0, -1)
    );
    assert!(!o.events && !o.chk && o.servername.is_none() && o.timeout.is_none());
    let o = run_opts(&[
        "-p", "7000", "-d", "rxe0", "-i", "1", "-s", "64", "-m", "2048", "-r", "8", "-n", "5",
        "-l", "3", "-e", "-g", "1", "-c", "host",
    ]);
    assert_eq!(
        (
            o.port,
            o.size,
            o.rx_depth,
            o.iters,
            o.sl,
            o.gidx,
            o.mtu.bytes()
        ),
        (7000, 64, 8, 5, 3, 1, 2048)
    );
    assert!(o.events && o.chk);
    assert_eq!(
        (o.ib_dev.as_deref(), o.servername.as_deref()),
        (Some("rxe0"), Some("host"))
    );
    let o = run_opts(&[
        "--chk",
        "--events",
        "--gid-idx=2",
        "--timeout",
        "1.5",
        "--it",
        "9",
    ]);
    assert!(o.chk && o.events && o.timeout.is_some());
    assert_eq!((o.gidx, o.iters), (2, 9));
    assert!(matches!(parse(&["-h"]), Ok(Cmd::Help)));
    assert!(matches!(parse(&["--help"]), Ok(Cmd::Help)));
}

#[test]
fn rc_only_options_are_unknown_as_to_the_c_tools_getopt() {
    for c in ['o', 'O', 'P', 't', 'j', 'N', 'U'] {
        assert_eq!(
            refused(&[&format!("-{c}")]),
            format!("ibv_uc_pingpong: invalid option -- '{c}'")
        );
    }
    assert_eq!(refused(&["-eo"]), "ibv_uc_pingpong: invalid option -- 'o'");
    for long in ["odp", "iodp", "prefetch", "ts", "dm", "new_send"] {
        assert_eq!(
            refused(&[&format!("--{long}")]),
            format!("ibv_uc_pingpong: unrecognized option '--{long}'")
        );
    }
}

#[test]
fn long_prefixes_match_among_the_uc_options_only() {
    // `--p` is `--port` here (rc also has `--prefetch`), `--t` is `--timeout` (rc: `--ts`).
    assert_eq!(run_opts(&["--p", "7001"]).port, 7001);
    assert!(run_opts(&["--t", "2"]).timeout.is_some());
    let msg = refused(&["--i", "1"]);
    assert!(msg.contains("is ambiguous"), "{msg}");
    assert!(!msg.contains("iodp"), "{msg}");
}

#[test]
fn usage_lists_only_the_uc_options() {
    let u = usage(&UC, "ibv_uc_pingpong");
    assert!(u.starts_with("Usage:\n  ibv_uc_pingpong            start a server"));
    for opt in [
        "-p", "-d", "-i", "-s", "-m", "-r", "-n", "-l", "-e", "-g", "-c", "-h",
    ] {
        assert!(
            u.contains(&format!("  {opt}, --")),
            "usage lacks {opt}:\n{u}"
        );
    }
    for rc in [
        "-N, ", "-o, ", "-O, ", "-P, ", "-t, ", "-j, ", "new_send", "odp",
    ] {
        assert!(!u.contains(rc), "usage mentions {rc}:\n{u}");
    }
    assert!(!u.contains("Not supported"), "{u}");
    assert!(u.contains("      --timeout=<secs>"), "{u}");
    assert!(u.ends_with("one to send).\n"), "{u}");
}
