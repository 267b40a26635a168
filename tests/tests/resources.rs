//! Resource behaviour: completion-channel events, caller-owned registrations, the raw post,
//! device/port/GID queries, and dropping handles in any order.

use rdma_device_tests::{device, loopback_options, pattern, poll_n, Pair, TIMEOUT};
use rdma_verbs::{
    Access, CompletionQueue, DeviceList, GidType, LinkLayer, MemoryRegion, PortState,
    ProtectionDomain, QpCaps, QueuePair, RecvWr, SendWr, WorkCompletion,
};
use std::ptr::NonNull;

#[test]
fn device_list_and_queries_describe_the_device() {
    let list = DeviceList::new().unwrap();
    assert!(!list.is_empty());
    let dev = list.iter().next().unwrap();
    assert!(!dev.name().is_empty());
    assert_eq!(dev.node_type(), rdma_verbs::NodeType::Ca);
    assert_eq!(dev.transport(), rdma_verbs::Transport::Ib);
    let ctx = dev.open().unwrap();
    let attr = ctx.query_device().unwrap();
    assert_eq!(
        attr.node_guid(),
        dev.guid(),
        "ibv_devices and ibv_query_device agree"
    );
    assert!(attr.phys_port_cnt() >= 1 && attr.max_qp_wr() > 0 && attr.max_cqe() > 0);
    let port = ctx.query_port(1).unwrap();
    assert_eq!(port.state(), PortState::Active);
    assert!(port.active_mtu().is_some());
    assert!(port.gid_tbl_len() > 0);
    if port.link_layer() == LinkLayer::Ethernet {
        assert_eq!(port.lid(), 0, "RoCE has no LID");
        let table = ctx.gid_table(1).unwrap();
        assert!(!table.is_empty());
        let best = ctx.default_gid_index(1).unwrap().unwrap();
        let e = ctx.gid_entry(1, best).unwrap();
        assert!(matches!(e.gid_type, GidType::RoceV1 | GidType::RoceV2));
        assert!(table
            .iter()
            .all(|t| t.perftest_score() <= e.perftest_score()));
        assert_eq!(ctx.query_gid(1, best).unwrap(), e.gid);
        assert!(e.ndev_ifindex > 0, "a RoCE GID names its netdev");
    }
    assert_eq!(
        ctx.query_pkey(1, 0).unwrap() & 0x7fff,
        0x7fff,
        "default P_Key"
    );
}

#[test]
fn completion_channel_wakes_a_poller_on_its_fd() {
    let ctx = device();
    let pd = ProtectionDomain::new(&ctx).unwrap();
    let send_cq = CompletionQueue::new(&ctx, 16).unwrap();
    let recv_cq = CompletionQueue::builder(&ctx, 16)
        .with_channel()
        .build()
        .unwrap();
    assert!(CompletionQueue::new(&ctx, 4)
        .unwrap()
        .req_notify(false)
        .is_err());
    let caps = QpCaps {
        max_inline_data: 64,
        ..QpCaps::default()
    };
    let a = QueuePair::builder(&pd, &send_cq, &send_cq)
        .caps(caps)
        .build()
        .unwrap();
    let b = QueuePair::builder(&pd, &send_cq, &recv_cq)
        .caps(caps)
        .build()
        .unwrap();
    let o = loopback_options(&ctx, 5, Access::LOCAL_WRITE);
    let (ra, rb) = (a.address(&o).unwrap(), b.address(&o).unwrap());
    let mut a = a.connect(&rb, &o).unwrap();
    let mut b = b.connect(&ra, &o).unwrap();
    let ch = recv_cq.channel().unwrap();
    ch.set_nonblocking(true).unwrap();
    assert!(
        !recv_cq.get_event().unwrap(),
        "no event before any completion"
    );
    recv_cq.req_notify(false).unwrap();
    b.post_recv(RecvWr::recv(MemoryRegion::new(&pd, 64, Access::LOCAL_WRITE).unwrap()).wr_id(9))
        .unwrap();
    let msg = pattern(40, 8);
    a.post_send(SendWr::send(&msg[..])).unwrap();
    let mut pfd = libc::pollfd {
        fd: ch.fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut pfd, 1, 20_000) };
    assert_eq!(n, 1, "the channel fd became readable");
    assert!(recv_cq.get_event().unwrap());
    recv_cq.ack_events();
    let c = b.complete(&poll_n(&recv_cq, 1, TIMEOUT)[0]).unwrap();
    assert_eq!(&c.buf.unwrap().as_slice().unwrap()[..40], &msg[..]);
    a.complete(&poll_n(&send_cq, 1, TIMEOUT)[0])
        .unwrap()
        .result()
        .unwrap();
    // An event received and not acked explicitly is acked when the CQ drops (else
    // ibv_destroy_cq would block forever): make one and drop everything.
    recv_cq.req_notify(false).unwrap();
    b.post_recv(RecvWr::recv(MemoryRegion::new(&pd, 64, Access::LOCAL_WRITE).unwrap()).wr_id(10))
        .unwrap();
    a.post_send(SendWr::send(&msg[..])).unwrap();
    let deadline = std::time::Instant::now() + TIMEOUT;
    while !recv_cq.get_event().unwrap() {
        assert!(std::time::Instant::now() < deadline, "no second event");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    drop((a, b, recv_cq));
}

#[test]
fn caller_owned_memory_registered_unsafely_carries_data() {
    let mut p = Pair::new(QpCaps::default()).connect(Access::LOCAL_WRITE);
    let mut storage = pattern(4096, 12);
    let expected = storage.clone();
    let ptr = NonNull::new(storage.as_mut_ptr()).unwrap();
    // SAFETY: `storage` outlives `mr` (dropped below before it) and is not touched meanwhile.
    let mr = unsafe { MemoryRegion::register_raw(&p.pd, ptr, 4096, Access::LOCAL_WRITE) }.unwrap();
    p.b.post_recv(
        RecvWr::recv(MemoryRegion::new(&p.pd, 4096, Access::LOCAL_WRITE).unwrap()).wr_id(1),
    )
    .unwrap();
    p.a.post_send(SendWr::send(mr)).unwrap();
    let sent = p.a.complete(&poll_n(&p.cq_a, 1, TIMEOUT)[0]).unwrap();
    sent.result().unwrap();
    drop(sent.buf); // deregisters; does not free the Vec
    let got = p.b.complete(&poll_n(&p.cq_b, 1, TIMEOUT)[0]).unwrap();
    assert_eq!(got.buf.unwrap().as_slice().unwrap(), &expected[..]);
    assert_eq!(
        storage, expected,
        "the caller's memory is still the caller's"
    );
}

#[test]
fn raw_post_for_experts_moves_data() {
    let mut p = Pair::new(QpCaps::default()).connect(Access::LOCAL_WRITE);
    let mut src = MemoryRegion::new(&p.pd, 256, Access::LOCAL_WRITE).unwrap();
    let data = pattern(256, 13);
    src.as_mut_slice().unwrap().copy_from_slice(&data);
    p.b.post_recv(
        RecvWr::recv(MemoryRegion::new(&p.pd, 256, Access::LOCAL_WRITE).unwrap()).wr_id(1),
    )
    .unwrap();
    let mut sge = rdma_verbs::sys::ibv_sge {
        addr: src.addr(),
        length: 256,
        lkey: src.lkey(),
    };
    let mut wr = rdma_verbs::sys::ibv_send_wr {
        wr_id: 0x55,
        sg_list: &mut sge,
        num_sge: 1,
        opcode: rdma_verbs::sys::ibv_wr_opcode::IBV_WR_SEND,
        send_flags: rdma_verbs::sys::ibv_send_flags::IBV_SEND_SIGNALED,
        ..Default::default()
    };
    // SAFETY: `src` is registered in this PD, stays alive and untouched until the completion
    // is polled just below; wr_id has neither of the crate's mark bits.
    unsafe { p.a.post_send_raw(&mut wr) }.unwrap();
    let wc = poll_n(&p.cq_a, 1, TIMEOUT);
    assert_eq!((wc[0].raw_wr_id(), wc[0].is_ok()), (0x55, true));
    assert!(
        p.a.complete(&wc[0]).is_err(),
        "raw completions are not the safe API's"
    );
    let got = p.b.complete(&poll_n(&p.cq_b, 1, TIMEOUT)[0]).unwrap();
    assert_eq!(got.buf.unwrap().as_slice().unwrap(), &data[..]);
    drop(src);
}

#[test]
fn handles_drop_in_any_order() {
    let mut p = Pair::new(QpCaps::default()).connect(Access::LOCAL_WRITE);
    let buf = MemoryRegion::new(&p.pd, 64, Access::LOCAL_WRITE).unwrap();
    p.b.post_recv(
        RecvWr::recv(MemoryRegion::new(&p.pd, 64, Access::LOCAL_WRITE).unwrap()).wr_id(1),
    )
    .unwrap();
    let Pair {
        ctx,
        pd,
        cq_a,
        cq_b,
        mut a,
        mut b,
    } = p;
    // The context, PD and CQ handles go first; the QPs and buffers keep them alive.
    drop((ctx, pd, cq_a, cq_b));
    a.post_send(SendWr::send(buf)).unwrap();
    let cq = a.send_cq();
    a.complete(&poll_n(&cq, 1, TIMEOUT)[0])
        .unwrap()
        .result()
        .unwrap();
    let rcq = b.recv_cq();
    let got = b.complete(&poll_n(&rcq, 1, TIMEOUT)[0]).unwrap();
    // Drop a QP while its peer and a buffer of its PD still live, then the rest.
    drop(a);
    let keep = got.buf.unwrap();
    drop((cq, rcq, b));
    assert_eq!(keep.len(), 64);
    drop(keep); // the last piece: deregisters, then the PD and context finally go
    let mut wcs = [WorkCompletion::default(); 1];
    let ctx = device();
    let cq = CompletionQueue::new(&ctx, 1).unwrap();
    assert!(cq.poll(&mut wcs).unwrap().is_empty());
}
