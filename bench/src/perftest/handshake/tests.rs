use super::*;
use crate::perftest::transport::Link;
use crate::perftest::wire::{BwReportMsg, KeyMsg, VersionMsg};
use crate::perftest::PerfTest;
use rdma_verbs::Mtu;
use std::thread;
use std::time::Duration;

fn key(qpn: u32) -> KeyMsg {
    KeyMsg {
        lid: 0,
        out_reads: 1,
        qpn,
        psn: 0x1234,
        rkey: 0x55,
        vaddr: 0x7f00_0000_1000,
        gid: Some([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 1]),
        srqn: 0,
    }
}

fn pair() -> (Channel, Channel) {
    let l = Link::listen(0).unwrap();
    let port = l.local_addr().unwrap().port();
    let c =
        thread::spawn(move || Link::connect("127.0.0.1", port, Duration::from_secs(5)).unwrap());
    let s = Link::accept_on(&l, Some(Duration::from_secs(5)), Duration::from_secs(5)).unwrap();
    (Channel::new(c.join().unwrap(), None), Channel::new(s, None))
}

#[test]
fn write_bw_full_sequence_between_two_channels() {
    let (mut c, mut s) = pair();
    let srv = thread::spawn(move || {
        let agreed = s.preamble(&Preamble::local(Mtu::Mtu4096)).unwrap();
        assert_eq!(agreed.mtu, Mtu::Mtu1024);
        let mut seen = None;
        let remote = setup(&mut s, PerfTest::WriteBw, &[key(0x12)], |r| {
            seen = Some(r[0].qpn);
            Ok::<(), ()>(())
        })
        .unwrap();
        assert_eq!(seen, Some(0x11));
        assert_eq!(remote[0].qpn, 0x11);
        write_bw_server_finish(s, &key(0x12), Duration::from_secs(5)).unwrap()
    });
    let agreed = c.preamble(&Preamble::local(Mtu::Mtu1024)).unwrap();
    assert_eq!(agreed.remote_version.as_str(), "6.06");
    let remote = setup(
        &mut c,
        PerfTest::WriteBw,
        &[key(0x11)],
        |_| Ok::<(), ()>(()),
    )
    .unwrap();
    assert_eq!(remote[0].qpn, 0x12);
    let rep = BwReportMsg {
        size: 65536,
        iters: 200,
        bw_peak: 34.45,
        bw_avg: 33.24,
        msg_rate: 0.000532,
    };
    write_bw_client_finish(c, &key(0x11), &rep).unwrap();
    assert_eq!(srv.join().unwrap(), rep);
}

#[test]
fn write_lat_setup_is_four_key_exchanges_with_one_qp() {
    // What 6.06 ib_write_lat does with one QP (strace): four 108-byte exchanges.
    let (mut c, mut s) = pair();
    let srv = thread::spawn(move || {
        s.preamble(&Preamble::local(Mtu::Mtu1024)).unwrap();
        for _ in 0..4 {
            s.exchange_keys(&key(0x14)).unwrap();
        }
        s.link_mut().set_timeout(Duration::from_millis(300));
        // Nothing more before the run.
        assert!(s.exchange_keys(&key(0x14)).is_err());
    });
    c.preamble(&Preamble::local(Mtu::Mtu1024)).unwrap();
    let remote = setup(&mut c, PerfTest::WriteLat, &[key(0x13)], |_| {
        Ok::<(), ()>(())
    })
    .unwrap();
    assert_eq!(remote[0].qpn, 0x14);
    srv.join().unwrap();
}

#[test]
fn incompatible_version_is_refused() {
    let (mut c, mut s) = pair();
    let srv = thread::spawn(move || {
        s.link_mut()
            .exchange("version", &VersionMsg::new("5.60").unwrap().encode())
    });
    let err = c.preamble(&Preamble::local(Mtu::Mtu1024)).unwrap_err();
    assert!(matches!(err, ChannelError::Incompatible(ref v) if v == "5.60"));
    srv.join().unwrap().unwrap();
}

#[test]
fn key_form_mismatch_is_an_error() {
    let (mut c, mut s) = pair();
    let srv = thread::spawn(move || {
        let short = KeyMsg {
            gid: None,
            ..key(2)
        };
        // The server sends 59 bytes but reads 108: it will time out or see EOF.
        s.link_mut().set_timeout(Duration::from_millis(300));
        let _ = s.link_mut().exchange("keys", &short.encode().unwrap());
    });
    c.link_mut().set_timeout(Duration::from_millis(300));
    assert!(c.exchange_keys(&key(1)).is_err());
    srv.join().unwrap();
}

#[test]
fn setup_exchanges_the_keys_as_perftest_does() {
    // One QP. Write and read BW: K K connect K; write and read latency: K K connect K K;
    // send: K connect K K.
    for (test, keys) in [
        (PerfTest::WriteBw, 3),
        (PerfTest::ReadBw, 3),
        (PerfTest::WriteLat, 4),
        (PerfTest::ReadLat, 4),
        (PerfTest::SendBw, 3),
        (PerfTest::SendLat, 3),
    ] {
        let (mut c, mut s) = pair();
        let srv = thread::spawn(move || {
            s.link_mut().set_timeout(Duration::from_millis(300));
            let mut n = 0;
            while s.exchange_keys(&key(0x22)).is_ok() {
                n += 1;
            }
            n
        });
        let mut connected = 0;
        let remote = setup(&mut c, test, &[key(0x21)], |r| {
            assert_eq!(r[0].qpn, 0x22);
            connected += 1;
            Ok::<(), ()>(())
        })
        .unwrap();
        assert_eq!(connected, 1, "{test:?}");
        assert_eq!(remote[0].qpn, 0x22);
        drop(c);
        assert_eq!(srv.join().unwrap(), keys, "{test:?}");
    }
}

#[test]
fn setup_without_qps_is_an_error() {
    let (mut c, _s) = pair();
    let err = setup(&mut c, PerfTest::SendBw, &[], |_| Ok::<(), ()>(())).unwrap_err();
    assert!(
        matches!(err, SeqError::Channel(ChannelError::Wire(_))),
        "{err}"
    );
}

/// A C peer of `n` QPs (QP numbers `base`, `base + 1`, …) through perftest 6.06's keys
/// sequence of `test` up to the run; it stops at the first failed exchange.
fn c_peer_keys(mut ch: Channel, test: PerfTest, base: u32, n: u32) {
    ch.preamble(&Preamble::local(Mtu::Mtu1024)).unwrap();
    let all: Vec<KeyMsg> = (0..n).map(|i| key(base + i)).collect();
    let order: Vec<&KeyMsg> = if test.verb() == crate::perftest::Verb::Send {
        all.iter().chain([&all[0]]).chain(all.iter()).collect()
    } else {
        all.iter().chain(all.iter()).chain([&all[0]]).collect()
    };
    for k in order {
        if ch.exchange_keys(k).is_err() {
            return;
        }
    }
}

/// This side's setup with `ours` QPs against a C peer with `theirs`.
fn qp_count_error(test: PerfTest, ours: u32, theirs: u32) -> QpCountMismatch {
    let (mut c, s) = pair();
    let peer = thread::spawn(move || c_peer_keys(s, test, 0x31, theirs));
    c.preamble(&Preamble::local(Mtu::Mtu1024)).unwrap();
    c.link_mut().set_timeout(Duration::from_secs(2));
    let mine: Vec<KeyMsg> = (0..ours).map(|i| key(0x41 + i)).collect();
    let e = setup(&mut c, test, &mine, |_| Ok::<(), ()>(())).unwrap_err();
    drop(c);
    peer.join().unwrap();
    match e {
        SeqError::Channel(ChannelError::QpCount(m)) => m,
        e => panic!("{test:?} -q {ours} against -q {theirs}: {e:?}"),
    }
}

#[test]
fn a_peer_with_fewer_qps_is_named_with_its_count() {
    for test in [PerfTest::WriteBw, PerfTest::SendBw, PerfTest::ReadBw] {
        assert_eq!(
            qp_count_error(test, 2, 1),
            QpCountMismatch::Fewer { ours: 2, theirs: 1 }
        );
        assert_eq!(
            qp_count_error(test, 4, 2),
            QpCountMismatch::Fewer { ours: 4, theirs: 2 }
        );
    }
    let m = QpCountMismatch::Fewer { ours: 2, theirs: 1 }.to_string();
    assert_eq!(
        m,
        "the peer runs with -q 1 (its keys repeat its first QP after 1), this side with -q 2: \
         run both sides with the same -q"
    );
}

#[test]
fn a_peer_with_more_qps_is_named() {
    for test in [PerfTest::WriteBw, PerfTest::SendBw] {
        assert_eq!(
            qp_count_error(test, 1, 2),
            QpCountMismatch::More {
                ours: 1,
                got: 0x32,
                expected: 0x31
            },
            "{test:?}"
        );
    }
    assert!(QpCountMismatch::More {
        ours: 1,
        got: 0x32,
        expected: 0x31
    }
    .to_string()
    .starts_with("the peer runs with more QPs than this side's -q 1 (its keys named QP 0x32"));
}
