//! RDMA CM (librdmacm) on the Soft-RoCE device: a client and a server in one process, on
//! threads (sync API) or tokio tasks (async API), connecting over rxe0's 198.18.0.1.

use rdma_device_tests::process::{path_bin, serial, spawn};
use rdma_device_tests::{device, pattern, poll_n, TIMEOUT};
use rdma_verbs::cm::{
    CmErrorKind, CmEvent, CmId, ConnParam, ConnectRequest, Connection, Listener,
    CONNECT_PRIVATE_DATA_MAX,
};
use rdma_verbs::RemoteBuf;
use rdma_verbs::{
    Access, CompletionQueue, Context, Error, MemoryRegion, ProtectionDomain, QpCaps, QpState,
    QueuePair, RecvWr, SendWr, WcOpcode,
};
use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

/// rxe0's address in the VM.
const SERVER_IP: &str = "198.18.0.1";
/// The timeout of every CM step: generous for the emulated VM; failures must come well
/// before it (each test bounds its own).
const STEP: Duration = Duration::from_secs(10);

/// One end of a connection with the resources its QP uses.
struct Side {
    conn: Connection,
    pd: ProtectionDomain,
    cq: CompletionQueue,
}

fn caps() -> QpCaps {
    QpCaps {
        max_send_wr: 16,
        max_recv_wr: 16,
        ..QpCaps::default()
    }
}

/// A PD, a CQ and a RESET QP on `ctx`.
fn qp_on(ctx: &Context) -> (ProtectionDomain, CompletionQueue, QueuePair) {
    let pd = ProtectionDomain::new(ctx).expect("alloc pd");
    let cq = CompletionQueue::new(ctx, 64).expect("create cq");
    let qp = QueuePair::builder(&pd, &cq, &cq)
        .caps(caps())
        .build()
        .expect("create qp");
    (pd, cq, qp)
}

/// A listener on rxe0's address and a port the kernel picks; fails the test without a device.
fn listen() -> (Listener, SocketAddr) {
    drop(device());
    let listener = Listener::bind(format!("{SERVER_IP}:0").parse().unwrap(), 4).expect("listen");
    let addr = listener.local_addr().expect("bound address");
    assert_ne!(addr.port(), 0, "the kernel chose a port");
    (listener, addr)
}

/// An id resolved to `addr`, as a client does it.
fn resolved(addr: SocketAddr) -> CmId {
    let mut id = CmId::new().expect("create id");
    id.resolve_addr(None, addr, STEP).expect("resolve_addr");
    id.resolve_route(STEP).expect("resolve_route");
    id
}

fn connect(addr: SocketAddr, param: &ConnParam) -> rdma_verbs::Result<Side> {
    let id = resolved(addr);
    let (pd, cq, qp) = qp_on(&id.context()?);
    let conn = id.connect(qp, param, STEP)?;
    Ok(Side { conn, pd, cq })
}

fn accept(request: ConnectRequest, param: &ConnParam) -> rdma_verbs::Result<Side> {
    let (pd, cq, qp) = qp_on(&request.context()?);
    let conn = request.accept(qp, param, STEP)?;
    Ok(Side { conn, pd, cq })
}

/// A server thread accepting one request with `param`; it returns its side and the client's
/// parameters.
fn serve_one(
    mut listener: Listener,
    param: ConnParam,
) -> thread::JoinHandle<(Side, ConnParam, Listener)> {
    thread::spawn(move || {
        let request = listener.get_request(STEP).expect("get_request");
        let client_param = request.param().clone();
        let side = accept(request, &param).expect("accept");
        (side, client_param, listener)
    })
}

/// A connected client/server pair with default parameters.
fn pair() -> (Side, Side) {
    let (listener, addr) = listen();
    let server = serve_one(listener, ConnParam::default());
    let client = connect(addr, &ConnParam::default()).expect("connect");
    let (server, _, _) = server.join().unwrap();
    (client, server)
}

fn cm_kind(err: &Error) -> &CmErrorKind {
    err.cm_kind()
        .unwrap_or_else(|| panic!("expected an RDMA CM error, got {err:?}"))
}

#[test]
fn connect_and_accept_carry_private_data_both_ways() {
    let (listener, addr) = listen();
    let server = serve_one(listener, ConnParam::with_private_data(b"welcome, client"));
    let sent = ConnParam {
        private_data: b"hello from the client".to_vec(),
        responder_resources: 1,
        initiator_depth: 1,
        retry_count: 7,
        rnr_retry_count: 7,
        flow_control: false,
    };
    let client = connect(addr, &sent).expect("connect");
    let (server, seen_by_server, _listener) = server.join().unwrap();

    // IB CM messages have fixed-size private data: the bytes sent, then zeroes.
    let got = &seen_by_server.private_data;
    assert_eq!(got.len(), CONNECT_PRIVATE_DATA_MAX, "{got:?}");
    assert_eq!(&got[..sent.private_data.len()], &sent.private_data[..]);
    assert!(got[sent.private_data.len()..].iter().all(|&b| b == 0));
    assert_eq!(
        (
            seen_by_server.responder_resources,
            seen_by_server.initiator_depth
        ),
        (1, 1)
    );

    let got = client.conn.peer_param().private_data.as_slice();
    assert!(got.starts_with(b"welcome, client"), "{got:?}");
    assert!(got[15..].iter().all(|&b| b == 0));

    assert_eq!(client.conn.qp().state(), QpState::Rts);
    assert_eq!(server.conn.qp().state(), QpState::Rts);
    assert_eq!(client.conn.id().peer_addr(), Some(addr));
    assert_eq!(
        server.conn.id().local_addr().map(|a| a.ip()),
        Some(addr.ip())
    );
    assert_eq!(
        server.conn.id().peer_addr(),
        client.conn.id().local_addr(),
        "each side sees the other's address"
    );
}

#[test]
fn send_write_and_read_over_cm_connected_qps() {
    let (mut client, mut server) = pair();

    // SEND client → server.
    let rbuf = MemoryRegion::new(&server.pd, 4096, Access::LOCAL_WRITE).unwrap();
    server
        .conn
        .qp_mut()
        .post_recv(RecvWr::recv(rbuf).wr_id(1))
        .unwrap();
    let data = pattern(4096, 11);
    let mut sbuf = MemoryRegion::new(&client.pd, 4096, Access::LOCAL_WRITE).unwrap();
    sbuf.as_mut_slice().unwrap().copy_from_slice(&data);
    client
        .conn
        .qp_mut()
        .post_send(SendWr::send(sbuf).wr_id(2))
        .unwrap();
    let wc = poll_n(&client.cq, 1, TIMEOUT);
    client
        .conn
        .qp_mut()
        .complete(&wc[0])
        .unwrap()
        .result()
        .unwrap();
    let wc = poll_n(&server.cq, 1, TIMEOUT);
    let got = server.conn.qp_mut().complete(&wc[0]).unwrap();
    got.result().unwrap();
    assert_eq!((got.opcode, got.byte_len), (WcOpcode::Recv, 4096));
    assert_eq!(got.buf.unwrap().as_slice().unwrap(), &data[..]);

    // RDMA WRITE client → server memory.
    let remote_access = Access::LOCAL_WRITE | Access::REMOTE_WRITE | Access::REMOTE_READ;
    let target = MemoryRegion::new(&server.pd, 8192, remote_access).unwrap();
    let data = pattern(4096, 22);
    let mut src = MemoryRegion::new(&client.pd, 4096, Access::LOCAL_WRITE).unwrap();
    src.as_mut_slice().unwrap().copy_from_slice(&data);
    let remote = target.remote().slice(100, 4096).unwrap();
    client
        .conn
        .qp_mut()
        .post_send(SendWr::write(src, remote).wr_id(3))
        .unwrap();
    let wc = poll_n(&client.cq, 1, TIMEOUT);
    let done = client.conn.qp_mut().complete(&wc[0]).unwrap();
    done.result().unwrap();
    assert_eq!(done.opcode, WcOpcode::RdmaWrite);
    let mut back = vec![0u8; 8192];
    assert!(target.read_at(0, &mut back));
    assert_eq!(&back[100..4196], &data[..]);
    assert!(back[..100].iter().chain(&back[4196..]).all(|&b| b == 0));

    // RDMA READ server ← client memory (the other direction's initiator).
    let mut source = MemoryRegion::new(&client.pd, 4096, remote_access).unwrap();
    let data = pattern(4096, 33);
    assert!(source.write_at(0, &data));
    let dst = MemoryRegion::new(&server.pd, 4096, Access::LOCAL_WRITE).unwrap();
    server
        .conn
        .qp_mut()
        .post_send(SendWr::read(dst, source.remote()).wr_id(4))
        .unwrap();
    let wc = poll_n(&server.cq, 1, TIMEOUT);
    let done = server.conn.qp_mut().complete(&wc[0]).unwrap();
    done.result().unwrap();
    assert_eq!((done.opcode, done.byte_len), (WcOpcode::RdmaRead, 4096));
    assert_eq!(done.buf.unwrap().as_slice().unwrap(), &data[..]);
}

#[test]
fn connecting_where_nobody_listens_is_a_typed_error_in_bounded_time() {
    // A port that was just free: bind a listener, note its port, close it.
    let (listener, addr) = listen();
    drop(listener);
    let id = resolved(addr);
    let (_pd, _cq, qp) = qp_on(&id.context().unwrap());
    let start = Instant::now();
    let err = id
        .connect(qp, &ConnParam::default(), STEP)
        .expect_err("nobody listens there");
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "the failure took {took:?}: {err}"
    );
    match cm_kind(&err) {
        // IB CM reject reason 8: invalid service ID, i.e. no listener on that port.
        CmErrorKind::Rejected { status: 8, .. } | CmErrorKind::Unreachable { .. } => {}
        other => panic!("expected REJECTED (8) or UNREACHABLE, got {other:?}: {err}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains(&addr.to_string()),
        "the error names {addr}: {msg}"
    );
}

#[test]
fn resolving_from_an_address_no_device_has_is_an_addr_error() {
    drop(device());
    let dst: SocketAddr = format!("{SERVER_IP}:7471").parse().unwrap();
    let mut id = CmId::new().unwrap();
    // 203.0.113.7 (TEST-NET-3) is on no interface of the VM.
    let src: SocketAddr = "203.0.113.7:0".parse().unwrap();
    let start = Instant::now();
    let err = id
        .resolve_addr(Some(src), dst, Duration::from_secs(2))
        .expect_err("no device has that source address");
    assert!(start.elapsed() < Duration::from_secs(4), "{err}");
    assert!(
        matches!(cm_kind(&err), CmErrorKind::AddrError { errno } if *errno == libc::EADDRNOTAVAIL),
        "{err:?}"
    );
    assert!(err.to_string().contains("203.0.113.7"), "{err}");

    // A destination no RDMA device can reach (the VM has no route there).
    let mut id = CmId::new().unwrap();
    let err = id
        .resolve_addr(
            None,
            "203.0.113.9:7471".parse().unwrap(),
            Duration::from_secs(2),
        )
        .expect_err("no route");
    assert!(
        matches!(cm_kind(&err), CmErrorKind::AddrError { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("203.0.113.9:7471"), "{err}");
}

#[test]
fn a_reject_reaches_the_client_with_its_private_data() {
    let (mut listener, addr) = listen();
    let server = thread::spawn(move || {
        let request = listener.get_request(STEP).expect("get_request");
        assert!(request.private_data().starts_with(b"may I?"));
        request.reject(b"no, sorry").expect("reject");
    });
    let err = connect(addr, &ConnParam::with_private_data(b"may I?"))
        .err()
        .expect("the server rejects");
    server.join().unwrap();
    match cm_kind(&err) {
        // IB CM reason 28: consumer defined, i.e. the peer's application rejected.
        CmErrorKind::Rejected {
            status: 28,
            private_data,
        } => assert!(private_data.starts_with(b"no, sorry"), "{private_data:?}"),
        other => panic!("expected REJECTED (28), got {other:?}"),
    }
}

#[test]
fn dropping_a_request_rejects_the_client() {
    let (mut listener, addr) = listen();
    let server = thread::spawn(move || drop(listener.get_request(STEP).expect("get_request")));
    let start = Instant::now();
    let err = connect(addr, &ConnParam::default())
        .err()
        .expect("the request was dropped");
    server.join().unwrap();
    assert!(start.elapsed() < Duration::from_secs(5), "{err}");
    assert!(
        matches!(cm_kind(&err), CmErrorKind::Rejected { status: 28, .. }),
        "{err:?}"
    );
}

#[test]
fn bad_parameters_are_refused_before_the_wire() {
    let (_listener, addr) = listen();
    let id = resolved(addr);
    let (_pd, _cq, qp) = qp_on(&id.context().unwrap());
    let err = id
        .connect(
            qp,
            &ConnParam::with_private_data(&[1; CONNECT_PRIVATE_DATA_MAX + 1]),
            STEP,
        )
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidArgument(m) if m.contains("57 bytes")),
        "{err:?}"
    );
    // An id that resolved nothing has no device to connect a QP on.
    let id = CmId::new().unwrap();
    let (_pd, _cq, qp) = qp_on(&device());
    let err = id.connect(qp, &ConnParam::default(), STEP).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidArgument(m) if m.contains("not bound to a device")),
        "{err:?}"
    );
}

#[test]
fn a_peer_disconnect_is_seen_as_disconnected() {
    let (mut client, mut server) = pair();
    // The server reads its events, as a live peer does: reading DISCONNECTED answers the
    // client's disconnect request, which completes the client's disconnect.
    let server = thread::spawn(move || {
        server
            .conn
            .id_mut()
            .wait_disconnected(STEP)
            .expect("the server sees DISCONNECTED");
        server
    });
    let start = Instant::now();
    client.conn.disconnect(STEP).expect("disconnect completes");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(client.conn.qp().state(), QpState::Err, "flushed");
    let mut server = server.join().unwrap();
    let err = server.conn.id_mut().ensure_connected().unwrap_err();
    assert_eq!(cm_kind(&err), &CmErrorKind::Disconnected);
    // Disconnecting a closed connection is a no-op.
    server.conn.disconnect(Duration::from_millis(1)).unwrap();
}

#[test]
fn a_peer_that_dies_ends_waits_with_an_error() {
    let (client, mut server) = pair();
    server.conn.id_mut().ensure_connected().expect("still up");
    drop(client); // no disconnect: the id is destroyed as when a process dies
    let start = Instant::now();
    match server.conn.id_mut().next_event(STEP).unwrap() {
        Some(CmEvent::Disconnected) => {}
        other => panic!("expected DISCONNECTED, got {other:?}"),
    }
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    let err = server.conn.id_mut().ensure_connected().unwrap_err();
    assert_eq!(cm_kind(&err), &CmErrorKind::Disconnected);
}

#[test]
fn a_request_not_answered_in_time_is_a_timeout_naming_the_event() {
    let (mut listener, addr) = listen();
    let id = resolved(addr);
    let (_pd, _cq, qp) = qp_on(&id.context().unwrap());
    let client = thread::spawn(move || {
        id.connect(qp, &ConnParam::default(), Duration::from_millis(500))
            .map(|_| ())
    });
    let request = listener.get_request(STEP).expect("get_request");
    let err = client
        .join()
        .unwrap()
        .expect_err("the server never answers");
    assert!(
        matches!(
            cm_kind(&err),
            CmErrorKind::Timeout {
                waiting_for: rdma_verbs::cm::EventKind::ConnectResponse,
                ..
            }
        ),
        "{err:?}"
    );
    // The client's id is gone: accepting now fails with an error, never hangs.
    let start = Instant::now();
    let err = accept(request, &ConnParam::default())
        .err()
        .expect("the client went away");
    assert!(start.elapsed() < STEP, "{:?}: {err}", start.elapsed());
    assert_eq!(cm_kind(&err), &CmErrorKind::RequestAbandoned, "{err}");
    assert!(err.to_string().contains("abandoned"), "{err}");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn connect_async(addr: SocketAddr, param: &ConnParam) -> rdma_verbs::Result<Side> {
    let mut id = CmId::new()?;
    id.resolve_addr_async(None, addr, STEP).await?;
    id.resolve_route_async(STEP).await?;
    let (pd, cq, qp) = qp_on(&id.context()?);
    let conn = id.connect_async(qp, param, STEP).await?;
    Ok(Side { conn, pd, cq })
}

async fn accept_async(request: ConnectRequest, param: &ConnParam) -> rdma_verbs::Result<Side> {
    let (pd, cq, qp) = qp_on(&request.context()?);
    let conn = request.accept_async(qp, param, STEP).await?;
    Ok(Side { conn, pd, cq })
}

#[test]
fn async_connect_accept_events_and_disconnect() {
    let (mut listener, addr) = listen();
    runtime().block_on(async move {
        let server = tokio::spawn(async move {
            let request = listener.get_request_async(STEP).await.expect("request");
            assert!(request.private_data().starts_with(b"async hello"));
            let mut side = accept_async(request, &ConnParam::with_private_data(b"async welcome"))
                .await
                .expect("accept_async");
            // Pending while the client is still connected; ends when it disconnects.
            side.conn
                .id_mut()
                .disconnected_async(STEP)
                .await
                .expect("DISCONNECTED");
            side
        });
        let mut client = connect_async(addr, &ConnParam::with_private_data(b"async hello"))
            .await
            .expect("connect_async");
        assert!(client
            .conn
            .peer_param()
            .private_data
            .starts_with(b"async welcome"));
        // Nothing happens on a healthy connection.
        let quiet = client
            .conn
            .id_mut()
            .next_event_async(Duration::from_millis(200))
            .await
            .unwrap();
        assert!(quiet.is_none(), "{quiet:?}");
        client
            .conn
            .disconnect_async(STEP)
            .await
            .expect("disconnect");
        let mut server = tokio::time::timeout(STEP, server).await.unwrap().unwrap();
        assert!(server.conn.id().is_disconnected());
        let err = server.conn.id_mut().ensure_connected().unwrap_err();
        assert_eq!(cm_kind(&err), &CmErrorKind::Disconnected);
    });
}

#[test]
fn async_connect_where_nobody_listens_fails_typed() {
    let (listener, addr) = listen();
    drop(listener);
    runtime().block_on(async move {
        let start = Instant::now();
        let err = connect_async(addr, &ConnParam::default())
            .await
            .err()
            .expect("nobody listens");
        assert!(start.elapsed() < Duration::from_secs(5), "{err}");
        assert!(
            matches!(
                cm_kind(&err),
                CmErrorKind::Rejected { status: 8, .. } | CmErrorKind::Unreachable { .. }
            ),
            "{err:?}"
        );
    });
}

#[test]
fn async_waits_end_with_an_error_when_the_peer_goes_away() {
    let (mut listener, addr) = listen();
    runtime().block_on(async move {
        // A pending accept: the client gives up (its id is destroyed) before the server
        // answers; the accept then fails instead of waiting for ESTABLISHED.
        let id = resolved(addr);
        let (_pd, _cq, qp) = qp_on(&id.context().unwrap());
        let client = tokio::spawn(async move {
            id.connect_async(qp, &ConnParam::default(), Duration::from_millis(500))
                .await
                .map(|_| ())
        });
        let request = listener.get_request_async(STEP).await.expect("request");
        let err = client.await.unwrap().expect_err("never answered");
        assert!(
            matches!(cm_kind(&err), CmErrorKind::Timeout { .. }),
            "{err:?}"
        );
        let start = Instant::now();
        let err = accept_async(request, &ConnParam::default())
            .await
            .err()
            .expect("the client went away");
        assert_eq!(cm_kind(&err), &CmErrorKind::RequestAbandoned, "{err}");
        assert!(start.elapsed() < STEP, "{:?}: {err}", start.elapsed());

        // A pending event wait on an established connection: the peer dies.
        let server = tokio::spawn(async move {
            let request = listener.get_request_async(STEP).await.expect("request");
            let mut side = accept_async(request, &ConnParam::default()).await.unwrap();
            let event = side.conn.id_mut().next_event_async(STEP).await.unwrap();
            (side, event)
        });
        let client = connect_async(addr, &ConnParam::default()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(client);
        let (mut side, event) = tokio::time::timeout(STEP, server).await.unwrap().unwrap();
        assert!(matches!(event, Some(CmEvent::Disconnected)), "{event:?}");
        let err = side.conn.id_mut().ensure_connected().unwrap_err();
        assert_eq!(cm_kind(&err), &CmErrorKind::Disconnected);
    });
}

#[test]
fn cancelled_async_waits_lose_no_event() {
    let (mut client, mut server) = pair();
    runtime().block_on(async move {
        // Waits dropped at their await point (nothing happens on a healthy connection)...
        let cancelled = tokio::time::timeout(
            Duration::from_millis(100),
            server.conn.id_mut().disconnected_async(STEP),
        )
        .await;
        assert!(cancelled.is_err(), "{cancelled:?}");
        let cancelled = tokio::time::timeout(
            Duration::from_millis(100),
            server.conn.id_mut().next_event_async(STEP),
        )
        .await;
        assert!(cancelled.is_err(), "{cancelled:?}");
        // ... leave the event to the next wait.
        let client = tokio::task::spawn_blocking(move || client.conn.disconnect(STEP));
        server
            .conn
            .id_mut()
            .disconnected_async(STEP)
            .await
            .expect("DISCONNECTED reaches the next wait");
        client
            .await
            .unwrap()
            .expect("the client's disconnect completes");
    });
}

#[test]
fn an_async_resolve_dropped_early_is_finished_by_the_next_call() {
    let (listener, addr) = listen();
    let server = serve_one(listener, ConnParam::default());
    runtime().block_on(async move {
        let mut id = CmId::new().unwrap();
        // Dropped after its first poll, unless the resolution was already done by then.
        let first = tokio::time::timeout(
            Duration::from_nanos(1),
            id.resolve_addr_async(None, addr, STEP),
        )
        .await;
        match first {
            Ok(done) => done.expect("resolve_addr"),
            Err(_cancelled) => id
                .resolve_addr_async(None, addr, STEP)
                .await
                .expect("the retry completes the pending resolution"),
        }
        id.resolve_route_async(STEP).await.expect("route");
        let (_pd, _cq, qp) = qp_on(&id.context().unwrap());
        id.connect_async(qp, &ConnParam::default(), STEP)
            .await
            .expect("connect after the resolve");
    });
    server.join().unwrap();
}

#[test]
fn c_rping_client_connects_to_a_rust_listener_and_its_buffer_is_read() {
    let _alone = serial();
    let (mut listener, addr) = listen();
    let rping = path_bin("rping", "apt-get install rdmacm-utils");
    let size = 100usize;
    let client = spawn(
        "C rping client",
        &rping,
        &[
            "-c".into(),
            "-a".into(),
            SERVER_IP.into(),
            "-p".into(),
            addr.port().to_string(),
            "-C".into(),
            "1".into(),
            "-S".into(),
            size.to_string(),
        ],
    );
    let request = listener.get_request(STEP).expect("rping's connect request");
    assert_eq!(
        request.peer_addr().map(|a| a.ip()),
        Some(addr.ip()),
        "from rxe0"
    );
    let ctx = request.context().unwrap();
    let (pd, cq, mut qp) = qp_on(&ctx);
    // rping sends its buffer's address at once: the receive goes first.
    request.init_qp(&mut qp).unwrap();
    let rbuf = MemoryRegion::new(&pd, 64, Access::LOCAL_WRITE).unwrap();
    qp.post_recv(RecvWr::recv(rbuf).wr_id(1)).unwrap();
    let mut conn = request
        .accept(qp, &ConnParam::default(), STEP)
        .expect("accept rping");

    // struct rping_rdma_info { be64 buf; be32 rkey; be32 size; }
    let wc = poll_n(&cq, 1, TIMEOUT);
    let got = conn.qp_mut().complete(&wc[0]).unwrap();
    got.result().unwrap();
    assert_eq!(got.byte_len, 16);
    let info = got.buf.unwrap();
    let info = &info.as_slice().unwrap()[..16];
    let remote = RemoteBuf {
        addr: u64::from_be_bytes(info[..8].try_into().unwrap()),
        rkey: u32::from_be_bytes(info[8..12].try_into().unwrap()),
        len: u64::from(u32::from_be_bytes(info[12..16].try_into().unwrap())),
    };
    assert_eq!(remote.len, size as u64, "{remote:?}");

    // Read rping's start buffer: "rdma-ping-0: " then letters.
    let dst = MemoryRegion::new(&pd, size, Access::LOCAL_WRITE).unwrap();
    conn.qp_mut()
        .post_send(SendWr::read(dst, remote).wr_id(2))
        .unwrap();
    let wc = poll_n(&cq, 1, TIMEOUT);
    let done = conn.qp_mut().complete(&wc[0]).unwrap();
    done.result().unwrap();
    let text = done.buf.unwrap();
    let text = text.as_slice().unwrap();
    let prefix = b"rdma-ping-0: ";
    assert_eq!(
        &text[..prefix.len()],
        prefix,
        "{:?}",
        String::from_utf8_lossy(text)
    );
    assert!(
        text[prefix.len()..size - 1]
            .iter()
            .all(|c| (b'A'..=b'z').contains(c)),
        "{:?}",
        String::from_utf8_lossy(text)
    );
    drop(conn); // rping sees DISCONNECTED and gives up
    let done = client.wait_until(Instant::now() + STEP);
    assert!(
        !done.killed,
        "rping ends once the connection is gone: {done}"
    );
}

/// `struct rping_rdma_info` (big-endian address, rkey, size) for `buf`.
fn rping_info(buf: &MemoryRegion) -> Vec<u8> {
    let mut info = buf.addr().to_be_bytes().to_vec();
    info.extend_from_slice(&buf.rkey().to_be_bytes());
    info.extend_from_slice(&(buf.len() as u32).to_be_bytes());
    info
}

#[test]
fn a_rust_client_does_one_rping_iteration_with_the_c_rping_server() {
    let _alone = serial();
    let (listener, addr) = listen();
    drop(listener); // its port is free for rping
    let rping = path_bin("rping", "apt-get install rdmacm-utils");
    let server = spawn(
        "C rping server",
        &rping,
        &[
            "-s".into(),
            "-v".into(),
            "-a".into(),
            SERVER_IP.into(),
            "-p".into(),
            addr.port().to_string(),
            "-C".into(),
            "1".into(),
        ],
    );
    // Connect, retrying while rping is not listening yet (REJECTED, reason 8).
    let deadline = Instant::now() + STEP;
    let (mut conn, pd, cq) = loop {
        let id = resolved(addr);
        let (pd, cq, mut qp) = qp_on(&id.context().unwrap());
        id.init_qp(&mut qp).unwrap();
        for wr_id in [1, 2] {
            let rbuf = MemoryRegion::new(&pd, 64, Access::LOCAL_WRITE).unwrap();
            qp.post_recv(RecvWr::recv(rbuf).wr_id(wr_id)).unwrap();
        }
        match id.connect(qp, &ConnParam::default(), STEP) {
            Ok(conn) => break (conn, pd, cq),
            Err(e)
                if Instant::now() < deadline
                    && matches!(e.cm_kind(), Some(CmErrorKind::Rejected { status: 8, .. })) =>
            {
                thread::sleep(Duration::from_millis(100))
            }
            Err(e) => panic!("connect to rping: {e}"),
        }
    };
    let size = 64;
    let mut message = b"rdma-ping-0: ".to_vec();
    message.extend((0..size - message.len() - 1).map(|i| b'A' + (i % 26) as u8));
    message.push(0);
    let remote_rw = Access::LOCAL_WRITE | Access::REMOTE_READ | Access::REMOTE_WRITE;
    let mut start = MemoryRegion::new(&pd, size, remote_rw).unwrap();
    assert!(start.write_at(0, &message));
    let echo = MemoryRegion::new(&pd, size, remote_rw).unwrap();

    let send_info = |conn: &mut Connection, buf: &MemoryRegion| {
        let info = rping_info(buf);
        conn.qp_mut()
            .post_send(SendWr::send(&info[..]).wr_id(9))
            .expect("post the rping info");
    };
    let mut completions = Vec::new();
    let mut wait_for = |conn: &mut Connection, opcode: WcOpcode| loop {
        if let Some(i) = completions
            .iter()
            .position(|c: &rdma_verbs::Completion| c.opcode == opcode)
        {
            return completions.remove(i);
        }
        for wc in poll_n(&cq, 1, TIMEOUT) {
            let done = conn.qp_mut().complete(&wc).unwrap();
            done.result().unwrap_or_else(|e| panic!("{opcode:?}: {e}"));
            completions.push(done);
        }
    };
    // 1. Our start buffer's address: rping reads it, then answers "go on".
    send_info(&mut conn, &start);
    wait_for(&mut conn, WcOpcode::Send);
    let go_on = wait_for(&mut conn, WcOpcode::Recv);
    assert_eq!(go_on.byte_len, 16);
    // 2. Our echo buffer's address: rping writes what it read there, then acks.
    send_info(&mut conn, &echo);
    wait_for(&mut conn, WcOpcode::Send);
    let ack = wait_for(&mut conn, WcOpcode::Recv);
    assert_eq!(ack.byte_len, 16);
    let mut echoed = vec![0u8; size];
    assert!(echo.read_at(0, &mut echoed));
    assert_eq!(echoed, message, "rping echoes the buffer it read");

    conn.disconnect(STEP).expect("disconnect");
    let done = server.wait_until(Instant::now() + STEP);
    assert!(!done.killed, "rping ends after the disconnect: {done}");
    assert!(
        done.stdout.contains("server ping data: rdma-ping-0: ABC"),
        "rping read our buffer: {done}"
    );
}
