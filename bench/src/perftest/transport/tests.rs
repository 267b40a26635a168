use super::*;
use std::thread;
use std::time::Instant;

/// A connected client and server on a free port of the loopback.
fn pair() -> (Link, Link) {
    let l = Link::listen(0).unwrap();
    let port = l.local_addr().unwrap().port();
    let c =
        thread::spawn(move || Link::connect("127.0.0.1", port, Duration::from_secs(5)).unwrap());
    let s = Link::accept_on(&l, Some(Duration::from_secs(5)), Duration::from_secs(5)).unwrap();
    (c.join().unwrap(), s)
}

#[test]
fn exchange_is_symmetric_and_roles_are_kept() {
    let (mut c, mut s) = pair();
    assert_eq!((c.role(), s.role()), (Role::Client, Role::Server));
    assert!(!c.is_cm());
    assert!(c.peer_addr().is_ok());
    let srv = thread::spawn(move || s.exchange("hello", b"server").unwrap());
    assert_eq!(c.exchange("hello", b"client").unwrap(), b"server");
    assert_eq!(srv.join().unwrap(), b"client");
}

#[test]
fn close_sends_the_last_message_and_drains_the_peers() {
    let (mut c, mut s) = pair();
    let srv = thread::spawn(move || {
        s.send_only("done", b"done\0").unwrap();
        let mut theirs = [0u8; 5];
        s.recv("done", &mut theirs, Duration::from_secs(5)).unwrap();
        s.close("done", 5, Duration::from_secs(1));
        theirs
    });
    c.send_only("done", b"done\0").unwrap();
    c.close("done", 5, Duration::from_secs(1));
    assert_eq!(&srv.join().unwrap(), b"done\0");
}

#[test]
fn vanished_peer_is_an_error_not_a_hang() {
    let (mut c, s) = pair();
    drop(s);
    let start = Instant::now();
    let err = c.exchange("keys", &[0; 108]).unwrap_err();
    assert!(
        matches!(err, LinkError::Closed { .. }),
        "unexpected error: {err}"
    );
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn silent_peer_times_out() {
    let (mut c, _s) = pair();
    c.set_timeout(Duration::from_millis(200));
    let start = Instant::now();
    let err = c.exchange("keys", &[0; 108]).unwrap_err();
    assert!(
        matches!(err, LinkError::Timeout { what: "keys", .. }),
        "{err}"
    );
    assert!(start.elapsed() < Duration::from_secs(3));
}

#[test]
fn connect_error_names_host_and_port() {
    let l = Link::listen(0).unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let err = Link::connect("127.0.0.1", port, Duration::from_secs(2)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("Couldn't connect to 127.0.0.1:{port}")
    );
}

#[test]
fn accept_times_out() {
    let l = Link::listen(0).unwrap();
    let err = Link::accept_on(&l, Some(Duration::from_millis(100)), DEFAULT_TIMEOUT).unwrap_err();
    assert!(matches!(err, LinkError::Accept(_)));
}
