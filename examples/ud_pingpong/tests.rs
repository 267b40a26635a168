//! Host tests of what `ud_pingpong` parses and derives: `ibv_ud_pingpong`'s command line (its
//! options, its defaults, the options it lacks), bad input refused with a message, the MTU
//! check, the address handle's attributes, the address lines, the `-c` check and the exchange
//! with a peer on loopback (TCP ports 18890-18899).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use rdma_exchange::{PingpongDest, DONE_MSG, PINGPONG_MSG_LEN};
use rdma_verbs::Gid;

use crate::args::{parse_args, usage, ArgError, Cmd, Opts};
use crate::exchange::{client_exchange, server_exchange};
use crate::pingpong::bad_pages;
use crate::run::local_line;
use crate::setup::{ah_attr, check_size, piece_len};
use crate::UD;

fn parse(args: &[&str]) -> Result<Cmd, ArgError> {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    parse_args(&UD, "ibv_ud_pingpong", &args)
}

fn run_opts(args: &[&str]) -> Opts {
    match parse(args) {
        Ok(Cmd::Run(o)) => o,
        Ok(Cmd::Help) => panic!("{args:?}: help, expected a run"),
        Err(e) => panic!("{args:?} refused: {:?}", e.msg),
    }
}

/// The message of a refused command line, and whether the usage follows it.
fn refused(args: &[&str]) -> (String, bool) {
    match parse(args) {
        Err(e) => (e.msg.expect("a message"), e.usage),
        Ok(_) => panic!("{args:?} accepted"),
    }
}

#[test]
fn the_c_tools_options_and_defaults() {
    let o = run_opts(&[]);
    // The default size is the code's 1024, not the usage text's 2048.
    assert_eq!(
        (o.port, o.ib_port, o.size, o.rx_depth, o.iters, o.sl, o.gidx),
        (18515, 1, 1024, 500, 1000, 0, -1)
    );
    assert!(!o.events && !o.chk && o.servername.is_none() && o.timeout.is_none());
    let o = run_opts(&[
        "-p", "7000", "-d", "rxe0", "-i", "2", "-s", "64", "-r", "8", "-n", "5", "-l", "3", "-e",
        "-g", "1", "-c", "host",
    ]);
    assert_eq!(
        (o.port, o.ib_port, o.size, o.rx_depth, o.iters, o.sl, o.gidx),
        (7000, 2, 64, 8, 5, 3, 1)
    );
    assert!(o.events && o.chk);
    assert_eq!(
        (o.ib_dev.as_deref(), o.servername.as_deref()),
        (Some("rxe0"), Some("host"))
    );
    // Long forms, prefixes, clusters, strtoul's bases; -s 0 works as in the C tool.
    let o = run_opts(&[
        "--size=0",
        "--rx-depth",
        "0x10",
        "--it",
        "010",
        "-ecs",
        "100",
    ]);
    assert_eq!((o.size, o.rx_depth, o.iters), (100, 16, 8));
    assert!(o.events && o.chk);
    assert_eq!(run_opts(&["-s", "0"]).size, 0);
    assert_eq!(run_opts(&["--gid-idx=3", "--sl", "15"]).gidx, 3);
    assert!(matches!(parse(&["--help"]), Ok(Cmd::Help)));
}

#[test]
fn options_ibv_ud_pingpong_lacks_are_unknown_to_its_getopt() {
    // No -m (UD has no path MTU to choose), nor the other tools' own options.
    for c in ['m', 'q', 'o', 'O', 'P', 't', 'j', 'N'] {
        assert_eq!(
            refused(&[&format!("-{c}"), "1"]),
            (format!("ibv_ud_pingpong: invalid option -- '{c}'"), true)
        );
    }
    for long in [
        "mtu", "num-qp", "odp", "iodp", "prefetch", "ts", "dm", "new_send",
    ] {
        assert_eq!(
            refused(&[&format!("--{long}=1")]),
            (
                format!("ibv_ud_pingpong: unrecognized option '--{long}=1'"),
                true
            )
        );
    }
    // Without --mtu, `--i` is ambiguous among ud's three options that begin so.
    assert_eq!(
        refused(&["--i", "1"]),
        (
            "ibv_ud_pingpong: option '--i' is ambiguous; possibilities: '--ib-dev' '--ib-port' \
             '--iters'"
                .to_string(),
            true
        )
    );
}

#[test]
fn bad_values_are_refused_naming_the_option_and_why() {
    for (args, want) in [
        (
            &["-s", "abc"][..],
            "invalid value 'abc' for -s/--size: not a number (expected bytes, at least 0)",
        ),
        (
            &["-s", "-1"],
            "invalid value '-1' for -s/--size: out of range (expected bytes, at least 0)",
        ),
        (
            &["-r", "0"],
            "invalid value '0' for -r/--rx-depth: out of range (expected receives, 1 to \
             2147483646)",
        ),
        (
            &["-l", "16"],
            "invalid value '16' for -l/--sl: out of range (expected a service level, 0 to 15)",
        ),
        (
            &["-i", "0"],
            "invalid value '0' for -i/--ib-port: out of range (expected a port number, 1 to 255)",
        ),
        (
            &["-p", "70000"],
            "invalid value '70000' for -p/--port: out of range (expected a TCP port, 0 to 65535)",
        ),
        (
            &["-n", ""],
            "invalid value '' for -n/--iters: not a number (expected a count)",
        ),
        (&["-g"], "option requires an argument -- 'g'"),
        (&["a", "b"], "expected at most one <host>, got 2: a b"),
    ] {
        let (msg, usage) = refused(args);
        assert_eq!(msg, format!("ibv_ud_pingpong: {want}"), "{args:?}");
        assert!(usage, "{args:?}: the usage follows");
    }
}

#[test]
fn usage_has_no_mtu_and_the_true_default_size() {
    let u = usage(&UD, "ibv_ud_pingpong");
    assert!(u.starts_with("Usage:\n  ibv_ud_pingpong            start a server"));
    assert!(
        u.contains(
            "  -s, --size=<size>      size of message to exchange (default 1024)\n  -r, \
             --rx-depth=<dep>"
        ),
        "{u}"
    );
    assert!(!u.contains("--mtu") && !u.contains("-q, "), "{u}");
    for opt in [
        "-p", "-d", "-i", "-s", "-r", "-n", "-l", "-e", "-g", "-c", "-h",
    ] {
        assert!(
            u.contains(&format!("  {opt}, --")),
            "usage lacks {opt}:\n{u}"
        );
    }
    assert!(u.contains("-s is at most the port's active MTU"), "{u}");
}

#[test]
fn size_is_checked_against_the_active_mtu_with_the_c_message() {
    assert_eq!(check_size(1024, 1024), Ok(()));
    assert_eq!(check_size(0, 256), Ok(()));
    assert_eq!(
        check_size(1025, 1024),
        Err("Requested size larger than port MTU (1024)".to_string())
    );
    assert_eq!(
        check_size(4096, 2048),
        Err("Requested size larger than port MTU (2048)".to_string())
    );
    assert_eq!((piece_len(0), piece_len(1), piece_len(1024)), (1, 1, 1024));
}

fn dest(gid: [u8; 16]) -> PingpongDest {
    PingpongDest {
        lid: 0x12,
        qpn: 0x345,
        psn: 0xabcdef,
        gid: Gid(gid),
    }
}

/// The RoCE v2 GID of 198.18.0.1 (interface id `0000:ffff:c612:0001`).
const ROCE: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 1];

#[test]
fn the_address_handle_is_global_only_for_a_non_zero_interface_id() {
    let o = run_opts(&["-l", "5", "-i", "2", "-g", "1"]);
    let a = ah_attr(&o, &dest(ROCE));
    assert_eq!((a.dlid, a.sl, a.port, a.src_path_bits), (0x12, 5, 2, 0));
    let g = a.grh.expect("a global route");
    assert_eq!((g.dgid, g.sgid_index, g.hop_limit), (Gid(ROCE), 1, 64));
    assert_eq!((g.flow_label, g.traffic_class), (0, 0));
    // A subnet prefix alone (interface id zero) is not global, as in the C tool.
    let mut prefix_only = [0u8; 16];
    prefix_only[..2].copy_from_slice(&[0xfe, 0x80]);
    assert_eq!(ah_attr(&o, &dest(prefix_only)).grh, None);
    assert_eq!(ah_attr(&o, &dest([0; 16])).grh, None);
    // Without -g the C tool's int -1 lands in the u8 sgid_index as 255.
    let no_g = run_opts(&[]);
    assert_eq!(ah_attr(&no_g, &dest(ROCE)).grh.unwrap().sgid_index, 255);
}

#[test]
fn the_local_line_has_a_colon_before_the_gid() {
    assert_eq!(
        local_line(&dest(ROCE)),
        "  local address:  LID 0x0012, QPN 0x000345, PSN 0xabcdef: GID ::ffff:198.18.0.1"
    );
    assert_eq!(
        local_line(&dest([0; 16])),
        "  local address:  LID 0x0012, QPN 0x000345, PSN 0xabcdef: GID ::"
    );
}

#[test]
fn the_check_reports_pages_whose_first_byte_is_not_zero() {
    let page = 4096;
    let mut buf = vec![0x7b; 3 * page - 10];
    assert_eq!(bad_pages(&buf, page), [0, 1, 2]);
    buf[0] = 0;
    buf[2 * page] = 0;
    assert_eq!(bad_pages(&buf, page), [1]);
    // Only the first byte of a page counts.
    buf[page] = 0;
    assert!(bad_pages(&buf, page).is_empty());
    assert!(bad_pages(&[], page).is_empty());
}

/// The server's address as a C server sends it.
fn server_dest() -> PingpongDest {
    dest(ROCE)
}

#[test]
fn the_client_exchange_reads_the_servers_address_and_says_done() {
    let listener = TcpListener::bind(("127.0.0.1", 18890)).expect("port 18890");
    let peer = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut msg = [0u8; PINGPONG_MSG_LEN];
        s.read_exact(&mut msg).unwrap();
        s.write_all(&server_dest().to_wire()).unwrap();
        let mut done = [0u8; 5];
        s.read_exact(&mut done).unwrap();
        (msg, done)
    });
    let o = run_opts(&["-p", "18890", "--timeout", "10"]);
    let my = dest([0; 16]);
    let rem = client_exchange(&o, "127.0.0.1", &my).unwrap_or_else(|_| panic!("exchange"));
    assert_eq!(rem, server_dest());
    let (msg, done) = peer.join().unwrap();
    assert_eq!(
        &msg[..],
        &b"0012:000345:abcdef:00000000000000000000000000000000\0"[..]
    );
    assert_eq!(&done, DONE_MSG);
}

#[test]
fn a_malformed_address_fails_the_server_before_it_connects() {
    let o = run_opts(&["-p", "18891", "--timeout", "10"]);
    let client = thread::spawn(|| {
        for _ in 0..200 {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", 18891)) {
                let mut bad = [b'z'; PINGPONG_MSG_LEN];
                bad[PINGPONG_MSG_LEN - 1] = 0;
                let _ = s.write_all(&bad);
                let mut rest = Vec::new();
                let _ = s.read_to_end(&mut rest);
                return rest;
            }
            thread::sleep(Duration::from_millis(20));
        }
        panic!("the server never listened on 18891");
    });
    let mut connected = false;
    let r = server_exchange(&o, &dest(ROCE), |_| {
        connected = true;
        Ok(())
    });
    assert!(r.is_err(), "a malformed address is an error");
    assert!(!connected, "no QP is connected to a malformed address");
    assert!(client.join().unwrap().is_empty(), "nothing is sent back");
}
