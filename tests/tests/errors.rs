//! Errors provoked on purpose: each test checks the error kind, never just "it failed".

use rdma_device_tests::{device, poll_n, Pair, TIMEOUT};
use rdma_verbs::{
    Access, Context, Error, MemoryRegion, QpCaps, QueuePair, RecvWr, RemoteBuf, SendWr, WcStatus,
};

fn caps() -> QpCaps {
    QpCaps {
        max_send_wr: 32,
        max_recv_wr: 32,
        max_inline_data: 0,
        ..QpCaps::default()
    }
}

fn write_status(pair: &mut Pair, src_len: usize, remote: RemoteBuf) -> WcStatus {
    let src = MemoryRegion::new(&pair.pd, src_len, Access::LOCAL_WRITE).unwrap();
    pair.a
        .post_send(SendWr::write(src, remote).wr_id(1))
        .unwrap();
    let done = pair.a.complete(&poll_n(&pair.cq_a, 1, TIMEOUT)[0]).unwrap();
    assert!(done.buf.is_some(), "the buffer comes back on error too");
    done.status
}

#[test]
fn bad_rkey_is_a_remote_access_error() {
    let mut p = Pair::new(caps()).connect(Access::LOCAL_WRITE | Access::REMOTE_WRITE);
    let target =
        MemoryRegion::new(&p.pd, 4096, Access::LOCAL_WRITE | Access::REMOTE_WRITE).unwrap();
    let mut remote = target.remote();
    remote.rkey = remote.rkey.wrapping_add(0x1000);
    let status = write_status(&mut p, 64, remote);
    assert_eq!(status, WcStatus::RemoteAccess);
    let err =
        p.a.complete(&rdma_verbs::WorkCompletion::default())
            .unwrap_err();
    assert!(matches!(err, Error::ForeignCompletion { .. }));
}

#[test]
fn write_past_the_remote_region_is_a_remote_access_error() {
    let mut p = Pair::new(caps()).connect(Access::LOCAL_WRITE | Access::REMOTE_WRITE);
    let target =
        MemoryRegion::new(&p.pd, 4096, Access::LOCAL_WRITE | Access::REMOTE_WRITE).unwrap();
    // Lie about the remote length so the request reaches the device.
    let remote = RemoteBuf {
        len: 2 * 4096,
        ..target.remote()
    };
    assert_eq!(write_status(&mut p, 8192, remote), WcStatus::RemoteAccess);
}

#[test]
fn read_past_the_remote_region_is_a_remote_access_error() {
    let mut p = Pair::new(caps()).connect(Access::LOCAL_WRITE | Access::REMOTE_READ);
    let source = MemoryRegion::new(&p.pd, 4096, Access::LOCAL_WRITE | Access::REMOTE_READ).unwrap();
    let remote = RemoteBuf {
        addr: source.addr() + 2048,
        len: 4096,
        ..source.remote()
    };
    let dst = MemoryRegion::new(&p.pd, 4096, Access::LOCAL_WRITE).unwrap();
    p.a.post_send(SendWr::read(dst, remote)).unwrap();
    let done = p.a.complete(&poll_n(&p.cq_a, 1, TIMEOUT)[0]).unwrap();
    assert_eq!(done.status, WcStatus::RemoteAccess);
    let e = done.result().unwrap_err();
    assert_eq!(e.status, WcStatus::RemoteAccess);
    assert!(e.to_string().contains("remote access error"), "{e}");
}

#[test]
fn write_without_remote_write_right_is_a_remote_access_error() {
    let mut p = Pair::new(caps()).connect(Access::LOCAL_WRITE | Access::REMOTE_WRITE);
    let target = MemoryRegion::new(&p.pd, 4096, Access::LOCAL_WRITE).unwrap();
    assert_eq!(
        write_status(&mut p, 64, target.remote()),
        WcStatus::RemoteAccess
    );
}

#[test]
fn local_sge_outside_its_buffer_is_rejected_before_the_device() {
    let mut p = Pair::new(caps()).connect(Access::LOCAL_WRITE);
    let buf = MemoryRegion::new(&p.pd, 4096, Access::LOCAL_WRITE).unwrap();
    let err =
        p.a.post_send(SendWr::send(buf).range(4000, 200))
            .unwrap_err();
    assert!(matches!(err.error, Error::InvalidArgument(_)), "{err}");
    assert_eq!(err.returned.len(), 1);
}

#[test]
fn post_on_a_qp_not_in_rts_is_a_state_error() {
    let ctx = device();
    let pd = rdma_verbs::ProtectionDomain::new(&ctx).unwrap();
    let cq = rdma_verbs::CompletionQueue::new(&ctx, 16).unwrap();
    let mut qp = QueuePair::builder(&pd, &cq, &cq)
        .caps(caps())
        .build()
        .unwrap();
    let buf = MemoryRegion::new(&pd, 64, Access::LOCAL_WRITE).unwrap();
    let err = qp.post_recv(RecvWr::recv(buf).wr_id(1)).unwrap_err();
    assert!(
        matches!(
            err.error,
            Error::QpState {
                state: rdma_verbs::QpState::Reset,
                ..
            }
        ),
        "{err}"
    );
    let buf = err.returned.into_iter().next().unwrap();
    let err = qp.post_send(SendWr::send(buf)).unwrap_err();
    assert!(matches!(
        err.error,
        Error::QpState {
            state: rdma_verbs::QpState::Reset,
            ..
        }
    ));
    qp.init(1, 0, Access::LOCAL_WRITE).unwrap();
    assert_eq!(qp.query_state().unwrap(), rdma_verbs::QpState::Init);
    let buf = err.returned.into_iter().next().unwrap();
    let err = qp.post_send(SendWr::send(buf)).unwrap_err();
    assert!(
        matches!(
            err.error,
            Error::QpState {
                state: rdma_verbs::QpState::Init,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("needs RTS"), "{err}");
    // Receives are fine in INIT.
    qp.post_recv(RecvWr::recv(err.returned.into_iter().next().unwrap()).wr_id(2))
        .unwrap();
}

#[test]
fn checked_modify_names_the_missing_attributes() {
    let ctx = device();
    let pd = rdma_verbs::ProtectionDomain::new(&ctx).unwrap();
    let cq = rdma_verbs::CompletionQueue::new(&ctx, 16).unwrap();
    let mut qp = QueuePair::builder(&pd, &cq, &cq).build().unwrap();
    let err = qp
        .modify(
            &rdma_verbs::QpAttr::new()
                .state(rdma_verbs::QpState::Init)
                .port(1),
        )
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("missing: pkey_index, access"), "{msg}");
    let err = qp
        .modify(&rdma_verbs::QpAttr::new().state(rdma_verbs::QpState::Rts))
        .unwrap_err();
    assert!(
        err.to_string().contains("cannot go from RESET to RTS"),
        "{err}"
    );
    assert_eq!(qp.query_state().unwrap(), rdma_verbs::QpState::Reset);
}

#[test]
fn send_without_receive_and_rnr_retry_0_exceeds_rnr_retries() {
    let mut p = Pair::new(caps()).connect_with(Access::LOCAL_WRITE, |o| {
        o.rnr_retry = 0;
        o.min_rnr_timer = 1;
    });
    let buf = MemoryRegion::new(&p.pd, 32, Access::LOCAL_WRITE).unwrap();
    p.a.post_send(SendWr::send(buf).wr_id(3)).unwrap();
    let done = p.a.complete(&poll_n(&p.cq_a, 1, TIMEOUT)[0]).unwrap();
    assert_eq!(done.status, WcStatus::RnrRetryExceeded);
    assert_eq!(done.wr_id, 3);
}

#[test]
fn peer_destroyed_mid_run_flushes_everything_without_hanging() {
    let p = Pair::new(caps()).connect_with(Access::LOCAL_WRITE, |o| {
        o.timeout = 8; // ~1 ms
        o.retry_cnt = 1;
    });
    let Pair {
        pd, cq_a, mut a, b, ..
    } = p;
    // A has receives outstanding and a first exchange works.
    for i in 0..4 {
        a.post_recv(
            RecvWr::recv(MemoryRegion::new(&pd, 64, Access::LOCAL_WRITE).unwrap()).wr_id(100 + i),
        )
        .unwrap();
    }
    drop(b); // the peer QP vanishes
    for i in 0..3u64 {
        let buf = MemoryRegion::new(&pd, 64, Access::LOCAL_WRITE).unwrap();
        a.post_send(SendWr::send(buf).wr_id(i)).unwrap();
    }
    // Every outstanding request completes: the first send with RetryExceeded, everything
    // after it (the other sends and the receives) flushed, each handing its buffer back.
    let mut sends = Vec::new();
    let mut recvs = Vec::new();
    let mut wcs = [rdma_verbs::WorkCompletion::default(); 8];
    let deadline = std::time::Instant::now() + TIMEOUT;
    while sends.len() < 3 || recvs.len() < 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "hung: sends {sends:?} recvs {recvs:?}"
        );
        for wc in cq_a.poll(&mut wcs).unwrap() {
            let c = a.complete(wc).unwrap();
            assert!(c.buf.is_some(), "buffer handed back");
            if c.wr_id >= 100 {
                recvs.push((c.wr_id, c.status));
            } else {
                sends.push((c.wr_id, c.status));
            }
        }
    }
    assert_eq!(sends[0], (0, WcStatus::RetryExceeded), "{sends:?}");
    assert_eq!(
        &sends[1..],
        &[(1, WcStatus::WrFlush), (2, WcStatus::WrFlush)]
    );
    let expect: Vec<_> = (100..104).map(|i| (i, WcStatus::WrFlush)).collect();
    assert_eq!(recvs, expect);
    assert_eq!(a.query_state().unwrap(), rdma_verbs::QpState::Err);
    assert_eq!((a.send_outstanding(), a.recv_outstanding()), (0, 0));
    let t = std::time::Instant::now();
    drop(a);
    assert!(
        t.elapsed() < std::time::Duration::from_secs(5),
        "destroy hung"
    );
}

#[test]
fn absent_gid_index_and_unknown_device_have_their_own_errors() {
    let ctx = device();
    let len = ctx.query_port(1).unwrap().gid_tbl_len();
    let err = ctx.gid_entry(1, len + 5).unwrap_err();
    assert!(
        matches!(err, Error::GidIndexAbsent { index, .. } if index == len + 5),
        "{err}"
    );
    let err = Context::open(Some("no_such_dev0")).unwrap_err();
    match &err {
        Error::DeviceNotFound { name, present } => {
            assert_eq!(name, "no_such_dev0");
            assert!(present.contains(ctx.name()), "{present}");
        }
        other => panic!("expected DeviceNotFound, got {other}"),
    }
}

#[test]
fn connect_with_an_absent_gid_index_says_so() {
    let p = Pair::new(caps());
    let Pair { ctx, a, b, .. } = p;
    let mut o = rdma_device_tests::loopback_options(&ctx, 1, Access::LOCAL_WRITE);
    let remote = b.address(&o).unwrap();
    o.gid_index = Some(200);
    let err = a.connect(&remote, &o).unwrap_err();
    assert!(
        matches!(err.error, Error::GidIndexAbsent { index: 200, .. }),
        "{}",
        err.error
    );
}

#[test]
fn an_address_of_an_absent_port_or_gid_names_the_verb() {
    let Pair { ctx, a, .. } = Pair::new(caps());
    let mut o = rdma_device_tests::loopback_options(&ctx, 1, Access::LOCAL_WRITE);
    let good = a.address(&o).unwrap();
    assert_eq!((good.qpn, good.psn), (a.qpn(), 1));
    assert_eq!(good.lid, ctx.query_port(1).unwrap().lid());
    o.port = 9;
    let err = a.address(&o).unwrap_err();
    assert_eq!(err.verb(), Some("ibv_query_port"), "{err}");
    o.port = 1;
    o.gid_index = Some(200);
    let err = a.address(&o).unwrap_err();
    assert!(
        matches!(err, Error::GidIndexAbsent { index: 200, .. }),
        "{err}"
    );
}
