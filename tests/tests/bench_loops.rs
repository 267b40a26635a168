//! The measured loops of rdma-perf on the device: they finish, their timestamps are sane, and
//! the bytes they move arrive.

use rdma_bench::run::{
    bw_receiver, bw_requester, post_receives, read_lat, send_lat, write_lat, BwConfig, BwOp, Clock,
    LatConfig, LatRole, LatRun, LatSource, ReadLatConfig, Receiving, RecvConfig, SendLatConfig,
    Span,
};
use rdma_device_tests::{device, loopback_options, pattern, Pair};
use rdma_verbs::{Access, CompletionQueue, MemoryRegion, QpCaps, QueuePair};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

fn caps() -> QpCaps {
    QpCaps {
        max_send_wr: 128,
        max_recv_wr: 16,
        max_inline_data: 64,
        ..QpCaps::default()
    }
}

fn bw_cfg(iters: u64, size: u64, cq_mod: u32) -> BwConfig {
    BwConfig {
        span: Span::Iters(iters),
        size,
        tx_depth: 128,
        cq_mod,
        timeout: T,
        inline: false,
        post_list: 1,
        events: false,
    }
}

#[test]
fn write_bw_posts_every_write_and_the_bytes_land() {
    let mut p = Pair::new(caps()).connect(Access::LOCAL_WRITE | Access::REMOTE_WRITE);
    let target =
        MemoryRegion::new(&p.pd, 4096, Access::LOCAL_WRITE | Access::REMOTE_WRITE).unwrap();
    let mut src = MemoryRegion::new(&p.pd, 4096, Access::LOCAL_WRITE).unwrap();
    let data = pattern(4096, 31);
    src.as_mut_slice().unwrap().copy_from_slice(&data);
    let op = BwOp::Write {
        src: p.a.share(src),
        remote: target.remote(),
    };
    let clock = Clock::new();
    let progress = AtomicU64::new(0);
    let s = bw_requester(
        std::slice::from_mut(&mut p.a),
        &[op],
        &p.cq_a,
        None,
        &bw_cfg(1000, 4096, 100),
        &clock,
        &progress,
    )
    .unwrap();
    assert_eq!(p.a.send_outstanding(), 0, "every write retired");
    assert_eq!((s.iters, progress.load(Ordering::Relaxed)), (1000, 1000));
    assert!(s.posted.windows(2).all(|w| w[0] <= w[1]), "posted in order");
    let signaled: Vec<usize> = (0..1000).filter(|j| s.completed[*j] != 0).collect();
    assert_eq!(signaled, (0..10).map(|k| k * 100 + 99).collect::<Vec<_>>());
    for j in signaled {
        assert!(s.completed[j] >= s.posted[j], "completion after post");
    }
    let mut back = vec![0u8; 4096];
    assert!(target.read_at(0, &mut back));
    assert_eq!(back, data);
}

#[test]
fn read_bw_reads_into_a_sink_and_the_bytes_arrive() {
    let mut p = Pair::new(caps()).connect(Access::LOCAL_WRITE | Access::REMOTE_READ);
    let mut remote =
        MemoryRegion::new(&p.pd, 8192, Access::LOCAL_WRITE | Access::REMOTE_READ).unwrap();
    let data = pattern(8192, 7);
    assert!(remote.write_at(0, &data));
    let sink =
        p.b.sink(MemoryRegion::new(&p.pd, 8192, Access::LOCAL_WRITE).unwrap());
    let op = BwOp::Read {
        sink,
        remote: remote.remote(),
    };
    let s = bw_requester(
        std::slice::from_mut(&mut p.b),
        &[op],
        &p.cq_b,
        None,
        &bw_cfg(300, 8192, 10),
        &Clock::new(),
        &AtomicU64::new(0),
    )
    .unwrap();
    assert_eq!(s.iters, 300);
    let back = p.b.unsink(sink).expect("no read in flight any more");
    assert_eq!(
        back.as_slice().unwrap(),
        &data[..],
        "the READs brought the bytes"
    );
}

#[test]
fn send_bw_receiver_counts_every_message_with_a_sink_per_qp() {
    let Pair {
        pd,
        cq_a,
        cq_b,
        mut a,
        mut b,
        ..
    } = Pair::new(caps()).connect(Access::LOCAL_WRITE);
    let (iters, size) = (500u64, 2048u64);
    let sink = b.sink(MemoryRegion::new(&pd, 2048, Access::LOCAL_WRITE).unwrap());
    let rx_depth = 16;
    post_receives(&mut b, sink, size, rx_depth).unwrap();
    let mut src = MemoryRegion::new(&pd, 2048, Access::LOCAL_WRITE).unwrap();
    let data = pattern(2048, 3);
    src.as_mut_slice().unwrap().copy_from_slice(&data);
    let op = BwOp::Send { src: a.share(src) };
    let receiver = std::thread::spawn(move || {
        let cfg = RecvConfig {
            span: Span::Iters(iters),
            size,
            rx_depth,
            timeout: T,
            events: false,
        };
        let r = bw_receiver(
            std::slice::from_mut(&mut b),
            &[sink],
            &cq_b,
            &cfg,
            &Clock::new(),
            &AtomicU64::new(0),
        )
        .unwrap();
        assert_eq!(
            b.recv_outstanding(),
            0,
            "exactly iters receives were posted"
        );
        (r, b.unsink(sink).unwrap())
    });
    let s = bw_requester(
        std::slice::from_mut(&mut a),
        &[op],
        &cq_a,
        None,
        &bw_cfg(iters, size, 50),
        &Clock::new(),
        &AtomicU64::new(0),
    )
    .unwrap();
    let (r, landed) = receiver.join().unwrap();
    assert_eq!((s.iters, r.iters), (iters, iters));
    assert!(r.last > r.first);
    assert_eq!(
        landed.as_slice().unwrap(),
        &data[..],
        "the last SEND's bytes"
    );
}

/// Two QPs connected to each other, each with a send CQ and a receive CQ of its own.
fn split_cq_pair() -> [(QueuePair, CompletionQueue, CompletionQueue); 2] {
    let ctx = device();
    let pd = rdma_verbs::ProtectionDomain::new(&ctx).unwrap();
    let mk = || {
        let scq = CompletionQueue::new(&ctx, 64).unwrap();
        let rcq = CompletionQueue::new(&ctx, 64).unwrap();
        let qp = QueuePair::builder(&pd, &scq, &rcq)
            .caps(caps())
            .build()
            .unwrap();
        (qp, scq, rcq)
    };
    let (a, b) = (mk(), mk());
    let oa = loopback_options(&ctx, 0x1234, Access::LOCAL_WRITE);
    let ob = loopback_options(&ctx, 0x4321, Access::LOCAL_WRITE);
    let (ra, rb) = (a.0.address(&oa).unwrap(), b.0.address(&ob).unwrap());
    [
        (a.0.connect(&rb, &oa).unwrap(), a.1, a.2),
        (b.0.connect(&ra, &ob).unwrap(), b.1, b.2),
    ]
}

#[test]
fn send_lat_ping_pongs_and_the_last_message_lands() {
    let [(mut a, sa, ra), (mut b, sb, rb)] = split_cq_pair();
    let pd = a.pd();
    let (iters, size) = (200u64, 64u64);
    let side = |qp: &mut QueuePair, seed: u8| {
        let mut src = MemoryRegion::new(&pd, 64, Access::LOCAL_WRITE).unwrap();
        src.as_mut_slice()
            .unwrap()
            .copy_from_slice(&pattern(64, seed));
        let sink = qp.sink(MemoryRegion::new(&pd, 64, Access::LOCAL_WRITE).unwrap());
        post_receives(qp, sink, size, 8).unwrap();
        (qp.share(src), sink)
    };
    let (src_a, sink_a) = side(&mut a, 1);
    let (src_b, sink_b) = side(&mut b, 2);
    let cfg = move |role| SendLatConfig {
        span: Span::Iters(iters),
        size,
        rx_depth: 8,
        timeout: T,
        role,
        inline: false,
        events: false,
    };
    let server = std::thread::spawn(move || {
        let t = send_lat(
            &mut a,
            &sa,
            &ra,
            src_a,
            sink_a,
            &cfg(LatRole::Server),
            &Clock::new(),
        )
        .unwrap()
        .posted;
        (t, a.unsink(sink_a).unwrap())
    });
    let tc = send_lat(
        &mut b,
        &sb,
        &rb,
        src_b,
        sink_b,
        &cfg(LatRole::Client),
        &Clock::new(),
    )
    .unwrap()
    .posted;
    let (ts, at_a) = server.join().unwrap();
    assert_eq!((ts.len() as u64, tc.len() as u64), (iters, iters));
    assert!(tc.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(
        at_a.as_slice().unwrap(),
        &pattern(64, 2)[..],
        "B's SENDs reached A"
    );
    assert_eq!(
        b.unsink(sink_b).unwrap().as_slice().unwrap(),
        &pattern(64, 1)[..]
    );
}

#[test]
fn read_lat_measures_every_round_trip() {
    let mut p = Pair::new(caps()).connect(Access::LOCAL_WRITE | Access::REMOTE_READ);
    let mut remote =
        MemoryRegion::new(&p.pd, 64, Access::LOCAL_WRITE | Access::REMOTE_READ).unwrap();
    assert!(remote.write_at(0, &pattern(64, 9)));
    let sink =
        p.a.sink(MemoryRegion::new(&p.pd, 64, Access::LOCAL_WRITE).unwrap());
    let cfg = ReadLatConfig {
        span: Span::Iters(100),
        size: 64,
        timeout: T,
        atomic: None,
        events: false,
    };
    let t = read_lat(
        &mut p.a,
        &p.cq_a,
        sink,
        remote.remote(),
        &cfg,
        &Clock::new(),
    )
    .unwrap()
    .posted;
    assert_eq!(t.len(), 100);
    assert!(t.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(
        p.a.unsink(sink).unwrap().as_slice().unwrap(),
        &pattern(64, 9)[..]
    );
}

fn lat_pair(size: usize, inline: bool) {
    lat_pair_for(size, inline, Span::Iters(300));
}

/// The write ping-pong on a pair; returns both sides' runs.
fn lat_pair_for(size: usize, inline: bool, span: Span) -> (LatRun, LatRun, Option<u8>, Option<u8>) {
    let p = Pair::new(caps()).connect(Access::LOCAL_WRITE | Access::REMOTE_WRITE);
    let rw = Access::LOCAL_WRITE | Access::REMOTE_WRITE;
    let ta = MemoryRegion::new(&p.pd, size, rw).unwrap();
    let tb = MemoryRegion::new(&p.pd, size, rw).unwrap();
    let (ra, rb) = (ta.remote(), tb.remote());
    let source = |pd: &rdma_verbs::ProtectionDomain| {
        if inline {
            LatSource::Inline
        } else {
            LatSource::Buffer(MemoryRegion::new(pd, size, Access::LOCAL_WRITE).unwrap())
        }
    };
    let (sa, sb) = (source(&p.pd), source(&p.pd));
    let Pair {
        cq_a,
        cq_b,
        mut a,
        mut b,
        ..
    } = p;
    let cfg = move |role| LatConfig {
        span,
        size: size as u64,
        timeout: T,
        role,
    };
    let server = std::thread::spawn(move || {
        let t = write_lat(
            &mut a,
            &cq_a,
            &ta,
            sa,
            rb,
            &cfg(LatRole::Server),
            &Clock::new(),
        )
        .unwrap();
        (t, ta.load(size - 1))
    });
    let tc = write_lat(
        &mut b,
        &cq_b,
        &tb,
        sb,
        ra,
        &cfg(LatRole::Client),
        &Clock::new(),
    )
    .unwrap();
    let (ts, last_a) = server.join().unwrap();
    let last_b = tb.load(size - 1);
    if let Span::Iters(iters) = span {
        for t in [&ts.posted, &tc.posted] {
            assert_eq!(t.len() as u64, iters);
            assert!(
                t.windows(2).all(|w| w[0] < w[1]),
                "one post per round trip, in order"
            );
        }
        assert_eq!(
            last_a,
            Some(iters as u8),
            "the client's last write landed at the server"
        );
        assert_eq!(last_b, Some(iters as u8), "and the server's at the client");
    }
    (ts, tc, last_a, last_b)
}

#[test]
fn write_lat_duration_counts_round_trips_in_the_sample() {
    let span = Span::Duration {
        total: Duration::from_secs(3),
        margin: Duration::from_secs(1),
    };
    let start = std::time::Instant::now();
    let (ts, tc, _, _) = lat_pair_for(2, false, span);
    assert!(start.elapsed() < Duration::from_secs(10), "ends by itself");
    for r in [&ts, &tc] {
        assert!(
            r.posted.is_empty(),
            "no per-iteration timestamps in a duration run"
        );
        assert!(r.iters > 10, "round trips counted in the sample: {r:?}");
        let s = r.sample_ns as f64 / 1e9;
        assert!(
            (0.9..1.5).contains(&s),
            "a 1 s sample (3 s minus 1 s each end): {s} s"
        );
    }
    let diff = ts.iters.abs_diff(tc.iters) as f64;
    assert!(
        diff / (tc.iters as f64) < 0.5,
        "both sides saw the same traffic: {ts:?} {tc:?}"
    );
}

#[test]
fn write_lat_ping_pongs_inline() {
    lat_pair(2, true);
}

#[test]
fn write_lat_ping_pongs_from_an_owned_buffer() {
    lat_pair(4096, false);
}

#[test]
fn bidirectional_sends_cross_and_both_directions_finish() {
    let [(mut a, sa, ra), (mut b, sb, rb)] = split_cq_pair();
    let pd = a.pd();
    let (iters, size, rx_depth) = (300u64, 256u64, 16u64);
    let side = |qp: &mut QueuePair, seed: u8| {
        let mut src = MemoryRegion::new(&pd, 256, Access::LOCAL_WRITE).unwrap();
        src.as_mut_slice()
            .unwrap()
            .copy_from_slice(&pattern(256, seed));
        let sink = qp.sink(MemoryRegion::new(&pd, 256, Access::LOCAL_WRITE).unwrap());
        post_receives(qp, sink, size, rx_depth).unwrap();
        (BwOp::Send { src: qp.share(src) }, sink)
    };
    let (op_a, sink_a) = side(&mut a, 4);
    let (op_b, sink_b) = side(&mut b, 5);
    let server = std::thread::spawn(move || {
        let recv = Receiving {
            cq: &ra,
            sinks: &[sink_a],
            rx_depth,
            wait_first: true,
        };
        let s = bw_requester(
            std::slice::from_mut(&mut a),
            &[op_a],
            &sa,
            Some(recv),
            &bw_cfg(iters, size, 10),
            &Clock::new(),
            &AtomicU64::new(0),
        )
        .unwrap();
        assert_eq!(a.recv_outstanding(), 0, "exactly iters receives consumed");
        (s, a.unsink(sink_a).unwrap())
    });
    let recv = Receiving {
        cq: &rb,
        sinks: &[sink_b],
        rx_depth,
        wait_first: false,
    };
    let s = bw_requester(
        std::slice::from_mut(&mut b),
        &[op_b],
        &sb,
        Some(recv),
        &bw_cfg(iters, size, 10),
        &Clock::new(),
        &AtomicU64::new(0),
    )
    .unwrap();
    let (sa_samples, at_a) = server.join().unwrap();
    assert_eq!((s.iters, sa_samples.iters), (iters, iters));
    assert_eq!(
        at_a.as_slice().unwrap(),
        &pattern(256, 5)[..],
        "B's SENDs reached A"
    );
    assert_eq!(
        b.unsink(sink_b).unwrap().as_slice().unwrap(),
        &pattern(256, 4)[..]
    );
}
