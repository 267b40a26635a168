//! Exchanges over real loopback TCP connections, including byte-for-byte
//! imitations of the C tool in either role.

use super::*;
use crate::test_fixtures::{c_sprintf, dest, endpoint, GOOD_EP, MAPPED};
use rdma_verbs::Gid;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::thread;

const T: Duration = Duration::from_secs(5);

fn loopback_listener() -> OobListener {
    OobListener::bind_addr(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))).unwrap()
}

#[test]
fn tcp_exchange_between_threads() {
    let listener = OobListener::bind(0).unwrap();
    let port = listener.local_port();
    assert_ne!(port, 0);
    let server_dest = PingpongDest {
        lid: 7,
        qpn: 0x222,
        psn: 0x333,
        gid: Gid::ZERO,
    };
    let server_ep = Endpoint {
        remote_buffer: None,
        ..endpoint()
    };
    let server = thread::spawn(move || {
        let mut s = listener.accept(T).unwrap();
        let client = s.recv_pingpong().unwrap();
        // (the caller would connect its QP here)
        s.send_pingpong(&server_dest).unwrap();
        s.recv_done().unwrap();
        let client_ep = s.recv_endpoint().unwrap();
        s.send_endpoint(&server_ep).unwrap();
        s.recv_done().unwrap();
        (client, client_ep)
    });
    let mut c = OobStream::connect("127.0.0.1", port, T).unwrap();
    c.send_pingpong(&dest()).unwrap();
    assert_eq!(c.recv_pingpong().unwrap(), server_dest);
    c.send_done().unwrap();
    c.send_endpoint(&endpoint()).unwrap();
    assert_eq!(c.recv_endpoint().unwrap(), server_ep);
    c.send_done().unwrap();
    let (client, client_ep) = server.join().unwrap();
    assert_eq!(client, dest());
    assert_eq!(client_ep, endpoint());
}

#[test]
fn tcp_connect_by_name_and_ipv6() {
    let listener = OobListener::bind(0).unwrap();
    let port = listener.local_port();
    let mut hosts = vec!["localhost", "127.0.0.1"];
    // IPv6 loopback is not configured everywhere (e.g. some sandboxes).
    if std::net::TcpListener::bind("[::1]:0").is_ok() {
        hosts.push("::1");
        hosts.push("[::1]");
    }
    let count = hosts.len();
    let server = thread::spawn(move || {
        for _ in 0..count {
            let mut s = listener.accept(T).unwrap();
            s.send_done().unwrap();
        }
        count
    });
    for host in &hosts {
        let mut c = OobStream::connect(host, port, T).unwrap();
        c.recv_done().unwrap();
    }
    assert_eq!(server.join().unwrap(), hosts.len());
}

/// Plays the C client byte for byte against our server.
#[test]
fn tcp_c_client_against_rust_server() {
    let listener = loopback_listener();
    let port = listener.local_port();
    let server = thread::spawn(move || {
        let mut s = listener.accept(T).unwrap();
        let client = s.recv_pingpong().unwrap();
        s.send_pingpong(&dest()).unwrap();
        s.recv_done().unwrap();
        client
    });
    let mut raw = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mine = c_sprintf(0x1a, 0x123456, 0x000001, &Gid::ZERO);
    assert_eq!(raw.write(&mine).unwrap(), PINGPONG_MSG_LEN);
    let mut msg = [0u8; PINGPONG_MSG_LEN];
    raw.read_exact(&mut msg).unwrap();
    assert_eq!(msg.to_vec(), c_sprintf(0, 0x11, 0xabcdef, &MAPPED));
    assert_eq!(raw.write(b"done\0").unwrap(), 5);
    let got = server.join().unwrap();
    assert_eq!((got.lid, got.qpn, got.psn), (0x1a, 0x123456, 1));
}

/// Plays the C server byte for byte against our client: one read of up to
/// 52 bytes for "done" must return exactly 5.
#[test]
fn tcp_rust_client_against_c_server() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut msg = [0u8; PINGPONG_MSG_LEN];
        s.read_exact(&mut msg).unwrap();
        s.write_all(&c_sprintf(0xbeef, 0xffffff, 0, &MAPPED))
            .unwrap();
        let mut done = [0u8; PINGPONG_MSG_LEN];
        let mut n = 0;
        while n < 5 {
            let r = s.read(&mut done[n..]).unwrap();
            assert_ne!(r, 0);
            n += r;
        }
        assert_eq!(&done[..n], b"done\0");
        msg
    });
    let mut c = OobStream::connect("127.0.0.1", port, T).unwrap();
    c.send_pingpong(&dest()).unwrap();
    let peer = c.recv_pingpong().unwrap();
    assert_eq!(
        peer,
        PingpongDest {
            lid: 0xbeef,
            qpn: 0xffffff,
            psn: 0,
            gid: MAPPED
        }
    );
    c.send_done().unwrap();
    drop(c);
    assert_eq!(server.join().unwrap(), dest().to_wire());
}

#[test]
fn tcp_split_segments_and_coalesced_messages() {
    let listener = loopback_listener();
    let port = listener.local_port();
    let server = thread::spawn(move || {
        let mut s = listener.accept(T).unwrap();
        let a = s.recv_pingpong().unwrap();
        let b = s.recv_endpoint().unwrap();
        let c = s.recv_endpoint().unwrap();
        s.recv_done().unwrap();
        (a, b, c)
    });
    let mut raw = TcpStream::connect(("127.0.0.1", port)).unwrap();
    raw.set_nodelay(true).unwrap();
    let wire = dest().to_wire();
    raw.write_all(&wire[..10]).unwrap();
    thread::sleep(Duration::from_millis(30));
    raw.write_all(&wire[10..]).unwrap();
    // Two lines and "done" in one segment.
    let mut burst = endpoint().to_line().into_bytes();
    burst.extend_from_slice(GOOD_EP.as_bytes());
    burst.extend_from_slice(DONE_MSG);
    raw.write_all(&burst).unwrap();
    let (a, b, c) = server.join().unwrap();
    assert_eq!(a, dest());
    assert_eq!(b, endpoint());
    assert_eq!(c, endpoint());
}

#[test]
fn tcp_connect_to_closed_port() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    match OobStream::connect("127.0.0.1", port, T) {
        Err(ExchangeError::Connect { target, tried, .. }) => {
            assert_eq!(target, format!("127.0.0.1:{port}"));
            assert!(tried.starts_with(&format!("127.0.0.1:{port}: ")), "{tried}");
        }
        other => panic!("{other:?}"),
    }
    let err = OobStream::connect("127.0.0.1", port, T).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("cannot connect to 127.0.0.1:{port}: ")),
        "{err}"
    );
}

#[test]
fn tcp_resolve_failure() {
    assert!(matches!(
        // A NUL makes the lookup fail at once, without asking any resolver.
        OobStream::connect("bad\0host", 1, T),
        Err(ExchangeError::Resolve { .. })
    ));
}

#[test]
fn tcp_silent_peer_times_out() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let peer = thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        thread::sleep(Duration::from_millis(1500));
        drop(s);
    });
    let timeout = Duration::from_millis(200);
    let mut c = OobStream::connect("127.0.0.1", port, timeout).unwrap();
    let start = Instant::now();
    let err = c.recv_pingpong().unwrap_err();
    let elapsed = start.elapsed();
    match err {
        ExchangeError::Timeout {
            step,
            timeout: t,
            received: 0,
        } => {
            assert_eq!(step, STEP_PP_RECV);
            assert_eq!(t, timeout);
        }
        other => panic!("{other:?}"),
    }
    assert!(elapsed >= Duration::from_millis(190), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(1000), "{elapsed:?}");
    // The other receive kinds time out too.
    assert!(matches!(
        c.recv_endpoint(),
        Err(ExchangeError::Timeout { .. })
    ));
    assert!(matches!(c.recv_done(), Err(ExchangeError::Timeout { .. })));
    peer.join().unwrap();
}

#[test]
fn tcp_accept_times_out() {
    let listener = loopback_listener();
    let start = Instant::now();
    let err = listener.accept(Duration::from_millis(100)).unwrap_err();
    assert!(
        matches!(err, ExchangeError::Timeout { step: "accept", .. }),
        "{err:?}"
    );
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn tcp_peer_closes_early() {
    let listener = loopback_listener();
    let port = listener.local_port();
    let peer = thread::spawn(move || {
        let mut raw = TcpStream::connect(("127.0.0.1", port)).unwrap();
        raw.write_all(&dest().to_wire()[..10]).unwrap();
    });
    let mut s = listener.accept(T).unwrap();
    peer.join().unwrap();
    let err = s.recv_pingpong().unwrap_err();
    assert!(
        matches!(
            err,
            ExchangeError::PeerClosed {
                received: 10,
                step: STEP_PP_RECV
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "peer closed the connection during receive pingpong address (52 bytes) after 10 bytes"
    );
}

#[test]
fn tcp_bad_messages_from_peer() {
    let listener = loopback_listener();
    let port = listener.local_port();
    let peer = thread::spawn(move || {
        let mut raw = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut bad = dest().to_wire();
        bad[4] = b'-';
        raw.write_all(&bad).unwrap();
        raw.write_all(b"DONE\0").unwrap();
        raw.write_all(&[b'x'; 300]).unwrap();
        raw
    });
    let mut s = listener.accept(T).unwrap();
    let raw = peer.join().unwrap();
    assert!(matches!(
        s.recv_pingpong(),
        Err(ExchangeError::Parse {
            source: ParseError::BadSeparator { field: "lid", .. },
            ..
        })
    ));
    match s.recv_done() {
        Err(ExchangeError::UnexpectedDone { got }) => assert_eq!(got, "DONE\\x00"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s.recv_endpoint(),
        Err(ExchangeError::Parse {
            source: ParseError::TooLong { max: 256 },
            ..
        })
    ));
    drop(raw);
}

#[test]
fn send_refuses_invalid_values() {
    let listener = loopback_listener();
    let port = listener.local_port();
    let mut c = OobStream::connect("127.0.0.1", port, T).unwrap();
    let bad = PingpongDest {
        qpn: 0x100_0000,
        ..dest()
    };
    assert!(matches!(
        c.send_pingpong(&bad),
        Err(ExchangeError::InvalidLocal { .. })
    ));
    let bad = Endpoint {
        mtu: 9,
        ..endpoint()
    };
    assert!(matches!(
        c.send_endpoint(&bad),
        Err(ExchangeError::InvalidLocal { .. })
    ));
}

#[test]
fn generic_helpers_and_zero_timeout() {
    let listener = loopback_listener();
    let port = listener.local_port();
    let mut c = OobStream::connect("127.0.0.1", port, T).unwrap();
    let mut s = listener.accept(T).unwrap();
    c.send_bytes(b"hello world").unwrap();
    let mut buf = [0u8; 11];
    s.recv_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hello world");
    s.recv_exact(&mut []).unwrap();
    s.set_timeout(Duration::ZERO);
    assert_eq!(s.timeout(), Duration::ZERO);
    assert!(matches!(
        s.recv_exact(&mut buf),
        Err(ExchangeError::Timeout { .. })
    ));
    assert!(s.peer_addr().unwrap().ip().is_loopback());
    assert!(matches!(
        OobStream::connect("127.0.0.1", port, Duration::ZERO),
        Err(ExchangeError::Connect { .. })
    ));
    // A huge timeout means no deadline rather than an overflow.
    s.set_timeout(Duration::MAX);
    c.send_bytes(b"x").unwrap();
    s.recv_exact(&mut buf[..1]).unwrap();
}
