//! Host tests of what `srq_pingpong` parses: its command line (`ibv_srq_pingpong`'s options
//! and checks) and the exchange of 256 address messages each way, against a peer on loopback.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use rdma_exchange::{ExchangeError, OobStream, PingpongDest, PINGPONG_MSG_LEN};
use rdma_verbs::Gid;

use crate::args::{parse_args, usage, ArgError, Cmd, Opts};
use crate::exchange::{client_exchange, read_failure, recv_dests, wire_dests, MAX_QP};
use crate::pingpong::bad_pages;
use crate::setup::{check_opts, piece_count};
use crate::SRQ;

fn parse(args: &[&str]) -> Result<Cmd, ArgError> {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    parse_args(&SRQ, "ibv_srq_pingpong", &args)
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
    assert_eq!(
        (o.port, o.ib_port, o.size, o.num_qp, o.rx_depth, o.iters),
        (18515, 1, 4096, 16, 500, 1000)
    );
    assert_eq!((o.sl, o.gidx, o.mtu.bytes()), (0, -1, 1024));
    assert!(!o.events && !o.chk && o.servername.is_none() && o.timeout.is_none());
    let o = run_opts(&[
        "-p", "7000", "-d", "rxe0", "-i", "1", "-s", "64", "-m", "2048", "-q", "4", "-r", "8",
        "-n", "5", "-l", "3", "-e", "-g", "1", "-c", "host",
    ]);
    assert_eq!(
        (o.port, o.size, o.num_qp, o.rx_depth, o.iters, o.sl, o.gidx),
        (7000, 64, 4, 8, 5, 3, 1)
    );
    assert!(o.events && o.chk && o.mtu.bytes() == 2048);
    assert_eq!(
        (o.ib_dev.as_deref(), o.servername.as_deref()),
        (Some("rxe0"), Some("host"))
    );
    // Long forms, an unambiguous prefix (`--n` is `--num-qp` here: no `--new_send`), a
    // cluster ending in an option with its argument, and a hex number as strtoul reads it.
    assert_eq!(run_opts(&["--num-qp=7"]).num_qp, 7);
    assert_eq!(run_opts(&["--n", "9"]).num_qp, 9);
    assert_eq!(run_opts(&["-ecq3"]).num_qp, 3);
    assert_eq!(run_opts(&["-q", "0x10"]).num_qp, 16);
    assert!(matches!(parse(&["--help"]), Ok(Cmd::Help)));
}

#[test]
fn bad_numbers_of_qps_are_refused_with_the_usage() {
    for (arg, why) in [
        ("0", "out of range"),
        ("abc", "not a number"),
        ("-1", "out of range"),
        ("", "not a number"),
    ] {
        let (msg, usage) = refused(&["-q", arg]);
        assert_eq!(
            msg,
            format!(
                "ibv_srq_pingpong: invalid value '{arg}' for -q/--num-qp: {why} (expected a \
                 number of QPs, at least 1)"
            )
        );
        assert!(usage, "{msg}");
    }
    let (msg, usage) = refused(&["-q"]);
    assert_eq!(msg, "ibv_srq_pingpong: option requires an argument -- 'q'");
    assert!(usage);
}

#[test]
fn other_tools_options_are_unknown_and_odp_is_refused() {
    // ibv_rc_pingpong's own options are not in ibv_srq_pingpong's getopt string.
    for c in ['O', 'P', 't', 'j', 'N'] {
        assert_eq!(
            refused(&[&format!("-{c}")]),
            (format!("ibv_srq_pingpong: invalid option -- '{c}'"), true)
        );
    }
    for long in ["iodp", "prefetch", "ts", "dm", "new_send"] {
        assert_eq!(
            refused(&[&format!("--{long}")]),
            (
                format!("ibv_srq_pingpong: unrecognized option '--{long}'"),
                true
            )
        );
    }
    // -o is ibv_srq_pingpong's, but on-demand paging is not supported here: a message, no
    // usage.
    for opt in ["-o", "--odp"] {
        let (msg, usage) = refused(&[opt]);
        assert_eq!(
            msg,
            "ibv_srq_pingpong: -o/--odp (on-demand paging) is not supported by this clone of \
             ibv_srq_pingpong"
        );
        assert!(!usage);
    }
}

#[test]
fn the_c_tools_checks_of_qps_against_rx_depth_and_max_qp() {
    let check = |args: &[&str]| check_opts(&run_opts(args));
    assert_eq!(check(&[]), Ok(()));
    assert_eq!(check(&["-q", "5", "-r", "5"]), Ok(()));
    assert_eq!(
        check(&["-q", "20", "-r", "10"]),
        Err("rx_depth 10 is too small for 20 QPs -- must have at least one receive per QP.".into())
    );
    assert_eq!(check(&["-q", "255", "-r", "1000"]), Ok(()));
    // The C tool's message, off by one as it is.
    for q in ["256", "300"] {
        assert_eq!(
            check(&["-q", q, "-r", "1000"]),
            Err(format!("num_qp {q} must be less than 255"))
        );
    }
    // Its first check wins, as in the C tool (and prints unsigned values with %d).
    assert_eq!(
        check(&["-q", "3000000000", "-r", "5"]),
        Err(
            "rx_depth 5 is too small for -1294967296 QPs -- must have at least one receive per QP."
                .into()
        )
    );
    let o = run_opts(&["-q", "4", "-r", "10", "-s", "100"]);
    assert_eq!(piece_count(&o), 10 + 2 * 4);
    assert_eq!(
        check(&["-q", "200", "-r", "2147483646", "-s", "0xffffffff"]),
        Err(
            "srq_pingpong: (rx-depth + 2 * num-qp) * size = (2147483646 + 2 * 200) * 4294967295 \
             bytes is too much memory"
                .into()
        )
    );
}

#[test]
fn usage_lists_the_srq_options() {
    let u = usage(&SRQ, "ibv_srq_pingpong");
    assert!(u.starts_with("Usage:\n  ibv_srq_pingpong            start a server"));
    assert!(
        u.contains(
            "  -m, --mtu=<size>       path MTU (default 1024)\n  -q, --num-qp=<num>     number \
             of QPs to use (default 16)\n  -r, --rx-depth=<dep>"
        ),
        "{u}"
    );
    for opt in [
        "-p", "-d", "-i", "-s", "-m", "-q", "-r", "-n", "-l", "-e", "-g", "-c", "-h",
    ] {
        assert!(
            u.contains(&format!("  {opt}, --")),
            "usage lacks {opt}:\n{u}"
        );
    }
    for rc in ["-N, ", "-O, ", "-P, ", "-t, ", "-j, ", "new_send"] {
        assert!(!u.contains(rc), "usage mentions {rc}:\n{u}");
    }
    assert!(u.contains("Not supported (rejected): -o/--odp.\n"), "{u}");
    assert!(
        u.ends_with(
            "Memory: registers (rx-depth + 2 * num-qp) * size bytes (one piece per posted \
             receive, two per QP).\n"
        ),
        "{u}"
    );
}

/// Three QPs' addresses, as a side with `-q 3` would send them.
fn three_dests(qpn: u32) -> Vec<PingpongDest> {
    let gid = Gid([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 1]);
    (0..3)
        .map(|i| PingpongDest {
            lid: 0,
            qpn: qpn + i,
            psn: 0xabc000 + i,
            gid,
        })
        .collect()
}

const UNUSED_WIRE: &[u8; PINGPONG_MSG_LEN] =
    b"0000:000000:000000:00000000000000000000000000000000\0";

#[test]
fn the_wire_has_256_messages_whatever_the_number_of_qps() {
    let my = three_dests(0x11);
    let wire: Vec<[u8; PINGPONG_MSG_LEN]> = wire_dests(&my).map(|d| d.to_wire()).collect();
    assert_eq!(wire.len(), MAX_QP);
    assert_eq!(
        &wire[0],
        b"0000:000011:abc000:00000000000000000000ffffc6120001\0"
    );
    assert_eq!(
        &wire[2],
        b"0000:000013:abc002:00000000000000000000ffffc6120001\0"
    );
    assert!(wire[3..].iter().all(|m| m == UNUSED_WIRE));
    let one = three_dests(0x20)[..1].to_vec();
    assert_eq!(wire_dests(&one).count(), MAX_QP);
}

/// A loopback connection: our end as an `OobStream`, the peer's as a plain socket.
fn loopback() -> (OobStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let peer = TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
    let (ours, _) = l.accept().expect("accept");
    let ours = OobStream::from_tcp(ours, Duration::from_secs(10)).expect("stream");
    (ours, peer)
}

#[test]
fn the_peers_256_messages_are_read_in_order() {
    let (mut ours, mut peer) = loopback();
    let theirs = three_dests(0x40);
    let bytes: Vec<u8> = wire_dests(&theirs).flat_map(|d| d.to_wire()).collect();
    // In odd-sized pieces, as TCP may deliver them.
    let writer = thread::spawn(move || {
        for chunk in bytes.chunks(37) {
            peer.write_all(chunk).expect("write");
        }
        peer
    });
    let rem = recv_dests(&mut ours).expect("256 messages");
    drop(writer.join());
    assert_eq!(rem.len(), MAX_QP);
    assert_eq!(rem[..3], theirs[..]);
    assert!(rem[3..].iter().all(|d| d.qpn == 0 && d.gid == Gid::ZERO));
}

#[test]
fn a_bad_or_missing_message_names_its_index() {
    // Message 2 is malformed: the C tool's sscanf would take it, here it is an error.
    let (mut ours, mut peer) = loopback();
    let mut bytes: Vec<u8> = wire_dests(&three_dests(0x50))
        .flat_map(|d| d.to_wire())
        .collect();
    bytes[2 * PINGPONG_MSG_LEN + 4] = b';';
    peer.write_all(&bytes).expect("write");
    let (i, e) = recv_dests(&mut ours).expect_err("a bad message");
    assert_eq!(i, 2);
    assert!(matches!(e, ExchangeError::Parse { .. }), "{e:?}");
    let [perror, line] = read_failure("client", i, &e);
    assert_eq!(
        perror,
        "client read: invalid pingpong address from peer: expected ':' after lid at byte 4, \
         found ';'"
    );
    assert_eq!(line, "52/52: Couldn't read remote address [2]");

    // The peer closes in the middle of message 5 (the C tool's read loop would spin).
    bytes[2 * PINGPONG_MSG_LEN + 4] = b':';
    let (mut ours, mut peer) = loopback();
    peer.write_all(&bytes[..5 * PINGPONG_MSG_LEN + 10])
        .expect("write");
    drop(peer);
    let (i, e) = recv_dests(&mut ours).expect_err("a short exchange");
    assert_eq!(i, 5);
    let [perror, line] = read_failure("server", i, &e);
    assert_eq!(
        perror,
        "server read: peer closed the connection during receive pingpong address (52 bytes) \
         after 10 bytes"
    );
    assert_eq!(line, "10/52: Couldn't read remote address [5]");
}

/// The whole client side against a peer that does what the C server does: reads 256
/// messages, sends 256, reads `done`.
#[test]
fn client_exchange_against_a_c_like_server() {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let server_dests = three_dests(0x60);
    let server = thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        let mut got = vec![0u8; MAX_QP * PINGPONG_MSG_LEN];
        s.read_exact(&mut got).expect("256 messages");
        for d in wire_dests(&server_dests) {
            s.write_all(&d.to_wire()).expect("write");
        }
        let mut done = [0u8; 5];
        s.read_exact(&mut done).expect("done");
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).expect("eof");
        (got, done, rest)
    });
    let o = run_opts(&["-p", &port.to_string(), "-q", "3", "127.0.0.1"]);
    let my = three_dests(0x70);
    let rem = match client_exchange(&o, "127.0.0.1", &my) {
        Ok(rem) => rem,
        Err(_) => panic!("the client exchange failed"),
    };
    let (got, done, rest) = server.join().expect("server");
    let expect: Vec<u8> = wire_dests(&my).flat_map(|d| d.to_wire()).collect();
    assert_eq!(got, expect, "our 256 messages, byte for byte");
    assert_eq!(&done, b"done\0");
    assert!(rest.is_empty(), "nothing after done: {rest:?}");
    assert_eq!(rem[..3], three_dests(0x60)[..]);
    assert_eq!(rem.len(), MAX_QP);
}

#[test]
fn the_check_finds_every_page_with_a_non_zero_byte() {
    let mut msg = vec![0u8; 3 * 4096 + 100];
    assert_eq!(bad_pages(&msg, 4096).count(), 0);
    msg[4096 + 4095] = 1; // the last byte of page 1, not its first
    msg[3 * 4096 + 99] = 0x7b; // the short last page
    assert_eq!(bad_pages(&msg, 4096).collect::<Vec<_>>(), [1, 3]);
    assert_eq!(bad_pages(&[], 4096).count(), 0);
}
