//! Unreliable-datagram QPs on real verbs: datagrams cross byte for byte with the 40-byte
//! header kept apart from the payload, the sender is named and can be answered, and every
//! refusal (too long for the MTU, not a SEND, an unknown or busy peer) names its reason.

use rdma_device_tests::pattern;
use rdma_device_tests::ud::{complete_all, UdPair};
use rdma_verbs::ud::DEFAULT_QKEY;
use rdma_verbs::{
    Access, AddressHandle, Error, Local, MemoryRegion, ProtectionDomain, QpType, QueuePair, RecvWr,
    SendWr, WcOpcode, WcStatus,
};
use std::time::{Duration, Instant};

#[test]
fn ud_datagrams_cross_byte_for_byte_and_name_their_sender() {
    let mut p = UdPair::open();
    assert_eq!(p.a.qkey(), DEFAULT_QKEY);
    let ah = p.ah(&p.b);
    let to_b = p.a.add_peer(ah, p.b.qpn(), DEFAULT_QKEY).unwrap();
    p.b.post_recv(RecvWr::recv(p.mr(4096)).wr_id(1)).unwrap();
    p.b.post_recv(RecvWr::recv(p.mr(4096)).wr_id(2)).unwrap();
    let data = pattern(1000, 7);
    p.a.post_send(to_b, SendWr::send(p.filled(&data)).wr_id(10))
        .unwrap();
    let small = pattern(32, 9);
    p.a.post_send(to_b, SendWr::send(&small[..]).imm(0xabc).wr_id(11))
        .unwrap();
    let sent = complete_all(&mut p.a, &p.cq_a, 2);
    assert_eq!(
        sent.iter().map(|c| (c.wr_id, c.status)).collect::<Vec<_>>(),
        [(10, WcStatus::Success), (11, WcStatus::Success)]
    );
    assert!(sent[0].buf.is_some(), "the owned source comes back");
    let got = complete_all(&mut p.b, &p.cq_b, 2);
    got.iter().for_each(|c| c.result().unwrap());
    // The payload from the buffer's first byte, its length without the header; the rest of
    // the buffer untouched.
    assert_eq!(
        (got[0].wr_id, got[0].opcode, got[0].byte_len),
        (1, WcOpcode::Recv, 1000)
    );
    assert_eq!(got[0].payload().unwrap(), &data[..]);
    let whole = got[0].buf.as_ref().unwrap().as_slice().unwrap();
    assert!(
        whole[1000..].iter().all(|&b| b == 0),
        "nothing past the payload"
    );
    assert_eq!(
        (got[1].wr_id, got[1].byte_len, got[1].imm_data),
        (2, 32, Some(0xabc))
    );
    assert_eq!(got[1].payload().unwrap(), &small[..]);
    let sender = got[0].sender.unwrap();
    assert_eq!(sender.qpn(), p.a.qpn());
    let a_addr = p.a.address(&p.opts).unwrap();
    if let Some(gid) = a_addr.gid {
        assert!(sender.has_grh(), "a global route carries a GRH");
        assert_eq!(sender.source_gid(), Some(gid), "{sender:?}");
    } else {
        assert_eq!(sender.lid(), a_addr.lid);
    }
    assert!(got[1].sender.is_some());
}

#[test]
fn ud_a_receiver_answers_the_sender_of_a_datagram() {
    let mut p = UdPair::open();
    let ah = p.ah(&p.b);
    let to_b = p.a.add_peer(ah, p.b.qpn(), DEFAULT_QKEY).unwrap();
    p.b.post_recv(RecvWr::recv(p.mr(256))).unwrap();
    p.a.post_recv(RecvWr::recv(p.mr(256)).wr_id(5)).unwrap();
    p.a.post_send(to_b, SendWr::send(&b"ping"[..])).unwrap();
    complete_all(&mut p.a, &p.cq_a, 1)[0].result().unwrap();
    let ping = complete_all(&mut p.b, &p.cq_b, 1).pop().unwrap();
    assert_eq!(ping.payload().unwrap(), b"ping");
    let sender = ping.sender.unwrap();
    // The answer goes back by the datagram's own address: nothing exchanged out of band.
    let back = AddressHandle::reply_to(&p.pd, p.b.port(), &sender).unwrap();
    assert!(back.attr().is_none());
    let to_a = p.b.add_peer(back, sender.qpn(), DEFAULT_QKEY).unwrap();
    let reply = pattern(200, 3);
    p.b.post_send(to_a, SendWr::send(p.filled(&reply))).unwrap();
    complete_all(&mut p.b, &p.cq_b, 1)[0].result().unwrap();
    let pong = complete_all(&mut p.a, &p.cq_a, 1).pop().unwrap();
    assert_eq!((pong.wr_id, pong.byte_len), (5, 200));
    assert_eq!(pong.payload().unwrap(), &reply[..]);
    assert_eq!(pong.sender.unwrap().qpn(), p.b.qpn());
}

#[test]
fn ud_a_send_longer_than_the_path_mtu_is_refused_before_the_device() {
    let mut p = UdPair::open();
    let mtu = p.a.max_message() as usize;
    let active = p.ctx.query_port(1).unwrap().active_mtu().unwrap().bytes() as usize;
    assert_eq!(mtu, active, "the limit is the port's active MTU");
    let ah = p.ah(&p.b);
    let to_b = p.a.add_peer(ah, p.b.qpn(), DEFAULT_QKEY).unwrap();
    let big = p.filled(&pattern(mtu + 1, 1));
    let e = p.a.post_send(to_b, SendWr::send(big)).unwrap_err();
    assert!(
        matches!(e.error, Error::MessageTooLong { len, max, qpn }
            if len == mtu + 1 && max as usize == mtu && qpn == p.a.qpn()),
        "{e}"
    );
    assert_eq!(e.returned.len(), 1, "the buffer comes back");
    assert_eq!(p.a.send_outstanding(), 0, "nothing was posted");
    // A range of it that fits is fine, and exactly one MTU arrives whole.
    let buf = e.returned.into_iter().next().unwrap();
    let want = pattern(mtu + 1, 1)[..mtu].to_vec();
    p.b.post_recv(RecvWr::recv(p.mr(mtu))).unwrap();
    p.a.post_send(to_b, SendWr::send(buf).range(0, mtu))
        .unwrap();
    complete_all(&mut p.a, &p.cq_a, 1)[0].result().unwrap();
    let got = complete_all(&mut p.b, &p.cq_b, 1).pop().unwrap();
    assert_eq!(got.byte_len as usize, mtu);
    assert_eq!(got.payload().unwrap(), &want[..]);
}

#[test]
fn ud_only_sends_are_posted_naming_the_transport() {
    let mut p = UdPair::open();
    let ah = p.ah(&p.b);
    let to_b = p.a.add_peer(ah, p.b.qpn(), DEFAULT_QKEY).unwrap();
    let remote = MemoryRegion::new(&p.pd, 64, Access::LOCAL_WRITE | Access::REMOTE_WRITE)
        .unwrap()
        .remote();
    let wrs = [
        (SendWr::write(p.mr(8), remote), "an RDMA WRITE"),
        (SendWr::read(p.mr(8), remote), "an RDMA READ"),
        (
            SendWr::fetch_add(p.mr(8), remote.slice(0, 8).unwrap(), 1),
            "an atomic",
        ),
    ];
    for (wr, what) in wrs {
        let e = p.a.post_send(to_b, wr).unwrap_err();
        assert!(
            matches!(e.error, Error::InvalidArgument(ref m)
                if m.contains("is UD") && m.contains(what)),
            "{e}"
        );
        assert_eq!(e.returned.len(), 1, "the buffer comes back");
    }
    assert_eq!(p.a.send_outstanding(), 0);
    // A UD QP is not a connected QueuePair.
    let e = QueuePair::builder(&p.pd, &p.cq_a, &p.cq_a)
        .qp_type(QpType::Ud)
        .build()
        .unwrap_err();
    assert!(
        matches!(e, Error::InvalidArgument(ref m) if m.contains("UdQueuePair")),
        "{e}"
    );
}

#[test]
fn ud_peers_are_kept_while_sends_to_them_are_outstanding() {
    let mut p = UdPair::open();
    let ah = p.ah(&p.b);
    let to_b = p.a.add_peer(ah.clone(), p.b.qpn(), DEFAULT_QKEY).unwrap();
    p.b.post_recv(RecvWr::recv(p.mr(64))).unwrap();
    p.a.post_send(to_b, SendWr::send(&b"x"[..])).unwrap();
    let e = p.a.remove_peer(to_b).unwrap_err();
    assert!(
        matches!(e, Error::InvalidArgument(ref m) if m.contains("outstanding")),
        "{e}"
    );
    complete_all(&mut p.a, &p.cq_a, 1)[0].result().unwrap();
    complete_all(&mut p.b, &p.cq_b, 1)[0].result().unwrap();
    p.a.remove_peer(to_b).unwrap();
    // The stale handle misses, even once its slot holds a new peer.
    let again = p.a.add_peer(ah, p.b.qpn(), DEFAULT_QKEY).unwrap();
    assert_ne!(again, to_b);
    let e = p.a.post_send(to_b, SendWr::send(p.mr(8))).unwrap_err();
    assert!(
        matches!(e.error, Error::InvalidArgument(ref m) if m.contains("no peer")),
        "{e}"
    );
    assert_eq!(e.returned.len(), 1);
    assert!(p.a.peer(again).is_some() && p.a.peer(to_b).is_none());
    // Bad peers are refused when added.
    let ah = p.ah(&p.b);
    for (qpn, qkey, what) in [
        (0x100_0000, DEFAULT_QKEY, "24 bits"),
        (p.b.qpn(), 0x8000_0001, "high bit"),
    ] {
        let e = p.a.add_peer(ah.clone(), qpn, qkey).unwrap_err();
        assert!(
            matches!(e, Error::InvalidArgument(ref m) if m.contains(what)),
            "{e}"
        );
    }
    let other_pd = ProtectionDomain::new(&p.ctx).unwrap();
    let foreign = AddressHandle::to(&other_pd, &p.b.address(&p.opts).unwrap(), &p.opts).unwrap();
    let e = p.a.add_peer(foreign, p.b.qpn(), DEFAULT_QKEY).unwrap_err();
    assert!(
        matches!(e, Error::InvalidArgument(ref m) if m.contains("protection domain")),
        "{e}"
    );
}

#[test]
fn ud_a_datagram_with_the_wrong_qkey_is_dropped() {
    let mut p = UdPair::open();
    let ah = p.ah(&p.b);
    let wrong = p.a.add_peer(ah.clone(), p.b.qpn(), 0x2222).unwrap();
    let right = p.a.add_peer(ah, p.b.qpn(), DEFAULT_QKEY).unwrap();
    p.b.post_recv(RecvWr::recv(p.mr(64))).unwrap();
    p.a.post_send(wrong, SendWr::send(&b"wrong"[..]).wr_id(1))
        .unwrap();
    // The send completes (UD has no acknowledgement); the receiver never sees it.
    complete_all(&mut p.a, &p.cq_a, 1)[0].result().unwrap();
    let deadline = Instant::now() + Duration::from_millis(300);
    let mut wcs = [rdma_verbs::WorkCompletion::default(); 4];
    while Instant::now() < deadline {
        assert!(
            p.cq_b.poll(&mut wcs).unwrap().is_empty(),
            "a wrong Q_Key was accepted"
        );
    }
    p.a.post_send(right, SendWr::send(&b"right"[..])).unwrap();
    complete_all(&mut p.a, &p.cq_a, 1)[0].result().unwrap();
    let got = complete_all(&mut p.b, &p.cq_b, 1).pop().unwrap();
    assert_eq!(got.payload().unwrap(), b"right");
}

#[test]
fn ud_shared_sources_sinks_and_empty_receives() {
    let mut p = UdPair::open();
    let ah = p.ah(&p.b);
    let to_b = p.a.add_peer(ah, p.b.qpn(), DEFAULT_QKEY).unwrap();
    let data = pattern(512, 5);
    let src = p.a.share(p.filled(&data));
    let sink = p.b.sink(p.mr(512));
    p.b.post_recv(RecvWr::recv_to_sink(sink).wr_id(1)).unwrap();
    p.b.post_recv(RecvWr::empty().wr_id(2)).unwrap();
    p.a.post_send(to_b, SendWr::send(src).signaled(false))
        .unwrap();
    p.a.post_send(to_b, SendWr::send(Local::Empty).imm(77))
        .unwrap();
    complete_all(&mut p.a, &p.cq_a, 1)[0].result().unwrap();
    let got = complete_all(&mut p.b, &p.cq_b, 2);
    got.iter().for_each(|c| c.result().unwrap());
    assert_eq!((got[0].wr_id, got[0].byte_len), (1, 512));
    assert!(got[0].buf.is_none() && got[0].payload().is_none());
    assert_eq!(
        (got[1].wr_id, got[1].byte_len, got[1].imm_data),
        (2, 0, Some(77))
    );
    let back = p.b.unsink(sink).unwrap();
    assert_eq!(back.as_slice().unwrap(), &data[..]);
    assert_eq!(p.a.unshare(src).unwrap().as_slice().unwrap(), &data[..]);
}
